# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every backend scenario checks after converge (the role) and idempotence.

A scenario subclasses ``RoleOnBackend``, names the backend, the target and what the
role should have opened, and gets these steps:

 1. from the peer, the expected ports answer and the others do not (packets)
 2. the host's own rules are intact: foreign rule, default-deny policy
 3. rerunning the role picks the expected backend (auto detection included), reports
    no change, and owns exactly the expected rule set
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Sequence

from .ansible_run import rule, rule_keys, run_role, show
from .firewalls import BACKENDS, FirewallOps
from .lifecycle import ALWAYS_CLOSED, SERVER_OPEN, SERVER_SET
from .site import Site, expect_reach

CLIENT_INBOUND = [rule("udp", 51110)]
CLIENT_DIRECT_OUTBOUND = [
    rule("tcp", 1470, "outbound"),
    rule("tcp", 1471, "outbound"),
    rule("tcp", 1480, "outbound"),
    rule("udp", 51110, "outbound"),
]


class RoleOnBackend:
    backend: ClassVar[str] = ""
    target: ClassVar[str] = "target"
    peer: ClassVar[str] = "peer"
    expect_open: ClassVar[Sequence[str]] = SERVER_OPEN
    expect_closed: ClassVar[Sequence[str]] = ALWAYS_CLOSED
    expect_rules: ClassVar[Sequence[Dict[str, Any]]] = SERVER_SET

    def ops(self) -> FirewallOps:
        return BACKENDS[self.backend]

    def test_role_1_expected_ports_answer(self, site: Site) -> None:
        expect_reach(
            site[self.peer], site[self.target], open=self.expect_open, closed=self.expect_closed, why="after converge"
        )

    def test_role_2_host_rules_intact(self, site: Site) -> None:
        self.ops().assert_foreign_rule(site[self.target])
        self.ops().assert_default_deny(site[self.target])

    def test_role_3_rerun_unchanged_on_expected_backend(self, site: Site) -> None:
        name = site[self.target].name
        result = run_role(name, {}).succeeded().module_result(name)
        assert result["backend"] == self.backend, result
        assert result["changed"] is False, result
        assert rule_keys(result["rules"]) == rule_keys(self.expect_rules), show(rule_keys(result["rules"]))
