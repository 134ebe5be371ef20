# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ufw backend: owned rules are ufw rules whose comment starts with the owner.

How a rule is kept
    One owned ``Rule`` becomes one ufw rule per peer, or a single ufw rule when it has no
    peers (written for IPv4 and, with ``IPV6=yes``, for IPv6 too). Each carries the comment
    tag of ``tags.py``, ``<owner> <key> <purpose>``, so the per-peer ufw rules can be put
    back together into the Rule they came from. Two owned Rules that need the very same ufw
    rule (same port, same peer) share it, and its comment lists both keys:
    ``<owner> <key1>,<key2> <purpose>``.

Reading
    ufw keeps its rules in ``/etc/ufw/user.rules`` and ``user6.rules`` (``ufw_rules.py``
    reads and writes them), the same whether ufw is active or not. A tagged rule this
    backend would never write (a deny, an interface, an app profile) is left alone.
    ``user6.rules`` counts only with ``IPV6=yes`` in /etc/default/ufw, as for ufw itself;
    with IPv6 off, a rule with IPv6 peers is refused before anything is written.

Writing, in one step
    The plan edits the owned blocks of the rule files only (every foreign line keeps its
    bytes and its place) in ufw's own format, so ``ufw status``, ``ufw delete`` and ``ufw
    show added`` treat them as ufw's own rules. When ufw is enabled (``ENABLED=yes`` in
    /etc/ufw/ufw.conf, ufw's own test), ``execute`` loads each changed file with one
    ``iptables-restore -n`` / ``ip6tables-restore -n``, as ``ufw reload`` does for its user
    chains: the declared ``ufw-user-*`` chains are replaced atomically, ufw's policy, its
    before/after chains and every other rule stay as they are. Then the engine writes the
    files. ufw is never enabled; when it is inactive only the files change, and the rules
    take effect when someone enables ufw.

    ufw holds one rule per match (ports, addresses, direction), so a foreign rule with the
    match of an owned one (``ufw allow 1480/tcp`` typed by hand, say) would be taken over.
    The plan refuses that and names the foreign rule.

Failure
    A failed load raises with iptables' own words; ``restore`` loads the files as they were
    (they are unchanged, the engine writes them only after a good load) and writes back
    any that differ, so the previous rules stay in place.

Persistence
    The rule files are ufw's rules, so they are written on every change; ``persist=false``
    cannot change that and the backend says so in ``warnings``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.backends import tags
from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    Backend,
    BackendError,
    Changeset,
    Detection,
    FileChange,
    Runner,
    Snapshot,
    Target,
    not_installed,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.ufw_rules import (
    Block,
    Spec,
    match_key,
    parse_blocks,
    rewrite,
)
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import Rule, peer_family, sort_rules

RULES_FILES = {"ipv4": "/etc/ufw/user.rules", "ipv6": "/etc/ufw/user6.rules"}
DEFAULTS_FILE = "/etc/default/ufw"
CONF_FILE = "/etc/ufw/ufw.conf"
RESTORE = {"ipv4": "iptables-restore", "ipv6": "ip6tables-restore"}
# What `ufw status` checks to say "active": these chains exist in the kernel.
USER_CHAINS = ("ufw-user-input", "ufw-user-output", "ufw-user-forward")
LISTING = ("iptables-save", "-t", "filter")
KEY_PATTERN = re.compile(r"^[0-9a-f]{8}$")
PERSIST_IGNORED = "persist=false has no effect on ufw: ufw writes its rule files on every change"


def setting(text: str, name: str) -> str:
    """The value of ``NAME=value`` in a ufw config file ('' when absent)."""
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == name:
            return value.strip().strip("\"'")
    return ""


def ipv6_enabled(defaults: str) -> bool:
    """ufw handles IPv6 only with ``IPV6=yes`` in /etc/default/ufw."""
    return setting(defaults, "IPV6").lower() == "yes"


def parse_comment(owner: str, comment: str) -> Optional[Tuple[Tuple[str, ...], str]]:
    """(keys, purpose) when ``comment`` is an owned rule tag, else None."""
    tag = tags.parse_comment(owner, comment)
    if tag is None or tag.kind != "rule":
        return None
    keys = tuple(tag.key.split(","))
    if not all(KEY_PATTERN.match(key) for key in keys):
        return None
    return keys, tag.purpose


def comment_keys(owner: str, comment: str) -> Tuple[str, ...]:
    tag = parse_comment(owner, comment)
    return tuple(sorted(tag[0])) if tag else ()


def make_comment(owner: str, keys: Sequence[str], purpose: str) -> str:
    return tags.rule_comment(owner, ",".join(keys), purpose)


