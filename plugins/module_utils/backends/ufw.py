# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ufw backend: owned rules are ufw rules whose comment starts with the owner.

How a rule is kept
    One owned ``Rule`` becomes one ufw rule per peer, or a single ufw rule when it has no
    peers (ufw then writes it for IPv4 and, with ``IPV6=yes``, for IPv6 too). Each carries
    the comment ``<owner> <key> <purpose>``; ``key`` is a short hash of the rule's identity,
    so the per-peer ufw rules can be put back together into the Rule they came from. Two
    owned Rules that need the very same ufw rule (same port, same peer) share it, and its
    comment lists both keys: ``<owner> <key1>,<key2> <purpose>``.

Reading
    ufw keeps its rules in ``/etc/ufw/user.rules`` and ``user6.rules``: one
    ``### tuple ### <action> <proto> <dport> <dst> <sport> <src> <direction> comment=<hex>``
    line per rule, comment hex-encoded. Those lines are ufw's own record, written the same
    whether ufw is active or not, so they are parsed instead of the human output of
    ``ufw status``. A tagged line this backend would never write (a deny, an interface, an
    app profile) is left alone: the backend only edits what it can model exactly.
    ``user6.rules`` counts only with ``IPV6=yes`` in /etc/default/ufw, as for ufw itself;
    with IPv6 off, a rule with IPv6 peers is refused before anything is written.

Writing
    ``ufw allow ... comment '...'`` and ``ufw delete allow ... comment '...'``, one command
    per ufw rule; ufw adds or deletes the IPv4 and IPv6 variants itself. A delete names the
    exact comment, so ufw removes only the owned rule. The default policy is never touched
    and ufw is never enabled: when ufw is inactive the commands still update its rule files,
    and the rules take effect when someone enables ufw.

    ufw holds one rule per match (ports, addresses, direction): adding a rule that matches
    an existing one replaces that rule's action and comment. So a foreign rule with the same
    match as an owned one (``ufw allow 1480/tcp`` typed by hand, say) would be taken over.
    The backend refuses that before writing anything and names the foreign rule.

Failure
    After the commands the rule files are read again and must show exactly the planned
    owned rules. If a command fails or the check does not hold, the owned rules found at
    the start are put back and the error carries ufw's own message. A rule put back goes to
    the end of ufw's list; only a foreign deny rule that used to come after it could now
    shadow it.

Persistence
    ufw writes its rule files on every change, so ``persist`` has nothing left to do: it
    reports the files this run changed. ``persist=false`` cannot keep ufw from writing them;
    the backend says so in ``warnings``.

