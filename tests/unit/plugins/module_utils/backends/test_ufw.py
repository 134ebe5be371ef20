"""UfwBackend, replayed against command output captured from real ufw containers.

Fixtures: tests/unit/fixtures/ufw/*.jsonl, made by tests/unit/fixtures/ufw/capture.sh on a
host with ufw active (default deny incoming) and a foreign rule ``allow 2222/tcp comment
'user-rule'``, and on a host where ufw is installed but inactive.
"""

import copy
import os

import pytest
from recorded_runner import FIXTURES, ReplayRunner, drive, load_session, programs, recorded_outcome, session_names

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    BackendError,
    BackendOptions,
    CommandResult,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.ufw import (
    Spec,
    UfwBackend,
    desired_specs,
    ipv6_enabled,
    make_comment,
    owned_spec,
    parse_comment,
    parse_tuples,
    plan_steps,
)
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import Rule, diff

OWNER = "biostar-hardening"


def replay(name, calls=None):
    session = load_session("ufw", name)
    if calls is not None:
        session["calls"] = calls
    runner = ReplayRunner(session["calls"], programs(session["calls"], {}))
    return session, runner, drive(UfwBackend, runner, session)


def ufw_writes(commands):
    """ufw commands that change something (everything but ``ufw status`` and file reads)."""
    return [c for c in commands if os.path.basename(c[0]) == "ufw" and c[1:] != ["status"]]


def file_text(session, path, index=0):
    """The text of ``path`` the index-th time the recorded run read it."""
    reads = [call["stdout"] for call in session["calls"] if call["args"] == ["cat", path]]
    return reads[index]


def rule(port, protocol="tcp", direction="inbound", peers=(), purpose=""):
    low, _sep, high = str(port).partition("-")
    return Rule(protocol, int(low), int(high or low), direction, tuple(peers), purpose)


# Every recorded run, replayed: same commands in the same order, same outcome.


@pytest.mark.parametrize("name", session_names("ufw"))
def test_recorded_run_replays_exactly(name):
    session, runner, outcome = replay(name)
    assert outcome == recorded_outcome(session)
    assert runner.finished, "the backend stopped before the recorded run did"


def test_no_run_ever_touches_policy_state_or_a_foreign_rule():
    for name in session_names("ufw"):
        _session, runner, _outcome = replay(name)
        for command in ufw_writes(runner.commands):
            assert command[1] in ("allow", "delete"), command
            assert "2222" not in command, command
            assert command[command.index("comment") + 1].startswith(OWNER + " "), command


# detect


def test_detect_active_and_inactive_from_captured_status():
    assert replay("detect-active")[2] == {"name": "ufw", "available": True, "active": True, "detail": "ufw is active"}
    inactive = replay("detect-inactive")[2]
    assert inactive["available"] is True
    assert inactive["active"] is False
    assert "never enables it" in inactive["detail"]


def test_detect_without_ufw():
    runner = ReplayRunner([], {})
    detection = UfwBackend.detect(runner)
    assert (detection.available, detection.active) == (False, False)
    assert "not installed" in detection.detail


def test_detect_when_status_fails():
    calls = [{"args": ["/usr/sbin/ufw", "status"], "rc": 1, "stdout": "", "stderr": "ERROR: You need to be root"}]
    detection = UfwBackend.detect(ReplayRunner(calls, {"ufw": "/usr/sbin/ufw"}))
    assert detection.available is False
    assert "You need to be root" in detection.detail


# reading