def specs_for(rule: Rule) -> List[Spec]:
    peers: Sequence[Optional[str]] = rule.peers or (None,)
    return [Spec(rule.direction, rule.protocol, rule.port_low, rule.port_high, peer) for peer in peers]


def desired_specs(rules: Iterable[Rule], owner: str) -> Dict[Spec, str]:
    """Spec -> comment for the owned rules ``rules``."""
    keys: Dict[Spec, List[str]] = {}
    purposes: Dict[Spec, str] = {}
    for rule in sort_rules(rules):
        for spec in specs_for(rule):
            keys.setdefault(spec, []).append(rule.key())
            if not purposes.get(spec):
                purposes[spec] = rule.purpose
    return {spec: make_comment(owner, sorted(set(keys[spec])), purposes[spec]) for spec in keys}


@dataclass(frozen=True)
class RulesFile:
    """One rule file as read: its family, its text (None when missing) and its lines."""

    family: str
    text: Optional[str]

    @property
    def path(self) -> str:
        return RULES_FILES[self.family]

    def lines(self) -> List[str]:
        return (self.text or "").splitlines(keepends=True)

    def classify(self, owner: str) -> Tuple[Dict[Spec, Block], Dict[Tuple[str, ...], str]]:
        """Owned blocks by Spec, and foreign rules by the match ufw compares them on."""
        owned: Dict[Spec, Block] = {}
        foreign: Dict[Tuple[str, ...], str] = {}
        for block in parse_blocks(self.lines()):
            spec = block.spec() if parse_comment(owner, block.comment) else None
            if spec is not None:
                owned[spec] = block
                continue
            try:
                foreign[match_key(block.fields)] = block.describe()
            except ValueError:
                continue
        return owned, foreign


@dataclass(frozen=True)
class UfwState:
    """Snapshot detail: whether ufw is enabled, and the rule files of the families it handles."""

    enabled: bool
    files: Tuple[RulesFile, ...]

    @property
    def families(self) -> Tuple[str, ...]:
        return tuple(item.family for item in self.files)


@dataclass(frozen=True)
class Loads:
    """Changeset payload: the rule file texts to load into ufw's user chains, per family."""

    texts: Tuple[Tuple[str, str], ...] = ()


def steps(current: Dict[Spec, Block], wanted: Dict[Spec, str], owner: str) -> List[Tuple[str, Spec]]:
    """What turns one file's owned blocks into ``wanted``: add, retag (other keys) or delete.

    A block whose keys already match is left alone even if its purpose text differs, so a
    changed label alone never rewrites a rule.
    """
    found = []
    for spec in sorted(wanted, key=Spec.sort_key):
        if spec not in current:
            found.append(("add", spec))
        elif comment_keys(owner, current[spec].comment) != comment_keys(owner, wanted[spec]):
            found.append(("retag", spec))
    found.extend(("delete", spec) for spec in sorted(current, key=Spec.sort_key) if spec not in wanted)
    return found


def edit(item: RulesFile, current: Dict[Spec, Block], wanted: Dict[Spec, str], todo: Sequence[Tuple[str, Spec]]) -> str:
    """The text of ``item`` after ``todo``; every line not owned keeps its bytes and place."""
    replace = {}
    for verb, spec in todo:
        if verb != "add":
            replace[current[spec].start] = spec.block(item.family, wanted[spec])[1:] if verb == "retag" else []
    append = [spec.block(item.family, wanted[spec]) for verb, spec in todo if verb == "add"]
    try:
        if item.text is None:
            raise ValueError("the file is missing")
        return rewrite(item.lines(), replace, append)
    except ValueError as error:
        raise BackendError(
            "ufw: cannot add owned rules to %s (%s); ufw keeps its rules there, so reinstall ufw or put"
            " its rule file back first" % (item.path, error)
        ) from error


