"""nftables backend against `nft -j list ruleset` output captured from real containers."""

import json
import os
import sys

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    BackendError,
    BackendOptions,
    Target,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.nftables import (
    NftablesBackend,
    Ruleset,
    owned_prefix,
    summarise,
)
from ansible_collections.biostar.hardening.plugins.module_utils.engine import ReconcileError, reconcile
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import rules_from_dicts

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "netfilter"))
from netfilter_fakes import NFT_LIST, FakeFiles, FakeRunner, failed, fixture, ok, rules_fixture

APPLY = ("nft", "-f", "-")
INCLUDE = "/etc/nftables.d/biostar-hardening.nft"
SERVER = rules_from_dicts(rules_fixture("rules_server.json"))
DIRECT = rules_from_dicts(rules_fixture("rules_direct.json"))
PEERS = rules_from_dicts(rules_fixture("rules_peers.json"))


def backend(listing, files=None, owner="biostar-hardening", apply_result=None):
    runner = FakeRunner({NFT_LIST: ok(fixture(listing)), APPLY: apply_result or ok()})
    files = files if files is not None else FakeFiles()
    return NftablesBackend(runner, BackendOptions(owner=owner), files=files), runner


def plan(found, rules, present=True, baseline=None):
    """The changeset for a run asking for ``rules`` (read and plan, nothing executed)."""
    return found.plan(found.read(), Target(tuple(rules), present, None if baseline is None else tuple(baseline)))


def apply(found, rules, present=True, baseline=None):
    """A whole run through the engine: read, plan, execute, write the persistence files."""
    target = Target(tuple(rules), present, None if baseline is None else tuple(baseline))
    return reconcile(found, target, None, False)


def handle_of(listing, comment, chain=None):
    for item in json.loads(fixture(listing))["nftables"]:
        rule = item.get("rule")
        if rule and rule.get("comment") == comment and (chain is None or rule["chain"] == chain):
            return rule["handle"]
    raise AssertionError("no rule with comment %r in %s" % (comment, listing))


def script_of(runner):
    scripts = runner.data_of(APPLY)
    assert len(scripts) == 1, "expected exactly one nft -f transaction"
    return scripts[0].splitlines()


# -- detection -----------------------------------------------------------------------
def test_detect_host_table_that_drops_is_active():
    found = NftablesBackend.detect(FakeRunner({NFT_LIST: ok(fixture("nft_host_drop.json"))}))
    assert (found.available, found.active) == (True, True)
    assert "inet filter input (policy drop, 3 rules)" in found.detail


@pytest.mark.parametrize("listing", ["nft_debian_default.json", "nft_debian_default_server.json"])
def test_detect_an_empty_accepting_chain_does_not_filter_even_with_our_jump(listing):
    found = NftablesBackend.detect(FakeRunner({NFT_LIST: ok(fixture(listing))}))
    assert (found.available, found.active) == (True, False)
    assert "inet filter input (policy accept, 0 rules)" in found.detail


def test_detect_empty_ruleset_is_inactive():
    found = NftablesBackend.detect(FakeRunner({NFT_LIST: ok(fixture("nft_empty.json"))}))
    assert (found.available, found.active) == (True, False)


def test_detect_ignores_tables_that_belong_to_iptables_nft():
    found = NftablesBackend.detect(FakeRunner({NFT_LIST: ok(fixture("nft_iptables_compat.json"))}))
    assert (found.available, found.active) == (True, False)


def test_detect_without_permission_is_unusable_and_says_why():
    runner = FakeRunner({NFT_LIST: failed(fixture("nft_no_cap_error.txt"))})
    found = NftablesBackend.detect(runner)
    assert not found.available
    assert "Operation not permitted" in found.detail


def test_detect_without_nft_binary():
    found = NftablesBackend.detect(FakeRunner({}, binaries=()))
    assert (found.available, found.detail) == (False, "nft not found")


