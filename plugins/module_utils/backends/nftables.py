# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables dialect: owned regular chains reached by one tagged jump per host base chain.

An accept in a base chain of its own does not undo a drop in the host's base chain on
the same hook, so the owned rules live in regular chains (``<prefix>_in``/``_out``)
inside the host's own tables, entered by a jump tagged with the owner. Only address
families that no host base chain filters get an owned table, whose base chain accepts
(drops with baseline). Every change is one ``nft -f`` transaction; the state is read
with ``nft -j list ruleset``. The shared logic is in ``netfilter``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.backends import base, netfilter, persistence
from ansible_collections.biostar.hardening.plugins.module_utils.backends.netfilter import (
    Found,
    NetfilterBackend,
    State,
    Step,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.tags import Fragment, rule_comment
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import FAMILIES, RuleError, parse_peers

TABLE_FAMILIES = {"inet": ("ipv4", "ipv6"), "ip": ("ipv4",), "ip6": ("ipv6",)}
HOOKS = {"inbound": "input", "outbound": "output"}
PEER_FIELD = {"inbound": "saddr", "outbound": "daddr"}
ADDRESS_PROTOCOL = {"ipv4": "ip", "ipv6": "ip6"}
# iptables-nft keeps its tables in nftables; they belong to iptables, not to us.
IPTABLES_TABLES = ("filter", "raw", "mangle", "nat", "security")
IPTABLES_CHAINS = ("INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING")
APPLY = ("nft", "-f", "-")

ChainKey = Tuple[str, str, str]


def owned_prefix(owner: str) -> str:
    """nft identifiers for the owner: the table and chain names derive from it."""
    prefix = re.sub(r"[^A-Za-z0-9_]", "_", owner).lower()
    return prefix if prefix[:1].isalpha() else "o_" + prefix


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass(frozen=True)
class NftChain:
    family: str
    table: str
    name: str
    type: Optional[str] = None
    hook: Optional[str] = None
    prio: int = 0
    policy: Optional[str] = None

    @property
    def key(self) -> ChainKey:
        return (self.family, self.table, self.name)

    @property
    def iptables_compat(self) -> bool:
        return self.family in ("ip", "ip6") and self.table in IPTABLES_TABLES and self.name in IPTABLES_CHAINS

    def label(self) -> str:
        return "%s %s %s" % self.key


@dataclass(frozen=True)
class NftRule:
    family: str
    table: str
    chain: str
    handle: int
    comment: Optional[str]
    expr: Tuple[Any, ...]

    @property
    def key(self) -> ChainKey:
        return (self.family, self.table, self.chain)


class Ruleset:
    """The parts of ``nft -j list ruleset`` the backend looks at."""

    def __init__(self, text: str):
        try:
            items = json.loads(text or "{}").get("nftables", [])
        except ValueError as exc:
            raise base.BackendError("nftables: cannot parse 'nft -j list ruleset' output: %s" % exc) from None
        self.tables = [(i["table"]["family"], i["table"]["name"]) for i in items if "table" in i]
        self.chains: Dict[ChainKey, NftChain] = {}
        for chain in (i["chain"] for i in items if "chain" in i):
            names = (chain.get(key) for key in ("family", "table", "name", "type", "hook"))
            found = NftChain(*names, _int(chain.get("prio")), chain.get("policy"))
            self.chains[found.key] = found
        self.rules = [
            NftRule(
                r["family"], r["table"], r["chain"], _int(r.get("handle")), r.get("comment"), tuple(r.get("expr", ()))
            )
            for r in (i["rule"] for i in items if "rule" in i)
        ]

    def base_chains(self, hook: str) -> List[NftChain]:
        return [c for c in self.chains.values() if c.hook == hook and c.type == "filter" and c.family in TABLE_FAMILIES]

    def has_rules(self, chain: NftChain) -> bool:
        return any(rule.key == chain.key for rule in self.rules)


def _read_port(right: Any) -> Optional[Tuple[int, int]]:
    if isinstance(right, int) and not isinstance(right, bool):
        return right, right
    if isinstance(right, dict) and isinstance(right.get("range"), list) and len(right["range"]) == 2:
        low, high = right["range"]
        if isinstance(low, int) and isinstance(high, int):
            return low, high
    return None


def _read_addresses(right: Any) -> Optional[Tuple[str, ...]]:
    items = right["set"] if isinstance(right, dict) and "set" in right else [right]
    texts = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict) and isinstance(item.get("prefix"), dict):
            texts.append("%s/%s" % (item["prefix"].get("addr"), item["prefix"].get("len")))
        else:
            return None
    try:
        return parse_peers(texts)
    except RuleError:
        return None


