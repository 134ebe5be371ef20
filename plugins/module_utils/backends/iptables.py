# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iptables/ip6tables backend: owned BIOSTAR-INPUT/BIOSTAR-OUTPUT chains behind tagged jumps.

Works with whichever variant the ``iptables`` binary is (legacy or nf_tables). The state
is read with ``iptables-save``; each family changes in one ``iptables-restore --noflush``
transaction, and if the second family fails the first is put back, so a failure leaves
the previous owned rules on both.
"""

from __future__ import annotations

import re
import shlex
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

DEFAULT_OWNER = "biostar-hardening"
COMMANDS = {"ipv4": ("iptables-save", "iptables-restore"), "ipv6": ("ip6tables-save", "ip6tables-restore")}
LABELS = {"ipv4": "iptables", "ipv6": "ip6tables"}
BUILTIN = {"inbound": "INPUT", "outbound": "OUTPUT"}
PEER_OPTION = {"inbound": "-s", "outbound": "-d"}
TERMINAL_TARGETS = ("ACCEPT", "DROP", "REJECT", "RETURN", "LOG")
# netfilter-persistent (Debian, Ubuntu) when its directory exists, else iptables-services (RHEL).
PERSISTENT_DIR = "/etc/iptables"
PERSISTENT_FILES = {"ipv4": "/etc/iptables/rules.v4", "ipv6": "/etc/iptables/rules.v6"}
SERVICES_FILES = {"ipv4": "/etc/sysconfig/iptables", "ipv6": "/etc/sysconfig/ip6tables"}
MATCH_MODULES = ("tcp", "udp", "comment", "conntrack", "state")


def chain_prefix(owner: str) -> str:
    """Chain names are at most 28 characters, so long owners are cut."""
    if owner == DEFAULT_OWNER:
        return "BIOSTAR"
    return re.sub(r"[^A-Z0-9]+", "-", owner.upper()).strip("-")[:20] or "OWNED"


@dataclass
class SavedFilter:
    """The filter table of an iptables-save output."""

    policies: Dict[str, str] = field(default_factory=dict)
    chains: List[str] = field(default_factory=list)
    rules: List[Tuple[str, List[str]]] = field(default_factory=list)


def parse_save(text: str) -> SavedFilter:
    saved = SavedFilter()
    inside = False
    for raw in (text or "").splitlines():
        line = raw.strip()
        if line.startswith("*"):
            inside = line == "*filter"
        elif not inside or not line or line.startswith("#"):
            continue
        elif line == "COMMIT":
            inside = False
        elif line.startswith(":"):
            name, policy = ([*line[1:].split(), "-"])[:2]
            if policy == "-":
                saved.chains.append(name)
            else:
                saved.policies[name] = policy
        elif line.startswith("-A "):
            try:
                tokens = shlex.split(line)
            except ValueError:
                tokens = line.split()
            saved.rules.append((tokens[1], tokens[2:]))
    return saved


def _port(text: str) -> Optional[Tuple[int, int]]:
    low, _sep, high = text.partition(":")
    if not low.isdigit() or (high and not high.isdigit()):
        return None
    return int(low), int(high or low)


def summarise(tokens: Sequence[str]) -> Optional[Dict[str, Any]]:
    """Reduce a saved rule to the matches our rules use; None when it holds anything else."""
    facts: Dict[str, Any] = {}
    index = 0
    while index < len(tokens):
        option = tokens[index]
        if index + 1 >= len(tokens):
            return None
        value = tokens[index + 1]
        index += 2
        if option in ("-s", "-d") and "peers" not in facts:
            try:
                facts["peers"] = parse_peers([value])
            except RuleError:
                return None
            facts["option"] = option
        elif option == "-p":
            facts["protocol"] = value
        elif option == "-m":
            if value not in MATCH_MODULES:
                return None
        elif option == "--dport":
            port = _port(value)
            if port is None:
                return None
            facts["port"] = port
        elif option == "--comment":
            facts["comment"] = value
        elif option in ("--ctstate", "--state"):
            facts["ct"] = tuple(sorted(value.lower().split(",")))
        elif option == "-i":
            facts["iif"] = value
        elif option == "-j":
            facts["target"] = value
        else:
            return None
    return facts


def _is_tagged_jump(facts: Optional[Dict[str, Any]]) -> bool:
    return bool(facts) and set(facts) == {"comment", "target"} and facts["target"] not in TERMINAL_TARGETS


def render_tokens(tokens: Sequence[str]) -> str:
    out = []
    for token in tokens:
        if token and re.match(r"^[A-Za-z0-9_.:/,!+=@-]+$", token):
            out.append(token)
        else:
            out.append('"%s"' % token.replace("\\", "\\\\").replace('"', '\\"'))
    return " ".join(out)


@dataclass
class FamilyState:
    """Owned chains, jumps and the INPUT policy of one family, for what is and what should be."""

    chains: Dict[str, ChainContent] = field(default_factory=dict)
    jumps: List[Tuple[str, str]] = field(default_factory=list)
    policy: Optional[str] = None

    def keeps(self) -> FrozenSet[str]:
        return frozenset(k for content in self.chains.values() for k in content.keeps)

    def view(self) -> Tuple[Any, ...]:
        """What persistence compares: the policy only matters once a baseline is involved."""
        keeps = self.keeps()
        return (dict(self.chains), sorted(self.jumps), self.policy if keeps else None)


@dataclass
class FamilyFound(FamilyState):
    jump_tokens: List[List[str]] = field(default_factory=list)
    strays: List[Tuple[str, List[str]]] = field(default_factory=list)
    fragments: List[Fragment] = field(default_factory=list)


# Parsed facts of an owned baseline rule that are not part of its match.
IPTABLES_NO_MATCH = frozenset({"comment", "target"})


class IptablesBackend(NetfilterBackend):
    name = "iptables"

    def __init__(self, runner: Runner, options: BackendOptions, files: Optional[HostFiles] = None):
        super().__init__(runner, options)
        self.files = files or LocalFiles()
        prefix = chain_prefix(options.owner)
        self.chain_names = {"inbound": prefix + "-INPUT", "outbound": prefix + "-OUTPUT"}
        self.warnings: List[str] = []
        self._found: Optional[Dict[str, FamilyFound]] = None
        self._unusable: Dict[str, str] = {}
        self._target: Optional[Dict[str, FamilyState]] = None
        self._actions: List[str] = []
        self._scripts: Dict[str, str] = {}

    # -- detection ---------------------------------------------------------------------
    @classmethod
    def detect(cls, runner: Runner) -> Detection:
        missing = [name for name in ("iptables", "iptables-save", "iptables-restore") if not runner.which(name)]
        if missing:
            return Detection(cls.name, False, False, "%s not found" % ", ".join(missing))
        version = runner.run(["iptables", "--version"]).stdout.strip() or "iptables"
        details = []
        active = False
        for family in FAMILIES:
            save = COMMANDS[family][0]
            if family == "ipv6" and not runner.which(save):
                continue
            listed = runner.run([save, "-t", "filter"])
            if listed.rc != 0:
                if family == "ipv4":
                    return Detection(
                        cls.name, False, False, "%s: %s failed: %s" % (version, save, listed.stderr.strip())
                    )
                continue
            saved = parse_save(listed.stdout)
            policy = saved.policies.get("INPUT", "ACCEPT")
            # Our own tagged jump alone does not make a host filter.
            count = sum(
                1 for chain, tokens in saved.rules if chain == "INPUT" and not _is_tagged_jump(summarise(tokens))
            )
            active = active or policy != "ACCEPT" or count > 0
            details.append("%s INPUT policy %s, %d rules" % (LABELS[family], policy, count))
        return Detection(cls.name, True, active, "%s; %s" % (version, "; ".join(details)))

    # -- reading -----------------------------------------------------------------------
    def _load(self) -> Dict[str, FamilyFound]:
        if self._found is None:
            found: Dict[str, FamilyFound] = {}
            self._unusable = {}
            for family in FAMILIES:
                save = COMMANDS[family][0]
                listed = self.runner.run([save, "-t", "filter"])
                if listed.rc != 0:
                    if family == "ipv4":
                        raise BackendError(
                            "iptables: %s -t filter failed (rc=%d)" % (save, listed.rc),
                            stderr=listed.stderr.strip(),
                            command=[save, "-t", "filter"],
                        )
                    self._unusable[family] = listed.stderr.strip() or "rc=%d" % listed.rc
                    continue
                found[family] = self._inspect(family, parse_save(listed.stdout))
            self._found = found
        return self._found

    def _inspect(self, family: str, saved: SavedFilter) -> FamilyFound:
        owner = self.options.owner
        directions = {name: direction for direction, name in self.chain_names.items()}
        found = FamilyFound(policy=saved.policies.get("INPUT", "ACCEPT"))
        parts: Dict[str, Dict[str, Any]] = {
            name: {"keeps": set(), "fragments": [], "unknown": 0} for name in saved.chains if name in directions
        }
        for chain, tokens in saved.rules:
            facts = summarise(tokens)
            if chain in parts:
                self._classify(family, directions[chain], facts, parts[chain], found)
                continue
            tag = parse_comment(owner, (facts or {}).get("comment"))
            if tag is None and facts is None:
                # Not parsable, so look for our tag in the raw tokens before calling it foreign.
                raw = tokens[tokens.index("--comment") + 1] if "--comment" in tokens[:-1] else None
                tag = parse_comment(owner, raw)
            if tag is None:
                continue
            if tag.kind == "jump" and _is_tagged_jump(facts) and facts["target"] in directions:
                found.jumps.append((chain, facts["target"]))
                found.jump_tokens.append(list(tokens))
            else:
                found.strays.append((chain, list(tokens)))
        for name, part in parts.items():
            found.chains[name] = ChainContent.build(part["keeps"], part["fragments"], part["unknown"])
        return found

    def _classify(
        self, family: str, direction: str, facts: Optional[Dict[str, Any]], part: Dict[str, Any], found: FamilyFound
    ) -> None:
        tag = parse_comment(self.options.owner, (facts or {}).get("comment"))
        if facts is None or tag is None or facts.get("target") != "ACCEPT":
            part["unknown"] += 1
            return
        if (
            tag.kind == "rule"
            and facts.get("protocol") in ("tcp", "udp")
            and "port" in facts
            and not {"ct", "iif"} & set(facts)
            and facts.get("option", PEER_OPTION[direction]) == PEER_OPTION[direction]
        ):
            low, high = facts["port"]
            peers = facts.get("peers", ())
            fragment = Fragment(
                direction, facts["protocol"], low, high, family if peers else "", peers, tag.key, tag.purpose
            )
            part["fragments"].append(fragment)
            found.fragments.append(fragment)
            return
        keep = (
            keep_token(tag.key, facts, IPTABLES_NO_MATCH, "iif")
            if tag.kind == BASELINE and direction == "inbound"
            else None
        )
        if keep is None:
            part["unknown"] += 1
        else:
            part["keeps"].add(keep)

    def read_owned(self) -> List[Rule]:
        return assemble(frag for found in self._load().values() for frag in found.fragments)

    # -- baseline and lockout facts for the module --------------------------------------
    def baseline_state(self) -> Tuple[List[int], bool]:
        found = self._load()
        keeps = frozenset(k for state in found.values() for k in state.keeps())
        deny = any(state.policy not in (None, "ACCEPT") for state in found.values())
        return keep_ports(keeps), deny

    # -- planning ----------------------------------------------------------------------
    def _target_state(self, rules: Sequence[Rule], present: bool) -> Dict[str, FamilyState]:
        found = self._load()
        enforce = present and self.management_ports is not None
        if enforce:
            keeps = keep_set(self.management_ports or ())
        elif present:
            keeps = frozenset(k for state in found.values() for k in state.keeps())
        else:
            keeps = frozenset()
        for family, reason in sorted(self._unusable.items()):
            needs = [r.describe() for r in rules if family in r.families() and r.peers_for(family)]
            if needs:
                raise BackendError(
                    "iptables: %s is unusable here, but rules name %s peers: %s"
                    % (LABELS[family], family, "; ".join(needs)),
                    stderr=reason,
                )
            if present and rules:
                self.warnings.append("%s is unusable here (%s): %s is not managed" % (LABELS[family], reason, family))
        target: Dict[str, FamilyState] = {}
        for family, current in found.items():
            state = FamilyState(policy="DROP" if enforce else current.policy)
            for direction in DIRECTIONS:
                fragments = [
                    frag
                    for rule in rules
                    if rule.direction == direction
                    for frag in fragments_for(rule, (family,), split_peers=True)
                ]
                direction_keeps = keeps if direction == "inbound" else frozenset()
                if fragments or direction_keeps:
                    name = self.chain_names[direction]
                    state.chains[name] = ChainContent.build(direction_keeps, fragments)
                    state.jumps.append((BUILTIN[direction], name))
            target[family] = state
        return target

    def pending(self, plan: Plan, state: str = "present") -> List[str]:
        present = state == "present"
        self._prepare(plan.result if present else [], present)
        return list(self._actions)

    def _prepare(self, rules: Sequence[Rule], present: bool) -> None:
        self.warnings = []
        found = self._load()
        self._target = self._target_state(rules, present)
        self._actions, self._scripts = [], {}
        for family in FAMILIES:
            if family not in found:
                continue
            actions, script = self._transition(family, found[family], self._target[family])
            self._actions.extend(actions)
            if script:
                self._scripts[family] = script

    def _transition(self, family: str, found: FamilyFound, target: FamilyState) -> Tuple[List[str], str]:
        label = LABELS[family]
        actions: List[str] = []
        declare: List[str] = []
        delete: List[str] = []
        append: List[str] = []
        insert: List[str] = []
        remove: List[str] = []
        if target.policy and found.policy != target.policy:
            actions.append("%s: set INPUT policy to %s" % (label, target.policy))
            declare.append(":INPUT %s [0:0]" % target.policy)
        for name, content in sorted(target.chains.items()):
            current = found.chains.get(name)
            if current == content:
                continue
            if current is None:
                actions.append("%s: create chain %s with %d rules" % (label, name, len(content)))
            else:
                actions.append(
                    "%s: replace the %d rules of chain %s with %d rules" % (label, len(current), name, len(content))
                )
            # With --noflush, declaring a chain creates it or empties it.
            declare.append(":%s - [0:0]" % name)
            append.extend(self._chain_lines(family, name, content))
        wanted = set(target.jumps)
        kept = set()
        for jump, tokens in zip(found.jumps, found.jump_tokens):
            if jump in wanted and jump not in kept:
                kept.add(jump)
                continue
            actions.append("%s: delete jump %s -> %s" % (label, *jump))
            delete.append("-D %s %s" % (jump[0], render_tokens(tokens)))
        for chain, tokens in found.strays:
            actions.append("%s: delete stray owned rule in %s" % (label, chain))
            delete.append("-D %s %s" % (chain, render_tokens(tokens)))
        for jump in target.jumps:
            if jump not in kept:
                actions.append("%s: add jump %s -> %s" % (label, *jump))
                insert.append("-I %s 1 -m comment --comment %s -j %s" % (jump[0], self.options.owner, jump[1]))
        for name in sorted(found.chains):
            if name not in target.chains:
                actions.append("%s: delete chain %s" % (label, name))
                declare.append(":%s - [0:0]" % name)
                remove.append("-X %s" % name)
        body = declare + delete + append + insert + remove
        if not body:
            return actions, ""
        return actions, "\n".join(["*filter", *body, "COMMIT", ""])

    def _chain_lines(self, family: str, name: str, content: ChainContent) -> List[str]:
        owner = self.options.owner
        head = "-A %s " % name
        lines = []
        if KEEP_ESTABLISHED in content.keeps:
            lines.append(
                head
                + '-m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "%s" -j ACCEPT'
                % keep_comment(owner, KEEP_ESTABLISHED)
            )
        if KEEP_LOOPBACK in content.keeps:
            lines.append(head + '-i lo -m comment --comment "%s" -j ACCEPT' % keep_comment(owner, KEEP_LOOPBACK))
        for port in keep_ports(content.keeps):
            lines.append(
                head
                + '-p tcp -m tcp --dport %d -m comment --comment "%s" -j ACCEPT'
                % (port, keep_comment(owner, KEEP_MANAGEMENT))
            )
        for frag in content.fragments:
            parts = []
            if frag.peers:
                parts.append("%s %s" % (PEER_OPTION[frag.direction], frag.peers[0]))
            port = str(frag.port_low) if frag.port_low == frag.port_high else "%d:%d" % (frag.port_low, frag.port_high)
            parts.append("-p %s -m %s --dport %s" % (frag.protocol, frag.protocol, port))
            parts.append('-m comment --comment "%s" -j ACCEPT' % rule_comment(owner, frag.key, frag.purpose))
            lines.append(head + " ".join(parts))
        return lines

    # -- changing ----------------------------------------------------------------------
    def _commit(self) -> None:
        found = self._load()
        target = self._target or {}
        done: List[str] = []
        for family in FAMILIES:
            script = self._scripts.get(family)
            if not script:
                continue
            try:
                self.run([COMMANDS[family][1], "--noflush"], data=script)
            except BackendError as exc:
                restored = self._roll_back(done, found, target)
                raise BackendError(
                    "%s; %s" % (exc, "the previous owned rules were put back" if restored else "nothing was changed"),
                    stderr=exc.stderr,
                    command=exc.command,
                ) from None
            done.append(family)
        self._found = None

    def _roll_back(
        self, families: Sequence[str], found: Dict[str, FamilyFound], target: Dict[str, FamilyState]
    ) -> bool:
        for family in families:
            now = target[family]
            as_found = FamilyFound(
                chains=dict(now.chains),
                jumps=list(now.jumps),
                policy=now.policy,
                jump_tokens=[["-m", "comment", "--comment", self.options.owner, "-j", t] for _c, t in now.jumps],
            )
            previous = found[family]
            _actions, script = self._transition(
                family, as_found, FamilyState(dict(previous.chains), list(previous.jumps), previous.policy)
            )
            if script:
                self.run([COMMANDS[family][1], "--noflush"], data=script)
        return bool(families)

    # -- diff text ---------------------------------------------------------------------
    def describe_state(self, after: bool) -> List[str]:
        states: Dict[str, FamilyState] = (
            dict(self._target) if after and self._target is not None else dict(self._load())
        )
        lines = []
        for family in FAMILIES:
            state = states.get(family)
            if state is None:
                continue
            lines.extend("jump %s %s -> %s" % (LABELS[family], *jump) for jump in sorted(set(state.jumps)))
            lines.append("policy %s INPUT %s" % (LABELS[family], state.policy or "ACCEPT"))
            if state.keeps():
                lines.append("baseline keeps %s: %s" % (LABELS[family], describe_keeps(state.keeps())))
        return lines

    # -- persistence -------------------------------------------------------------------
    def _persist_files(self) -> Dict[str, str]:
        found = self._load()
        if self.files.isdir(PERSISTENT_DIR):
            return {f: p for f, p in PERSISTENT_FILES.items() if f in found}
        return {f: p for f, p in SERVICES_FILES.items() if f in found and self.files.read(p) is not None}

    def _stale_files(self) -> Dict[str, str]:
        """Files whose owned part differs from the target: only those are rewritten."""
        target = self._target if self._target is not None else {}
        stale = {}
        for family, path in sorted(self._persist_files().items()):
            wanted = target.get(family, FamilyState())
            text = self.files.read(path)
            saved = self._inspect(family, parse_save(text or ""))
            if text is None or saved.view() != wanted.view():
                if text is None and wanted.view() == FamilyState().view():
                    continue
                stale[family] = path
        return stale

    def persist_pending(self, plan: Plan, state: str = "present") -> List[str]:
        if self._target is None:
            self.pending(plan, state)
        if not self._persist_files():
            self._note_no_persistence()
        return [path for _family, path in sorted(self._stale_files().items())]

    def _note_no_persistence(self) -> None:
        note = "iptables rules are not persisted: neither %s nor %s exists (install netfilter-persistent)" % (
            PERSISTENT_DIR,
            SERVICES_FILES["ipv4"],
        )
        if note not in self.warnings:
            self.warnings.append(note)

    def persist(self) -> List[str]:
        written = []
        for family, path in sorted(self._stale_files().items()):
            # The whole ruleset as iptables-save prints it, as netfilter-persistent saves it.
            dump = self.run([COMMANDS[family][0]]).stdout
            self.files.write(path, dump)
            written.append(path)
        if not self._persist_files():
            self._note_no_persistence()
        return written
