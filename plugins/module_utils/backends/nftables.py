# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables backend: owned regular chains reached by one tagged jump per host base chain.

An accept in a base chain of its own does not undo a drop in the host's base chain on
the same hook, so the owned rules live in regular chains (``<prefix>_in``/``_out``)
inside the host's own tables, entered by a jump tagged with the owner. Only address
families that no host base chain filters get an owned table, whose base chain accepts
(drops with baseline). Every change is one ``nft -f`` transaction; the state is read
with ``nft -j list ruleset``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    BackendError,
    BackendOptions,
    Detection,
    HostFiles,
    LocalFiles,
    Runner,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.netfilter import (
    KEEP_ESTABLISHED,
    KEEP_LOOPBACK,
    KEEP_MANAGEMENT,
    ChainContent,
    NetfilterBackend,
    describe_keeps,
    keep_comment,
    keep_ports,
    keep_set,
    keep_token,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.tags import (
    BASELINE,
    Fragment,
    assemble,
    fragments_for,
    parse_comment,
    rule_comment,
)
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    DIRECTIONS,
    FAMILIES,
    Plan,
    Rule,
    RuleError,
    parse_peers,
)

TABLE_FAMILIES = {"inet": ("ipv4", "ipv6"), "ip": ("ipv4",), "ip6": ("ipv6",)}
HOOKS = {"inbound": "input", "outbound": "output"}
PEER_FIELD = {"inbound": "saddr", "outbound": "daddr"}
ADDRESS_PROTOCOL = {"ipv4": "ip", "ipv6": "ip6"}
# iptables-nft keeps its tables in nftables; they belong to iptables, not to us.
IPTABLES_TABLES = ("filter", "raw", "mangle", "nat", "security")
IPTABLES_CHAINS = ("INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING")
INCLUDE_DIR = "/etc/nftables.d"
MAIN_CONFIGS = ("/etc/nftables.conf", "/etc/sysconfig/nftables.conf")

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


# Parsed facts of an owned baseline rule that are not part of its match.
NFT_NO_MATCH = frozenset({"verdict"})


class Ruleset:
    """The parts of ``nft -j list ruleset`` the backend looks at."""

    def __init__(self, text: str):
        try:
            data = json.loads(text or "{}")
        except ValueError as exc:
            raise BackendError("nftables: cannot parse 'nft -j list ruleset' output: %s" % exc) from None
        self.tables: List[Tuple[str, str]] = []
        self.chains: Dict[ChainKey, NftChain] = {}
        self.rules: List[NftRule] = []
        for item in data.get("nftables", []):
            if "table" in item:
                table = item["table"]
                self.tables.append((table["family"], table["name"]))
            elif "chain" in item:
                chain = item["chain"]
                found = NftChain(
                    chain["family"],
                    chain["table"],
                    chain["name"],
                    chain.get("type"),
                    chain.get("hook"),
                    _int(chain.get("prio")),
                    chain.get("policy"),
                )
                self.chains[found.key] = found
            elif "rule" in item:
                rule = item["rule"]
                self.rules.append(
                    NftRule(
                        rule["family"],
                        rule["table"],
                        rule["chain"],
                        _int(rule.get("handle")),
                        rule.get("comment"),
                        tuple(rule.get("expr", ())),
                    )
                )

    def base_chains(self, hook: str) -> List[NftChain]:
        return [
            chain
            for chain in self.chains.values()
            if chain.hook == hook and chain.type == "filter" and chain.family in TABLE_FAMILIES
        ]


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


def _is_plain_jump(expr: Sequence[Any]) -> bool:
    facts = summarise(expr)
    return bool(facts) and set(facts) == {"verdict", "target"} and facts["verdict"] == "jump"


def _includes(line: str, path: str) -> bool:
    """Whether an nftables.conf line includes ``path``, also through a glob."""
    text = line.strip()
    if not text.startswith("include"):
        return False
    pattern = text[len("include") :].strip().strip('"')
    return fnmatch.fnmatchcase(path, pattern)