# -- parsing -------------------------------------------------------------------------
def test_ruleset_parsing_of_a_real_listing():
    ruleset = Ruleset(fixture("nft_host_drop_server.json"))
    assert ("inet", "filter") in ruleset.tables
    [base] = ruleset.base_chains("input")
    assert (base.family, base.table, base.name, base.policy, base.prio) == ("inet", "filter", "input", "drop", 0)
    assert len([r for r in ruleset.rules if r.chain == "biostar_hardening_in"]) == 4


def test_summarise_reads_sets_prefixes_ranges_and_single_hosts():
    ruleset = Ruleset(fixture("nft_host_drop_peers.json"))
    facts = [summarise(r.expr) for r in ruleset.rules if r.chain == "biostar_hardening_in"]
    assert {"family": "ipv4", "field": "saddr", "peers": ("10.20.0.0/16", "192.0.2.7/32")}.items() <= facts[1].items()
    assert facts[0]["port"] == (1470, 1471)
    assert summarise([{"counter": {"packets": 0, "bytes": 0}}, {"accept": None}]) is None


def test_ruleset_rejects_garbage():
    with pytest.raises(BackendError, match="cannot parse"):
        Ruleset("not json")


def test_owned_prefix_is_a_valid_nft_identifier():
    assert owned_prefix("biostar-hardening") == "biostar_hardening"
    assert owned_prefix("9lives.site") == "o_9lives_site"


# -- reading owned rules ---------------------------------------------------------------
def test_read_owned_recovers_the_server_set_with_purposes():
    found, _runner = backend("nft_host_drop_server.json")
    rules = list(found.read().owned)
    assert rules == SERVER
    assert [r.purpose for r in rules] == [r.purpose for r in SERVER]


@pytest.mark.parametrize("listing", ["nft_host_drop_peers.json", "nft_ip_only_peers.json", "nft_owned_baseline.json"])
def test_read_owned_puts_family_split_rules_back_together(listing):
    found, _runner = backend(listing)
    assert list(found.read().owned) == PEERS


def test_foreign_rules_are_not_owned():
    found, _runner = backend("nft_host_drop.json")
    snapshot = found.read()
    assert list(snapshot.owned) == []
    assert (list(snapshot.baseline_ports), snapshot.input_drops) == ([], True)


# -- planning and applying --------------------------------------------------------------
def test_first_apply_is_one_transaction_that_touches_nothing_foreign():
    found, runner = backend("nft_host_drop.json", files=host_files())
    changes = plan(found, SERVER)
    assert list(changes.actions) == [
        "create chain inet filter biostar_hardening_in with 4 rules",
        "add jump inet filter input -> biostar_hardening_in",
    ]
    found.execute(changes)
    assert script_of(runner) == [
        "add chain inet filter biostar_hardening_in",
        "flush chain inet filter biostar_hardening_in",
        'add rule inet filter biostar_hardening_in tcp dport 1470 accept comment "biostar-hardening e31f1ef2 '
        'BioStation-family device port"',
        'add rule inet filter biostar_hardening_in tcp dport 1471 accept comment "biostar-hardening 7d2854c7 '
        'BioEntry-family device port"',
        'add rule inet filter biostar_hardening_in tcp dport 1480 accept comment "biostar-hardening a4bbd27c '
        'BioStar server port"',
        'add rule inet filter biostar_hardening_in udp dport 51110 accept comment "biostar-hardening 64fbca3f '
        'Device UDP port"',
        'insert rule inet filter input jump biostar_hardening_in comment "biostar-hardening"',
    ]
    assert changes.warnings == ()


def test_the_captured_result_of_that_apply_needs_nothing_more():
    found, runner = backend("nft_host_drop_server.json")
    assert list(found.read().owned) == SERVER
    changes = plan(found, SERVER)
    assert changes.actions == ()
    outcome = apply(found, SERVER)
    assert outcome.actions == ()
    assert runner.writes() == []


def test_switching_to_direct_mode_rewrites_only_the_owned_chain():
    found, runner = backend("nft_host_drop_server.json")
    assert list(plan(found, DIRECT).actions) == [
        "replace the 4 rules of chain inet filter biostar_hardening_in with 1 rules"
    ]
    apply(found, DIRECT)
    lines = script_of(runner)
    assert lines[:2] == ["add chain inet filter biostar_hardening_in", "flush chain inet filter biostar_hardening_in"]
    assert lines[2].startswith("add rule inet filter biostar_hardening_in tcp dport 1480 accept")
    assert len(lines) == 3


