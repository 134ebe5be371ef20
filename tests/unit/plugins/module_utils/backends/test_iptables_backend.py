"""iptables backend against iptables-save output captured from real containers."""

import os
import sys

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    BackendError,
    BackendOptions,
    Target,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.iptables import (
    IptablesBackend,
    chain_prefix,
    parse_save,
    render_tokens,
    summarise,
)
from ansible_collections.biostar.hardening.plugins.module_utils.engine import ReconcileError, reconcile
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import rules_from_dicts

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "netfilter"))
from netfilter_fakes import (
    RESTORE4,
    RESTORE6,
    SAVE4,
    SAVE6,
    FakeFiles,
    FakeRunner,
    failed,
    fixture,
    ok,
    rules_fixture,
)

SERVER = rules_from_dicts(rules_fixture("rules_server.json"))
DIRECT = rules_from_dicts(rules_fixture("rules_direct.json"))
PEERS = rules_from_dicts(rules_fixture("rules_peers.json"))
VERSION = ("iptables", "--version")


def backend(v4, v6=None, files=None, restore4=None, restore6=None, extra=None):
    responses = {
        SAVE4: ok(fixture(v4)),
        SAVE6: ok(fixture(v6)) if isinstance(v6, str) else (v6 or ok(fixture(v4))),
        RESTORE4: restore4 or ok(),
        RESTORE6: restore6 or ok(),
    }
    responses.update(extra or {})
    runner = FakeRunner(responses)
    return IptablesBackend(runner, BackendOptions(), files=files if files is not None else FakeFiles()), runner


def plan(found, rules, present=True, baseline=None):
    """The changeset for a run asking for ``rules`` (read and plan, nothing executed)."""
    return found.plan(found.read(), Target(tuple(rules), present, None if baseline is None else tuple(baseline)))


def apply(found, rules, present=True, baseline=None):
    """A whole run through the engine: read, plan, execute (restore on failure), write files."""
    target = Target(tuple(rules), present, None if baseline is None else tuple(baseline))
    return reconcile(found, target, None, False)


def host_drop(**kwargs):
    return backend("iptables_host_drop_v4.txt", "iptables_host_drop_v6.txt", **kwargs)


# -- detection -----------------------------------------------------------------------
def detect(v4, v6=None, version="iptables_version_nft.txt"):
    runner = FakeRunner({VERSION: ok(fixture(version)), SAVE4: ok(fixture(v4)), SAVE6: ok(fixture(v6 or v4))})
    return IptablesBackend.detect(runner)


def test_detect_default_deny_is_active_and_names_the_variant():
    found = detect("iptables_host_drop_v4.txt", "iptables_host_drop_v6.txt")
    assert (found.available, found.active) == (True, True)
    assert found.detail.startswith("iptables v1.8.9 (nf_tables)")
    assert "iptables INPUT policy DROP, 3 rules" in found.detail


def test_detect_legacy_variant():
    found = detect("iptables_legacy_server_v4.txt", version="iptables_version_legacy.txt")
    assert found.active
    assert found.detail.startswith("iptables v1.8.9 (legacy)")


def test_detect_fresh_tables_and_our_own_jump_alone_are_not_filtering():
    assert not detect("iptables_fresh_v4.txt").active
    found = detect("iptables_unfiltered_server_v4.txt")
    assert not found.active
    assert "INPUT policy ACCEPT, 0 rules" in found.detail


def test_detect_without_permission_is_unusable():
    runner = FakeRunner(
        {VERSION: ok(fixture("iptables_version_nft.txt")), SAVE4: failed(fixture("iptables_no_cap_error.txt"))}
    )
    found = IptablesBackend.detect(runner)
    assert not found.available
    assert "Permission denied" in found.detail


def test_detect_missing_binaries():
    found = IptablesBackend.detect(FakeRunner({}, binaries=("iptables",)))
    assert (found.available, found.detail) == (False, "iptables-save, iptables-restore not found")