def summarise(expr: Sequence[Any]) -> Optional[Dict[str, Any]]:
    """Reduce a JSON rule to the matches our rules use; None when it holds anything else."""
    facts: Dict[str, Any] = {}
    for item in expr:
        if not isinstance(item, dict) or len(item) != 1:
            return None
        if "accept" in item:
            facts["verdict"] = "accept"
        elif "jump" in item:
            facts["verdict"] = "jump"
            facts["target"] = (item["jump"] or {}).get("target")
        elif "match" in item:
            match = item["match"] or {}
            left, right = match.get("left"), match.get("right")
            if match.get("op") not in ("==", "in") or not isinstance(left, dict):
                return None
            if "payload" in left:
                protocol = left["payload"].get("protocol")
                name = left["payload"].get("field")
                if protocol in ("tcp", "udp") and name == "dport" and "protocol" not in facts:
                    port = _read_port(right)
                    if port is None:
                        return None
                    facts["protocol"], facts["port"] = protocol, port
                elif protocol in ("ip", "ip6") and name in ("saddr", "daddr") and "family" not in facts:
                    peers = _read_addresses(right)
                    if peers is None:
                        return None
                    facts["family"] = "ipv4" if protocol == "ip" else "ipv6"
                    facts["field"], facts["peers"] = name, peers
                else:
                    return None
            elif "ct" in left and left["ct"].get("key") == "state":
                facts["ct"] = tuple(sorted(right if isinstance(right, list) else [right]))
            elif "meta" in left and left["meta"].get("key") in ("iifname", "iif"):
                facts["iifname"] = right
            else:
                return None
        else:
            return None
    return facts


def line_of(rule: NftRule) -> netfilter.Line:
    facts = summarise(rule.expr)
    if facts is None:
        return netfilter.Line(rule.comment, known=False)
    side = {v: k for k, v in PEER_FIELD.items()}.get(facts.get("field", ""), "")
    return netfilter.Line.of(
        rule.comment, facts, target=facts.get("target") or "", side=side, iif=facts.get("iifname", "")
    )


@dataclass(frozen=True)
class NftHost:
    """What the nftables dialect knows beyond the owned state."""

    bases: Dict[str, Tuple[NftChain, ...]]  # hook -> the host's own base chains
    compat_filtering: Tuple[str, ...] = ()
    files: Any = None  # persistence texts, path -> text


