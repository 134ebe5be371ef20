# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iptables dialect: owned BIOSTAR-INPUT/BIOSTAR-OUTPUT chains behind tagged jumps.

Works with whichever variant the ``iptables`` binary is (legacy or nf_tables). The state
is read with ``iptables-save``; each family changes in one ``iptables-restore --noflush``
transaction. If the second family fails, the engine's restore puts the first back, so a
failure leaves the previous owned rules on both. The shared logic is in ``netfilter``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.backends import base, netfilter, persistence
from ansible_collections.biostar.hardening.plugins.module_utils.backends.netfilter import (
    Found,
    NetfilterBackend,
    State,
    Step,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.tags import Fragment, rule_comment
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import FAMILIES, RuleError, parse_peers

DEFAULT_OWNER = "biostar-hardening"
COMMANDS = {"ipv4": ("iptables-save", "iptables-restore"), "ipv6": ("ip6tables-save", "ip6tables-restore")}
LABELS = {"ipv4": "iptables", "ipv6": "ip6tables"}
BUILTIN = {"inbound": "INPUT", "outbound": "OUTPUT"}
PEER_OPTION = {"inbound": "-s", "outbound": "-d"}
TERMINAL_TARGETS = ("ACCEPT", "DROP", "REJECT", "RETURN", "LOG")
MATCH_MODULES = ("tcp", "udp", "comment", "conntrack", "state")
TABLE = "filter"


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


# One word of an iptables-save line: unquoted characters and double-quoted strings, joined.
WORD = re.compile(r'(?:"[^"]*"|[^\s"])+')


def split_words(line: str) -> List[str]:
    """``shlex.split(line)``, about 20 times faster on what iptables-save prints.

    iptables-save quotes only with double quotes (comments, for example) and escapes with a
    backslash only a quote or a backslash inside them. A line with no backslash and no single
    quote and with its double quotes paired splits like shlex: words at whitespace, quotes
    removed. Any other line goes to shlex itself.
    """
    if "\\" in line or "'" in line or line.count('"') % 2:
        return shlex.split(line)
    return [word.replace('"', "") for word in WORD.findall(line)]


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
                tokens = split_words(line)
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
    names = {"-p": "protocol", "--comment": "comment", "-i": "iif", "-j": "target"}
    for index in range(0, len(tokens), 2):
        option, value = tokens[index], tokens[index + 1] if index + 1 < len(tokens) else None
        if value is None:
            return None
        if option in names:
            facts[names[option]] = value
        elif option in ("-s", "-d") and "peers" not in facts:
            try:
                facts["peers"], facts["option"] = parse_peers([value]), option
            except RuleError:
                return None
        elif option == "--dport" and _port(value):
            facts["port"] = _port(value)
        elif option in ("--ctstate", "--state"):
            facts["ct"] = tuple(sorted(value.lower().split(",")))
        elif option != "-m" or value not in MATCH_MODULES:
            return None
    return facts


def _is_tagged_jump(facts: Optional[Dict[str, Any]]) -> bool:
    return bool(facts) and set(facts) == {"comment", "target"} and facts["target"] not in TERMINAL_TARGETS


def line_of(family: str, tokens: Sequence[str]) -> netfilter.Line:
    facts = summarise(tokens)
    if facts is None:
        # Not parsable, but our tag in the raw tokens still makes it ours.
        return netfilter.Line(
            tokens[tokens.index("--comment") + 1] if "--comment" in tokens[:-1] else None, known=False
        )
    target = facts.get("target", "")
    verdict = "accept" if target == "ACCEPT" else "jump" if target and target not in TERMINAL_TARGETS else target
    side = {v: k for k, v in PEER_OPTION.items()}.get(facts.get("option", ""), "")
    return netfilter.Line.of(
        facts.get("comment"), facts, verdict=verdict, family=family if "peers" in facts else "", side=side
    )


def render_tokens(tokens: Sequence[str]) -> str:
    out = []
    for token in tokens:
        if token and re.match(r"^[A-Za-z0-9_.:/,!+=@-]+$", token):
            out.append(token)
        else:
            out.append('"%s"' % token.replace("\\", "\\\\").replace('"', '\\"'))
    return " ".join(out)


@dataclass(frozen=True)
class IptHost:
    """What the iptables dialect knows beyond the owned state."""

    unusable: Dict[str, str]  # family -> why its command failed
    saved: Dict[str, Tuple[str, Optional[str]]]  # family -> persistence path, its text


class IptablesBackend(NetfilterBackend):
    name = "iptables"
    drop = "DROP"
    split_peers = True
    texts: ClassVar[Dict[str, str]] = dict(
        netfilter.TEXTS, policy="set {where} policy to {value}", unstray="delete stray owned rule in {where}"
    )

    def __init__(self, runner: base.Runner, options: base.BackendOptions, files: Optional[base.HostFiles] = None):
        super().__init__(runner, options, files)
        prefix = chain_prefix(options.owner)
        self.chain_names = {"inbound": prefix + "-INPUT", "outbound": prefix + "-OUTPUT"}

    @classmethod
    def detect(cls, runner: base.Runner) -> base.Detection:
        missing = [name for name in ("iptables", "iptables-save", "iptables-restore") if not runner.which(name)]
        if missing:
            return base.Detection(cls.name, False, False, "%s not found" % ", ".join(missing))
        version = runner.run(["iptables", "--version"]).stdout.strip() or "iptables"
        details = []
        active = False
        for family in FAMILIES:
            save = COMMANDS[family][0]
            if family == "ipv6" and not runner.which(save):
                continue
            listed = runner.run([save, "-t", TABLE])
            if listed.rc != 0:
                if family == "ipv4":
                    detail = "%s: %s failed: %s" % (version, save, listed.stderr.strip())
                    return base.Detection(cls.name, False, False, detail)
                continue
            saved = parse_save(listed.stdout)
            policy = saved.policies.get("INPUT", "ACCEPT")
            # Our own tagged jump alone does not make a host filter.
            count = sum(
                1 for chain, tokens in saved.rules if chain == "INPUT" and not _is_tagged_jump(summarise(tokens))
            )
            active = active or policy != "ACCEPT" or count > 0
            details.append("%s INPUT policy %s, %d rules" % (LABELS[family], policy, count))
        return base.Detection(cls.name, True, active, "%s; %s" % (version, "; ".join(details)))

    # -- parse -------------------------------------------------------------------------
    def _load(self) -> Found:
        texts, unusable = {}, {}
        for family in FAMILIES:
            save = COMMANDS[family][0]
            listed = self.runner.run([save, "-t", TABLE])
            if listed.rc == 0:
                texts[family] = listed.stdout
            elif family == "ipv4":
                message = "iptables: %s -t filter failed (rc=%d)" % (save, listed.rc)
                raise base.BackendError(message, stderr=listed.stderr.strip(), command=[save, "-t", TABLE])
            else:
                unusable[family] = listed.stderr.strip() or "rc=%d" % listed.rc
        saved = {}
        if self.options.persist:
            for family, path in persistence.iptables_layout(self.files, list(texts)).items():
                saved[family] = (path, self.files.read(path))
        return self._parse(texts, IptHost(unusable, saved))

    def _parse(self, texts: Dict[str, str], host: Optional[IptHost] = None) -> Found:
        names = {name: direction for direction, name in self.chain_names.items()}
        lines, owned, policies = [], [], {}
        for family, text in texts.items():
            saved = parse_save(text)
            policies[(family, TABLE, "INPUT")] = saved.policies.get("INPUT", "ACCEPT")
            owned.extend((family, TABLE, name) for name in saved.chains if name in names)
            lines.extend(((family, TABLE, chain), line_of(family, tokens), tokens) for chain, tokens in saved.rules)
        return netfilter.collect(self.options.owner, names, owned, lines, Found(State(policies=policies), host=host))

    def _places(self, found: Found, direction: str) -> List[netfilter.Place]:
        usable = [f for f in FAMILIES if f not in found.host.unusable]
        return [netfilter.Place(family, TABLE, (BUILTIN[direction],), (family,)) for family in usable]

    def _notes(self, found: Found, target: base.Target) -> List[str]:
        notes = []
        for family, reason in sorted(found.host.unusable.items()):
            needs = [r.describe() for r in target.rules if family in r.families() and r.peers_for(family)]
            if needs:
                message = "iptables: %s is unusable here, but rules name %s peers: %s"
                raise base.BackendError(message % (LABELS[family], family, "; ".join(needs)), stderr=reason)
            if target.present and target.rules:
                notes.append("%s is unusable here (%s): %s is not managed" % (LABELS[family], reason, family))
        if self.options.persist and not found.host.saved:
            notes.append(persistence.NOT_PERSISTED)
        return notes

    # -- render ------------------------------------------------------------------------
    def _steps(self, found: Found, target: State) -> List[Step]:
        usable = [family for family in FAMILIES if family not in found.host.unusable]
        return [step for f in usable for step in netfilter.transition(found.only(f), target.only(f))]

    def _where(self, key: Sequence[str]) -> str:
        return key[2]

    def _say(self, step: Step) -> str:
        return "%s: %s" % (LABELS[step.key[0]], super()._say(step))

    def _chain_lines(self, name: str, content: netfilter.ChainContent) -> List[str]:
        owner = self.options.owner
        head = "-A %s " % name
        words = {
            netfilter.KEEP_ESTABLISHED: "-m conntrack --ctstate RELATED,ESTABLISHED",
            netfilter.KEEP_LOOPBACK: "-i lo",
        }

        def keep(kind: str, port: int) -> str:
            match = words.get(kind) or "-p tcp -m tcp --dport %d" % port
            return head + '%s -m comment --comment "%s" -j ACCEPT' % (match, netfilter.keep_comment(owner, kind))

        def rule(frag: Fragment) -> str:
            peer = "%s %s " % (PEER_OPTION[frag.direction], frag.peers[0]) if frag.peers else ""
            port = str(frag.port_low) if frag.port_low == frag.port_high else "%d:%d" % (frag.port_low, frag.port_high)
            comment = rule_comment(owner, frag.key, frag.purpose)
            text = '%s-p %s -m %s --dport %s -m comment --comment "%s" -j ACCEPT'
            return head + text % (peer, frag.protocol, frag.protocol, port, comment)

        return netfilter.content_lines(content, keep, rule)

    def _render(self, steps: Sequence[Step]) -> Tuple[netfilter.Command, ...]:
        commands = []
        for family in FAMILIES:
            mine = [step for step in steps if step.key[0] == family]
            policy = [":%s %s [0:0]" % (s.key[2], s.value) for s in mine if s.op == "policy"]
            # With --noflush, declaring a chain creates it or empties it.
            declare = policy + [":%s - [0:0]" % s.key[2] for s in mine if s.op in ("fill", "drop")]
            delete = ["-D %s %s" % (s.key[2], render_tokens(s.ref)) for s in mine if s.op in ("unjump", "unstray")]
            append = [line for s in mine if s.op == "fill" for line in self._chain_lines(s.key[2], s.value)]
            insert = [self._jump("-I %s 1" % s.key[2], s.key[3]) for s in mine if s.op == "jump"]
            remove = ["-X %s" % s.key[2] for s in mine if s.op == "drop"]
            body = declare + delete + append + insert + remove
            if body:
                commands.append(((COMMANDS[family][1], "--noflush"), "\n".join(["*filter", *body, "COMMIT", ""])))
        return tuple(commands)

    def _jump(self, where: str, target: str) -> str:
        return "%s -m comment --comment %s -j %s" % (where, render_tokens([self.options.owner]), target)

    def _structure(self, found: Found, state: State) -> List[str]:
        lines = []
        for family in FAMILIES:
            if family in found.host.unusable:
                continue
            mine = state.only(family)
            lines.extend("jump %s %s -> %s" % (LABELS[family], j[2], j[3]) for j in sorted(set(mine.jumps)))
            lines.append("policy %s INPUT %s" % (LABELS[family], mine.policies.get((family, TABLE, "INPUT"), "ACCEPT")))
            if mine.keeps():
                lines.append("baseline keeps %s: %s" % (LABELS[family], netfilter.describe_keeps(mine.keeps())))
        return lines

    # -- persist -----------------------------------------------------------------------
    def _files(self, found: Found, state: State) -> Tuple[List[base.FileChange], List[str]]:
        """The whole ruleset as iptables-save prints it, only where a file's owned part is stale."""
        changes = []
        for family, (path, text) in sorted(found.host.saved.items()):
            mine = state.over(found.state).only(family)
            if mine.empty() if text is None else self._view(text, family) == self._view(mine):
                continue
            # The whole ruleset (every table) only when the file is written: a rerun skips it.
            dump = self.run([COMMANDS[family][0]]).stdout
            changes.append(base.FileChange(path, self._splice(dump, mine), text))
        return changes, []

    def _view(self, state: Any, family: str = "") -> Tuple[Any, ...]:
        """What persistence compares: the policy only matters once a baseline is involved."""
        if isinstance(state, str):
            state = self._parse({family: state}).state
        policy = next(iter(state.policies.values()), None) if state.keeps() else None
        return (dict(state.chains), sorted(state.jumps), policy)

    def _splice(self, dump: str, state: State) -> str:
        chains = {key[2]: self._chain_lines(key[2], content) for key, content in sorted(state.chains.items())}
        jumps: Dict[str, List[str]] = {}
        for jump in state.jumps:
            jumps.setdefault(jump[2], []).append(self._jump("-A %s" % jump[2], jump[3]))
        policies = {key[2]: policy for key, policy in state.policies.items()}
        names = list(self.chain_names.values())
        return persistence.splice(dump, self.options.owner, names, chains, jumps, policies)