# -- parsing -------------------------------------------------------------------------
def test_parse_save_reads_policies_chains_and_rules():
    saved = parse_save(fixture("iptables_peers_v4.txt"))
    assert saved.policies == {"INPUT": "DROP", "FORWARD": "ACCEPT", "OUTPUT": "ACCEPT"}
    assert saved.chains == ["BIOSTAR-INPUT", "BIOSTAR-OUTPUT"]
    chain, tokens = saved.rules[5]
    assert chain == "BIOSTAR-INPUT"
    assert summarise(tokens) == {
        "peers": ("10.20.0.0/16",),
        "option": "-s",
        "protocol": "tcp",
        "port": (1470, 1471),
        "comment": "biostar-hardening 6d106a81 device ports",
        "target": "ACCEPT",
    }


def test_summarise_refuses_what_our_rules_never_contain():
    assert summarise(["-p", "tcp", "-m", "multiport", "--dports", "1,2", "-j", "ACCEPT"]) is None
    assert summarise(["!", "-s", "10.0.0.0/8", "-j", "ACCEPT"]) is None


def test_render_tokens_quotes_what_iptables_restore_needs_quoted():
    assert render_tokens(["-m", "comment", "--comment", 'a "b"', "-j", "X"]) == '-m comment --comment "a \\"b\\"" -j X'


def test_chain_names():
    assert chain_prefix("biostar-hardening") == "BIOSTAR"
    assert chain_prefix("site.extra") == "SITE-EXTRA"
    assert len(chain_prefix("x" * 40) + "-OUTPUT") <= 28


# -- reading owned rules ---------------------------------------------------------------
def test_read_owned_puts_per_peer_and_per_family_lines_back_together():
    found, _runner = backend("iptables_peers_v4.txt", "iptables_peers_v6.txt")
    assert list(found.read().owned) == PEERS


def test_read_owned_from_the_legacy_variant():
    found, _runner = backend("iptables_legacy_server_v4.txt", "iptables_fresh_v4.txt")
    rules = list(found.read().owned)
    assert rules == SERVER
    assert rules[2].purpose == "BioStar server port"


def test_foreign_rules_are_not_owned():
    found, _runner = host_drop()
    assert list(found.read().owned) == []


# -- planning and applying --------------------------------------------------------------
def test_first_apply_is_one_restore_per_family_without_touching_the_policy():
    found, runner = host_drop()
    changes = plan(found, SERVER)
    assert list(changes.actions) == [
        "iptables: create chain BIOSTAR-INPUT with 4 rules",
        "iptables: add jump INPUT -> BIOSTAR-INPUT",
        "ip6tables: create chain BIOSTAR-INPUT with 4 rules",
        "ip6tables: add jump INPUT -> BIOSTAR-INPUT",
    ]
    found.execute(changes)
    [v4] = runner.data_of(RESTORE4)
    [v6] = runner.data_of(RESTORE6)
    assert v4 == v6
    assert v4.splitlines() == [
        "*filter",
        ":BIOSTAR-INPUT - [0:0]",
        '-A BIOSTAR-INPUT -p tcp -m tcp --dport 1470 -m comment --comment "biostar-hardening e31f1ef2 '
        'BioStation-family device port" -j ACCEPT',
        '-A BIOSTAR-INPUT -p tcp -m tcp --dport 1471 -m comment --comment "biostar-hardening 7d2854c7 '
        'BioEntry-family device port" -j ACCEPT',
        '-A BIOSTAR-INPUT -p tcp -m tcp --dport 1480 -m comment --comment "biostar-hardening a4bbd27c '
        'BioStar server port" -j ACCEPT',
        '-A BIOSTAR-INPUT -p udp -m udp --dport 51110 -m comment --comment "biostar-hardening 64fbca3f '
        'Device UDP port" -j ACCEPT',
        "-I INPUT 1 -m comment --comment biostar-hardening -j BIOSTAR-INPUT",
        "COMMIT",
    ]


def test_the_captured_result_of_that_apply_needs_nothing_more():
    found, runner = backend("iptables_server_v4.txt", "iptables_server_v6.txt")
    assert list(found.read().owned) == SERVER
    assert plan(found, SERVER).actions == ()
    assert apply(found, SERVER).actions == ()
    assert runner.writes() == []


def test_switching_to_direct_mode_refills_only_the_owned_chain():
    found, runner = backend("iptables_server_v4.txt", "iptables_server_v6.txt")
    apply(found, DIRECT)
    [v4] = runner.data_of(RESTORE4)
    lines = v4.splitlines()
    assert lines[:2] == ["*filter", ":BIOSTAR-INPUT - [0:0]"]
    assert lines[2].startswith("-A BIOSTAR-INPUT -p tcp -m tcp --dport 1480 ")
    assert lines[3:] == ["COMMIT"]


def test_peers_split_by_family_and_outbound_uses_the_output_chain():
    found, runner = host_drop()
    apply(found, PEERS)
    [v4] = runner.data_of(RESTORE4)
    [v6] = runner.data_of(RESTORE6)
    assert "-A BIOSTAR-INPUT -s 192.0.2.7/32 -p tcp -m tcp --dport 1480 " in v4
    assert "2001:db8" not in v4
    assert "-A BIOSTAR-INPUT -s 2001:db8:20::/48 -p udp -m udp --dport 51110 " in v6
    assert "10.20.0.0" not in v6
    assert "-A BIOSTAR-OUTPUT -d 10.30.0.5/32 -p tcp -m tcp --dport 1480 " in v4
    assert "-I OUTPUT 1 -m comment --comment biostar-hardening -j BIOSTAR-OUTPUT" in v6


def test_state_absent_removes_jumps_and_chains():
    found, runner = backend("iptables_peers_v4.txt", "iptables_peers_v6.txt")
    apply(found, [], present=False)
    [v4] = runner.data_of(RESTORE4)
    assert v4.splitlines() == [
        "*filter",
        ":BIOSTAR-INPUT - [0:0]",
        ":BIOSTAR-OUTPUT - [0:0]",
        "-D INPUT -m comment --comment biostar-hardening -j BIOSTAR-INPUT",
        "-D OUTPUT -m comment --comment biostar-hardening -j BIOSTAR-OUTPUT",
        "-X BIOSTAR-INPUT",
        "-X BIOSTAR-OUTPUT",
        "COMMIT",
    ]


def test_hand_edits_are_repaired_and_foreign_rules_left_alone():
    found, runner = backend("iptables_tampered_v4.txt", "iptables_peers_v6.txt")
    assert list(found.read().owned) == PEERS
    assert list(plan(found, PEERS).actions) == [
        "iptables: replace the 4 rules of chain BIOSTAR-INPUT with 3 rules",
        "iptables: delete jump INPUT -> BIOSTAR-INPUT",
        "iptables: delete stray owned rule in INPUT",
    ]
    apply(found, PEERS)
    [v4] = runner.data_of(RESTORE4)
    assert '-D INPUT -p tcp -m tcp --dport 7 -m comment --comment "biostar-hardening stray" -j ACCEPT' in v4
    assert "user-rule" not in v4 and "9999" not in v4
    assert runner.data_of(RESTORE6) == []


def test_second_family_failure_puts_the_first_back():
    error = failed(fixture("ip6tables_restore_error.txt"), rc=2)
    # The second read (for the engine's restore) sees what the first restore did.
    after_v4 = [ok(fixture("iptables_host_drop_v4.txt")), ok(fixture("iptables_server_v4.txt"))]
    found, runner = host_drop(restore6=error, extra={SAVE4: after_v4})
    with pytest.raises(ReconcileError) as caught:
        apply(found, SERVER)
    assert "invalid port/service" in caught.value.stderr
    assert "previous owned rules were put back" in str(caught.value)
    assert caught.value.restored
    forward, back = runner.data_of(RESTORE4)
    assert "-I INPUT 1 -m comment --comment biostar-hardening -j BIOSTAR-INPUT" in forward
    assert back.splitlines() == [
        "*filter",
        ":BIOSTAR-INPUT - [0:0]",
        "-D INPUT -m comment --comment biostar-hardening -j BIOSTAR-INPUT",
        "-X BIOSTAR-INPUT",
        "COMMIT",
    ]


