# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mode_switch scenario's checks, one class per step of the site's life.

The site: ``server`` (BioStar server, nftables), ``client`` (BioStar client, iptables
with an OUTPUT drop policy, outbound rules managed) and ``peer`` (stands in for the
devices and the other end of every flow). What must answer at each step comes from
the port matrix (PORTS.md), written out here by hand so the test does not trust the
lookup it is testing.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Tuple

from .ansible_run import run_role
from .firewalls import BACKENDS
from .site import Site, expect_reach

Expect = Tuple[List[str], List[str]]  # (must answer, must not answer)

STEPS: Dict[str, Dict[str, Expect]] = {
    "server": {
        "server inbound": (["tcp/1470", "tcp/1471", "tcp/1480", "udp/51110", "tcp/2222"], ["tcp/1999", "udp/1999"]),
        "client inbound": (["udp/51110", "tcp/2222"], ["tcp/1470", "tcp/1480", "tcp/1999", "udp/1999"]),
        # server mode: the client talks to the server (1480) and searches devices (51110).
        "client outbound": (["tcp/1480", "udp/51110"], ["tcp/1470", "tcp/1471", "tcp/1999", "udp/1999"]),
    },
    "direct": {
        "server inbound": (["tcp/1480", "tcp/2222"], ["tcp/1470", "tcp/1471", "udp/51110", "tcp/1999"]),
        "client inbound": (["udp/51110", "tcp/2222"], ["tcp/1470", "tcp/1480", "tcp/1999"]),
        # direct mode: the client now also connects to the devices (1470, 1471).
        "client outbound": (["tcp/1470", "tcp/1471", "tcp/1480", "udp/51110"], ["tcp/1999", "udp/1999"]),
    },
    "absent": {
        "server inbound": (["tcp/2222"], ["tcp/1470", "tcp/1471", "tcp/1480", "udp/51110", "tcp/1999"]),
        "client inbound": (["tcp/2222"], ["udp/51110", "tcp/1470", "tcp/1999"]),
        "client outbound": ([], ["tcp/1470", "tcp/1480", "udp/51110", "tcp/1999"]),
    },
}
ROLE_VARS: Dict[str, Dict[str, Any]] = {
    "server": {"biostar_mode": "server"},
    "direct": {"biostar_mode": "direct"},
    "absent": {"biostar_mode": "direct", "biostar_firewall_state": "absent"},
}
BACKEND = {"server": "nftables", "client": "iptables"}


class SiteStep:
    step: ClassVar[str] = ""

    def expect(self, site: Site, flow: str) -> None:
        opened, closed = STEPS[self.step][flow]
        src, dst = ("client", "peer") if flow == "client outbound" else ("peer", flow.split()[0])
        expect_reach(site[src], site[dst], open=opened, closed=closed, why="%s, %s" % (self.step, flow))

    def test_1_rerun_changes_nothing(self, site: Site) -> None:
        run = run_role("targets", ROLE_VARS[self.step]).succeeded()
        for short, backend in BACKEND.items():
            result = run.module_result(site[short].name)
            assert result["backend"] == backend, result
            assert result["changed"] is False, result

    def test_2_server_inbound(self, site: Site) -> None:
        self.expect(site, "server inbound")

    def test_3_client_inbound(self, site: Site) -> None:
        self.expect(site, "client inbound")

    def test_4_client_outbound(self, site: Site) -> None:
        self.expect(site, "client outbound")

    def test_5_foreign_rules_and_policies_stay(self, site: Site) -> None:
        for short, backend in BACKEND.items():
            BACKENDS[backend].assert_foreign_rule(site[short])
            BACKENDS[backend].assert_default_deny(site[short])
        BACKENDS["iptables"].assert_output_drop(site["client"])

    def test_6_owned_rules_match_the_step(self, site: Site) -> None:
        for short, backend in BACKEND.items():
            traces = BACKENDS[backend].owned_traces(site[short])
            if self.step == "absent":
                assert traces == [], traces
            else:
                assert traces, "no owned rules on %s" % short