Check mode
    ``pending`` and ``persist_pending`` read the same state and make the same refusals as a
    real run (a foreign rule with an owned rule's match, IPv6 peers with IPv6 off), so check
    mode predicts the writes, the files and the failures.
"""

from __future__ import annotations

import binascii
import ipaddress
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    BackendError,
    BackendOptions,
    Detection,
    LegacyBackend,
    Runner,
)
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    Plan,
    Rule,
    parse_peers,
    peer_family,
    sort_rules,
)

RULES_FILES = {"ipv4": "/etc/ufw/user.rules", "ipv6": "/etc/ufw/user6.rules"}
DEFAULTS_FILE = "/etc/default/ufw"
ANY_ADDRESS = {"ipv4": "0.0.0.0/0", "ipv6": "::/0"}
TUPLE_PREFIX = "### tuple ###"
COMMENT_MAX = 120
KEY_PATTERN = re.compile(r"^[0-9a-f]{8}$")
PORT_PATTERN = re.compile(r"^(\d{1,5})(?::(\d{1,5}))?$")
UFW_DIRECTIONS = {"inbound": "in", "outbound": "out"}


def clean_purpose(text: str) -> str:
    """ufw refuses a quote in a comment; newlines would break its one-line record."""
    return " ".join((text or "").replace("'", "").split())


def make_comment(owner: str, keys: Sequence[str], purpose: str) -> str:
    return ("%s %s %s" % (owner, ",".join(keys), clean_purpose(purpose))).strip()[:COMMENT_MAX].rstrip()


def parse_comment(owner: str, comment: str) -> Optional[Tuple[Tuple[str, ...], str]]:
    """Return (keys, purpose) when ``comment`` is an owned tag, else None."""
    if not comment.startswith(owner + " "):
        return None
    word, _sep, purpose = comment[len(owner) + 1 :].partition(" ")
    keys = tuple(word.split(","))
    if not all(KEY_PATTERN.match(key) for key in keys):
        return None
    return keys, purpose.strip()


def comment_keys(owner: str, comment: str) -> Tuple[str, ...]:
    tag = parse_comment(owner, comment)
    return tuple(sorted(tag[0])) if tag else ()


def ipv6_enabled(defaults: str) -> bool:
    """ufw handles IPv6 only with ``IPV6=yes`` in /etc/default/ufw."""
    for line in defaults.splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name.strip() == "IPV6":
            return value.strip().strip("\"'").lower() == "yes"
    return False


def hex_decode(text: str) -> Optional[str]:
    try:
        return binascii.unhexlify(text.strip()).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def ufw_address(peer: str) -> str:
    """ufw stores a single host without its prefix length; write it the way ufw keeps it."""
    network = ipaddress.ip_network(peer)
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return network.with_prefixlen


def normal_address(text: str) -> str:
    """Canonical form of an address field of a tuple line, for comparisons."""
    if text == "any":
        return text
    return ipaddress.ip_network(text, strict=False).with_prefixlen


@dataclass(frozen=True)
class Spec:
    """One ufw rule as this backend writes it: a port, a direction and one peer or any."""

    direction: str
    protocol: str
    port_low: int
    port_high: int
    peer: Optional[str]

    def sort_key(self) -> Tuple[str, str, int, int, str]:
        return (self.direction, self.protocol, self.port_low, self.port_high, self.peer or "")

    @property
    def port_text(self) -> str:
        if self.port_low == self.port_high:
            return str(self.port_low)
        return "%d:%d" % (self.port_low, self.port_high)

    def families(self) -> List[str]:
        return [peer_family(self.peer)] if self.peer else ["ipv4", "ipv6"]

    def arguments(self) -> List[str]:
        """The words after ``ufw allow`` / ``ufw delete allow``."""
        peer = ufw_address(self.peer) if self.peer else "any"
        if self.direction == "inbound":
            source, destination = peer, "any"
        else:
            source, destination = "any", peer
        direction = UFW_DIRECTIONS[self.direction]
        return [direction, "proto", self.protocol, "from", source, "to", destination, "port", self.port_text]

    def match_keys(self) -> List[Tuple[str, ...]]:
        """What ufw compares to decide two rules are the same rule (action and comment aside)."""
        keys = []
        for family in self.families():
            peer = normal_address(self.peer) if self.peer else ANY_ADDRESS[family]
            anywhere = ANY_ADDRESS[family]
            source, destination = (peer, anywhere) if self.direction == "inbound" else (anywhere, peer)
            fields = (
                "allow",
                self.protocol,
                self.port_text,
                destination,
                "any",
                source,
                UFW_DIRECTIONS[self.direction],
            )
            keys.append(match_key(fields))
        return keys

    def describe(self) -> str:
        peer = self.peer or "any"
        arrow = "from" if self.direction == "inbound" else "to"
        return "%s %s/%s %s %s" % (self.direction, self.protocol, self.port_text.replace(":", "-"), arrow, peer)


def specs_for(rule: Rule) -> List[Spec]:
    if not rule.peers:
        return [Spec(rule.direction, rule.protocol, rule.port_low, rule.port_high, None)]
    return [Spec(rule.direction, rule.protocol, rule.port_low, rule.port_high, peer) for peer in rule.peers]


@dataclass(frozen=True)
class TupleLine:
    """One ``### tuple ###`` line of a ufw rules file."""

    fields: Tuple[str, ...]
    comment: str

    def describe(self) -> str:
        text = "'%s'" % " ".join(self.fields)
        return text + (" (comment %r)" % self.comment if self.comment else " (no comment)")

    @property
    def match_key(self) -> Tuple[str, ...]:
        return match_key(self.fields)


def match_key(fields: Sequence[str]) -> Tuple[str, ...]:
    """What ufw compares to decide that two rules are one: all but action, logging and comment.

    ``fields`` are the words of a tuple line: action proto dport dst sport src [dapp sapp] direction.
    Only a route (forward) rule differs by action: ``route:allow`` never matches ``allow``.
    """
    forward = "route" if fields[0].startswith("route:") else ""
    apps = tuple(fields[6:8]) if len(fields) == 9 else ("-", "-")
    proto, dport, dst, sport, src = fields[1:6]
    return (forward, proto, dport, normal_address(dst), sport, normal_address(src), *apps, fields[-1])


def parse_tuples(text: str) -> List[TupleLine]:
    lines = []
    for raw in text.splitlines():
        if not raw.startswith(TUPLE_PREFIX):
            continue
        body = raw[len(TUPLE_PREFIX) :]
        comment = ""
        if " comment=" in body:
            body, _sep, encoded = body.partition(" comment=")
            comment = hex_decode(encoded) or ""
        fields = tuple(body.split())
        if len(fields) not in (7, 9):
            continue
        lines.append(TupleLine(fields, comment))
    return lines


def owned_spec(line: TupleLine) -> Optional[Spec]:
    """The Spec a tagged tuple line stands for, or None if this backend would not write it."""
    if len(line.fields) != 7:
        return None
    action, proto, dport, dst, sport, src, direction = line.fields
    if action != "allow" or proto not in ("tcp", "udp") or sport != "any" or direction not in ("in", "out"):
        return None
    port = PORT_PATTERN.match(dport)
    if not port:
        return None
    low = int(port.group(1))
    high = int(port.group(2) or low)
    try:
        source, destination = normal_address(src), normal_address(dst)
    except ValueError:
        return None
    anywhere = set(ANY_ADDRESS.values())
    if direction == "in":
        if destination not in anywhere:
            return None
        peer = None if source in anywhere else source
        return Spec("inbound", proto, low, high, peer)
    if source not in anywhere:
        return None
    peer = None if destination in anywhere else destination
    return Spec("outbound", proto, low, high, peer)


@dataclass
class UfwState:
    """Owned ufw rules (Spec -> comment) and what ufw would match foreign rules on."""

    owned: Dict[Spec, str]
    foreign: Dict[Tuple[str, ...], str]
    families: Tuple[str, ...]


class UfwBackend(LegacyBackend):
    name = "ufw"

    def __init__(self, runner: Runner, options: BackendOptions):
        super().__init__(runner, options)
        self._ufw = runner.which("ufw") or "ufw"
        self._touched: Dict[str, bool] = {}
        self._families: Tuple[str, ...] = ("ipv4", "ipv6")
        self._state: Optional[UfwState] = None
        self.warnings: List[str] = []

    @classmethod
    def detect(cls, runner: Runner) -> Detection:
        path = runner.which("ufw")
        if not path:
            return Detection(cls.name, False, False, "ufw is not installed (no ufw command)")
        result = runner.run([path, "status"])
        if result.rc != 0:
            return Detection(
                cls.name, False, False, "ufw status failed: %s" % (result.stderr.strip() or result.stdout.strip())
            )
        first = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
        if first.strip() == "Status: active":
            return Detection(cls.name, True, True, "ufw is active")
        return Detection(
            cls.name,
            True,
            False,
            "ufw is installed but inactive; rules are written to its rule files and apply once ufw is enabled"
            " (this module never enables it)",
        )

    # reading

    def _read_file(self, path: str) -> Optional[str]:
        result = self.run(["cat", path], check=False)
        if result.rc == 0:
            return result.stdout
        if "No such file" in result.stderr:
            return None
        raise BackendError("ufw: cannot read %s" % path, stderr=result.stderr.strip(), command=["cat", path])

    def _read_state(self) -> UfwState:
        families = ["ipv4"]
        if ipv6_enabled(self._read_file(DEFAULTS_FILE) or ""):
            # With IPV6=no ufw neither loads nor edits user6.rules, so what is left there is inert.
            families.append("ipv6")
        owned: Dict[Spec, str] = {}
        foreign: Dict[Tuple[str, ...], str] = {}
        for family in families:
            for line in parse_tuples(self._read_file(RULES_FILES[family]) or ""):
                tag = parse_comment(self.options.owner, line.comment)
                spec = owned_spec(line) if tag else None
                if spec is not None:
                    owned[spec] = line.comment
                    continue
                try:
                    foreign[line.match_key] = line.describe()
                except ValueError:
                    continue
        self._families = tuple(families)
        return UfwState(owned, foreign, tuple(families))

    def _check_owner(self) -> None:
        owner = self.options.owner or ""
        if not owner or any(c.isspace() or c in "'," for c in owner):
            raise BackendError(
                "owner: invalid value %r for ufw; it starts every owned rule's comment, so it must be non-empty"
                " without spaces, commas or quotes" % owner
            )

    def read_owned(self) -> List[Rule]:
        self._check_owner()
        if not self.options.persist and not self.warnings:
            self.warnings.append("persist=false has no effect on ufw: ufw writes its rule files on every change")
        self._state = self._read_state()
        return assemble(self._state.owned, self.options.owner)

    # planning

    def _steps(self, state: UfwState, desired: Dict[Spec, str]) -> List[Tuple[str, Spec, str]]:
        """The ufw commands from ``state`` to ``desired``; refuses what ufw would get wrong."""
        for spec in desired:
            if spec.peer and peer_family(spec.peer) not in state.families:
                raise BackendError(
                    "ufw: owned rule %s needs IPv6, but ufw has IPv6 off (IPV6=no in %s); turn it on or leave"
                    " IPv6 peers out of the rules" % (spec.describe(), DEFAULTS_FILE)
                )
            for key in spec.match_keys():
                if key in state.foreign:
                    raise BackendError(
                        "ufw: a rule that is not owned by %r already matches owned rule %s: %s. ufw keeps one rule"
                        " per match and adding ours would take that rule over; delete or change it, or leave"
                        " this port out of the rules" % (self.options.owner, spec.describe(), state.foreign[key])
                    )
        return plan_steps(state.owned, desired, self.options.owner)

    def _desired(self, plan: Plan, state: str) -> Dict[Spec, str]:
        return desired_specs(plan.result, self.options.owner) if state == "present" else {}

    def pending(self, plan: Plan, state: str = "present") -> List[str]:
        """The ufw rules apply (or remove_all) would add, retag or delete, in words.

        It raises the same refusals as a real run, so check mode fails where the run would.
        """
        current = self._state or self._read_state()
        words = []
        for verb, spec, _comment in self._steps(current, self._desired(plan, state)):
            if verb == "add":
                verb = "retag" if spec in current.owned else "add"
            words.append("%s ufw rule %s" % (verb, spec.describe()))
        return words

    def persist_pending(self, plan: Plan, state: str = "present") -> List[str]:
        """The rule files apply (or remove_all) would change."""
        current = self._state or self._read_state()
        touched = {
            family for _verb, spec, _c in self._steps(current, self._desired(plan, state)) for family in spec.families()
        }
        return [RULES_FILES[family] for family in current.families if family in touched]

    # writing

    def apply(self, plan: Plan) -> None:
        self._converge(self._desired(plan, "present"))

    def remove_all(self) -> None:
        self._check_owner()
        self._converge({})

    def persist(self) -> List[str]:
        return [RULES_FILES[family] for family in self._families if self._touched.get(family)]

    def _converge(self, desired: Dict[Spec, str]) -> None:
        # Read again rather than trust the state read_owned saw: the writes must start from the truth.
        self._state = None
        state = self._read_state()
        steps = self._steps(state, desired)
        if not steps:
            return
        try:
            self._run_steps(steps)
            self._verify(desired)
        except Exception as error:
            problems = self._restore(state.owned)
            if not problems:
                raise
            message = "%s; restoring the previous owned rules also failed: %s" % (error, "; ".join(problems))
            stderr = getattr(error, "stderr", "")
            raise BackendError(message, stderr=stderr, command=getattr(error, "command", None)) from error

    def _run_steps(self, steps: Sequence[Tuple[str, Spec, str]]) -> None:
        for verb, spec, comment in steps:
            words = ["allow"] if verb == "add" else ["delete", "allow"]
            self.run([self._ufw, *words, *spec.arguments(), "comment", comment])
            for family in spec.families():
                self._touched[family] = True

    def _verify(self, desired: Dict[Spec, str]) -> None:
        found = self._read_state().owned
        owner = self.options.owner
        missing = [
            spec.describe()
            for spec in sorted(desired, key=Spec.sort_key)
            if spec not in found or comment_keys(owner, found[spec]) != comment_keys(owner, desired[spec])
        ]
        extra = [spec.describe() for spec in sorted(found, key=Spec.sort_key) if spec not in desired]
        if missing or extra:
            raise BackendError(
                "ufw: the owned rules differ from the plan after applying it (missing: %s; unexpected: %s)"
                % (", ".join(missing) or "none", ", ".join(extra) or "none")
            )

    def _restore(self, previous: Dict[Spec, str]) -> List[str]:
        """Bring the owned rules back to ``previous``; return what could not be undone."""
        problems = []
        try:
            current = self._read_state().owned
        except BackendError as error:
            return ["%s (%s)" % (error, error.stderr)]
        for verb, spec, comment in plan_steps(current, previous, self.options.owner):
            try:
                self._run_steps([(verb, spec, comment)])
            except BackendError as error:
                problems.append("%s %s: %s" % (verb, spec.describe(), error.stderr or error))
        return problems


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


def plan_steps(current: Dict[Spec, str], target: Dict[Spec, str], owner: str) -> List[Tuple[str, Spec, str]]:
    """ufw commands that turn ``current`` into ``target``: adds first, then deletes.

    A rule whose keys already match is left alone even if its purpose text differs, so a
    changed label alone never rewrites a rule. Adding a spec that exists with other keys
    rewrites its comment in place (ufw replaces a matching rule).
    """

    steps = []
    for spec in sorted(target, key=Spec.sort_key):
        if spec not in current or comment_keys(owner, current[spec]) != comment_keys(owner, target[spec]):
            steps.append(("add", spec, target[spec]))
    for spec in sorted(current, key=Spec.sort_key):
        if spec not in target:
            steps.append(("delete", spec, current[spec]))
    return steps


def assemble(owned: Dict[Spec, str], owner: str) -> List[Rule]:
    """Put the per-peer ufw rules back together into the Rules they came from."""
    groups: Dict[Tuple[str, str, str, int, int], List[Tuple[Spec, str]]] = {}
    for spec, comment in owned.items():
        tag = parse_comment(owner, comment)
        if not tag:
            continue
        keys, purpose = tag
        for key in keys:
            group = (key, spec.direction, spec.protocol, spec.port_low, spec.port_high)
            groups.setdefault(group, []).append((spec, purpose))
    rules = set()
    for (_key, direction, protocol, low, high), members in groups.items():
        if any(spec.peer is None for spec, _purpose in members):
            peers: Tuple[str, ...] = ()
        else:
            peers = parse_peers(sorted({spec.peer for spec, _purpose in members if spec.peer}))
        purpose = next((p for _s, p in members if p), "")
        rules.add(Rule(protocol, low, high, direction, peers, purpose))
    return sort_rules(rules)