def test_first_family_failure_changes_nothing():
    found, runner = host_drop(restore4=failed(fixture("iptables_restore_error.txt"), rc=2))
    with pytest.raises(ReconcileError, match="nothing was changed"):
        apply(found, SERVER)
    assert runner.data_of(RESTORE6) == []
    assert len(runner.data_of(RESTORE4)) == 1


def test_unusable_ip6tables_is_warned_about_or_refused_when_rules_need_it():
    no_v6 = failed(fixture("ip6tables_no_cap_error.txt"), rc=1)
    found, runner = backend("iptables_host_drop_v4.txt", no_v6)
    outcome = apply(found, SERVER)
    assert any("ip6tables is unusable" in w for w in outcome.warnings)
    assert runner.data_of(RESTORE6) == []
    found, runner = backend("iptables_host_drop_v4.txt", no_v6)
    with pytest.raises(BackendError, match="ip6tables is unusable here, but rules name ipv6 peers"):
        plan(found, PEERS)
    assert runner.writes() == []


def test_reading_fails_clearly_without_permission():
    found, _runner = backend("iptables_fresh_v4.txt", extra={SAVE4: failed(fixture("iptables_no_cap_error.txt"), 4)})
    with pytest.raises(BackendError) as caught:
        found.read()
    assert "Permission denied" in caught.value.stderr


# -- baseline --------------------------------------------------------------------------
def test_baseline_sets_drop_after_the_keep_rules():
    found, runner = backend("iptables_fresh_v4.txt")
    assert "iptables: set INPUT policy to DROP" in plan(found, DIRECT, baseline=[22]).actions
    apply(found, DIRECT, baseline=[22])
    [v4] = runner.data_of(RESTORE4)
    lines = v4.splitlines()
    assert lines[1] == ":INPUT DROP [0:0]"
    assert lines[3:6] == [
        '-A BIOSTAR-INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "biostar-hardening '
        'baseline established" -j ACCEPT',
        '-A BIOSTAR-INPUT -i lo -m comment --comment "biostar-hardening baseline loopback" -j ACCEPT',
        '-A BIOSTAR-INPUT -p tcp -m tcp --dport 22 -m comment --comment "biostar-hardening baseline management" '
        "-j ACCEPT",
    ]


def test_captured_baseline_is_stable_with_or_without_asking_again():
    for ask in (True, False):
        found, _runner = backend("iptables_baseline_v4.txt", "iptables_baseline_v6.txt")
        assert plan(found, DIRECT, baseline=[22] if ask else None).actions == ()
    snapshot = found.read()
    assert (list(snapshot.baseline_ports), snapshot.input_drops) == ([22], True)


def test_a_failed_baseline_run_puts_the_policy_back():
    """The engine's restore returns the INPUT policy too, not only the owned chains."""
    error = failed(fixture("ip6tables_restore_error.txt"), rc=2)
    after_v4 = [ok(fixture("iptables_fresh_v4.txt")), ok(fixture("iptables_baseline_v4.txt"))]
    found, runner = backend("iptables_fresh_v4.txt", restore6=error, extra={SAVE4: after_v4})
    with pytest.raises(ReconcileError):
        apply(found, DIRECT, baseline=[22])
    _forward, back = runner.data_of(RESTORE4)
    assert back.splitlines()[1] == ":INPUT ACCEPT [0:0]"
    assert "-X BIOSTAR-INPUT" in back.splitlines()


# -- diff text and persistence -----------------------------------------------------------
def test_describe_state():
    found, _runner = host_drop()
    assert list(plan(found, SERVER).structure) == [
        "jump iptables INPUT -> BIOSTAR-INPUT",
        "policy iptables INPUT DROP",
        "jump ip6tables INPUT -> BIOSTAR-INPUT",
        "policy ip6tables INPUT DROP",
    ]