@dataclass
class State:
    """Owned objects in a ruleset, in the same shape for what is and what should be."""

    owned_bases: Dict[Tuple[str, str], str] = field(default_factory=dict)  # (family, hook) -> policy
    chains: Dict[ChainKey, ChainContent] = field(default_factory=dict)
    jumps: List[Tuple[str, str, str, str]] = field(default_factory=list)  # family, table, chain, target
    policies: Dict[ChainKey, str] = field(default_factory=dict)

    def owned_families(self) -> List[str]:
        return sorted({family for family, _hook in self.owned_bases})

    def empty(self) -> bool:
        return not (self.owned_bases or self.chains or self.jumps)


@dataclass
class Found(State):
    """What the host has, with the handles needed to delete things."""

    owned_tables: List[str] = field(default_factory=list)  # families
    jump_handles: List[int] = field(default_factory=list)
    strays: List[Tuple[str, str, str, int]] = field(default_factory=list)
    fragments: List[Fragment] = field(default_factory=list)
    keeps: FrozenSet[str] = frozenset()
    host_bases: Dict[str, List[NftChain]] = field(default_factory=dict)  # hook -> chains
    compat_filtering: List[str] = field(default_factory=list)


class NftablesBackend(NetfilterBackend):
    name = "nftables"

    def __init__(self, runner: Runner, options: BackendOptions, files: Optional[HostFiles] = None):
        super().__init__(runner, options)
        self.files = files or LocalFiles()
        self.prefix = owned_prefix(options.owner)
        self.chain_names = {"inbound": self.prefix + "_in", "outbound": self.prefix + "_out"}
        self.include_path = "%s/%s.nft" % (INCLUDE_DIR, options.owner)
        self.warnings: List[str] = []
        self._found: Optional[Found] = None
        self._host_bases: Dict[str, List[NftChain]] = {}
        self._target: Optional[State] = None
        self._actions: List[str] = []
        self._script: List[str] = []

    # -- detection ---------------------------------------------------------------------
    @classmethod
    def detect(cls, runner: Runner) -> Detection:
        if not runner.which("nft"):
            return Detection(cls.name, False, False, "nft not found")
        listed = runner.run(["nft", "-j", "list", "ruleset"])
        if listed.rc != 0:
            return Detection(cls.name, False, False, "nft -j list ruleset failed: %s" % listed.stderr.strip())
        try:
            ruleset = Ruleset(listed.stdout)
        except BackendError as exc:
            return Detection(cls.name, False, False, str(exc))
        native = [c for c in ruleset.base_chains("input") if not c.iptables_compat]
        if not native:
            return Detection(cls.name, True, False, "no nftables base chain on hook input")
        counts = {c.key: 0 for c in native}
        for rule in ruleset.rules:
            key = (rule.family, rule.table, rule.chain)
            # A tagged jump alone (ours, into a chain of accepts) does not make a host filter.
            if key in counts and not (rule.comment and _is_plain_jump(rule.expr)):
                counts[key] += 1
        filtering = [c for c in native if (c.policy or "accept") != "accept" or counts[c.key]]
        detail = "base chains on hook input: %s" % ", ".join(
            "%s (policy %s, %d rules)" % (c.label(), c.policy or "accept", counts[c.key]) for c in native
        )
        return Detection(cls.name, True, bool(filtering), detail)

    # -- reading -----------------------------------------------------------------------
    def _load(self) -> Found:
        if self._found is None:
            listed = self.run(["nft", "-j", "list", "ruleset"])
            self._found = self._inspect(Ruleset(listed.stdout))
        return self._found

    def _is_owned_table(self, family: str, table: str) -> bool:
        return table == self.prefix and family in TABLE_FAMILIES

    def _inspect(self, ruleset: Ruleset) -> Found:
        found = Found()
        owner = self.options.owner
        owned_chain_names = {name: direction for direction, name in self.chain_names.items()}
        found.owned_tables = sorted(f for f, t in ruleset.tables if self._is_owned_table(f, t))
        for hook in HOOKS.values():
            found.host_bases[hook] = []
            for chain in ruleset.base_chains(hook):
                if self._is_owned_table(chain.family, chain.table):
                    if chain.name == hook:
                        found.owned_bases[(chain.family, hook)] = chain.policy or "accept"
                elif not chain.iptables_compat:
                    found.host_bases[hook].append(chain)
                elif hook == "input" and (chain.policy == "drop" or self._has_rules(ruleset, chain)):
                    found.compat_filtering.append(chain.label())
        for chain in found.host_bases["input"]:
            found.policies[chain.key] = chain.policy or "accept"
        owned_chains = [
            c
            for c in ruleset.chains.values()
            if c.name in owned_chain_names and c.hook is None and c.family in TABLE_FAMILIES
        ]
        contents: Dict[ChainKey, Dict[str, Any]] = {
            c.key: {"keeps": set(), "fragments": [], "unknown": 0} for c in owned_chains
        }
        for rule in ruleset.rules:
            key = (rule.family, rule.table, rule.chain)
            if key in contents:
                self._classify(rule, owned_chain_names[rule.chain], contents[key], found)
                continue
            tag = parse_comment(owner, rule.comment)
            if tag is None:
                continue
            facts = summarise(rule.expr)
            if (
                tag.kind == "jump"
                and facts
                and facts.get("verdict") == "jump"
                and facts.get("target") in owned_chain_names
            ):
                found.jumps.append((rule.family, rule.table, rule.chain, facts["target"]))
                found.jump_handles.append(rule.handle)
            else:
                found.strays.append((rule.family, rule.table, rule.chain, rule.handle))
        keeps = set()
        for key, parts in contents.items():
            found.chains[key] = ChainContent.build(parts["keeps"], parts["fragments"], parts["unknown"])
            keeps.update(parts["keeps"])
        found.keeps = frozenset(keeps)
        return found

    @staticmethod
    def _has_rules(ruleset: Ruleset, chain: NftChain) -> bool:
        return any((r.family, r.table, r.chain) == chain.key for r in ruleset.rules)

    def _classify(self, rule: NftRule, direction: str, content: Dict[str, Any], found: Found) -> None:
        tag = parse_comment(self.options.owner, rule.comment)
        facts = summarise(rule.expr)
        if tag is None or facts is None or facts.get("verdict") != "accept":
            content["unknown"] += 1
            return
        if tag.kind == "rule" and "port" in facts and not {"ct", "iifname"} & set(facts):
            if "family" in facts and facts["field"] != PEER_FIELD[direction]:
                content["unknown"] += 1
                return
            low, high = facts["port"]
            fragment = Fragment(
                direction,
                facts["protocol"],
                low,
                high,
                facts.get("family", ""),
                facts.get("peers", ()),
                tag.key,
                tag.purpose,
            )
            content["fragments"].append(fragment)
            found.fragments.append(fragment)
            return
        keep = (
            keep_token(tag.key, facts, NFT_NO_MATCH, "iifname")
            if tag.kind == BASELINE and direction == "inbound"
            else None
        )
        if keep is None:
            content["unknown"] += 1
        else:
            content["keeps"].add(keep)

    def read_owned(self) -> List[Rule]:
        return assemble(self._load().fragments)

    # -- baseline and lockout facts for the module --------------------------------------
    def baseline_state(self) -> Tuple[List[int], bool]:
        """Management ports the owned baseline keeps open, and whether input drops by default."""
        found = self._load()
        deny = any(p == "drop" for p in found.policies.values()) or any(
            policy == "drop" for (family, hook), policy in found.owned_bases.items() if hook == "input"
        )
        return keep_ports(found.keeps), deny

    # -- planning ----------------------------------------------------------------------
    def _target_state(self, rules: Sequence[Rule], present: bool) -> State:
        found = self._load()
        enforce = present and self.management_ports is not None
        keeps = keep_set(self.management_ports or ()) if enforce else found.keeps if present else frozenset()
        target = State()
        for direction in DIRECTIONS:
            wanted = [r for r in rules if r.direction == direction]
            direction_keeps = keeps if direction == "inbound" else frozenset()
            if not wanted and not direction_keeps:
                continue
            hook = HOOKS[direction]
            tables: Dict[Tuple[str, str], List[str]] = {}
            for chain in found.host_bases[hook]:
                tables.setdefault((chain.family, chain.table), []).append(chain.name)
            covered = set()
            for (family, table), bases in sorted(tables.items()):
                covered.update(TABLE_FAMILIES[family])
                self._add_chain(target, family, table, bases, direction, wanted, direction_keeps)
            uncovered = [f for f in FAMILIES if f not in covered]
            if not uncovered:
                continue
            family = "inet" if len(uncovered) == 2 else ADDRESS_PROTOCOL[uncovered[0]]
            if self._add_chain(target, family, self.prefix, [hook], direction, wanted, direction_keeps, uncovered):
                current = found.owned_bases.get((family, hook))
                target.owned_bases[(family, hook)] = "drop" if enforce and hook == "input" else (current or "accept")
        if enforce:
            for chain in found.host_bases["input"]:
                target.policies[chain.key] = "drop"
        return target

    def _add_chain(
        self,
        target: State,
        family: str,
        table: str,
        bases: Sequence[str],
        direction: str,
        rules: Sequence[Rule],
        keeps: FrozenSet[str],
        families: Optional[Sequence[str]] = None,
    ) -> bool:
        handled = families or TABLE_FAMILIES[family]
        fragments = [frag for rule in rules for frag in fragments_for(rule, handled)]
        if not fragments and not keeps:
            return False
        name = self.chain_names[direction]
        target.chains[(family, table, name)] = ChainContent.build(keeps, fragments)
        for base in sorted(bases):
            target.jumps.append((family, table, base, name))
        return True

    def pending(self, plan: Plan, state: str = "present") -> List[str]:
        """Everything apply (or remove_all, for state=absent) would change, in words."""
        present = state == "present"
        self._prepare(plan.result if present else [], present)
        return list(self._actions)

    def _prepare(self, rules: Sequence[Rule], present: bool) -> None:
        found = self._load()
        self._host_bases = found.host_bases
        self._target = self._target_state(rules, present)
        self._actions, self._script = self._transition(found, self._target)
        self.warnings = []
        if found.compat_filtering and present:
            self.warnings.append(
                "iptables (nf_tables variant) also filters input in %s; an nftables accept cannot "
                "override its drops, so consider backend=iptables" % ", ".join(found.compat_filtering)
            )

    def _transition(self, found: Found, target: State) -> Tuple[List[str], List[str]]:
        actions: List[str] = []
        script: List[str] = []
        doomed_families = [f for f in found.owned_tables if f not in target.owned_families()]

        def doomed(family: str, table: str) -> bool:
            return self._is_owned_table(family, table) and family in doomed_families

        for family in target.owned_families():
            if family not in found.owned_tables:
                actions.append("create table %s %s" % (family, self.prefix))
                script.append("add table %s %s" % (family, self.prefix))
        for (family, hook), policy in sorted(target.owned_bases.items()):
            current = found.owned_bases.get((family, hook))
            if current is None:
                actions.append("create base chain %s %s %s (policy %s)" % (family, self.prefix, hook, policy))
                script.append(
                    "add chain %s %s %s { type filter hook %s priority filter ; policy %s ; }"
                    % (family, self.prefix, hook, hook, policy)
                )
            elif current != policy:
                actions.append("set policy of %s %s %s to %s" % (family, self.prefix, hook, policy))
                script.append("chain %s %s %s { policy %s ; }" % (family, self.prefix, hook, policy))
        for key, content in sorted(target.chains.items()):
            current_content = found.chains.get(key)
            if current_content == content:
                continue
            if current_content is None:
                actions.append("create chain %s %s %s with %d rules" % (*key, len(content)))
            else:
                actions.append(
                    "replace the %d rules of chain %s %s %s with %d rules" % (len(current_content), *key, len(content))
                )
            script.append("add chain %s %s %s" % key)
            script.append("flush chain %s %s %s" % key)
            script.extend(self._chain_lines(key, content))
        for key, policy in sorted(target.policies.items()):
            if found.policies.get(key) != policy:
                actions.append("set policy of %s %s %s to %s" % (*key, policy))
                script.append("chain %s %s %s { policy %s ; }" % (*key, policy))
        wanted = set(target.jumps)
        kept = set()
        for jump, handle in zip(found.jumps, found.jump_handles):
            if jump in wanted and jump not in kept:
                kept.add(jump)
                continue
            if doomed(jump[0], jump[1]):
                continue
            actions.append("delete jump %s %s %s -> %s" % jump)
            script.append("delete rule %s %s %s handle %d" % (*jump[:3], handle))
        for family, table, chain, handle in found.strays:
            if doomed(family, table):
                continue
            actions.append("delete stray owned rule %s %s %s handle %d" % (family, table, chain, handle))
            script.append("delete rule %s %s %s handle %d" % (family, table, chain, handle))
        for jump in target.jumps:
            if jump not in kept:
                actions.append("add jump %s %s %s -> %s" % jump)
                script.append('insert rule %s %s %s jump %s comment "%s"' % (*jump, self.options.owner))
        for key in sorted(found.chains):
            if key not in target.chains and not doomed(key[0], key[1]):
                actions.append("delete chain %s %s %s" % key)
                script.append("flush chain %s %s %s" % key)
                script.append("delete chain %s %s %s" % key)
        for family, hook in sorted(found.owned_bases):
            if (family, hook) not in target.owned_bases and not doomed(family, self.prefix):
                actions.append("delete base chain %s %s %s" % (family, self.prefix, hook))
                script.append("delete chain %s %s %s" % (family, self.prefix, hook))
        for family in doomed_families:
            actions.append("delete table %s %s" % (family, self.prefix))
            script.append("delete table %s %s" % (family, self.prefix))
        return actions, script

    def _chain_lines(self, key: ChainKey, content: ChainContent) -> List[str]:
        head = "add rule %s %s %s " % key
        owner = self.options.owner
        lines = []
        if KEEP_ESTABLISHED in content.keeps:
            lines.append(
                head + 'ct state established,related accept comment "%s"' % keep_comment(owner, KEEP_ESTABLISHED)
            )
        if KEEP_LOOPBACK in content.keeps:
            lines.append(head + 'iifname "lo" accept comment "%s"' % keep_comment(owner, KEEP_LOOPBACK))
        for port in keep_ports(content.keeps):
            lines.append(head + 'tcp dport %d accept comment "%s"' % (port, keep_comment(owner, KEEP_MANAGEMENT)))
        for frag in content.fragments:
            parts = []
            if frag.family:
                addresses = frag.peers[0] if len(frag.peers) == 1 else "{ %s }" % ", ".join(frag.peers)
                parts.append("%s %s %s" % (ADDRESS_PROTOCOL[frag.family], PEER_FIELD[frag.direction], addresses))
            port = str(frag.port_low) if frag.port_low == frag.port_high else "%d-%d" % (frag.port_low, frag.port_high)
            parts.append("%s dport %s" % (frag.protocol, port))
            parts.append('accept comment "%s"' % rule_comment(owner, frag.key, frag.purpose))
            lines.append(head + " ".join(parts))
        return lines

    # -- changing ----------------------------------------------------------------------
    def _commit(self) -> None:
        if not self._script:
            return
        # One nft -f is one kernel transaction: it all applies or nothing does.
        self.run(["nft", "-f", "-"], data="\n".join(self._script) + "\n")
        self._found = None

    # -- diff text ---------------------------------------------------------------------
    def describe_state(self, after: bool) -> List[str]:
        """Structure lines for --diff: jumps, policies and baseline keeps."""
        found = self._load()
        state = self._target if after and self._target is not None else found
        lines = ["jump %s %s %s -> %s" % jump for jump in sorted(set(state.jumps))]
        policies = dict(found.policies)
        if after and self._target is not None:
            policies.update(self._target.policies)
        lines.extend("policy %s %s %s %s" % (*key, policy) for key, policy in sorted(policies.items()))
        lines.extend(
            "policy %s %s %s %s" % (family, self.prefix, hook, policy)
            for (family, hook), policy in sorted(state.owned_bases.items())
        )
        keeps = set()
        for content in state.chains.values():
            keeps.update(content.keeps)
        if keeps:
            lines.append("baseline keeps %s" % describe_keeps(keeps))
        return lines

    # -- persistence -------------------------------------------------------------------
    def _main_config(self) -> Optional[Tuple[str, str]]:
        for path in MAIN_CONFIGS:
            text = self.files.read(path)
            if text is not None:
                return path, text
        return None

    def _include_line(self) -> str:
        return 'include "%s"' % self.include_path

    def _persist_plan(self) -> List[Tuple[str, Optional[str]]]:
        """(path, new text or None to delete) for each file that differs from the target."""
        target = self._target if self._target is not None else State()
        changes: List[Tuple[str, Optional[str]]] = []
        current = self.files.read(self.include_path)
        wanted = None if target.empty() else self._include_text(target)
        if wanted != current:
            changes.append((self.include_path, wanted))
        main = self._main_config()
        if main is None:
            if wanted is not None:
                self.warnings.append(
                    "no %s found: nothing loads %s at boot" % (" or ".join(MAIN_CONFIGS), self.include_path)
                )
            return changes
        path, text = main
        lines = text.splitlines()
        has_line = self._include_line() in (line.strip() for line in lines)
        if wanted is not None and not any(_includes(line, self.include_path) for line in lines):
            new = text + ("" if text.endswith("\n") or not text else "\n")
            new += "# biostar.hardening: owned port rules (owner %s)\n%s\n" % (self.options.owner, self._include_line())
            changes.append((path, new))
        elif wanted is None and has_line:
            marker = "# biostar.hardening: owned port rules (owner %s)" % self.options.owner
            kept = [line for line in lines if line.strip() not in (self._include_line(), marker)]
            changes.append((path, "\n".join(kept) + "\n"))
        return changes

    def _include_text(self, target: State) -> str:
        out = [
            "#!/usr/sbin/nft -f",
            "# Written by biostar.hardening for owner %s; the next run rewrites it." % self.options.owner,
            "# Recreates the owned chains and the jumps into them after the host's own ruleset.",
        ]
        for family in target.owned_families():
            # add + delete + add: reloading twice never doubles the owned table.
            out.append("add table %s %s" % (family, self.prefix))
            out.append("delete table %s %s" % (family, self.prefix))
            out.append("add table %s %s" % (family, self.prefix))
            for (fam, hook), policy in sorted(target.owned_bases.items()):
                if fam == family:
                    out.append(
                        "add chain %s %s %s { type filter hook %s priority filter ; policy %s ; }"
                        % (family, self.prefix, hook, hook, policy)
                    )
        prios = {chain.key: chain for chains in self._host_bases.values() for chain in chains}
        declared = set()
        for family, table, base, _target in target.jumps:
            if self._is_owned_table(family, table) or (family, table, base) in declared:
                continue
            declared.add((family, table, base))
            out.append("add table %s %s" % (family, table))
            policy = target.policies.get((family, table, base))
            chain = prios.get((family, table, base))
            if policy and chain is not None:
                out.append(
                    "add chain %s %s %s { type %s hook %s priority %d ; policy %s ; }"
                    % (family, table, base, chain.type, chain.hook, chain.prio, policy)
                )
            else:
                # Never fails: a missing chain becomes a harmless regular chain.
                out.append("add chain %s %s %s" % (family, table, base))
        for key, content in sorted(target.chains.items()):
            out.append("add chain %s %s %s" % key)
            out.append("flush chain %s %s %s" % key)
            out.extend(self._chain_lines(key, content))
        for jump in target.jumps:
            out.append('insert rule %s %s %s jump %s comment "%s"' % (*jump, self.options.owner))
        return "\n".join(out) + "\n"

    def persist_pending(self, plan: Plan, state: str = "present") -> List[str]:
        """What persist() would write after this plan, without writing it."""
        if self._target is None:
            self.pending(plan, state)
        return [path if text is not None else "%s (removed)" % path for path, text in self._persist_plan()]

    def persist(self) -> List[str]:
        written = []
        for path, text in self._persist_plan():
            if text is None:
                self.files.remove(path)
                written.append("%s (removed)" % path)
            else:
                self.files.write(path, text)
                written.append(path)
        return written
