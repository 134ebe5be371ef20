"""Comment tags, rule splitting and reassembly shared by the nftables and iptables backends."""

import errno
import os
import stat
import tempfile
from dataclasses import replace

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import LocalFiles
from ansible_collections.biostar.hardening.plugins.module_utils.backends.netfilter import (
    ChainContent,
    Found,
    Line,
    State,
    Step,
    collect,
    describe_keeps,
    keep_ports,
    keep_set,
    keep_token,
    transition,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.persistence import nft_changes, splice
from ansible_collections.biostar.hardening.plugins.module_utils.backends.tags import (
    COMMENT_MAX,
    Fragment,
    Tag,
    assemble,
    fragments_for,
    parse_comment,
    rule_comment,
)
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import rules_from_dicts

OWNER = "biostar-hardening"
INCLUDE = "/etc/nftables.d/biostar-hardening.nft"


def one(**data):
    return rules_from_dicts([dict({"protocol": "tcp", "port": 1480}, **data)])[0]


def test_rule_key_is_stable_and_ignores_the_purpose():
    assert one(purpose="a").key() == one(purpose="b").key()
    assert one().key() != one(port=1481).key()
    assert one().key() != one(direction="outbound").key()
    assert one().key() != one(peers=["10.0.0.0/8"]).key()
    # The same hash appears in the captured fixtures, so it must never drift.
    assert one().key() == "a4bbd27c"


def test_rule_comment_strips_what_needs_quoting_and_fits_nft():
    comment = rule_comment(OWNER, "a4bbd27c", 'say "hi"\\ now\n' + "x" * 300)
    assert comment.startswith("biostar-hardening a4bbd27c say hi now x")
    assert '"' not in comment and "\\" not in comment and "\n" not in comment
    assert len(comment) == COMMENT_MAX
    assert rule_comment(OWNER, "a4bbd27c") == "biostar-hardening a4bbd27c"


def test_parse_comment_tells_jumps_rules_baseline_and_foreign_apart():
    assert parse_comment(OWNER, OWNER) == Tag("jump")
    assert parse_comment(OWNER, "biostar-hardening a4bbd27c BioStar server port") == Tag(
        "rule", "a4bbd27c", "BioStar server port"
    )
    assert parse_comment(OWNER, "biostar-hardening baseline management") == Tag("baseline", "management")
    assert parse_comment(OWNER, "user-rule") is None
    assert parse_comment(OWNER, None) is None
    # Another owner whose name starts like ours is not ours.
    assert parse_comment("biostar", "biostar-hardening a4bbd27c") is None


def test_fragments_follow_the_peers_family():
    rule = one(peers=["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"])
    both = fragments_for(rule, ("ipv4", "ipv6"))
    assert [(f.family, f.peers) for f in both] == [
        ("ipv4", ("10.0.0.0/8", "192.0.2.7/32")),
        ("ipv6", ("2001:db8::/32",)),
    ]
    assert [f.peers for f in fragments_for(rule, ("ipv4",), split_peers=True)] == [("10.0.0.0/8",), ("192.0.2.7/32",)]
    assert fragments_for(one(peers=["2001:db8::/32"]), ("ipv4",)) == []
    anywhere = fragments_for(one(), ("ipv4",))
    assert [(f.family, f.peers) for f in anywhere] == [("", ())]


def test_assemble_puts_split_rules_back_together():
    rules = rules_from_dicts(
        [
            {"protocol": "tcp", "port": 1480, "peers": ["10.0.0.0/8", "2001:db8::/32"], "purpose": "server"},
            {"protocol": "tcp", "port": 1480, "peers": ["10.0.0.0/8"]},
            {"protocol": "udp", "port": "51110-51112"},
        ]
    )
    fragments = []
    for rule in rules:
        fragments += fragments_for(rule, ("ipv4",), split_peers=True)
        fragments += fragments_for(rule, ("ipv6",), split_peers=True)
    assert assemble(fragments) == rules
    assert [r.purpose for r in assemble(fragments)] == [r.purpose for r in rules]


def test_chain_content_compares_without_purpose_or_order():
    a = Fragment("inbound", "tcp", 1, 1, "", (), "k1", "one")
    b = Fragment("inbound", "tcp", 2, 2, "", (), "k2", "two")
    renamed = Fragment("inbound", "tcp", 1, 1, "", (), "k1", "renamed")
    assert ChainContent.build({"established"}, [a, b]) == ChainContent.build({"established"}, [b, renamed])
    assert ChainContent.build((), [a, b]) != ChainContent.build((), [a, b], unknown=1)
    assert len(ChainContent.build({"established"}, [a, b], unknown=1)) == 4


def test_keep_tokens():
    keeps = keep_set([22, 2200])
    assert keep_ports(keeps) == [22, 2200]
    assert describe_keeps(keeps) == "established/related, loopback, tcp/22, tcp/2200"


def test_local_files_write_atomically_and_keep_the_mode(tmp_path):
    files = LocalFiles()
    path = str(tmp_path / "sub" / "rules.v4")
    assert files.read(path) is None
    files.write(path, "one\n")
    assert files.read(path) == "one\n"
    os.chmod(path, 0o600)
    files.write(path, "two\n")
    assert files.read(path) == "two\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path / "sub")) == ["rules.v4"]
    assert files.isdir(str(tmp_path / "sub"))
    files.remove(path)
    files.remove(path)
    assert files.read(path) is None


# -- shared classification, transition and persistence ------------------------------------
IN = ("inet", "filter", "biostar_hardening_in")
NAMES = {"biostar_hardening_in": "inbound", "biostar_hardening_out": "outbound"}


def test_keep_tokens_need_exactly_the_baseline_matches():
    assert keep_token("established", Line(verdict="accept", ct=("established", "related"))) == "established"
    assert keep_token("established", Line(verdict="accept", ct=("established",))) is None
    assert keep_token("loopback", Line(verdict="accept", iif="lo")) == "loopback"
    assert keep_token("loopback", Line(verdict="accept", iif="lo", protocol="tcp")) is None
    assert keep_token("management", Line(protocol="tcp", port=(22, 22))) == "management:22"
    assert keep_token("management", Line(protocol="tcp", port=(22, 23))) is None
    assert keep_token("management", Line(protocol="udp", port=(22, 22))) is None


def test_collect_sorts_owned_lines_jumps_and_strays():
    rule = Line("biostar-hardening a4bbd27c BioStar server port", True, "accept", protocol="tcp", port=(1480, 1480))
    wrong_side = Line("biostar-hardening k1", True, "accept", protocol="tcp", port=(1, 1), peers=("10.0.0.0/8",))
    wrong_side = replace(wrong_side, family="ipv4", side="outbound")
    lines = [
        (IN, rule, 1),
        (IN, wrong_side, 2),
        (IN, Line("user", known=False), 3),
        (("inet", "filter", "input"), Line(OWNER, True, "jump", "biostar_hardening_in"), 4),
        # A tagged jump that also matches something is not a plain jump: it is a stray.
        (("inet", "filter", "input"), Line(OWNER, True, "jump", "biostar_hardening_in", protocol="tcp"), 5),
        (("inet", "filter", "input"), Line("user-rule", True, "accept"), 6),
    ]
    found = collect(OWNER, NAMES, [IN], lines, Found())
    content = found.state.chains[IN]
    assert (len(content.fragments), content.unknown) == (1, 2)
    assert found.state.jumps == (("inet", "filter", "input", "biostar_hardening_in"),)
    assert (found.refs, found.strays) == ((4,), ((("inet", "filter", "input"), 5),))
    assert assemble(found.fragments) == [one()]


def test_transition_keeps_what_matches_and_orders_deletes_after_adds():
    content = ChainContent.build((), fragments_for(one(), ("ipv4", "ipv6")))
    jump = ("inet", "filter", "input", "biostar_hardening_in")
    now = Found(State({IN: content}, (jump, jump), {("inet", "filter", "input"): "accept"}), refs=(7, 8))
    assert transition(now, State({IN: content}, (jump,))) == [Step("unjump", jump, ref=8)]
    target = State({IN: ChainContent.build(keep_set([22]), ())}, (jump,), {("inet", "filter", "input"): "drop"})
    ops = [step.op for step in transition(now, target)]
    assert ops == ["fill", "policy", "unjump"]
    assert [step.op for step in transition(now, State())] == ["unjump", "unjump", "drop"]


def test_splice_replaces_only_the_owned_part_of_a_saved_ruleset():
    dump = "\n".join(
        [
            "# Generated by iptables-save",
            "*nat",
            ":PREROUTING ACCEPT [0:0]",
            "COMMIT",
            "*filter",
            ":INPUT ACCEPT [5:300]",
            ":OUTPUT ACCEPT [0:0]",
            ":BIOSTAR-INPUT - [0:0]",
            "-A INPUT -m comment --comment biostar-hardening -j BIOSTAR-INPUT",
            "-A INPUT -i lo -j ACCEPT",
            '-A INPUT -p tcp --dport 7 -m comment --comment "biostar-hardening stray" -j ACCEPT',
            "-A BIOSTAR-INPUT -p tcp -m tcp --dport 9 -j ACCEPT",
            "COMMIT",
        ]
    )
    chains = {"BIOSTAR-OUTPUT": ["-A BIOSTAR-OUTPUT -p udp -m udp --dport 5 -j ACCEPT"]}
    jumps = {"OUTPUT": ["-A OUTPUT -m comment --comment biostar-hardening -j BIOSTAR-OUTPUT"]}
    names = ("BIOSTAR-INPUT", "BIOSTAR-OUTPUT")
    text = splice(dump, OWNER, names, chains, jumps, {"INPUT": "DROP"})
    assert text.splitlines() == [
        "# Generated by iptables-save",
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        "COMMIT",
        "*filter",
        ":INPUT DROP [5:300]",
        ":OUTPUT ACCEPT [0:0]",
        ":BIOSTAR-OUTPUT - [0:0]",
        "-A INPUT -i lo -j ACCEPT",
        "-A OUTPUT -m comment --comment biostar-hardening -j BIOSTAR-OUTPUT",
        "-A BIOSTAR-OUTPUT -p udp -m udp --dport 5 -j ACCEPT",
        "COMMIT",
    ]


def test_nft_include_line_is_added_once_and_removed_with_its_marker():
    conf = "flush ruleset\n"
    changes, warnings = nft_changes({"/etc/nftables.conf": conf}, OWNER, "text\n")
    assert [c.path for c in changes] == [INCLUDE, "/etc/nftables.conf"] and warnings == []
    with_line = changes[1].text
    assert with_line.endswith('include "%s"\n' % INCLUDE)
    changes, _warnings = nft_changes({"/etc/nftables.conf": with_line, INCLUDE: "text\n"}, OWNER, "text\n")
    assert changes == []
    changes, _warnings = nft_changes({"/etc/nftables.conf": with_line, INCLUDE: "text\n"}, OWNER, None)
    assert [(c.path, c.text) for c in changes] == [(INCLUDE, None), ("/etc/nftables.conf", conf)]
    changes, warnings = nft_changes({}, OWNER, "text\n")
    assert [c.path for c in changes] == [INCLUDE] and "nothing loads" in warnings[0]


@pytest.mark.parametrize(
    "where, error",
    [
        ("write", OSError(errno.ENOSPC, "No space left on device")),
        ("mkstemp", OSError(errno.EROFS, "Read-only file system", "/somewhere/.biostar-x1y2z3")),
        ("replace", OSError(errno.EXDEV, "Invalid cross-device link", "/somewhere/.biostar-x", None, "/else")),
    ],
)
def test_a_failed_write_names_the_file_and_leaves_the_old_one(tmp_path, monkeypatch, where, error):
    """The messages users read (a full /etc/iptables said only "No space left on device")."""
    files = LocalFiles()
    path = str(tmp_path / "rules.v4")
    files.write(path, "old\n")

    def fail(*args, **kwargs):
        raise error

    if where == "write":
        real_fdopen = os.fdopen

        def full_disk(handle, *args, **kwargs):
            stream = real_fdopen(handle, *args, **kwargs)
            stream.write = fail
            return stream

        monkeypatch.setattr(os, "fdopen", full_disk)
    else:
        monkeypatch.setattr({"mkstemp": tempfile, "replace": os}[where], where, fail)
    with pytest.raises(OSError) as caught:
        files.write(path, "new\n")
    assert str(caught.value) == "[Errno %d] %s: '%s'" % (error.errno, error.strerror, path)
    assert caught.value.errno == error.errno
    monkeypatch.undo()
    assert files.read(path) == "old\n"
    assert os.listdir(tmp_path) == ["rules.v4"]
