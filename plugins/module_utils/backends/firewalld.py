# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewalld backend: owned services, referenced from the zone and from an owned policy.

How a rule is kept
    Every owned rule refers to an owned *service definition* that holds its one port (or
    port range). The service name is the record of ownership and of the port:
    ``<owner>-<protocol><port>`` (a range is ``<low>_<high>``), for example
    ``biostar-hardening-tcp1480``. Rules limited to peers use their own service, named with
    a short hash of the peers appended (``biostar-hardening-tcp1480-3fa9c2d1``), so two rules
    for the same port with different peers stay two rules when they are read back.

    - inbound, no peers: the service is added to the zone (option ``zone``, default: the
      default zone). A zone service covers IPv4 and IPv6.
    - inbound with peers: one rich rule per peer,
      ``rule family="ipv4" source address="10.0.0.0/24" service name="<owned service>" accept``.
      A rich rule is recognised as owned only in exactly this form and only when it names an
      owned service, so rich rules of anyone else are never read as ours.
    - outbound: firewalld allows all output unless a policy says otherwise, and a zone cannot
      express an outbound port. Outbound rules go into an owned policy named after the owner
      (HOST -> ANY, target CONTINUE, priority -100, so it is consulted before policies of the
      default priority): services for rules without peers, rich rules with a ``destination``
      for rules with peers. firewalld limits policy names to 18 characters, so outbound rules
      need an owner that short (the default, ``biostar-hardening``, is 17). The policy is not
      tied to a zone: runs for two zones with one owner share the outbound rules, so give
      rule sets that must stay apart different owners.

Runtime and permanent
    Zone and policy changes are made in the permanent and in the runtime configuration with
    ``firewall-cmd``, without a reload. A service or policy that the running daemon does not
    know yet can only come from the permanent configuration, and firewalld has no way to load
    one definition alone: then the permanent configuration is written and ``firewall-cmd
    --reload`` applies it. That reload also drops runtime-only changes of other tools, so it
    happens only when a new definition is needed. Removing rules never needs it, and the
    runtime keeps a definition it knew until the next reload, so adding a rule back later
    does not need one either.

    A rule counts as present only when both configurations have it. ``pending`` lists every
    owned entry that only one of them has, so such drift makes the module apply, and any
    apply brings both to exactly the planned rules.

    When firewalld is not running, ``firewall-offline-cmd`` writes the same permanent
    configuration, which the daemon loads when it starts.

Failure
    ``firewall-cmd`` exits 0 when at least one item of a list worked and reports the others
    as warnings, so every warning other than "already enabled"/"not enabled" counts as a
    failure. On failure the owned entries found at the start are written back (the runtime
    through a reload if one was made) and definitions created by the run are deleted.

Clean-up and persistence
    Owned service definitions that no rule needs any more, and that nothing else in any zone
    or policy refers to, are deleted (firewalld would otherwise drop those references with
    them); the owned policy is deleted when no outbound rule is left and nobody else put rules
    in it. The permanent configuration is what persists: ``persist`` reports the files this
    run wrote or removed. firewalld defines services only in the permanent configuration, so
    ``persist=false`` cannot be honoured; the backend says so in ``warnings``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    BackendError,
    BackendOptions,
    Detection,
    LegacyBackend,
    Runner,
)
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    DIRECTIONS,
    Plan,
    Rule,
    parse_peers,
    peer_family,
    sort_rules,
)

CONFIG_DIR = "/etc/firewalld"
CONFIG_FOLDERS = {"service": "services", "policy": "policies", "zone": "zones"}
OWNER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
POLICY_NAME_MAX = 18
POLICY_PRIORITY = -100
BENIGN_WARNINGS = ("ALREADY_ENABLED", "NOT_ENABLED", "ZONE_ALREADY_SET", "ALREADY_SET")
RICH_PATTERN = re.compile(
    r'^rule family="(ipv4|ipv6)" (source|destination) address="([^"]+)" service name="([^"]+)" accept$'
)
SERVICE_SUFFIX = re.compile(r"^(tcp|udp)(\d{1,5})(?:_(\d{1,5}))?(?:-([0-9a-f]{8}))?$")
RICH_SIDE = {"inbound": "source", "outbound": "destination"}
PERMANENT = "permanent"
RUNTIME = "runtime"