def test_tuple_lines_of_the_captured_files_parse_into_specs():
    session = load_session("ufw", "overlap")
    v4 = parse_tuples(file_text(session, "/etc/ufw/user.rules"))
    v6 = parse_tuples(file_text(session, "/etc/ufw/user6.rules"))
    foreign = [line for line in v4 + v6 if not parse_comment(OWNER, line.comment)]
    assert [(line.fields, line.comment) for line in foreign] == [
        (("allow", "tcp", "2222", "0.0.0.0/0", "any", "0.0.0.0/0", "in"), "user-rule"),
        (("allow", "tcp", "2222", "::/0", "any", "::/0", "in"), "user-rule"),
    ]
    specs = {owned_spec(line) for line in v4 + v6 if parse_comment(OWNER, line.comment)}
    assert specs == {
        Spec("inbound", "tcp", 1480, 1480, "10.88.0.0/16"),
        Spec("inbound", "tcp", 1480, 1480, "2001:db8::/64"),
        Spec("inbound", "tcp", 1480, 1480, "10.88.0.9/32"),
        Spec("inbound", "tcp", 6000, 6010, None),
        Spec("outbound", "tcp", 1470, 1470, "192.168.1.0/24"),
        Spec("outbound", "udp", 51110, 51110, None),
    }


def test_read_owned_puts_split_rules_back_together():
    session, _runner, outcome = replay("overlap")
    assert outcome["before"] == [
        {
            "protocol": "tcp",
            "port": 1480,
            "direction": "inbound",
            "peers": ["10.88.0.0/16", "2001:db8::/64"],
            "purpose": "from clients",
        },
        {"protocol": "tcp", "port": 1480, "direction": "inbound", "peers": ["10.88.0.9/32"], "purpose": "one host"},
        {"protocol": "tcp", "port": "6000-6010", "direction": "inbound", "peers": [], "purpose": "a range"},
        {
            "protocol": "tcp",
            "port": 1470,
            "direction": "outbound",
            "peers": ["192.168.1.0/24"],
            "purpose": "to devices",
        },
        {"protocol": "udp", "port": 51110, "direction": "outbound", "peers": [], "purpose": "device search"},
    ]
    assert session["outcome"]["before"] == outcome["before"]


def test_tagged_rules_the_backend_would_never_write_are_not_owned():
    text = "\n".join(
        [
            "### tuple ### deny tcp 1480 0.0.0.0/0 any 0.0.0.0/0 in comment=%s" % OWNER.encode().hex(),
            "### tuple ### allow tcp 1480 0.0.0.0/0 any 0.0.0.0/0 in_eth0 comment=%s" % OWNER.encode().hex(),
            "### tuple ### allow any 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in comment=%s" % OWNER.encode().hex(),
        ]
    )
    assert [owned_spec(line) for line in parse_tuples(text)] == [None, None, None]


def test_comment_tags():
    assert parse_comment(OWNER, "biostar-hardening e31f1ef2 BioStar device command") == (
        ("e31f1ef2",),
        "BioStar device command",
    )
    assert parse_comment(OWNER, "biostar-hardening 6088d451,949a28cb overlapping") == (
        ("6088d451", "949a28cb"),
        "overlapping",
    )
    assert parse_comment(OWNER, "user-rule") is None
    assert parse_comment(OWNER, "biostar-hardening-other e31f1ef2") is None
    assert parse_comment(OWNER, "biostar-hardening not-a-key") is None
    assert make_comment(OWNER, ["e31f1ef2"], "it's a\nport") == "biostar-hardening e31f1ef2 its a port"


def test_ipv6_setting():
    assert ipv6_enabled("# comment\nIPV6=yes\n") is True
    assert ipv6_enabled('IPV6="no"\n') is False
    assert ipv6_enabled("") is False


# planning


def test_spec_arguments_are_the_ufw_words():
    assert Spec("inbound", "tcp", 1480, 1480, None).arguments() == [
        "in",
        "proto",
        "tcp",
        "from",
        "any",
        "to",
        "any",
        "port",
        "1480",
    ]
    # ufw keeps a single host without /32; writing it that way avoids its normalisation warning.
    assert Spec("inbound", "udp", 6000, 6010, "10.0.0.5/32").arguments()[3:5] == ["from", "10.0.0.5"]
    assert Spec("inbound", "udp", 6000, 6010, "10.0.0.5/32").arguments()[-1] == "6000:6010"
    assert Spec("outbound", "tcp", 1470, 1470, "192.168.1.0/24").arguments()[:7] == [
        "out",
        "proto",
        "tcp",
        "from",
        "any",
        "to",
        "192.168.1.0/24",
    ]