class UfwBackend(Backend):
    name = "ufw"

    @classmethod
    def detect(cls, runner: Runner) -> Detection:
        missing = not_installed(runner, cls.name)
        if missing:
            return missing
        # `ufw status` says "active" when ufw's user chains are loaded in the kernel (it lists
        # ufw-user-input, -output and -forward, in that order, and stops at the first missing).
        # One iptables-save shows the same, without ufw's own Python start and its iptables runs.
        listed = runner.run(list(LISTING))
        if listed.rc != 0:
            return Detection(
                cls.name,
                False,
                False,
                "%s failed: %s" % (" ".join(LISTING), listed.stderr.strip() or listed.stdout.strip()),
            )
        declared = {line[1:].split()[0] for line in listed.stdout.splitlines() if line.startswith(":") and line[1:]}
        if all(chain in declared for chain in USER_CHAINS):
            return Detection(cls.name, True, True, "ufw is active")
        return Detection(
            cls.name,
            True,
            False,
            "ufw is installed but inactive; rules are written to its rule files and apply once ufw is enabled"
            " (this module never enables it)",
        )

    def _read(self, path: str) -> Optional[str]:
        try:
            return self.files.read(path)
        except OSError as error:
            raise BackendError("ufw: cannot read %s" % path, stderr=str(error)) from error

    def read(self) -> Snapshot:
        # With IPV6=no ufw neither loads nor edits user6.rules, so what is left there is inert.
        families = ("ipv4", "ipv6") if ipv6_enabled(self._read(DEFAULTS_FILE) or "") else ("ipv4",)
        enabled = setting(self._read(CONF_FILE) or "", "ENABLED").lower() == "yes"
        state = UfwState(enabled, tuple(RulesFile(family, self._read(RULES_FILES[family])) for family in families))
        owner = self.options.owner
        fragments = []
        for item in state.files:
            for spec, block in item.classify(owner)[0].items():
                keys, purpose = parse_comment(owner, block.comment) or ((), "")
                family, peers = (peer_family(spec.peer), (spec.peer,)) if spec.peer else ("", ())
                fragments.extend(
                    tags.Fragment(
                        spec.direction, spec.protocol, spec.port_low, spec.port_high, family, peers, key, purpose
                    )
                    for key in keys
                )
        warnings = () if self.options.persist else (PERSIST_IGNORED,)
        return Snapshot(tuple(tags.assemble(fragments)), warnings=warnings, detail=state)

    def _refuse(
        self, state: UfwState, desired: Dict[Spec, str], foreign: Dict[str, Dict[Tuple[str, ...], str]]
    ) -> None:
        """Refuse, before anything is written, what ufw would get wrong."""
        for spec in sorted(desired, key=Spec.sort_key):
            if spec.peer and peer_family(spec.peer) not in state.families:
                raise BackendError(
                    "ufw: owned rule %s needs IPv6, but ufw has IPv6 off (IPV6=no in %s); turn it on or leave"
                    " IPv6 peers out of the rules" % (spec.describe(), DEFAULTS_FILE)
                )
            for family in spec.families():
                clash = foreign.get(family, {}).get(match_key(spec.fields(family)))
                if clash:
                    raise BackendError(
                        "ufw: a rule that is not owned by %r already matches owned rule %s: %s. ufw keeps one rule"
                        " per match and adding ours would take that rule over; delete or change it, or leave"
                        " this port out of the rules" % (self.options.owner, spec.describe(), clash)
                    )

    def plan(self, snapshot: Snapshot, target: Target) -> Changeset:
        state: UfwState = snapshot.detail
        owner = self.options.owner
        desired = desired_specs(target.rules, owner) if target.present else {}
        classified = {item.family: item.classify(owner) for item in state.files}
        self._refuse(state, desired, {family: found[1] for family, found in classified.items()})
        words: Dict[Tuple[str, Spec], None] = {}
        files = []
        for item in state.files:
            current = classified[item.family][0]
            wanted = {spec: comment for spec, comment in desired.items() if item.family in spec.families()}
            todo = steps(current, wanted, owner)
            if todo:
                words.update(dict.fromkeys(todo))
                files.append(FileChange(item.path, edit(item, current, wanted, todo), item.text))
        order = {"add": 0, "retag": 0, "delete": 1}
        actions = [
            "%s ufw rule %s" % (verb, spec.describe())
            for verb, spec in sorted(words, key=lambda step: (order[step[0]], step[1].sort_key()))
        ]
        loads = Loads(self._loads(state.enabled, files))
        return Changeset(actions=tuple(actions), files=tuple(files), payload=loads)

    def _loads(self, enabled: bool, files: Sequence[FileChange]) -> Tuple[Tuple[str, str], ...]:
        if not enabled:
            return ()
        family_of = {path: family for family, path in RULES_FILES.items()}
        return tuple((family_of[change.path], change.text or "") for change in files)

    def execute(self, changes: Changeset) -> Sequence[str]:
        for family, text in changes.payload.texts:
            self.run([self.runner.which(RESTORE[family]) or RESTORE[family], "-n"], data=text)
        return []

    def restore(self, snapshot: Snapshot) -> None:
        """Put the rule files of ``snapshot`` back where they differ and load them again."""
        state: UfwState = snapshot.detail
        for item in state.files:
            if item.text is not None and self._read(item.path) != item.text:
                try:
                    self.files.write(item.path, item.text)
                except OSError as error:
                    raise BackendError("ufw: cannot write %s back" % item.path, stderr=str(error)) from error
        if state.enabled:
            texts = tuple((item.family, item.text) for item in state.files if item.text is not None)
            self.execute(Changeset(payload=Loads(texts)))