def config_path(kind: str, name: str) -> str:
    """Where firewalld keeps a permanent definition of this kind."""
    return "%s/%s/%s.xml" % (CONFIG_DIR, CONFIG_FOLDERS[kind], name)


def peers_hash(peers: Sequence[str]) -> str:
    return hashlib.sha1(",".join(peers).encode("ascii")).hexdigest()[:8]


def service_name(owner: str, rule: Rule) -> str:
    name = "%s-%s%d" % (owner, rule.protocol, rule.port_low)
    if rule.port_high != rule.port_low:
        name += "_%d" % rule.port_high
    if rule.peers:
        name += "-" + peers_hash(rule.peers)
    return name


def parse_service_name(owner: str, name: str) -> Optional[Tuple[str, int, int]]:
    """(protocol, low, high) of an owned service name, None for any other name."""
    prefix = owner + "-"
    if not name.startswith(prefix):
        return None
    match = SERVICE_SUFFIX.match(name[len(prefix) :])
    if not match:
        return None
    low = int(match.group(2))
    high = int(match.group(3) or low)
    if not (1 <= low <= high <= 65535):
        return None
    return match.group(1), low, high


def rich_rule(direction: str, service: str, peer: str) -> str:
    """An owned rich rule, spelled exactly as firewalld lists it."""
    return 'rule family="%s" %s address="%s" service name="%s" accept' % (
        peer_family(peer),
        RICH_SIDE[direction],
        peer,
        service,
    )


def normal_peer(text: str) -> Optional[str]:
    try:
        return ipaddress.ip_network(text, strict=False).with_prefixlen
    except ValueError:
        return None


@dataclass
class Layer:
    """The owned entries of one configuration (runtime or permanent).

    ``rich`` maps (direction, service, peer) to the rule text exactly as firewalld lists it,
    because firewalld removes a rich rule only when given the same spelling.
    """

    services: Dict[str, Set[str]] = field(default_factory=lambda: {d: set() for d in DIRECTIONS})
    rich: Dict[Tuple[str, str, str], str] = field(default_factory=dict)
    policy: bool = False
    policy_foreign: bool = False
    purposes: Dict[str, str] = field(default_factory=dict)

    def entries(self) -> Tuple[Set[Tuple[str, str]], Set[Tuple[str, str, str]]]:
        """What is compared: services per direction and rich rules by meaning."""
        services = {(d, name) for d, names in self.services.items() for name in names}
        return services, set(self.rich)

    def same_entries(self, other: Layer) -> bool:
        return self.entries() == other.entries()

    def has_outbound(self) -> bool:
        return bool(self.services["outbound"]) or any(key[0] == "outbound" for key in self.rich)

    def service_names(self) -> Set[str]:
        names = {name for names in self.services.values() for name in names}
        return names | {key[1] for key in self.rich}

    def rules(self, owner: str) -> List[Rule]:
        result = set()
        for direction, names in self.services.items():
            for name in names:
                parsed = parse_service_name(owner, name)
                if parsed:
                    result.add(Rule(parsed[0], parsed[1], parsed[2], direction, ()))
        groups: Dict[Tuple[str, str], List[str]] = {}
        for direction, name, peer in self.rich:
            groups.setdefault((direction, name), []).append(peer)
        for (direction, name), peers in groups.items():
            parsed = parse_service_name(owner, name)
            if parsed:
                result.add(Rule(parsed[0], parsed[1], parsed[2], direction, parse_peers(sorted(peers))))
        return sort_rules(result)


def desired_layer(owner: str, rules: Iterable[Rule]) -> Layer:
    layer = Layer()
    for rule in sort_rules(rules):
        name = service_name(owner, rule)
        layer.purposes.setdefault(name, rule.purpose)
        if not rule.peers:
            layer.services[rule.direction].add(name)
        for peer in rule.peers:
            layer.rich[(rule.direction, name, peer)] = rich_rule(rule.direction, name, peer)
    layer.policy = layer.has_outbound()
    return layer


@dataclass
class Listing:
    """The parts of ``--list-all`` output this backend needs."""

    name: str
    services: List[str]
    rich_rules: List[str]


