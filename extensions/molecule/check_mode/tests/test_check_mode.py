# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode through the role: predicts exactly, changes nothing (packets decide).

Each change is a pair of steps: the check run, then the real run that must do exactly
what the check run said. Converge left the host in server mode.
"""

from biostar_harness.ansible_run import rule, rule_keys, run_role
from biostar_harness.firewalls import BACKENDS
from biostar_harness.lifecycle import ALWAYS_CLOSED
from biostar_harness.site import expect_reach

nft = BACKENDS["nftables"]
SERVER_ONLY = [rule("tcp", 1470), rule("tcp", 1471), rule("udp", 51110)]
BOTH_MODES = [rule("tcp", 1480)]
DIRECT = {"biostar_mode": "direct"}
ABSENT = {"biostar_mode": "direct", "biostar_firewall_state": "absent"}
SERVER = {"biostar_mode": "server"}
predicted = {}


def role(site, role_vars, check):
    name = site["target"].name
    run = run_role(name, role_vars, check=check, diff=True).succeeded()
    assert run.stats(name).get("changed") == 1, run.describe()
    return run.module_result(name)


def check_run(site, role_vars, key, added, removed):
    target = site["target"]
    before = nft.snapshot(target)
    nft.mark_etc(target)
    result = role(site, role_vars, check=True)
    assert nft.etc_changes(target) == [], "check mode wrote files"
    assert nft.snapshot(target) == before, "check mode changed the live ruleset"
    assert result["changed"] is True, result
    assert rule_keys(result["added"]) == rule_keys(added), result
    assert rule_keys(result["removed"]) == rule_keys(removed), result
    # --diff shows the owned rules before and after, one rule a line.
    diff = result.get("diff")
    diff = diff[0] if isinstance(diff, list) else diff
    for r in removed:
        assert "%s/%s" % (r["protocol"], r["port"]) in diff["before"], diff
        assert "%s/%s" % (r["protocol"], r["port"]) not in diff["after"], diff
    for r in added:
        assert "%s/%s" % (r["protocol"], r["port"]) in diff["after"], diff
    predicted[key] = (rule_keys(result["added"]), rule_keys(result["removed"]))


def real_run(site, role_vars, key):
    result = role(site, role_vars, check=False)
    assert (rule_keys(result["added"]), rule_keys(result["removed"])) == predicted[key], result


def test_1_check_direct_changes_nothing(site):
    check_run(site, DIRECT, "direct", added=[], removed=SERVER_ONLY)
    expect_reach(
        site["peer"], site["target"], open=["tcp/1470", "tcp/1471", "udp/51110", "tcp/1480"], closed=ALWAYS_CLOSED
    )


def test_2_direct_does_what_check_said(site):
    real_run(site, DIRECT, "direct")
    expect_reach(site["peer"], site["target"], open=["tcp/1480"], closed=["tcp/1470", "tcp/1471", "udp/51110"])


def test_3_check_absent_changes_nothing(site):
    check_run(site, ABSENT, "absent", added=[], removed=BOTH_MODES)
    expect_reach(site["peer"], site["target"], open=["tcp/1480"], closed=ALWAYS_CLOSED)


def test_4_absent_does_what_check_said(site):
    real_run(site, ABSENT, "absent")
    expect_reach(site["peer"], site["target"], open=["tcp/2222"], closed=["tcp/1480", "tcp/1470"])
    assert nft.owned_traces(site["target"]) == []


def test_5_check_server_from_nothing_changes_nothing(site):
    check_run(site, SERVER, "server", added=SERVER_ONLY + BOTH_MODES, removed=[])
    expect_reach(site["peer"], site["target"], closed=["tcp/1470", "tcp/1480", "udp/51110"])
    assert nft.owned_traces(site["target"]) == [], "check mode created owned chains"


def test_6_server_does_what_check_said(site):
    real_run(site, SERVER, "server")
    expect_reach(
        site["peer"], site["target"], open=["tcp/1470", "tcp/1471", "tcp/1480", "udp/51110"], closed=ALWAYS_CLOSED
    )
    nft.assert_foreign_rule(site["target"])
    nft.assert_default_deny(site["target"])