def test_outbound_rules_get_their_own_chain_and_jump_from_the_output_hook():
    found, runner = backend("nft_host_drop.json")
    apply(found, PEERS)
    lines = script_of(runner)
    assert (
        'add rule inet filter biostar_hardening_out ip daddr 10.30.0.5/32 tcp dport 1480 accept comment "'
        in "\n".join(lines)
    )
    assert 'insert rule inet filter output jump biostar_hardening_out comment "biostar-hardening"' in lines
    assert (
        "add rule inet filter biostar_hardening_in ip saddr { 10.20.0.0/16, 192.0.2.7/32 } tcp dport 1480 accept "
        'comment "biostar-hardening 1e97ac82 BioStar server port"' in lines
    )


def test_state_absent_deletes_jump_then_chain_and_leaves_the_host_table():
    found, runner = backend("nft_host_drop_server.json")
    assert list(plan(found, [], present=False).actions) == [
        "delete jump inet filter input -> biostar_hardening_in",
        "delete chain inet filter biostar_hardening_in",
    ]
    apply(found, [], present=False)
    jump = handle_of("nft_host_drop_server.json", "biostar-hardening")
    assert script_of(runner) == [
        "delete rule inet filter input handle %d" % jump,
        "flush chain inet filter biostar_hardening_in",
        "delete chain inet filter biostar_hardening_in",
    ]


def test_state_absent_drops_an_owned_table_in_one_line():
    found, runner = backend("nft_owned_baseline.json")
    apply(found, [], present=False)
    assert script_of(runner) == ["delete table inet biostar_hardening"]


def test_hand_edits_are_repaired_and_foreign_rules_left_alone():
    found, runner = backend("nft_tampered.json")
    assert list(found.read().owned) == PEERS  # the owned rules themselves are all there
    stray = handle_of("nft_tampered.json", "biostar-hardening stray")
    assert list(plan(found, PEERS).actions) == [
        "replace the 5 rules of chain inet filter biostar_hardening_in with 4 rules",
        "delete jump inet filter input -> biostar_hardening_in",
        "delete stray owned rule inet filter input handle %d" % stray,
    ]
    apply(found, PEERS)
    text = "\n".join(script_of(runner))
    assert "delete rule inet filter input handle %d" % stray in text
    assert "handle %d" % handle_of("nft_tampered.json", "user-rule") not in text
    assert "9999" not in text


def test_a_host_that_filters_only_ipv4_gets_owned_tables_for_the_rest():
    found, _runner = backend("nft_ip_only.json")
    assert list(plan(found, PEERS).actions) == [
        "create table inet biostar_hardening",
        "create table ip6 biostar_hardening",
        "create base chain inet biostar_hardening output (policy accept)",
        "create base chain ip6 biostar_hardening input (policy accept)",
        "create chain inet biostar_hardening biostar_hardening_out with 2 rules",
        "create chain ip filter4 biostar_hardening_in with 2 rules",
        "create chain ip6 biostar_hardening biostar_hardening_in with 2 rules",
        "add jump ip filter4 input -> biostar_hardening_in",
        "add jump ip6 biostar_hardening input -> biostar_hardening_in",
        "add jump inet biostar_hardening output -> biostar_hardening_out",
    ]


def test_when_the_host_gets_its_own_table_the_owned_table_goes():
    found, runner = backend("nft_owned_then_host.json")
    assert list(found.read().owned) == SERVER
    assert list(plan(found, SERVER).actions) == [
        "create chain inet filter biostar_hardening_in with 4 rules",
        "add jump inet filter input -> biostar_hardening_in",
        "delete table inet biostar_hardening",
    ]
    apply(found, SERVER)
    assert script_of(runner)[-1] == "delete table inet biostar_hardening"
    # What the real nft made of that transaction needs nothing more.
    found, _runner = backend("nft_owned_then_host_applied.json")
    assert list(found.read().owned) == SERVER
    assert plan(found, SERVER).actions == ()


def test_the_captured_ipv4_only_result_is_stable():
    found, _runner = backend("nft_ip_only_peers.json")
    assert plan(found, PEERS).actions == ()


def test_failed_transaction_raises_with_nft_stderr_and_stops():
    found, runner = backend("nft_host_drop_server.json", apply_result=failed(fixture("nft_apply_error.txt")))
    with pytest.raises(ReconcileError) as caught:
        apply(found, DIRECT)
    assert "Could not process rule" in caught.value.stderr
    assert caught.value.command == ["nft", "-f", "-"]
    assert caught.value.step == "execute"
    # The transaction changed nothing, so putting the snapshot back has nothing to do.
    assert len(runner.writes()) == 1


def test_iptables_nft_filtering_is_warned_about():
    found, _runner = backend("nft_iptables_compat.json")
    warnings = plan(found, SERVER).warnings
    assert any("ip filter INPUT" in w and "backend=iptables" in w for w in warnings)


# -- baseline --------------------------------------------------------------------------
def test_baseline_on_an_empty_host_creates_an_owned_table_that_drops():
    found, runner = backend("nft_empty.json")
    actions = plan(found, DIRECT, baseline=[22]).actions
    assert "create base chain inet biostar_hardening input (policy drop)" in actions
    apply(found, DIRECT, baseline=[22])
    lines = script_of(runner)
    assert lines[:4] == [
        "add table inet biostar_hardening",
        "add chain inet biostar_hardening input { type filter hook input priority filter ; policy drop ; }",
        "add chain inet biostar_hardening biostar_hardening_in",
        "flush chain inet biostar_hardening biostar_hardening_in",
    ]
    assert lines[4:7] == [
        'add rule inet biostar_hardening biostar_hardening_in ct state established,related accept comment "'
        'biostar-hardening baseline established"',
        'add rule inet biostar_hardening biostar_hardening_in iifname "lo" accept comment "biostar-hardening '
        'baseline loopback"',
        'add rule inet biostar_hardening biostar_hardening_in tcp dport 22 accept comment "biostar-hardening '
        'baseline management"',
    ]


def test_baseline_sets_the_host_policy_only_when_it_differs():
    found, _runner = backend("nft_host_drop.json")
    assert not any(a.startswith("set policy") for a in plan(found, SERVER, baseline=[22]).actions)
    found, runner = backend("nft_debian_default.json")
    assert "set policy of inet filter input to drop" in plan(found, SERVER, baseline=[22]).actions
    apply(found, SERVER, baseline=[22])
    lines = script_of(runner)
    # The keep rules land in the same transaction as the policy, so SSH never sees a gap.
    assert lines.index("chain inet filter input { policy drop ; }") > lines.index(
        'add rule inet filter biostar_hardening_in tcp dport 22 accept comment "biostar-hardening baseline management"'
    )
    assert not any("forward" in line or "output" in line for line in lines)
    found, _runner = backend("nft_ip_only.json")
    actions = plan(found, SERVER, baseline=[22]).actions
    assert "create base chain ip6 biostar_hardening input (policy drop)" in actions


def test_baseline_rules_stay_when_a_later_run_does_not_ask_for_baseline():
    found, _runner = backend("nft_owned_baseline.json")
    assert plan(found, PEERS).actions == ()
    snapshot = found.read()
    assert (list(snapshot.baseline_ports), snapshot.input_drops) == ([22], True)
    found, _runner = backend("nft_owned_baseline.json")
    assert plan(found, PEERS, baseline=[22]).actions == ()
    found, _runner = backend("nft_owned_baseline.json")
    assert list(plan(found, PEERS, baseline=[22, 2200]).actions) == [
        "replace the 7 rules of chain inet biostar_hardening biostar_hardening_in with 8 rules"
    ]