def test_rules_sharing_one_ufw_rule_list_both_keys():
    first = rule(1480, peers=("10.0.0.0/24", "2001:db8::/64"), purpose="clients")
    second = rule(1480, peers=("10.0.0.0/24",), purpose="more")
    specs = desired_specs([first, second], OWNER)
    shared = Spec("inbound", "tcp", 1480, 1480, "10.0.0.0/24")
    keys = sorted([first.key(), second.key()])
    assert specs[shared] == "%s %s %s" % (OWNER, ",".join(keys), "more")
    assert specs[Spec("inbound", "tcp", 1480, 1480, "2001:db8::/64")].split()[1] == first.key()


def test_plan_steps_add_before_delete_and_ignore_a_changed_label():
    keep = Spec("inbound", "tcp", 1480, 1480, None)
    old = Spec("inbound", "tcp", 1470, 1470, None)
    new = Spec("inbound", "udp", 51110, 51110, None)
    current = {keep: "%s a4bbd27c old label" % OWNER, old: "%s e31f1ef2 x" % OWNER}
    target = {keep: "%s a4bbd27c new label" % OWNER, new: "%s 64fbca3f y" % OWNER}
    assert plan_steps(current, target, OWNER) == [("add", new, target[new]), ("delete", old, current[old])]


# writing


def test_server_set_adds_one_tagged_rule_each_and_reports_both_files():
    _session, runner, outcome = replay("server")
    assert [(" ".join(c[1:-2]), c[-1]) for c in ufw_writes(runner.commands)] == [
        (
            "allow in proto tcp from any to any port 1470",
            "biostar-hardening e31f1ef2 BioStar device command connection",
        ),
        (
            "allow in proto tcp from any to any port 1471",
            "biostar-hardening 7d2854c7 BioStar device request connection",
        ),
        ("allow in proto tcp from any to any port 1480", "biostar-hardening a4bbd27c BioStar server port"),
        ("allow in proto udp from any to any port 51110", "biostar-hardening 64fbca3f BioStar device search"),
    ]
    assert outcome["persisted"] == ["/etc/ufw/user.rules", "/etc/ufw/user6.rules"]


def test_second_identical_run_writes_nothing():
    _session, runner, outcome = replay("server-again")
    assert outcome["changed"] is False
    assert ufw_writes(runner.commands) == []
    assert outcome["persisted"] == []


def test_apply_of_an_unchanged_set_reads_and_writes_nothing():
    session = load_session("ufw", "server-again")
    reads = session["calls"][1:4]
    runner = ReplayRunner(session["calls"][1:] + reads, programs(session["calls"], {}))
    backend = UfwBackend(runner, BackendOptions())
    current = backend.read_owned()
    backend.apply(diff(current, current))
    assert runner.finished
    assert ufw_writes(runner.commands) == []
    assert backend.persist() == []


def test_direct_set_deletes_the_stale_owned_rules_by_their_exact_comment():
    _session, runner, outcome = replay("direct")
    assert [" ".join(c[1:-2]) for c in ufw_writes(runner.commands)] == [
        "delete allow in proto tcp from any to any port 1470",
        "delete allow in proto tcp from any to any port 1471",
        "delete allow in proto udp from any to any port 51110",
    ]
    assert [c[-1] for c in ufw_writes(runner.commands)] == [
        "biostar-hardening e31f1ef2 BioStar device command connection",
        "biostar-hardening 7d2854c7 BioStar device request connection",
        "biostar-hardening 64fbca3f BioStar device search",
    ]
    assert [r["port"] for r in outcome["removed"]] == [1470, 1471, 51110]