def parse_list_all(text: str) -> List[Listing]:
    """Parse ``--list-all`` (one block) or ``--list-all-zones``/``-policies`` (many)."""
    listings: List[Listing] = []
    in_rich = False
    for line in text.splitlines():
        if not line.strip():
            in_rich = False
            continue
        if not line[0].isspace():
            listings.append(Listing(line.split()[0], [], []))
            in_rich = False
            continue
        if not listings:
            continue
        current = listings[-1]
        if line.startswith("\t"):
            # Rich rules are listed one a line, indented with a tab, under "rich rules:".
            if in_rich:
                current.rich_rules.append(line.strip())
            continue
        key, _sep, value = line.strip().partition(":")
        in_rich = key == "rich rules"
        if key == "services":
            current.services = value.split()
        elif in_rich and value.strip():
            current.rich_rules.append(value.strip())
    return listings


def owned_rich_key(owner: str, text: str, direction: str) -> Optional[Tuple[str, str, str]]:
    """(direction, service, peer) when ``text`` is an owned rich rule for ``direction``."""
    match = RICH_PATTERN.match(text)
    if not match or match.group(2) != RICH_SIDE[direction] or not parse_service_name(owner, match.group(4)):
        return None
    peer = normal_peer(match.group(3))
    if not peer or peer_family(peer) != match.group(1):
        return None
    return direction, match.group(4), peer


def owned_entries(owner: str, listing: Listing, direction: str, layer: Layer) -> int:
    """Put the owned services and rich rules of ``listing`` into ``layer``; return how many others it has."""
    foreign = foreign_part(owner, listing, direction)
    for name in listing.services:
        if parse_service_name(owner, name):
            layer.services[direction].add(name)
    for text in listing.rich_rules:
        key = owned_rich_key(owner, text, direction)
        if key:
            layer.rich[key] = text
    return len(foreign.services) + len(foreign.rich_rules)


def foreign_part(owner: str, listing: Listing, direction: str) -> Listing:
    """The entries of ``listing`` that are not owned."""
    return Listing(
        listing.name,
        [name for name in listing.services if not parse_service_name(owner, name)],
        [text for text in listing.rich_rules if not owned_rich_key(owner, text, direction)],
    )


def referenced_services(listings: Iterable[Listing]) -> Set[str]:
    names: Set[str] = set()
    for listing in listings:
        names.update(listing.services)
        for text in listing.rich_rules:
            names.update(re.findall(r'service name="([^"]+)"', text))
    return names


def service_xml(owner: str, name: str, purpose: str) -> str:
    protocol, low, high = parse_service_name(owner, name) or ("tcp", 0, 0)
    port = str(low) if low == high else "%d-%d" % (low, high)
    description = "Owned by %s (biostar.hardening firewall_ports): %s/%s." % (owner, protocol, port)
    if purpose:
        description += " " + purpose
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<service>\n'
        "  <short>%s</short>\n  <description>%s</description>\n"
        "  <port protocol=%s port=%s/>\n</service>\n"
        % (escape("%s %s/%s" % (owner, protocol, port)), escape(description), quoteattr(protocol), quoteattr(port))
    )


def policy_xml(owner: str) -> str:
    description = (
        "Owned by %s (biostar.hardening firewall_ports): outbound flows it allows; services and rich rules"
        " here are managed by it." % owner
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<policy target="CONTINUE" priority="%d">\n'
        "  <short>%s</short>\n  <description>%s</description>\n"
        '  <ingress-zone name="HOST"/>\n  <egress-zone name="ANY"/>\n</policy>\n'
        % (POLICY_PRIORITY, escape(owner), escape(description))
    )


def layer_changes(layer_name: str, current: Layer, target: Layer, zone: str, policy: str) -> List[str]:
    """What writing ``target`` over ``current`` changes in one configuration, in words."""
    words = []
    for direction in DIRECTIONS:
        where = "zone %s" % zone if direction == "inbound" else "policy %s" % policy
        for name in sorted(target.services[direction] - current.services[direction]):
            words.append("%s: add service %s to %s" % (layer_name, name, where))
        for key, text in sorted(target.rich.items()):
            if key[0] == direction and key not in current.rich:
                words.append("%s: add rich rule '%s' to %s" % (layer_name, text, where))
        for key, text in sorted(current.rich.items()):
            if key[0] == direction and key not in target.rich:
                words.append("%s: remove rich rule '%s' from %s" % (layer_name, text, where))
        for name in sorted(current.services[direction] - target.services[direction]):
            words.append("%s: remove service %s from %s" % (layer_name, name, where))
    return words


@dataclass
class Transition:
    """Everything a run changes, worked out before the first write."""

    before: Dict[str, Layer]
    target: Layer
    create: List[str]
    create_policy: bool
    delete: List[str]
    drop_policy: bool

    def layers_change(self) -> bool:
        return not all(layer.same_entries(self.target) for layer in self.before.values())

    def changes_anything(self) -> bool:
        return self.layers_change() or bool(self.create or self.create_policy or self.delete or self.drop_policy)


@dataclass
class Progress:
    """What a run has done so far, so a failure can undo it."""

    created: List[str] = field(default_factory=list)
    policy: bool = False
    reloaded: bool = False


class FirewalldBackend(LegacyBackend):
    name = "firewalld"

    def __init__(self, runner: Runner, options: BackendOptions):
        super().__init__(runner, options)
        self._firewall_cmd = runner.which("firewall-cmd")
        self._offline_cmd = runner.which("firewall-offline-cmd")
        self._running: Optional[bool] = None
        self._zone: Optional[str] = options.zone
        self._snapshot: Optional[Dict[str, Layer]] = None
        self._definitions: Optional[Set[str]] = None
        self._references: Optional[Set[str]] = None
        self._files: Dict[str, bool] = {}
        self.warnings: List[str] = []

    @classmethod
    def detect(cls, runner: Runner) -> Detection:
        firewall_cmd = runner.which("firewall-cmd")
        offline_cmd = runner.which("firewall-offline-cmd")
        if not firewall_cmd and not offline_cmd:
            return Detection(cls.name, False, False, "firewalld is not installed (no firewall-cmd)")
        if firewall_cmd:
            state = runner.run([firewall_cmd, "--state"])
            if state.rc == 0 and state.stdout.strip() == "running":
                return Detection(cls.name, True, True, "firewalld is running")
        if not offline_cmd:
            return Detection(
                cls.name, False, False, "firewalld is not running and firewall-offline-cmd is not installed"
            )
        return Detection(
            cls.name,
            True,
            False,
            "firewalld is installed but not running; rules go to its permanent configuration with"
            " firewall-offline-cmd and apply when it starts",
        )

    # commands

    @property
    def policy_name(self) -> str:
        return self.options.owner

    def running(self) -> bool:
        if self._running is None:
            self._running = False
            if self._firewall_cmd:
                state = self.run([self._firewall_cmd, "--state"], check=False)
                self._running = state.rc == 0 and state.stdout.strip() == "running"
            if not self._running and not self._offline_cmd:
                raise BackendError(
                    "firewalld: the daemon is not running and firewall-offline-cmd is not installed, so neither the"
                    " runtime nor the permanent configuration can be changed"
                )
        return self._running

    def _command(self, layer: str) -> List[str]:
        if self.running():
            command = [self._firewall_cmd or "firewall-cmd"]
            return [*command, "--permanent"] if layer == PERMANENT else command
        return [self._offline_cmd or "firewall-offline-cmd"]

    def _layers(self) -> List[str]:
        return [PERMANENT, RUNTIME] if self.running() else [PERMANENT]

    def _call(self, layer: str, args: Sequence[str]) -> str:
        command = self._command(layer) + list(args)
        result = self.run(command)
        bad = [
            line.strip()
            for line in result.stderr.splitlines()
            if line.strip().startswith("Warning:") and not any(code in line for code in BENIGN_WARNINGS)
        ]
        if bad:
            raise BackendError(
                "%s: command reported a failure: %s" % (self.name, " ".join(command)),
                stderr="\n".join(bad),
                command=command,
            )
        return result.stdout

    def _remove_service_option(self, direction: str) -> str:
        # firewall-offline-cmd keeps --remove-service for its lokkit compatibility mode.
        if self.running():
            return "--remove-service"
        return "--remove-service-from-zone" if direction == "inbound" else "--remove-service-from-policy"

    def _where(self, direction: str) -> str:
        return "--zone=%s" % self.zone() if direction == "inbound" else "--policy=%s" % self.policy_name

    def zone(self) -> str:
        if not self._zone:
            self._zone = self._call(RUNTIME if self.running() else PERMANENT, ["--get-default-zone"]).strip()
        return self._zone

    def _check_owner(self) -> None:
        if not OWNER_PATTERN.match(self.options.owner or ""):
            raise BackendError(
                "owner: invalid value %r for firewalld; owned service names start with it, so use letters,"
                " digits, '-' and '_'" % self.options.owner
            )

    # reading

    def _read_policy(self, layer: str) -> Optional[Listing]:
        """The owned policy as listed, or None when it does not exist."""
        if len(self.policy_name) > POLICY_NAME_MAX:
            return None
        args = [*self._command(layer), self._where("outbound"), "--list-all"]
        result = self.run(args, check=False)
        if result.rc != 0:
            if "INVALID_POLICY" in result.stdout + result.stderr:
                return None
            raise BackendError(
                "%s: cannot read policy %s" % (self.name, self.policy_name),
                stderr=result.stderr.strip() or result.stdout.strip(),
                command=args,
            )
        listings = parse_list_all(result.stdout)
        return listings[0] if listings else Listing(self.policy_name, [], [])

    def _read_zone(self, layer: str, into: Layer) -> None:
        # Without a zone option, --list-all shows the default zone and names it on its first line,
        # which saves asking for the default zone separately.
        where = [self._where("inbound")] if self._zone else []
        for listing in parse_list_all(self._call(layer, [*where, "--list-all"]))[:1]:
            self._zone = self._zone or listing.name
            owned_entries(self.options.owner, listing, "inbound", into)

    def _read(self) -> Dict[str, Layer]:
        layers = {layer: Layer() for layer in self._layers()}
        for layer in reversed(self._layers()):
            self._read_zone(layer, layers[layer])
        # Policies exist only once defined permanently; without one there is no runtime policy to read.
        for layer in self._layers():
            policy = self._read_policy(layer)
            if policy is None:
                break
            layers[layer].policy = True
            layers[layer].policy_foreign = owned_entries(self.options.owner, policy, "outbound", layers[layer]) > 0
        return layers

    def _state(self) -> Dict[str, Layer]:
        if self._snapshot is None:
            self._snapshot = self._read()
        return self._snapshot

    def read_owned(self) -> List[Rule]:
        self._check_owner()
        if not self.options.persist and not self.warnings:
            self.warnings.append(
                "persist=false has no effect on firewalld: it defines services only in its permanent configuration"
            )
        self._forget()
        present: Optional[Set[Rule]] = None
        for layer in self._state().values():
            rules = set(layer.rules(self.options.owner))
            present = rules if present is None else present & rules
        return sort_rules(present or ())

    def _owned_definitions(self, layer: str) -> Set[str]:
        names = self._call(layer, ["--get-services"]).split()
        return {name for name in names if parse_service_name(self.options.owner, name)}

    def _references_elsewhere(self) -> Set[str]:
        """Services that anything but our own entries refers to, in any zone or policy (permanent).

        Our zone and policy count too, minus the owned entries this run rewrites anyway.
        """
        if self._references is None:
            listings = parse_list_all(self._call(PERMANENT, ["--list-all-zones"]))
            listings += parse_list_all(self._call(PERMANENT, ["--list-all-policies"]))
            mine = {self.zone(): "inbound", self.policy_name: "outbound"}
            self._references = referenced_services(
                foreign_part(self.options.owner, item, mine[item.name]) if item.name in mine else item
                for item in listings
            )
        return self._references

    def _forget(self) -> None:
        self._snapshot = self._definitions = self._references = None

    # planning

    def _target(self, plan: Plan, state: str) -> Layer:
        target = desired_layer(self.options.owner, plan.result if state == "present" else [])
        if target.policy and len(self.policy_name) > POLICY_NAME_MAX:
            raise BackendError(
                "firewalld: outbound rules live in a policy named after the owner, and firewalld allows at most %d"
                " characters in a policy name; owner %r has %d. Use a shorter owner or leave outbound rules out"
                % (POLICY_NAME_MAX, self.options.owner, len(self.options.owner))
            )
        return target

    def _transition(self, target: Layer, everything: bool = False) -> Transition:
        """Work out the whole change; reads only what the layers do not already tell."""
        before = self._state()
        permanent = before[PERMANENT]
        needed = target.service_names()
        # What the zone or policy refers to is defined; list the definitions only to learn about the rest.
        defined = permanent.service_names()
        if everything or needed - defined:
            if self._definitions is None:
                self._definitions = self._owned_definitions(PERMANENT)
            defined |= self._definitions
        stale = defined - needed
        delete = sorted(stale - self._references_elsewhere()) if stale else []
        return Transition(
            before=before,
            target=target,
            create=sorted(needed - defined),
            create_policy=target.policy and not permanent.policy,
            delete=delete,
            # The owned policy goes when no outbound rule is left, unless someone else put rules in it.
            drop_policy=permanent.policy and not permanent.policy_foreign and not target.policy,
        )

    def pending(self, plan: Plan, state: str = "present") -> List[str]:
        """What apply (or remove_all) would change, in words, without writing anything.

        This also reports owned entries that only one of runtime and permanent has, which
        ``read_owned`` does not count as rules, so that the run repairs them.
        """
        target = self._target(plan, state)
        before = self._state()
        words = []
        if target.policy and not before[PERMANENT].policy:
            words.append("permanent: define policy %s (HOST -> ANY)" % self.policy_name)
        for layer_name, layer in before.items():
            words.extend(layer_changes(layer_name, layer, target, self.zone(), self.policy_name))
        if before[PERMANENT].policy and not before[PERMANENT].policy_foreign and not target.policy:
            words.append("permanent: delete policy %s" % self.policy_name)
        return words

    def persist_pending(self, plan: Plan, state: str = "present") -> List[str]:
        """The permanent files apply (or remove_all) would write or remove."""
        change = self._transition(self._target(plan, state), everything=state != "present")
        if not change.changes_anything():
            return []
        files: Dict[str, bool] = {}
        for name in change.create:
            files[config_path("service", name)] = True
        if change.create_policy:
            files[config_path("policy", self.policy_name)] = True
        permanent = change.before[PERMANENT]
        for direction, kind, name in (("inbound", "zone", self.zone()), ("outbound", "policy", self.policy_name)):
            if layer_changes(PERMANENT, only(permanent, direction), only(change.target, direction), "", ""):
                files[config_path(kind, name)] = True
        for name in change.delete:
            files[config_path("service", name)] = False
        if change.drop_policy:
            files[config_path("policy", self.policy_name)] = False
        return report_files(files)

    # writing

    def apply(self, plan: Plan) -> None:
        self._converge(self._transition(self._target(plan, "present")))

    def remove_all(self) -> None:
        self._check_owner()
        self._converge(self._transition(Layer(), everything=True))

    def persist(self) -> List[str]:
        return report_files(self._files)

    def _converge(self, change: Transition) -> None:
        self._forget()
        if not change.changes_anything():
            return
        done = Progress()
        try:
            self._change(change, done)
        except Exception as error:
            problems = self._restore(change.before, done)
            if not problems:
                raise
            message = "%s; restoring the previous owned rules also failed: %s" % (error, "; ".join(problems))
            stderr = getattr(error, "stderr", "")
            raise BackendError(message, stderr=stderr, command=getattr(error, "command", None)) from error

    def _change(self, change: Transition, done: Progress) -> None:
        before, target = change.before, change.target
        for name in change.create:
            self._create_service(name, target.purposes.get(name, ""))
            done.created.append(name)
        if change.create_policy:
            self._create_policy()
            done.policy = True
        self._write_layer(PERMANENT, before[PERMANENT], target)
        # Deleting a permanent definition leaves the runtime's copy alone, so this may come first.
        for name in change.delete:
            self._delete("service", name)
        if change.drop_policy:
            self._delete("policy", self.policy_name)
        if not self.running():
            return
        # A service the runtime already refers to is known there; ask only about the others.
        unsure = target.service_names() - before[RUNTIME].service_names()
        if unsure:
            unsure -= self._owned_definitions(RUNTIME)
        if unsure or (target.policy and not before[RUNTIME].policy):
            self._call(RUNTIME, ["--reload"])
            done.reloaded = True
            self.warnings.append(
                "firewalld was reloaded to load new owned definitions; runtime-only changes made by other tools"
                " were dropped"
            )
        else:
            self._write_layer(RUNTIME, before[RUNTIME], target)

    def _from_file(self, kind: str, name: str, text: str) -> None:
        # firewall-cmd reads definitions only from a file whose name ends in .xml.
        folder = tempfile.mkdtemp(prefix="biostar-firewalld-")
        try:
            path = os.path.join(folder, name + ".xml")
            with open(path, "w") as handle:
                handle.write(text)
            self._call(PERMANENT, ["--new-%s-from-file=%s" % (kind, path), "--name=%s" % name])
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _delete(self, kind: str, name: str) -> None:
        self._call(PERMANENT, ["--delete-%s=%s" % (kind, name)])
        self._files[config_path(kind, name)] = False

    def _create_service(self, name: str, purpose: str) -> None:
        self._from_file("service", name, service_xml(self.options.owner, name, purpose))
        self._files[config_path("service", name)] = True

    def _create_policy(self) -> None:
        self._from_file("policy", self.policy_name, policy_xml(self.options.owner))
        self._files[config_path("policy", self.policy_name)] = True

    def _write_layer(self, layer: str, current: Layer, target: Layer) -> None:
        """Add what ``target`` has and ``current`` lacks, then remove the reverse."""
        changed = {"inbound": False, "outbound": False}
        for direction in DIRECTIONS:
            add = sorted(target.services[direction] - current.services[direction])
            if add:
                self._call(layer, [self._where(direction)] + ["--add-service=%s" % name for name in add])
                changed[direction] = True
            rich = [
                text for key, text in sorted(target.rich.items()) if key[0] == direction and key not in current.rich
            ]
            if rich:
                self._call(layer, [self._where(direction)] + ["--add-rich-rule=%s" % text for text in rich])
                changed[direction] = True
        for direction in DIRECTIONS:
            rich = [
                text for key, text in sorted(current.rich.items()) if key[0] == direction and key not in target.rich
            ]
            if rich:
                self._call(layer, [self._where(direction)] + ["--remove-rich-rule=%s" % text for text in rich])
                changed[direction] = True
            remove = sorted(current.services[direction] - target.services[direction])
            if remove:
                option = self._remove_service_option(direction)
                self._call(layer, [self._where(direction)] + ["%s=%s" % (option, name) for name in remove])
                changed[direction] = True
        if layer == PERMANENT:
            if changed["inbound"]:
                self._files[config_path("zone", self.zone())] = True
            if changed["outbound"]:
                self._files[config_path("policy", self.policy_name)] = True

    def _restore(self, before: Dict[str, Layer], done: Progress) -> List[str]:
        """Write the owned entries of ``before`` back; return what could not be undone."""
        problems: List[str] = []

        def attempt(what: str, action) -> None:
            try:
                action()
            except BackendError as error:
                problems.append("%s: %s" % (what, error.stderr or error))

        try:
            now = self._read()
            known = self._owned_definitions(PERMANENT)
        except BackendError as error:
            return ["reading the current state: %s" % (error.stderr or error)]
        old = before[PERMANENT]
        for name in sorted(old.service_names() - known):
            attempt("recreate service %s" % name, lambda name=name: self._create_service(name, ""))
        if old.policy and not now[PERMANENT].policy:
            attempt("recreate policy %s" % self.policy_name, self._create_policy)
        attempt("permanent configuration", lambda: self._write_layer(PERMANENT, now[PERMANENT], old))
        for name in sorted(set(done.created) - old.service_names()):
            attempt("delete service %s" % name, lambda name=name: self._delete("service", name))
        if done.policy:
            attempt("delete policy", lambda: self._delete("policy", self.policy_name))
        if done.reloaded:
            # The reload made the runtime equal to the permanent configuration; again, now that it is restored.
            attempt("reload", lambda: self._call(RUNTIME, ["--reload"]))
        elif RUNTIME in now:
            attempt("runtime configuration", lambda: self._write_layer(RUNTIME, now[RUNTIME], before[RUNTIME]))
        return problems


def only(layer: Layer, direction: str) -> Layer:
    """The part of ``layer`` in one direction (the zone or the policy)."""
    part = Layer()
    part.services[direction] = set(layer.services[direction])
    part.rich = {key: text for key, text in layer.rich.items() if key[0] == direction}
    return part


def report_files(files: Dict[str, bool]) -> List[str]:
    return [path if kept else "%s (removed)" % path for path, kept in files.items()]
