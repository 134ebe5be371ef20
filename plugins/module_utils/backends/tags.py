# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Owner comment tags, shared by every backend that marks its rules with a comment.

A comment reads ``<owner> <key> <purpose>``: the key is a short hash of the rule's
identity (``Rule.key``), so a rule that a firewall has to split (one line per address
family or per peer) can be put back together exactly when it is read. Baseline rules
read ``<owner> baseline <kind>`` and jumps into owned chains carry the bare owner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    FAMILIES,
    Rule,
    parse_peers,
    sort_rules,
)

# nft refuses longer comments; iptables allows 255, but one limit keeps them alike.
COMMENT_MAX = 128
BASELINE = "baseline"


def clean_text(text: str) -> str:
    """Drop what would need quoting in an nft script or an iptables-restore line."""
    return " ".join(re.sub(r"[^A-Za-z0-9 ._,:;/()+=@#&%<>-]", " ", text or "").split())


def rule_comment(owner: str, key: str, purpose: str = "") -> str:
    return ("%s %s %s" % (owner, key, clean_text(purpose))).strip()[:COMMENT_MAX].rstrip()


@dataclass(frozen=True)
class Tag:
    """What an owner comment says about the rule that carries it."""

    kind: str  # "jump", "rule" or "baseline"
    key: str = ""
    purpose: str = ""


def parse_comment(owner: str, comment: Optional[str]) -> Optional[Tag]:
    if not comment:
        return None
    if comment == owner:
        return Tag("jump")
    if not comment.startswith(owner + " "):
        return None
    rest = comment[len(owner) + 1 :]
    word, _sep, tail = rest.partition(" ")
    if word == BASELINE:
        return Tag(BASELINE, key=tail.strip())
    return Tag("rule", key=word, purpose=tail.strip())


@dataclass(frozen=True, order=True)
class Fragment:
    """One netfilter rule line of an owned Rule, limited to one address family.

    ``family`` is "" when the line has no address match (it then covers every family
    its table or command handles). ``purpose`` is only a label and never compared.
    """

    direction: str
    protocol: str
    port_low: int
    port_high: int
    family: str
    peers: Tuple[str, ...]
    key: str
    purpose: str = field(default="", compare=False)


def fragments_for(rule: Rule, families: Sequence[str], split_peers: bool = False) -> List[Fragment]:
    """The lines that carry ``rule`` in a place that handles ``families``."""
    key = rule.key()

    def make(family: str, peers: Tuple[str, ...]) -> Fragment:
        return Fragment(rule.direction, rule.protocol, rule.port_low, rule.port_high, family, peers, key, rule.purpose)

    if not rule.peers:
        return [make("", ())]
    result = []
    for family in FAMILIES:
        if family not in families:
            continue
        peers = rule.peers_for(family)
        if not peers:
            continue
        if split_peers:
            result.extend(make(family, (peer,)) for peer in peers)
        else:
            result.append(make(family, peers))
    return result


def assemble(fragments: Iterable[Fragment]) -> List[Rule]:
    """Put split rules back together: fragments sharing a key are one Rule."""
    groups: Dict[Tuple[str, str, str, int, int], List[Fragment]] = {}
    for frag in fragments:
        groups.setdefault((frag.key, frag.direction, frag.protocol, frag.port_low, frag.port_high), []).append(frag)
    rules = set()
    for (_key, direction, protocol, low, high), parts in groups.items():
        if any(not part.peers for part in parts):
            peers: Tuple[str, ...] = ()
        else:
            peers = parse_peers(sorted({peer for part in parts for peer in part.peers}))
        purpose = next((part.purpose for part in parts if part.purpose), "")
        rules.add(Rule(protocol, low, high, direction, peers, purpose))
    return sort_rules(rules)