def persistent_files(v4=None, v6=None):
    files = FakeFiles(dirs=["/etc/iptables"])
    if v4:
        files.files["/etc/iptables/rules.v4"] = fixture(v4)
    if v6:
        files.files["/etc/iptables/rules.v6"] = fixture(v6)
    return files


def dumps(v4, v6):
    """The full iptables-save output (all tables) the persisted files are made from."""
    return {("iptables-save",): ok(fixture(v4)), ("ip6tables-save",): ok(fixture(v6))}


def rule_lines(text):
    """A saved ruleset without iptables-save's timestamp comments."""
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_persist_saves_the_whole_ruleset_where_netfilter_persistent_reads_it():
    files = persistent_files("iptables_host_drop_v4.txt", "iptables_host_drop_v6.txt")
    found, runner = host_drop(files=files, extra=dumps("iptables_host_drop_v4.txt", "iptables_host_drop_v6.txt"))
    assert plan(found, SERVER).persist_report() == ["/etc/iptables/rules.v4", "/etc/iptables/rules.v6"]
    assert [call[0] for call in runner.calls if call[0] in (("iptables-save",), ("ip6tables-save",))] == [
        ("iptables-save",),
        ("ip6tables-save",),
    ]
    assert list(apply(found, SERVER).persisted) == ["/etc/iptables/rules.v4", "/etc/iptables/rules.v6"]
    # What iptables-save printed after the real run, as netfilter-persistent would save it.
    assert rule_lines(files.files["/etc/iptables/rules.v4"]) == rule_lines(fixture("iptables_save_full_server_v4.txt"))


def test_persist_skips_files_whose_owned_part_is_current():
    files = persistent_files("iptables_server_v4.txt", "iptables_server_v6.txt")
    extra = dumps("iptables_server_v4.txt", "iptables_server_v6.txt")
    found, runner = backend("iptables_server_v4.txt", "iptables_server_v6.txt", files=files, extra=extra)
    assert plan(found, SERVER).persist_report() == []
    assert list(apply(found, SERVER).persisted) == []
    assert files.written == []
    # The whole-ruleset dump is only taken for a file that is written.
    assert [call for call in runner.calls if call[0] in extra] == []


def test_persist_without_a_persistence_layout_warns():
    found, _runner = host_drop()
    changes = plan(found, SERVER)
    assert changes.persist_report() == []
    assert any("not persisted" in w for w in changes.warnings)


def test_persist_uses_iptables_services_files_when_they_exist():
    files = FakeFiles({"/etc/sysconfig/iptables": fixture("iptables_host_drop_v4.txt")})
    extra = dumps("iptables_host_drop_v4.txt", "iptables_host_drop_v6.txt")
    found, _runner = host_drop(files=files, extra=extra)
    assert plan(found, SERVER).persist_report() == ["/etc/sysconfig/iptables"]


def test_split_words_splits_every_saved_line_as_shlex_does():
    import glob
    import shlex

    from ansible_collections.biostar.hardening.plugins.module_utils.backends.iptables import split_words

    lines = [
        '-A BIOSTAR-INPUT -p tcp -m tcp --dport 1480 -m comment --comment "biostar-hardening 1a2b BioStar" -j ACCEPT',
        '-A INPUT -m comment --comment "" -j ACCEPT',
        '-A INPUT -m comment --comment "a"b"c d" -j ACCEPT',
        "-A INPUT\t-s 10.0.0.0/8  -j  DROP ",
        '-A INPUT -m comment --comment "it\'s" -j ACCEPT',  # a single quote: shlex decides
        '-A INPUT -m comment --comment "say \\"hi\\" \\\\ there" -j ACCEPT',  # escapes: shlex decides
    ]
    folder = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "netfilter")
    for path in glob.glob(os.path.join(folder, "iptables_*.txt")):
        with open(path, encoding="utf-8") as handle:
            lines.extend(line.strip() for line in handle if line.startswith("-A "))
    assert len(lines) > 40
    for line in lines:
        assert split_words(line) == shlex.split(line), line
    with pytest.raises(ValueError):
        split_words('-A INPUT -m comment --comment "unclosed -j ACCEPT')
