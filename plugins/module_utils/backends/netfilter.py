# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One netfilter backend, two dialects (nftables, iptables).

Both keep the owned rules in owned chains reached by jumps tagged with the owner (see
``tags``). This file holds everything the dialects share: reading owned chain content
from parsed lines, the target state a run asks for (rules, baseline keeps, policies),
the steps from one state to another, and read/plan/execute/restore. A dialect only
parses its listing into ``Line`` values (``_load``), says where owned chains go
(``_places``), and renders steps as commands (``_render``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    Backend,
    BackendError,
    Changeset,
    FileChange,
    Snapshot,
    Target,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.tags import (
    BASELINE,
    Fragment,
    assemble,
    fragments_for,
    parse_comment,
)
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import DIRECTIONS, Rule

KEEP_ESTABLISHED = "established"
KEEP_LOOPBACK = "loopback"
KEEP_MANAGEMENT = "management"

ChainKey = Tuple[str, str, str]  # family, table, chain
Jump = Tuple[str, str, str, str]  # family, table, chain, target chain
Command = Tuple[Tuple[str, ...], str]  # arguments, standard input


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
    named = ((KEEP_ESTABLISHED, "established/related"), (KEEP_LOOPBACK, "loopback"))
    return ", ".join([word for kind, word in named if kind in tokens] + ["tcp/%d" % p for p in keep_ports(tokens)])


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


def content_lines(content: ChainContent, keep: Callable[[str, int], str], rule: Callable[[Fragment], str]) -> List[str]:
    """A chain's lines in one order for both dialects: keeps first, then the owned rules."""
    lines = [keep(kind, 0) for kind in (KEEP_ESTABLISHED, KEEP_LOOPBACK) if kind in content.keeps]
    lines.extend(keep(KEEP_MANAGEMENT, port) for port in keep_ports(content.keeps))
    lines.extend(rule(frag) for frag in content.fragments)
    return lines


@dataclass(frozen=True)
class Line:
    """One rule line in words both dialects share.

    ``known`` is False when the line holds anything our rules never write. ``side`` is
    the direction whose peer field an address match uses (source: inbound).
    """

    comment: Optional[str] = None
    known: bool = True
    verdict: str = ""  # "accept", "jump" or another verdict
    target: str = ""
    protocol: str = ""
    port: Optional[Tuple[int, int]] = None
    family: str = ""
    peers: Tuple[str, ...] = ()
    side: str = ""
    ct: Tuple[str, ...] = ()
    iif: str = ""

    @classmethod
    def of(cls, comment: Optional[str], facts: Mapping[str, Any], **fields: Any) -> Line:
        """A Line from a dialect's parsed facts (in the shared names); ``fields`` add to them."""
        names = ("verdict", "target", "protocol", "port", "family", "peers", "ct", "iif")
        return cls(comment, True, **dict({k: facts[k] for k in names if k in facts}, **fields))

    def matches(self) -> FrozenSet[str]:
        named = (("protocol", self.protocol), ("port", self.port), ("peers", self.peers), ("ct", self.ct))
        return frozenset(name for name, value in (*named, ("iif", self.iif)) if value)

    def plain_jump(self) -> bool:
        return self.known and self.verdict == "jump" and not self.matches()


def keep_token(kind: str, line: Line) -> Optional[str]:
    """Recognise an owned baseline rule from its matches."""
    used = line.matches()
    if kind == KEEP_ESTABLISHED and used == {"ct"} and line.ct == ("established", "related"):
        return KEEP_ESTABLISHED
    if kind == KEEP_LOOPBACK and used == {"iif"} and line.iif == "lo":
        return KEEP_LOOPBACK
    if kind == KEEP_MANAGEMENT and used == {"protocol", "port"} and line.protocol == "tcp" and line.port:
        low, high = line.port
        if low == high:
            return "%s:%d" % (KEEP_MANAGEMENT, low)
    return None


@dataclass(frozen=True)
class State:
    """Owned objects, in one shape for what is and what should be.

    ``policies``: host base chains' policies (in a target: only those the run sets);
    ``bases``: the owned tables' base chains, (family, hook) -> policy (nftables only).
    """

    chains: Mapping[ChainKey, ChainContent] = field(default_factory=dict)
    jumps: Tuple[Jump, ...] = ()
    policies: Mapping[ChainKey, str] = field(default_factory=dict)
    bases: Mapping[Tuple[str, str], str] = field(default_factory=dict)

    def keeps(self) -> FrozenSet[str]:
        return frozenset(k for content in self.chains.values() for k in content.keeps)

    def families(self) -> List[str]:
        return sorted({family for family, _hook in self.bases})

    def empty(self) -> bool:
        return not (self.bases or self.chains or self.jumps)

    def only(self, family: str) -> State:
        return State(
            {k: v for k, v in self.chains.items() if k[0] == family},
            tuple(j for j in self.jumps if j[0] == family),
            {k: v for k, v in self.policies.items() if k[0] == family},
        )

    def over(self, before: State) -> State:
        """This target with the policies it leaves alone as they were ``before``."""
        return replace(self, policies={**before.policies, **self.policies})


@dataclass(frozen=True)
class Found:
    """What the host has: the owned state, how to delete each part, and the dialect's extras."""

    state: State = field(default_factory=State)
    refs: Tuple[Any, ...] = ()  # one per state.jumps: an nft handle or iptables-save tokens
    strays: Tuple[Tuple[ChainKey, Any], ...] = ()
    fragments: Tuple[Fragment, ...] = ()
    tables: Tuple[str, ...] = ()  # families of the owned tables (nftables)
    host: Any = None  # the dialect's own facts (host base chains, unusable families, files)

    def only(self, family: str) -> Found:
        refs = tuple(ref for jump, ref in zip(self.state.jumps, self.refs) if jump[0] == family)
        strays = tuple(stray for stray in self.strays if stray[0][0] == family)
        return Found(self.state.only(family), refs, strays, host=self.host)


def collect(
    owner: str, names: Mapping[str, str], owned: Iterable[ChainKey], lines: Iterable[Any], frame: Found
) -> Found:
    """Sort parsed ``(chain key, Line, ref)`` lines into owned chains, jumps and strays.

    ``names``: owned chain name -> direction; ``owned``: the owned chains that exist.
    """
    parts: Dict[ChainKey, Tuple[set, list, list]] = {key: (set(), [], []) for key in owned}
    jumps, refs, strays = [], [], []
    for key, line, ref in lines:
        tag = parse_comment(owner, line.comment)
        if key in parts:
            keeps, fragments, unknown = parts[key]
            found = _classify(key[0], names[key[2]], tag, line)
            if isinstance(found, Fragment):
                fragments.append(found)
            elif found is None:
                unknown.append(line)
            else:
                keeps.add(found)
        elif tag is not None and tag.kind == "jump" and line.plain_jump() and line.target in names:
            jumps.append((*key, line.target))
            refs.append(ref)
        elif tag is not None:
            strays.append((key, ref))
    chains = {key: ChainContent.build(k, f, len(u)) for key, (k, f, u) in parts.items()}
    every = tuple(frag for _k, fragments, _u in parts.values() for frag in fragments)
    state = replace(frame.state, chains=chains, jumps=tuple(jumps))
    return replace(frame, state=state, refs=tuple(refs), strays=tuple(strays), fragments=every)


def _classify(family: str, direction: str, tag: Any, line: Line) -> Any:
    """A line of an owned chain: its Fragment, its keep token, or None (not ours in shape)."""
    if tag is None or not line.known or line.verdict != "accept":
        return None
    if tag.kind == "rule" and line.protocol in ("tcp", "udp") and line.port and not (line.ct or line.iif):
        if line.peers and line.side != direction:
            return None
        low, high = line.port
        return Fragment(direction, line.protocol, low, high, line.family, line.peers, tag.key, tag.purpose)
    return keep_token(tag.key, line) if tag.kind == BASELINE and direction == "inbound" else None


@dataclass(frozen=True)
class Place:
    """Where an owned chain goes: its table, the base chains that jump to it, the families it handles.

    ``hook`` is set when the base chain is the owned table's own (created by us).
    """

    family: str
    table: str
    bases: Tuple[str, ...]
    families: Tuple[str, ...]
    hook: str = ""


@dataclass(frozen=True)
class Step:
    """One change: ``op`` names it; ``key`` is what it changes."""

    op: str  # table, base, fill, policy, unjump, unstray, jump, drop, unbase, untable
    key: Tuple[str, ...]
    value: Any = None
    ref: Any = None
    size: Optional[int] = None  # a filled chain's line count before


TEXTS = {
    "table": "create table {where}",
    "base": "create base chain {where} (policy {value})",
    "policy": "set policy of {where} to {value}",
    "fill": "create chain {where} with {count} rules",
    "refill": "replace the {size} rules of chain {where} with {count} rules",
    "unjump": "delete jump {where} -> {target}",
    "unstray": "delete stray owned rule {where} handle {ref}",
    "jump": "add jump {where} -> {target}",
    "drop": "delete chain {where}",
    "unbase": "delete base chain {where}",
    "untable": "delete table {where}",
}


def transition(found: Found, target: State, owned_table: str = "") -> List[Step]:
    """The steps from what is to ``target``; nothing inside an owned table that goes anyway."""
    now = found.state
    doomed = [family for family in found.tables if family not in target.families()]

    def gone(key: Sequence[str]) -> bool:
        return key[1] == owned_table and key[0] in doomed

    steps = [Step("table", (family, owned_table)) for family in target.families() if family not in found.tables]
    for (family, hook), policy in sorted(target.bases.items()):
        current = now.bases.get((family, hook))
        if current != policy:
            steps.append(Step("base" if current is None else "policy", (family, owned_table, hook), policy))
    for key, content in sorted(target.chains.items()):
        current_content = now.chains.get(key)
        if current_content != content:
            size = None if current_content is None else len(current_content)
            steps.append(Step("fill", key, content, size=size))
    steps.extend(Step("policy", k, p) for k, p in sorted(target.policies.items()) if now.policies.get(k) != p)
    wanted, kept = set(target.jumps), set()
    for jump, ref in zip(now.jumps, found.refs):
        if jump in wanted and jump not in kept:
            kept.add(jump)
        elif not gone(jump):
            steps.append(Step("unjump", jump, ref=ref))
    steps.extend(Step("unstray", key, ref=ref) for key, ref in found.strays if not gone(key))
    steps.extend(Step("jump", jump) for jump in target.jumps if jump not in kept)
    steps.extend(Step("drop", key) for key in sorted(now.chains) if key not in target.chains and not gone(key))
    for family, hook in sorted(now.bases):
        if (family, hook) not in target.bases and not gone((family, owned_table)):
            steps.append(Step("unbase", (family, owned_table, hook)))
    return steps + [Step("untable", (family, owned_table)) for family in doomed]


class NetfilterBackend(Backend):
    """read/plan/execute/restore for both dialects; see the module docstring for the hooks."""

    supports_baseline = True
    drop = "drop"  # the dialect's word for a dropping policy
    texts = TEXTS
    owned_table = ""
    split_peers = False

    # -- the dialect's part ------------------------------------------------------------
    def _load(self) -> Found:
        raise NotImplementedError

    def _places(self, found: Found, direction: str) -> List[Place]:
        raise NotImplementedError

    def _render(self, steps: Sequence[Step]) -> Tuple[Command, ...]:
        raise NotImplementedError

    def _structure(self, found: Found, state: State) -> List[str]:
        raise NotImplementedError

    def _notes(self, found: Found, target: Target) -> List[str]:
        """Warnings for this run; raise BackendError when the target cannot be carried out."""
        return []

    def _files(self, found: Found, state: State) -> Tuple[List[FileChange], List[str]]:
        """Persistence: the files that differ from the target ``state``, and warnings."""
        return [], []

    def _steps(self, found: Found, target: State) -> List[Step]:
        return transition(found, target, self.owned_table)

    def _where(self, key: Sequence[str]) -> str:
        return " ".join(key)

    def _say(self, step: Step) -> str:
        op = "refill" if step.op == "fill" and step.size is not None else step.op
        where = self._where(step.key[:3])
        target = step.key[3] if len(step.key) > 3 else ""
        count = len(step.value) if step.op == "fill" else 0
        values = dict(where=where, value=step.value, ref=step.ref, size=step.size, count=count, target=target)
        return self.texts[op].format(**values)

    # -- the contract ------------------------------------------------------------------
    def read(self) -> Snapshot:
        found = self._load()
        state = found.state
        inputs = [policy for (_family, hook), policy in state.bases.items() if hook == "input"]
        drops = any(policy.lower() == "drop" for policy in [*state.policies.values(), *inputs])
        owned = tuple(assemble(found.fragments))
        structure = tuple(self._structure(found, state))
        return Snapshot(owned, structure, tuple(keep_ports(state.keeps())), drops, detail=found)

    def plan(self, snapshot: Snapshot, target: Target) -> Changeset:
        found: Found = snapshot.detail
        notes = self._notes(found, target)
        wanted = self.target_state(found, target)
        files: List[FileChange] = []
        if self.options.persist:
            files, more = self._files(found, wanted)
            notes.extend(more)
        return self._changes(found, wanted, files, notes)

    def _changes(self, found: Found, wanted: State, files: Sequence[FileChange], notes: Sequence[str]) -> Changeset:
        steps = self._steps(found, wanted)
        return Changeset(
            actions=tuple(self._say(step) for step in steps),
            files=tuple(files),
            structure=tuple(self._structure(found, wanted.over(found.state))),
            warnings=tuple(notes),
            payload=self._render(steps),
        )

    def execute(self, changes: Changeset) -> Sequence[str]:
        for index, (args, data) in enumerate(changes.payload or ()):
            try:
                self.run(args, data)
            except BackendError as exc:
                done = "nothing was changed" if index == 0 else "the commands before it had run"
                raise BackendError("%s; %s" % (exc, done), exc.stderr, exc.command) from None
        return ()

    def restore(self, snapshot: Snapshot) -> None:
        """Put the snapshot's owned state back exactly, policies included."""
        before: Found = snapshot.detail
        self.execute(self._changes(self._load(), before.state, (), ()))

    def target_state(self, found: Found, target: Target) -> State:
        """The owned state a Target asks for on this host."""
        enforce = target.present and target.baseline is not None
        keeps = keep_set(target.baseline or ()) if enforce else found.state.keeps() if target.present else frozenset()
        chains: Dict[ChainKey, ChainContent] = {}
        jumps: List[Jump] = []
        bases: Dict[Tuple[str, str], str] = {}
        for direction in DIRECTIONS:
            wanted: List[Rule] = [r for r in target.rules if r.direction == direction]
            kept = keeps if direction == "inbound" else frozenset()
            if not wanted and not kept:
                continue
            name = self.chain_names[direction]
            for place in self._places(found, direction):
                fragments = [f for r in wanted for f in fragments_for(r, place.families, self.split_peers)]
                if not fragments and not kept:
                    continue
                chains[(place.family, place.table, name)] = ChainContent.build(kept, fragments)
                jumps.extend((place.family, place.table, base, name) for base in place.bases)
                if place.hook:
                    current = found.state.bases.get((place.family, place.hook)) or "accept"
                    bases[(place.family, place.hook)] = "drop" if enforce and direction == "inbound" else current
        policies = {key: self.drop for key in found.state.policies} if enforce else {}
        return State(chains, tuple(jumps), policies, bases)