# -- diff text ---------------------------------------------------------------------------
def test_describe_state_shows_jumps_policies_and_keeps():
    found, _runner = backend("nft_host_drop.json")
    assert list(found.read().structure) == ["policy inet filter input drop"]
    assert list(plan(found, SERVER).structure) == [
        "jump inet filter input -> biostar_hardening_in",
        "policy inet filter input drop",
    ]
    found, _runner = backend("nft_owned_baseline.json")
    assert "baseline keeps established/related, loopback, tcp/22" in found.read().structure


# -- persistence -----------------------------------------------------------------------
def host_files():
    return FakeFiles({"/etc/nftables.conf": fixture("nftables_conf_host.txt")})


def persisted(changes):
    return changes.persist_report()


def test_persist_writes_the_include_and_hooks_it_into_nftables_conf():
    files = host_files()
    found, _runner = backend("nft_host_drop.json", files=files)
    assert persisted(plan(found, SERVER)) == [INCLUDE, "/etc/nftables.conf"]
    assert list(apply(found, SERVER).persisted) == [INCLUDE, "/etc/nftables.conf"]
    assert files.files[INCLUDE] == fixture("nft_include_server.nft")
    assert files.files["/etc/nftables.conf"] == fixture("nftables_conf_with_include.txt")


def test_persist_is_quiet_when_the_files_are_current():
    files = FakeFiles({"/etc/nftables.conf": fixture("nftables_conf_with_include.txt")})
    files.files[INCLUDE] = fixture("nft_include_server.nft")
    found, _runner = backend("nft_host_drop_server.json", files=files)
    assert persisted(plan(found, SERVER)) == []
    assert list(apply(found, SERVER).persisted) == []
    assert files.written == []


def test_persisted_baseline_recreates_the_owned_table_and_its_policy():
    files = FakeFiles()
    found, _runner = backend("nft_owned_baseline.json", files=files)
    changes = plan(found, PEERS)
    assert persisted(changes) == [INCLUDE]
    assert list(apply(found, PEERS).persisted) == [INCLUDE]
    assert files.files[INCLUDE] == fixture("nft_include_owned_baseline.nft")
    assert any("nothing loads" in w for w in changes.warnings)


def test_an_existing_glob_include_is_enough():
    conf = fixture("nftables_conf_host.txt") + 'include "/etc/nftables.d/*.nft"\n'
    files = FakeFiles({"/etc/nftables.conf": conf})
    found, _runner = backend("nft_host_drop.json", files=files)
    assert persisted(plan(found, SERVER)) == [INCLUDE]


def test_absent_removes_the_include_and_the_include_line():
    files = FakeFiles({"/etc/nftables.conf": fixture("nftables_conf_with_include.txt")})
    files.files[INCLUDE] = fixture("nft_include_server.nft")
    found, _runner = backend("nft_host_drop_server.json", files=files)
    assert persisted(plan(found, [], present=False)) == [
        INCLUDE + " (removed)",
        "/etc/nftables.conf",
    ]
    apply(found, [], present=False)
    assert INCLUDE not in files.files
    assert files.files["/etc/nftables.conf"] == fixture("nftables_conf_host.txt")


def test_a_failed_persistence_write_puts_files_and_rules_back():
    """A file the engine cannot write undoes the written ones and the runtime change."""

    class Flaky(FakeFiles):
        def write(self, path, text):
            if path == "/etc/nftables.conf":
                raise OSError("read-only file system")
            super().write(path, text)

    files = Flaky({"/etc/nftables.conf": fixture("nftables_conf_host.txt")})
    listings = [ok(fixture("nft_host_drop.json")), ok(fixture("nft_host_drop_server.json"))]
    runner = FakeRunner({NFT_LIST: listings, APPLY: ok()})
    found = NftablesBackend(runner, BackendOptions(), files=files)
    with pytest.raises(ReconcileError) as caught:
        apply(found, SERVER)
    assert caught.value.step == "persist" and caught.value.restored
    assert INCLUDE not in files.files
    forward, back = runner.data_of(APPLY)
    assert "insert rule inet filter input jump biostar_hardening_in" in forward
    assert back.splitlines()[0].startswith("delete rule inet filter input handle ")