def test_absent_removes_every_owned_rule_and_then_has_nothing_to_do():
    _session, runner, outcome = replay("absent")
    assert [c[1] for c in ufw_writes(runner.commands)] == ["delete"]
    assert outcome["changed"] is True
    _session, runner, outcome = replay("absent-again")
    assert (outcome["changed"], ufw_writes(runner.commands)) == (False, [])


def test_peers_outbound_and_ranges_become_ufw_rules():
    _session, runner, _outcome = replay("mixed")
    words = [" ".join(c[1:-2]) for c in ufw_writes(runner.commands)]
    assert words == [
        "allow in proto tcp from 10.88.0.0/16 to any port 1480",
        "allow in proto tcp from 10.88.0.9 to any port 1480",
        "allow in proto tcp from 2001:db8::/64 to any port 1480",
        "allow in proto tcp from any to any port 6000:6010",
        "allow out proto tcp from any to 192.168.1.0/24 port 1470",
        "allow out proto udp from any to any port 51110",
    ]


def test_a_rule_shared_by_two_owned_rules_gets_both_keys_in_place():
    _session, runner, _outcome = replay("overlap")
    first = ufw_writes(runner.commands)[0]
    assert first[1:] == [
        "allow",
        "in",
        "proto",
        "tcp",
        "from",
        "10.88.0.0/16",
        "to",
        "any",
        "port",
        "1480",
        "comment",
        "biostar-hardening 6088d451,949a28cb overlapping",
    ]


def test_an_owned_rule_with_the_match_of_a_foreign_rule_is_refused_before_any_write():
    _session, runner, outcome = replay("conflict")
    assert ufw_writes(runner.commands) == []
    assert "'allow tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in' (comment 'user-rule')" in outcome["failed"]
    assert "would take that rule over" in outcome["failed"]


def test_a_foreign_deny_with_the_same_match_also_conflicts():
    session = load_session("ufw", "server")
    calls = copy.deepcopy(session["calls"])
    deny = "### tuple ### deny tcp 1480 0.0.0.0/0 any 0.0.0.0/0 in\n"
    for call in calls:
        if call["args"] == ["cat", "/etc/ufw/user.rules"]:
            call["stdout"] = call["stdout"].replace("### END RULES ###", deny + "### END RULES ###")
    _session, runner, outcome = replay("server", calls[:7])
    assert "'deny tcp 1480 0.0.0.0/0 any 0.0.0.0/0 in' (no comment)" in outcome["failed"]
    assert ufw_writes(runner.commands) == []


def test_a_failed_step_puts_the_previous_owned_rules_back():
    _session, runner, outcome = replay("fail-restore")
    assert outcome["stderr"] == "ERROR: simulated failure for 51110"
    assert "port 51110" in outcome["failed"]
    steps = [(c[1], c[c.index("port") + 1]) for c in ufw_writes(runner.commands)]
    assert steps == [("allow", "1470"), ("allow", "1471"), ("allow", "51110"), ("delete", "1470"), ("delete", "1471")]


def test_a_restore_that_fails_too_is_reported_with_both_errors():
    session = load_session("ufw", "fail-restore")
    calls = copy.deepcopy(session["calls"])
    calls[-2].update(rc=1, stdout="", stderr="ERROR: could not delete")
    _session, runner, outcome = replay("fail-restore", calls)
    assert runner.finished
    assert "restoring the previous owned rules also failed" in outcome["failed"]
    assert "delete inbound tcp/1470 from any: ERROR: could not delete" in outcome["failed"]
    assert outcome["stderr"] == "ERROR: simulated failure for 51110"


def test_a_write_ufw_did_not_keep_is_caught_and_undone():
    session = load_session("ufw", "direct")
    calls = copy.deepcopy(session["calls"])
    before = calls[4:7]
    # The check after the deletes reads the unchanged files: ufw said yes but kept the rules.
    calls = calls[:-3] + copy.deepcopy(before) + copy.deepcopy(before)
    _session, runner, outcome = replay("direct", calls)
    assert runner.finished
    assert "differ from the plan" in outcome["failed"]
    assert "unexpected: inbound tcp/1470 from any" in outcome["failed"]


