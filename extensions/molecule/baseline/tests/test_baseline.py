# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The baseline on a host that had no firewall: default-deny, management path kept."""

import re

from biostar_harness.ansible_run import rule, run_module, run_role
from biostar_harness.site import expect_reach

# Everything that could filter on a host, without timestamps or counters.
FIREWALL_STATE = "nft -s list ruleset; iptables-save | sed '/^#/d'; ip6tables-save | sed '/^#/d'"
SSH = (
    "ssh -i /root/.ssh/id_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=no "
    "-o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 root@%s"
)


def test_1_biostar_and_ssh_answer_everything_else_is_dropped(site):
    expect_reach(
        site["peer"],
        site["target"],
        open=["tcp/22", "tcp/1470", "tcp/1471", "tcp/1480", "udp/51110"],
        closed=["tcp/1999", "udp/1999", "tcp/2222"],
        why="after the baseline",
    )


def test_2_management_session_still_logs_in(site):
    # A whole SSH login and command over the kept management port, not just a SYN.
    result = site["peer"].sh(SSH % site["target"].ip + " 'echo managed-by-ssh; hostname'")
    assert result.stdout.split() == ["managed-by-ssh", "target"], result.stdout


def test_3_loopback_and_established_traffic_still_work(site):
    target = site["target"]
    target.sh("python3 -c \"import socket; socket.create_connection(('127.0.0.1', 1999), 2).close()\"")
    # The target's own connection out: the answers come back in as established traffic.
    expect_reach(target, site["peer"], open=["tcp/1999"], why="outbound from the baseline host")


def test_4_rerun_is_unchanged(site):
    name = site["target"].name
    result = run_role(name, {}).succeeded().module_result(name)
    assert result["changed"] is False, result


def test_5_baseline_without_management_port_is_refused(site):
    host = site["unmanaged"]
    before = host.sh(FIREWALL_STATE).stdout
    run = run_role(
        host.name,
        {"biostar_host_role": "server", "biostar_firewall_baseline": True, "biostar_firewall_management_ports": []},
    )
    assert run.rc != 0, run.describe()
    messages = " ".join(run.failure_messages(host.name))
    assert re.search(r"management", messages, re.IGNORECASE), messages
    assert host.sh(FIREWALL_STATE).stdout == before
    # Still nothing filters on that host.
    expect_reach(site["peer"], host, open=["tcp/1999", "tcp/1480"], why="refused host untouched")


def test_6_module_alone_refuses_too(site):
    # The role refuses on the controller; the module must refuse on its own as well
    # (no management_ports and no SSH_CONNECTION over the podman connection).
    host = site["unmanaged"]
    before = host.sh(FIREWALL_STATE).stdout
    run = run_module(host.name, [rule("tcp", 1480)], "auto", baseline=True)
    assert run.rc != 0, run.describe()
    messages = " ".join(run.failure_messages(host.name))
    assert re.search(r"management", messages, re.IGNORECASE), messages
    assert host.sh(FIREWALL_STATE).stdout == before
