"""UfwBackend, replayed against commands and files captured from real ufw containers.

Fixtures: tests/unit/fixtures/ufw/, made by capture.sh on a host with ufw active (default
deny incoming) and a foreign rule ``allow 2222/tcp comment 'user-rule'``, and on a host where
ufw is installed but inactive. ``<session>.jsonl`` holds the commands of one run,
``<session>.host.json`` ufw's files, its user chains and ``ufw status`` before and after it.
"""

import copy
import json
import os

import pytest
from recorded_runner import FIXTURES, ReplayRunner, drive, load_session, programs, recorded_outcome, session_names

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    BackendError,
    BackendOptions,
    HostFiles,
    Target,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.ufw import (
    UfwBackend,
    desired_specs,
    ipv6_enabled,
    make_comment,
    parse_comment,
    steps,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.ufw_rules import Block, Spec, parse_blocks
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import Rule, RuleError, validate_owner

OWNER = "biostar-hardening"
V4 = "/etc/ufw/user.rules"
V6 = "/etc/ufw/user6.rules"
SESSIONS = session_names("ufw")


class FakeFiles(HostFiles):
    """ufw's files in memory; ``fail`` maps a path to the OSError reading or writing it raises."""

    def __init__(self, texts, fail=None):
        self.texts = dict(texts)
        self.fail = dict(fail or {})
        self.reads = []
        self.writes = []

    def read(self, path):
        self.reads.append(path)
        if ("read", path) in self.fail:
            raise self.fail[("read", path)]
        return self.texts.get(path)

    def write(self, path, text):
        if ("write", path) in self.fail:
            raise self.fail[("write", path)]
        self.writes.append(path)
        self.texts[path] = text

    def remove(self, path):
        self.texts.pop(path, None)


def host(name):
    with open(os.path.join(FIXTURES, "ufw", name + ".host.json")) as handle:
        return json.load(handle)


def on(files):
    """UfwBackend bound to ``files``, as the recorder builds it (runner and options only)."""

    class Replayed(UfwBackend):
        def __init__(self, runner, options):
            super().__init__(runner, options, files)

    return Replayed


def replay(name, calls=None, texts=None, fail=None):
    session = load_session("ufw", name)
    if calls is not None:
        session["calls"] = calls
    files = FakeFiles(host(name)["before"]["files"] if texts is None else texts, fail)
    runner = ReplayRunner(session["calls"], programs(session["calls"], {"ufw": "/usr/sbin/ufw"}))
    return session, runner, drive(on(files), runner, session), files


def loads(commands):
    """The iptables-restore / ip6tables-restore commands (everything but detection's listing)."""
    return [c for c in commands if list(c) != ["iptables-save", "-t", "filter"]]


def loaded_data(session):
    return [call["data"] for call in session["calls"] if call["args"][-1] == "-n"]


def owned_blocks(text, owner=OWNER):
    """(fields, comment) of the owned blocks of a rules file, in file order."""
    lines = (text or "").splitlines(keepends=True)
    return [(b.fields, b.comment) for b in parse_blocks(lines) if parse_comment(owner, b.comment)]


def foreign_lines(text):
    """Every line of a rules file that is not part of an owned block (nor ufw's blank line before it)."""
    lines = (text or "").splitlines(keepends=True)
    skip = set()
    for block in parse_blocks(lines):
        if parse_comment(OWNER, block.comment):
            skip.update(range(block.start - 1, block.end))
    return [line for index, line in enumerate(lines) if index not in skip]


def rule(port, protocol="tcp", direction="inbound", peers=(), purpose=""):
    low, _sep, high = str(port).partition("-")
    return Rule(protocol, int(low), int(high or low), direction, tuple(peers), purpose)


# Every recorded run, replayed: same commands in the same order, same outcome, same files.


@pytest.mark.parametrize("name", SESSIONS)
def test_recorded_run_replays_exactly(name):
    session, runner, outcome, files = replay(name)
    assert outcome == recorded_outcome(session)
    assert runner.finished, "the backend stopped before the recorded run did"
    if session["action"] != "detect":
        assert files.texts == host(name)["after"]["files"], "the files differ from what the real run left"


@pytest.mark.parametrize("name", [name for name in SESSIONS if not name.startswith("detect")])
def test_no_run_ever_touches_policy_state_or_a_foreign_rule(name):
    session, runner, _outcome, files = replay(name)
    before = host(name)["before"]
    for command in runner.commands:
        if command == ["iptables-save", "-t", "filter"]:  # detection only lists
            continue
        assert command[1:] == ["-n"], command
        assert os.path.basename(command[0]) in ("iptables-restore", "ip6tables-restore"), command
    assert set(files.writes) <= {V4, V6}
    for path in (V4, V6):
        assert foreign_lines(files.texts.get(path)) == foreign_lines(before["files"][path]), path
    for data in loaded_data(session):
        declared = [line.split()[0] for line in data.splitlines() if line.startswith(":")]
        assert declared and all(chain.startswith((":ufw-", ":ufw6-")) for chain in declared), declared
        assert data.startswith("*filter\n") and data.count("*") == 1 and "\n-P " not in data
    after = host(name)["after"]
    if before["chains"]["iptables"]:
        assert "--dport 2222 -j ACCEPT" in after["chains"]["iptables"]
        assert after["status"].startswith("Status: active")


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


def test_detect_when_the_listing_fails():
    stderr = "iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied"
    calls = [{"args": ["iptables-save", "-t", "filter"], "rc": 1, "stdout": "", "stderr": stderr}]
    detection = UfwBackend.detect(ReplayRunner(calls, {"ufw": "/usr/sbin/ufw"}))
    assert detection.available is False
    assert "iptables-save -t filter failed: " + stderr == detection.detail


def test_detect_is_active_only_with_every_user_chain_that_ufw_status_looks_for():
    """ufw status stops at the first of ufw-user-input/-output/-forward that is missing."""
    chains = ["ufw-user-input", "ufw-user-output", "ufw-user-forward"]
    for missing in [None, *chains]:
        lines = ["*filter", ":INPUT DROP [0:0]", *(":%s - [0:0]" % c for c in chains if c != missing), "COMMIT"]
        calls = [{"args": ["iptables-save", "-t", "filter"], "rc": 0, "stdout": "\n".join(lines) + "\n", "stderr": ""}]
        detection = UfwBackend.detect(ReplayRunner(calls, {"ufw": "/usr/sbin/ufw"}))
        assert detection.available is True
        assert detection.active is (missing is None), missing


# reading


def test_tuple_lines_of_the_captured_files_parse_into_specs():
    files = host("overlap")["before"]["files"]
    blocks = parse_blocks(files[V4].splitlines(keepends=True)) + parse_blocks(files[V6].splitlines(keepends=True))
    foreign = [block for block in blocks if not parse_comment(OWNER, block.comment)]
    assert [(block.fields, block.comment) for block in foreign] == [
        (("allow", "tcp", "2222", "0.0.0.0/0", "any", "0.0.0.0/0", "in"), "user-rule"),
        (("allow", "tcp", "2222", "::/0", "any", "::/0", "in"), "user-rule"),
    ]
    specs = {block.spec() for block in blocks if parse_comment(OWNER, block.comment)}
    assert specs == {
        Spec("inbound", "tcp", 1480, 1480, "10.88.0.0/16"),
        Spec("inbound", "tcp", 1480, 1480, "2001:db8::/64"),
        Spec("inbound", "tcp", 1480, 1480, "10.88.0.9/32"),
        Spec("inbound", "tcp", 6000, 6010, None),
        Spec("outbound", "tcp", 1470, 1470, "192.168.1.0/24"),
        Spec("outbound", "udp", 51110, 51110, None),
    }


def test_read_puts_split_rules_back_together():
    session, _runner, outcome, _files = replay("overlap")
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
    tag = OWNER.encode().hex()
    text = "".join(
        "### tuple ### %s comment=%s\n" % (fields, tag)
        for fields in (
            "deny tcp 1480 0.0.0.0/0 any 0.0.0.0/0 in",
            "allow tcp 1480 0.0.0.0/0 any 0.0.0.0/0 in_eth0",
            "allow any 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in",
            "allow tcp 1480 10.0.0.1 any 0.0.0.0/0 in",
        )
    )
    assert [block.spec() for block in parse_blocks(text.splitlines(keepends=True))] == [None, None, None, None]


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
    assert parse_comment(OWNER, "biostar-hardening") is None
    # The tag code of tags.py: a quote or a newline never reaches ufw's one-line record.
    assert make_comment(OWNER, ["e31f1ef2"], "it's a\nport") == "biostar-hardening e31f1ef2 it s a port"


def test_ipv6_setting():
    assert ipv6_enabled("# comment\nIPV6=yes\n") is True
    assert ipv6_enabled('IPV6="no"\n') is False
    assert ipv6_enabled("") is False


# planning


def test_specs_render_as_ufw_writes_them():
    """The lines real ufw 0.36.2 wrote for these rules (``ufw allow ...``), seen in a container."""
    assert Spec("inbound", "tcp", 1480, 1480, None).block("ipv4", "") == [
        "\n",
        "### tuple ### allow tcp 1480 0.0.0.0/0 any 0.0.0.0/0 in\n",
        "-A ufw-user-input -p tcp --dport 1480 -j ACCEPT\n",
    ]
    # ufw keeps a single host without /32 and hex-encodes the comment.
    assert Spec("inbound", "tcp", 1480, 1480, "10.88.0.9/32").block("ipv4", "x y")[1:] == [
        "### tuple ### allow tcp 1480 0.0.0.0/0 any 10.88.0.9 in comment=782079\n",
        "-A ufw-user-input -p tcp --dport 1480 -s 10.88.0.9 -j ACCEPT\n",
    ]
    assert Spec("inbound", "udp", 7000, 7002, "10.1.0.0/16").rule_line("ipv4") == (
        "-A ufw-user-input -p udp -m multiport --dports 7000:7002 -s 10.1.0.0/16 -j ACCEPT"
    )
    assert Spec("outbound", "tcp", 80, 80, "10.2.3.4/32").rule_line("ipv4") == (
        "-A ufw-user-output -p tcp -d 10.2.3.4 --dport 80 -j ACCEPT"
    )
    assert Spec("outbound", "udp", 6000, 6010, "2001:db8::/64").block("ipv6", "")[1:] == [
        "### tuple ### allow udp 6000:6010 2001:db8::/64 any ::/0 out\n",
        "-A ufw6-user-output -p udp -m multiport --dports 6000:6010 -d 2001:db8::/64 -j ACCEPT\n",
    ]
    assert Spec("inbound", "tcp", 1480, 1480, "2001:db8::1/128").fields("ipv6") == (
        "allow",
        "tcp",
        "1480",
        "::/0",
        "any",
        "2001:db8::1",
        "in",
    )


def test_rules_sharing_one_ufw_rule_list_both_keys():
    first = rule(1480, peers=("10.0.0.0/24", "2001:db8::/64"), purpose="clients")
    second = rule(1480, peers=("10.0.0.0/24",), purpose="more")
    specs = desired_specs([first, second], OWNER)
    shared = Spec("inbound", "tcp", 1480, 1480, "10.0.0.0/24")
    keys = sorted([first.key(), second.key()])
    assert specs[shared] == "%s %s %s" % (OWNER, ",".join(keys), "more")
    assert specs[Spec("inbound", "tcp", 1480, 1480, "2001:db8::/64")].split()[1] == first.key()


def test_steps_add_before_delete_and_ignore_a_changed_label():
    keep = Spec("inbound", "tcp", 1480, 1480, None)
    old = Spec("inbound", "tcp", 1470, 1470, None)
    new = Spec("inbound", "udp", 51110, 51110, None)
    current = {keep: Block(1, 2, (), "%s a4bbd27c old label" % OWNER), old: Block(4, 5, (), "%s e31f1ef2 x" % OWNER)}
    target = {keep: "%s a4bbd27c new label" % OWNER, new: "%s 64fbca3f y" % OWNER}
    assert steps(current, target, OWNER) == [("add", new), ("delete", old)]


# writing


def test_server_set_adds_one_tagged_rule_each_in_one_load_per_family():
    session, runner, outcome, files = replay("server")
    before = host("server")["before"]["files"]
    assert owned_blocks(before[V4]) == []
    assert [(" ".join(fields), comment) for fields, comment in owned_blocks(files.texts[V4])] == [
        ("allow tcp 1470 0.0.0.0/0 any 0.0.0.0/0 in", "biostar-hardening e31f1ef2 BioStar device command connection"),
        ("allow tcp 1471 0.0.0.0/0 any 0.0.0.0/0 in", "biostar-hardening 7d2854c7 BioStar device request connection"),
        ("allow tcp 1480 0.0.0.0/0 any 0.0.0.0/0 in", "biostar-hardening a4bbd27c BioStar server port"),
        ("allow udp 51110 0.0.0.0/0 any 0.0.0.0/0 in", "biostar-hardening 64fbca3f BioStar device search"),
    ]
    assert len(owned_blocks(files.texts[V6])) == 4
    assert [os.path.basename(c[0]) for c in loads(runner.commands)] == ["iptables-restore", "ip6tables-restore"]
    assert loaded_data(session) == [files.texts[V4], files.texts[V6]]
    assert outcome["persisted"] == [V4, V6]
    # The real kernel got them: ufw's user chain holds the four rules after the foreign one.
    chains = host("server")["after"]["chains"]["iptables"]
    assert chains.index("--dport 2222") < chains.index("--dport 1470") < chains.index("--dport 51110")


def test_second_identical_run_writes_nothing():
    _session, runner, outcome, files = replay("server-again")
    assert outcome["changed"] is False
    assert loads(runner.commands) == []
    assert files.writes == []
    assert outcome["persisted"] == []


def test_plan_of_an_unchanged_set_has_nothing_to_execute():
    files = FakeFiles(host("server-again")["before"]["files"])
    backend = UfwBackend(ReplayRunner([], {}), BackendOptions(), files)
    snapshot = backend.read()
    changes = backend.plan(snapshot, Target(snapshot.owned))
    assert (changes.actions, changes.files, changes.payload.texts) == ((), (), ())
    assert backend.execute(changes) == []
    assert files.writes == []


def test_direct_set_deletes_the_stale_owned_rules_by_their_exact_comment():
    _session, runner, outcome, files = replay("direct")
    before = owned_blocks(host("direct")["before"]["files"][V4])
    after = owned_blocks(files.texts[V4])
    removed = [block for block in before if block not in after]
    assert [(fields[2], comment) for fields, comment in removed] == [
        ("1470", "biostar-hardening e31f1ef2 BioStar device command connection"),
        ("1471", "biostar-hardening 7d2854c7 BioStar device request connection"),
        ("51110", "biostar-hardening 64fbca3f BioStar device search"),
    ]
    assert [fields[2] for fields, _comment in after] == ["1480"]
    assert len(loads(runner.commands)) == 2
    assert [r["port"] for r in outcome["removed"]] == [1470, 1471, 51110]


def test_absent_removes_every_owned_rule_and_then_has_nothing_to_do():
    _session, runner, outcome, files = replay("absent")
    assert outcome["actions"] == ["delete ufw rule inbound tcp/1480 from any"]
    assert outcome["changed"] is True
    assert owned_blocks(files.texts[V4]) == owned_blocks(files.texts[V6]) == []
    assert len(loads(runner.commands)) == 2
    _session, runner, outcome, files = replay("absent-again")
    assert (outcome["changed"], loads(runner.commands), files.writes) == (False, [], [])


def test_peers_outbound_and_ranges_become_ufw_rules():
    _session, _runner, _outcome, files = replay("mixed")
    words = [" ".join(fields) for path in (V4, V6) for fields, _comment in owned_blocks(files.texts[path])]
    assert words == [
        "allow tcp 1480 0.0.0.0/0 any 10.88.0.0/16 in",
        "allow tcp 1480 0.0.0.0/0 any 10.88.0.9 in",
        "allow tcp 6000:6010 0.0.0.0/0 any 0.0.0.0/0 in",
        "allow tcp 1470 192.168.1.0/24 any 0.0.0.0/0 out",
        "allow udp 51110 0.0.0.0/0 any 0.0.0.0/0 out",
        "allow tcp 1480 ::/0 any 2001:db8::/64 in",
        "allow tcp 6000:6010 ::/0 any ::/0 in",
        "allow udp 51110 ::/0 any ::/0 out",
    ]


def test_the_files_are_byte_for_byte_what_ufws_own_commands_write():
    """The same rules added with ``ufw allow ... comment ...`` on a host prepared alike."""
    by_ufw = host("mixed-by-ufw")
    ours = host("mixed")["after"]
    for path in (V4, V6):
        assert ours["files"][path] == by_ufw["files"][path], path
    assert ours["chains"] == by_ufw["chains"]
    assert ours["status"] == by_ufw["status"]


def interop():
    """(command, output) pairs of interop.txt: ufw's own commands after the backend's server run."""
    with open(os.path.join(FIXTURES, "ufw", "interop.txt")) as handle:
        parts = handle.read().split("$ ")[1:]
    return [(part.split("\n", 1)[0], part.split("\n", 1)[1]) for part in parts]


def test_ufws_own_commands_work_on_the_owned_rules():
    results = interop()
    assert all(text.rstrip().endswith("[rc=0]") for _command, text in results), results
    out = dict(results)
    status = [line.split() for line in out["ufw status"].splitlines()]
    assert ["1471/tcp", "ALLOW", "Anywhere", "#", OWNER, "7d2854c7", "BioStar", "device", "request", "connection"] in (
        status
    )
    assert "ufw allow 1471/tcp comment '%s 7d2854c7 BioStar device request connection'" % OWNER in out["ufw show added"]
    assert "Rule deleted" in out["ufw delete allow in proto tcp from any to any port 1471"]
    chains = [text for command, text in results if command == "iptables -S ufw-user-input"]
    assert "--dport 1471 " in chains[0]
    assert "--dport 1471 " not in chains[1] and "--dport 1480 " in chains[1] and "--dport 2222 " in chains[1]
    assert chains[2] == chains[1], "ufw reload rebuilt the chain differently from the rules loaded before"


def test_a_rule_shared_by_two_owned_rules_gets_both_keys_in_place():
    _session, _runner, _outcome, files = replay("overlap")
    before = parse_blocks(host("overlap")["before"]["files"][V4].splitlines(keepends=True))
    after = parse_blocks(files.texts[V4].splitlines(keepends=True))
    shared = ("allow", "tcp", "1480", "0.0.0.0/0", "any", "10.88.0.0/16", "in")
    old = next(block for block in before if block.fields == shared)
    new = next(block for block in after if block.fields == shared)
    assert new.start == old.start
    assert new.comment == "biostar-hardening 6088d451,949a28cb overlapping"


def test_an_owned_rule_with_the_match_of_a_foreign_rule_is_refused_before_any_write():
    _session, runner, outcome, files = replay("conflict")
    assert loads(runner.commands) == [] and files.writes == []
    assert "'allow tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in' (comment 'user-rule')" in outcome["failed"]
    assert "would take that rule over" in outcome["failed"]


def test_a_foreign_deny_with_the_same_match_also_conflicts():
    texts = copy.deepcopy(host("server")["before"]["files"])
    deny = "\n### tuple ### deny tcp 1480 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 1480 -j DROP\n"
    texts[V4] = texts[V4].replace("\n### END RULES ###", deny + "\n### END RULES ###")
    session = load_session("ufw", "server")
    _session, runner, outcome, files = replay("server", session["calls"][:1], texts)
    assert "'deny tcp 1480 0.0.0.0/0 any 0.0.0.0/0 in' (no comment)" in outcome["failed"]
    assert loads(runner.commands) == [] and files.writes == []


def test_a_failed_load_puts_the_previous_rules_back():
    session, runner, outcome, files = replay("fail-restore")
    assert outcome["stderr"] == "ip6tables-restore: simulated failure for 51110"
    assert "step execute" in outcome["failed"] and "the previous owned rules were put back" in outcome["failed"]
    before = host("fail-restore")["before"]
    assert [os.path.basename(c[0]) for c in loads(runner.commands)] == [
        "iptables-restore",
        "ip6tables-restore",
        "iptables-restore",
        "ip6tables-restore",
    ]
    # The new rules went into the IPv4 chains first; the restore loads the files as they were.
    assert "--dport 51110" in loaded_data(session)[0]
    assert loaded_data(session)[2:] == [before["files"][V4], before["files"][V6]]
    assert files.writes == [] and files.texts == before["files"]
    # On the real host the kernel's chains ended up as they were before the run.
    assert host("fail-restore")["after"]["chains"] == before["chains"]


def test_a_restore_that_fails_too_is_reported_with_both_errors():
    session = load_session("ufw", "fail-restore")
    calls = copy.deepcopy(session["calls"])
    calls[-1].update(rc=1, stdout="", stderr="ip6tables-restore: could not load")
    _session, runner, outcome, _files = replay("fail-restore", calls)
    assert runner.finished
    assert "putting the previous owned rules back failed too" in outcome["failed"]
    assert "ip6tables-restore: could not load" in outcome["failed"]
    assert outcome["stderr"] == "ip6tables-restore: simulated failure for 51110"


def test_a_file_write_that_fails_after_the_load_is_undone():
    session = load_session("ufw", "server")
    restore = [dict(call, data=None, rc=0, stdout="", stderr="") for call in session["calls"][1:]]
    calls = copy.deepcopy(session["calls"]) + restore
    fail = {("write", V6): PermissionError(13, "Permission denied", V6)}
    _session, runner, outcome, files = replay("server", calls, fail=fail)
    before = host("server")["before"]["files"]
    assert runner.finished
    assert "step persist" in outcome["failed"] and "Permission denied" in outcome["failed"]
    assert files.texts == before
    assert [c[1:] for c in loads(runner.commands)] == [["-n"]] * 4


def test_ipv6_peers_are_refused_when_ufw_has_ipv6_off():
    _session, runner, outcome, files = replay("ipv6-off")
    assert "IPV6=no" in outcome["failed"]
    assert loads(runner.commands) == [] and files.writes == []
    assert V6 not in files.reads


def test_inactive_ufw_gets_the_rules_in_its_files_and_stays_inactive():
    _session, runner, outcome, files = replay("inactive-server")
    assert outcome["detected"]["active"] is False
    assert loads(runner.commands) == []
    assert len(owned_blocks(files.texts[V4])) == len(owned_blocks(files.texts[V6])) == 4
    after = host("inactive-server")["after"]
    assert after["chains"] == {"iptables": "", "ip6tables": ""}
    assert after["status"].strip() == "Status: inactive"
    with open(os.path.join(FIXTURES, "ufw", "status-after-inactive-server.txt")) as handle:
        assert handle.read().strip() == "Status: inactive"


@pytest.mark.parametrize("owner", ["it's-mine", "", "two words", "a,b"])
def test_owner_that_ufw_cannot_carry_never_reaches_it(owner):
    # The module checks the owner before any backend; ufw needs nothing beyond that check.
    with pytest.raises(RuleError, match="owner"):
        validate_owner(owner)


def test_persist_false_is_reported_as_ignored():
    files = FakeFiles(host("server-again")["before"]["files"])
    snapshot = UfwBackend(ReplayRunner([], {}), BackendOptions(persist=False), files).read()
    assert snapshot.warnings == ("persist=false has no effect on ufw: ufw writes its rule files on every change",)


# check mode


@pytest.mark.parametrize("name", ["server", "direct"])
def test_check_mode_predicts_the_run_and_writes_nothing(name):
    _session, runner, predicted, files = replay(name + "-check")
    assert loads(runner.commands) == [] and files.writes == []
    _session, _runner, real, _files = replay(name)
    for key in ("changed", "added", "removed", "actions", "persisted"):
        assert predicted[key] == real[key], key


def test_check_mode_fails_where_the_run_fails():
    _session, runner, predicted, files = replay("conflict-check")
    _session, _runner, real, _files = replay("conflict")
    assert predicted["failed"] == real["failed"]
    assert loads(runner.commands) == [] and files.writes == []


def test_actions_name_the_retag_of_a_shared_rule():
    assert "retag ufw rule inbound tcp/1480 from 10.88.0.0/16" in replay("overlap")[2]["actions"]


def test_unreadable_rules_file_is_an_error_with_the_systems_words():
    files = FakeFiles({"/etc/default/ufw": "IPV6=yes\n"}, {("read", V4): PermissionError(13, "Permission denied", V4)})
    with pytest.raises(BackendError) as error:
        UfwBackend(ReplayRunner([], {}), BackendOptions(), files).read()
    assert "Permission denied" in error.value.stderr


def test_missing_rules_files_mean_no_rules_and_no_place_to_add_them():
    backend = UfwBackend(ReplayRunner([], {}), BackendOptions(), FakeFiles({"/etc/default/ufw": "IPV6=yes\n"}))
    snapshot = backend.read()
    assert snapshot.owned == ()
    assert backend.plan(snapshot, Target(())).files == ()
    with pytest.raises(BackendError, match=r"/etc/ufw/user\.rules"):
        backend.plan(snapshot, Target((rule(1480),)))


def test_the_rules_file_ufw_ships_gets_owned_rules_after_its_rules_line():
    shipped = (
        "*filter\n:ufw-user-input - [0:0]\n:ufw-user-output - [0:0]\n:ufw-user-forward - [0:0]\n"
        ":ufw-user-limit - [0:0]\n:ufw-user-limit-accept - [0:0]\n### RULES ###\n"
        '-A ufw-user-limit -m limit --limit 3/minute -j LOG --log-prefix "[UFW LIMIT BLOCK] "\n'
        "-A ufw-user-limit -j REJECT\n-A ufw-user-limit-accept -j ACCEPT\nCOMMIT\n"
    )
    files = FakeFiles({"/etc/default/ufw": "IPV6=no\n", V4: shipped})
    backend = UfwBackend(ReplayRunner([], {}), BackendOptions(), files)
    changes = backend.plan(backend.read(), Target((rule(1480),)))
    text = changes.files[0].text
    assert text.startswith(shipped.split("-A ufw-user-limit ", maxsplit=1)[0] + "\n### tuple ### allow tcp 1480 ")
    assert foreign_lines(text) == foreign_lines(shipped)
    assert changes.payload.texts == ()  # ufw.conf does not say ENABLED=yes: nothing is loaded
    files.texts[V4] = text
    back = backend.plan(backend.read(), Target((), present=False))
    assert back.files[0].text == shipped
