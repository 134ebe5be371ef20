# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces the nftables and iptables backends share.

Both keep the owned rules in owned chains and tag every rule with a comment. A comment
reads ``<owner> <key> <purpose>``: the key is a short hash of the rule's identity, so a
rule that netfilter has to split (one line per address family or per peer) can be put
back together exactly when it is read. Baseline rules read ``<owner> baseline <kind>``
and the jumps into the owned chains carry the bare owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    BackendOptions,
    LegacyBackend,
    Runner,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.tags import BASELINE, Fragment
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    Plan,
    Rule,
)

KEEP_ESTABLISHED = "established"
KEEP_LOOPBACK = "loopback"
KEEP_MANAGEMENT = "management"


def keep_comment(owner: str, kind: str) -> str:
    return "%s %s %s" % (owner, BASELINE, kind)


def keep_set(management_ports: Iterable[int]) -> FrozenSet[str]:
    """Baseline rules as comparable tokens: established/related, loopback, each management port."""
    tokens = {KEEP_ESTABLISHED, KEEP_LOOPBACK}
    tokens.update("%s:%d" % (KEEP_MANAGEMENT, port) for port in management_ports)
    return frozenset(tokens)


def keep_ports(keeps: Iterable[str]) -> List[int]:
    return sorted(int(token.split(":", 1)[1]) for token in keeps if token.startswith(KEEP_MANAGEMENT + ":"))


def describe_keeps(keeps: Iterable[str]) -> str:
    tokens = set(keeps)
    parts = []
    if KEEP_ESTABLISHED in tokens:
        parts.append("established/related")
    if KEEP_LOOPBACK in tokens:
        parts.append("loopback")
    parts.extend("tcp/%d" % port for port in keep_ports(tokens))
    return ", ".join(parts)


@dataclass(frozen=True)
class ChainContent:
    """The comparable content of one owned chain.

    ``unknown`` counts lines that are not ours in shape (edited by hand, say): any of
    them means the chain is rewritten.
    """

    keeps: FrozenSet[str] = frozenset()
    fragments: Tuple[Fragment, ...] = ()
    unknown: int = 0

    @classmethod
    def build(cls, keeps: Iterable[str], fragments: Iterable[Fragment], unknown: int = 0) -> ChainContent:
        return cls(frozenset(keeps), tuple(sorted(fragments)), unknown)

    def __len__(self) -> int:
        return len(self.keeps) + len(self.fragments) + self.unknown


def keep_token(kind: str, facts: Dict[str, Any], ignored: FrozenSet[str], interface_key: str) -> Optional[str]:
    """Recognise an owned baseline rule from its parsed match facts.

    ``ignored`` are the fact names that carry no match (comment, verdict); the loopback
    interface is called ``iif`` by iptables-save and ``iifname`` by nft.
    """
    extra = set(facts) - ignored
    if kind == KEEP_ESTABLISHED and extra == {"ct"} and facts["ct"] == ("established", "related"):
        return KEEP_ESTABLISHED
    if kind == KEEP_LOOPBACK and extra == {interface_key} and facts[interface_key] == "lo":
        return KEEP_LOOPBACK
    if kind == KEEP_MANAGEMENT and extra == {"protocol", "port"} and facts["protocol"] == "tcp":
        low, high = facts["port"]
        if low == high:
            return "%s:%d" % (KEEP_MANAGEMENT, low)
    return None


class NetfilterBackend(LegacyBackend):
    """What the nftables and iptables backends share: baseline support and apply = prepare + commit."""

    supports_baseline = True

    def __init__(self, runner: Runner, options: BackendOptions):
        super().__init__(runner, options)
        self.management_ports: Optional[Tuple[int, ...]] = None

    def set_baseline(self, management_ports: Sequence[int]) -> None:
        self.management_ports = tuple(sorted(set(management_ports)))

    def apply(self, plan: Plan) -> None:
        self._prepare(plan.result, True)
        self._commit()

    def remove_all(self) -> None:
        self._prepare([], False)
        self._commit()

    def _prepare(self, rules: Sequence[Rule], present: bool) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError
