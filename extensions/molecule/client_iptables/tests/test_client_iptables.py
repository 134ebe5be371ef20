# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client in direct mode on iptables with outbound filtering, then the module lifecycle."""

from biostar_harness.firewalls import BACKENDS
from biostar_harness.lifecycle import ModuleLifecycle
from biostar_harness.role_checks import CLIENT_DIRECT_OUTBOUND, CLIENT_INBOUND, RoleOnBackend
from biostar_harness.site import expect_reach

iptables = BACKENDS["iptables"]


class TestRole(RoleOnBackend):
    backend = "iptables"
    # A client only receives device answers (udp 51110); server and device ports stay shut.
    expect_open = ("udp/51110", "tcp/2222")
    expect_closed = ("tcp/1470", "tcp/1471", "tcp/1480", "tcp/1999", "udp/1999")
    expect_rules = (*CLIENT_INBOUND, *CLIENT_DIRECT_OUTBOUND)

    def test_role_4_outbound_rules_in_owned_chain(self, site):
        target = site[self.target]
        chain = target.sh("iptables -S BIOSTAR-OUTPUT").stdout
        for proto, port in (("tcp", 1470), ("tcp", 1471), ("tcp", 1480), ("udp", 51110)):
            assert "-p %s" % proto in chain and "--dport %d " % port in chain, chain
        output = target.sh("iptables -S OUTPUT").stdout
        assert "-j BIOSTAR-OUTPUT" in output, output
        iptables.assert_output_drop(target)

    def test_role_5_client_reaches_devices_and_server_only(self, site):
        # Outbound, from the client to the peer's listeners: the OUTPUT policy drops
        # everything but the owned rules (and established traffic).
        expect_reach(
            site[self.target],
            site[self.peer],
            open=["tcp/1470", "tcp/1471", "tcp/1480", "udp/51110"],
            closed=["tcp/1999", "udp/1999"],
            why="outbound from the client",
        )


class TestModuleLifecycle(ModuleLifecycle):
    backend = "iptables"