class NftablesBackend(NetfilterBackend):
    name = "nftables"

    def __init__(self, runner: base.Runner, options: base.BackendOptions, files: Optional[base.HostFiles] = None):
        super().__init__(runner, options, files)
        self.owned_table = self.prefix = owned_prefix(options.owner)
        self.chain_names = {"inbound": self.prefix + "_in", "outbound": self.prefix + "_out"}

    @classmethod
    def detect(cls, runner: base.Runner) -> base.Detection:
        if not runner.which("nft"):
            return base.Detection(cls.name, False, False, "nft not found")
        listed = runner.run(["nft", "-j", "list", "ruleset"])
        if listed.rc != 0:
            return base.Detection(cls.name, False, False, "nft -j list ruleset failed: %s" % listed.stderr.strip())
        try:
            ruleset = Ruleset(listed.stdout)
        except base.BackendError as exc:
            return base.Detection(cls.name, False, False, str(exc))
        native = [c for c in ruleset.base_chains("input") if not c.iptables_compat]
        if not native:
            return base.Detection(cls.name, True, False, "no nftables base chain on hook input")
        counts = {c.key: 0 for c in native}
        for rule in ruleset.rules:
            # A tagged jump alone (ours, into a chain of accepts) does not make a host filter.
            if rule.key in counts and not (rule.comment and line_of(rule).plain_jump()):
                counts[rule.key] += 1
        filtering = [c for c in native if (c.policy or "accept") != "accept" or counts[c.key]]
        detail = "base chains on hook input: %s" % ", ".join(
            "%s (policy %s, %d rules)" % (c.label(), c.policy or "accept", counts[c.key]) for c in native
        )
        return base.Detection(cls.name, True, bool(filtering), detail)

    # -- parse -------------------------------------------------------------------------
    def _owned(self, family: str, table: str) -> bool:
        return table == self.prefix and family in TABLE_FAMILIES

    def _load(self) -> Found:
        ruleset = Ruleset(self.run(["nft", "-j", "list", "ruleset"]).stdout)
        hosts: Dict[str, List[NftChain]] = {hook: [] for hook in HOOKS.values()}
        owned_bases, compat = {}, []
        for hook, chains in hosts.items():
            for chain in ruleset.base_chains(hook):
                if self._owned(chain.family, chain.table):
                    if chain.name == hook:
                        owned_bases[(chain.family, hook)] = chain.policy or "accept"
                elif not chain.iptables_compat:
                    chains.append(chain)
                elif hook == "input" and (chain.policy == "drop" or ruleset.has_rules(chain)):
                    compat.append(chain.label())
        names = {name: direction for direction, name in self.chain_names.items()}
        owned = [k for k, c in ruleset.chains.items() if c.name in names and c.hook is None and k[0] in TABLE_FAMILIES]
        policies = {chain.key: chain.policy or "accept" for chain in hosts["input"]}
        files = persistence.read_nft(self.files, self.options.owner) if self.options.persist else {}
        frame = Found(
            State(policies=policies, bases=owned_bases),
            tables=tuple(sorted(f for f, t in ruleset.tables if self._owned(f, t))),
            host=NftHost({h: tuple(c) for h, c in hosts.items()}, tuple(compat), files),
        )
        lines = [(rule.key, line_of(rule), rule.handle) for rule in ruleset.rules]
        return netfilter.collect(self.options.owner, names, owned, lines, frame)

    def _places(self, found: Found, direction: str) -> List[netfilter.Place]:
        hook = HOOKS[direction]
        tables: Dict[Tuple[str, str], List[str]] = {}
        for chain in found.host.bases[hook]:
            tables.setdefault((chain.family, chain.table), []).append(chain.name)
        places = [netfilter.Place(f, t, tuple(sorted(b)), TABLE_FAMILIES[f]) for (f, t), b in sorted(tables.items())]
        covered = {family for place in places for family in place.families}
        uncovered = tuple(f for f in FAMILIES if f not in covered)
        if uncovered:
            family = "inet" if len(uncovered) == 2 else ADDRESS_PROTOCOL[uncovered[0]]
            places.append(netfilter.Place(family, self.prefix, (hook,), uncovered, hook))
        return places

    def _notes(self, found: Found, target: base.Target) -> List[str]:
        if found.host.compat_filtering and target.present:
            return [
                "iptables (nf_tables variant) also filters input in %s; an nftables accept cannot "
                "override its drops, so consider backend=iptables" % ", ".join(found.host.compat_filtering)
            ]
        return []

    # -- render ------------------------------------------------------------------------
    def _chain_lines(self, key: Sequence[str], content: netfilter.ChainContent) -> List[str]:
        head = "add rule %s %s %s " % tuple(key)
        owner = self.options.owner
        words = {netfilter.KEEP_ESTABLISHED: "ct state established,related", netfilter.KEEP_LOOPBACK: 'iifname "lo"'}

        def keep(kind: str, port: int) -> str:
            match = words.get(kind) or "tcp dport %d" % port
            return head + '%s accept comment "%s"' % (match, netfilter.keep_comment(owner, kind))

        def rule(frag: Fragment) -> str:
            parts = []
            if frag.family:
                addresses = frag.peers[0] if len(frag.peers) == 1 else "{ %s }" % ", ".join(frag.peers)
                parts.append("%s %s %s" % (ADDRESS_PROTOCOL[frag.family], PEER_FIELD[frag.direction], addresses))
            port = str(frag.port_low) if frag.port_low == frag.port_high else "%d-%d" % (frag.port_low, frag.port_high)
            parts.append("%s dport %s accept" % (frag.protocol, port))
            return head + " ".join(parts) + ' comment "%s"' % rule_comment(owner, frag.key, frag.purpose)

        return netfilter.content_lines(content, keep, rule)

    def _lines(self, step: Step) -> List[str]:
        where = " ".join(step.key[:3])
        if step.op == "fill":
            return ["add chain " + where, "flush chain " + where, *self._chain_lines(step.key, step.value)]
        family, table, chain, target = (*step.key, "", "")[:4]
        return {
            "table": ["add table %s %s" % (family, table)],
            "base": ["add chain %s { type filter hook %s priority filter ; policy %s ; }" % (where, chain, step.value)],
            "policy": ["chain %s { policy %s ; }" % (where, step.value)],
            "unjump": ["delete rule %s handle %s" % (where, step.ref)],
            "unstray": ["delete rule %s handle %s" % (where, step.ref)],
            "jump": ['insert rule %s jump %s comment "%s"' % (where, target, self.options.owner)],
            "drop": ["flush chain " + where, "delete chain " + where],
            "unbase": ["delete chain " + where],
            "untable": ["delete table %s %s" % (family, table)],
        }[step.op]

    def _render(self, steps: Sequence[Step]) -> Tuple[netfilter.Command, ...]:
        # One nft -f is one kernel transaction: it all applies or nothing does.
        script = [line for step in steps for line in self._lines(step)]
        return ((APPLY, "\n".join(script) + "\n"),) if script else ()

    def _structure(self, found: Found, state: State) -> List[str]:
        lines = ["jump %s %s %s -> %s" % jump for jump in sorted(set(state.jumps))]
        lines.extend("policy %s %s %s %s" % (*key, policy) for key, policy in sorted(state.policies.items()))
        lines.extend("policy %s %s %s %s" % (f, self.prefix, h, p) for (f, h), p in sorted(state.bases.items()))
        if state.keeps():
            lines.append("baseline keeps %s" % netfilter.describe_keeps(state.keeps()))
        return lines

    # -- persist -----------------------------------------------------------------------
    def _files(self, found: Found, state: State) -> Tuple[List[base.FileChange], List[str]]:
        chains = {chain.key: chain for hook_chains in found.host.bases.values() for chain in hook_chains}
        text = persistence.nft_include(self.options.owner, self.prefix, state, chains, self._lines)
        return persistence.nft_changes(found.host.files, self.options.owner, None if state.empty() else text)