def test_ipv6_peers_are_refused_when_ufw_has_ipv6_off():
    _session, runner, outcome = replay("ipv6-off")
    assert "IPV6=no" in outcome["failed"]
    assert ufw_writes(runner.commands) == []
    assert ["cat", "/etc/ufw/user6.rules"] not in runner.commands


def test_inactive_ufw_gets_the_rules_in_its_files_and_stays_inactive():
    session, runner, outcome = replay("inactive-server")
    assert outcome["detected"]["active"] is False
    assert len(ufw_writes(runner.commands)) == 4
    assert {call["stdout"] for call in session["calls"] if call["args"][1:2] == ["allow"]} == {
        "Rules updated\nRules updated (v6)\n"
    }
    with open(os.path.join(FIXTURES, "ufw", "status-after-inactive-server.txt")) as handle:
        assert handle.read().strip() == "Status: inactive"


@pytest.mark.parametrize("owner", ["it's-mine", "", "two words", "a,b"])
def test_owner_that_ufw_cannot_carry_is_refused(owner):
    backend = UfwBackend(ReplayRunner([], {"ufw": "/usr/sbin/ufw"}), BackendOptions(owner=owner))
    with pytest.raises(BackendError, match="owner"):
        backend.read_owned()


def test_persist_false_is_reported_as_ignored():
    session = load_session("ufw", "server-again")
    backend = UfwBackend(ReplayRunner(session["calls"][1:4], {"ufw": "/usr/sbin/ufw"}), BackendOptions(persist=False))
    backend.read_owned()
    assert backend.warnings == ["persist=false has no effect on ufw: ufw writes its rule files on every change"]


# check mode


@pytest.mark.parametrize("name", ["server", "direct"])
def test_check_mode_predicts_the_run_and_writes_nothing(name):
    _session, runner, predicted = replay(name + "-check")
    assert ufw_writes(runner.commands) == []
    _session, _runner, real = replay(name)
    for key in ("changed", "added", "removed", "actions", "persisted"):
        assert predicted[key] == real[key], key


def test_check_mode_fails_where_the_run_fails():
    _session, runner, predicted = replay("conflict-check")
    _session, _runner, real = replay("conflict")
    assert predicted["failed"] == real["failed"]
    assert ufw_writes(runner.commands) == []


def test_pending_names_the_retag_of_a_shared_rule():
    assert "retag ufw rule inbound tcp/1480 from 10.88.0.0/16" in replay("overlap")[2]["actions"]


def test_unreadable_rules_file_is_an_error_with_cats_words():
    calls = [
        {"args": ["cat", "/etc/default/ufw"], "rc": 0, "stdout": "IPV6=yes\n", "stderr": ""},
        {"args": ["cat", "/etc/ufw/user.rules"], "rc": 1, "stdout": "", "stderr": "cat: Permission denied"},
    ]
    backend = UfwBackend(ReplayRunner(calls, {"ufw": "/usr/sbin/ufw"}), BackendOptions())
    with pytest.raises(BackendError) as error:
        backend.read_owned()
    assert error.value.stderr == "cat: Permission denied"


def test_missing_rules_files_mean_no_rules():
    missing = CommandResult(1, "", "cat: /etc/ufw/user.rules: No such file or directory")
    calls = [
        {"args": ["cat", "/etc/default/ufw"], "rc": 0, "stdout": "IPV6=yes\n", "stderr": ""},
        {"args": ["cat", "/etc/ufw/user.rules"], "rc": 1, "stdout": "", "stderr": missing.stderr},
        {"args": ["cat", "/etc/ufw/user6.rules"], "rc": 1, "stdout": "", "stderr": missing.stderr},
    ]
    assert UfwBackend(ReplayRunner(calls, {"ufw": "/usr/sbin/ufw"}), BackendOptions()).read_owned() == []
