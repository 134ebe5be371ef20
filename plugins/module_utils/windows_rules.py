# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everything about a Windows Defender Firewall call that the controller can decide.

No PowerShell runtime is needed to test this file, so the decisions live here: which
rules, their stable names, their cmdlet parameters, the profiles and the management
port. ``win_firewall_ports.ps1`` only reads the rules in its group, compares them with
the records prepared here, and writes. The action plugin of the same name glues the two.

A record is ``{"name": ..., "properties": {...}, "rule": {...}}``. ``properties`` uses
the NetSecurity cmdlet parameter names, so the PowerShell side can compare a record with
what ``Get-NetFirewallRule`` reports and splat it into ``New-NetFirewallRule`` /
``Set-NetFirewallRule`` without translating anything.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils import connection
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    PORT_MAX,
    PORT_MIN,
    RULE_OPTIONS,
    Rule,
    RuleError,
    invalid,
    parse_port,
    rule_from_dict,
    rules_from_dicts,
)

BACKEND = "windows_firewall"
DEFAULT_GROUP = "biostar-hardening"
PROFILES = ("Domain", "Private", "Public")
STATES = ("present", "absent")
STORE = "PersistentStore"
ANY = "Any"

# The keys win_firewall_ports.ps1 reads from each owned rule (Get-OwnedRule) and compares.
# tests/unit checks that the .ps1 builds exactly these.
PROPERTIES = (
    "DisplayName",
    "Description",
    "Direction",
    "Action",
    "Enabled",
    "Profile",
    "Protocol",
    "LocalPort",
    "RemotePort",
    "LocalAddress",
    "RemoteAddress",
)

# cdxml cmdlets treat these as wildcards in string filters: a group such as
# "biostar*" would let Get-NetFirewallRule -Group match other people's groups.
GROUP_FORBIDDEN = "*?[]`"

_DIRECTION = {"inbound": "Inbound", "outbound": "Outbound"}
_SHORT_DIRECTION = {"inbound": "in", "outbound": "out"}
_PROTOCOL = {"tcp": "TCP", "udp": "UDP"}

# What a task may pass. The .ps1 spec has the same options plus the internal ``desired``
# (tests/unit compares the three: this, the .ps1 spec and the documentation).
ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    # Raw elements, as in firewall_ports: prepare() checks each one (owned_rules.rules_from_dicts).
    "rules": {"type": "list", "elements": "raw", "default": [], "options": RULE_OPTIONS},
    "state": {"type": "str", "default": "present", "choices": list(STATES)},
    "group": {"type": "str", "default": DEFAULT_GROUP},
    "profiles": {"type": "list", "elements": "str", "default": list(PROFILES), "choices": list(PROFILES)},
    "management_ports": {"type": "list", "elements": "int", "default": []},
}
INTERNAL_OPTIONS = ("desired",)


def validate_group(value: Any) -> str:
    valid = "a non-empty rule group name without any of %s" % " ".join(GROUP_FORBIDDEN)
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise invalid("group", value, valid)
    if any(char in value for char in GROUP_FORBIDDEN):
        raise invalid("group", value, valid)
    return value


def normalise_profiles(value: Any) -> List[str]:
    """Unique profile names in Windows' own order (Domain, Private, Public)."""
    valid = "a non-empty list of %s" % ", ".join(PROFILES)
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise invalid("profiles", value, valid)
    for item in value:
        if item not in PROFILES:
            raise invalid("profiles", item, ", ".join(PROFILES))
    return [name for name in PROFILES if name in value]


def normalise_ports(value: Any, argument: str = "management_ports") -> List[int]:
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)):
        raise invalid(argument, value, "a list of integers %d-%d" % (PORT_MIN, PORT_MAX))
    ports = set()
    for item in value:
        low, high = parse_port(item, argument)
        if low != high:
            raise invalid(argument, item, "single ports %d-%d, not ranges" % (PORT_MIN, PORT_MAX))
        ports.add(low)
    return sorted(ports)


def rule_name(rule: Rule, group: str) -> str:
    """A name that depends only on what the rule allows, so every run finds it again.

    Peers are already sorted and unique (owned_rules.parse_peers), so their order in the
    input never changes the name. They enter as a digest: a list of CIDRs is too long for
    a name, and two rules that differ only in peers must not collide.
    """
    scope = "any"
    if rule.peers:
        scope = "peers-" + hashlib.sha256(",".join(rule.peers).encode("ascii")).hexdigest()[:12]
    return "%s-%s-%s-%s-%s" % (group, _SHORT_DIRECTION[rule.direction], rule.protocol, rule.port, scope)


def display_name(rule: Rule, group: str) -> str:
    if not rule.peers:
        where = "any"
    elif len(rule.peers) == 1:
        where = rule.peers[0]
    else:
        where = "%d peers" % len(rule.peers)
    arrow = "from" if rule.direction == "inbound" else "to"
    return "%s: %s %s %s %s %s" % (group, rule.direction, _PROTOCOL[rule.protocol], rule.port, arrow, where)


def description(rule: Rule, group: str) -> str:
    """The purpose, for people reading the firewall, and who owns the rule."""
    owner = "Managed by biostar.hardening (group %s); manual changes are reverted." % group
    if rule.purpose:
        return "%s. %s" % (rule.purpose.rstrip("."), owner)
    return owner


def rule_dict(rule: Rule, name: str) -> Dict[str, Any]:
    result = rule.to_dict()
    result["name"] = name
    return result


def record(rule: Rule, group: str, profiles: Sequence[str]) -> Dict[str, Any]:
    """The desired Windows rule for one owned rule."""
    port = str(rule.port)
    inbound = rule.direction == "inbound"
    properties = {
        "DisplayName": display_name(rule, group),
        "Description": description(rule, group),
        "Direction": _DIRECTION[rule.direction],
        "Action": "Allow",
        "Enabled": "True",
        "Profile": list(profiles),
        "Protocol": _PROTOCOL[rule.protocol],
        # Outbound rules name the peer's service port: that is the remote port.
        "LocalPort": [port if inbound else ANY],
        "RemotePort": [ANY if inbound else port],
        "LocalAddress": [ANY],
        "RemoteAddress": list(rule.peers) or [ANY],
    }
    name = rule_name(rule, group)
    return {"name": name, "properties": properties, "rule": rule_dict(rule, name)}


@dataclass(frozen=True)
class Prepared:
    """The controller's half of one win_firewall_ports call."""

    state: str
    group: str
    profiles: Tuple[str, ...]
    management_ports: Tuple[int, ...]
    rules: Tuple[Rule, ...]
    records: Tuple[Dict[str, Any], ...]

    def module_args(self) -> Dict[str, Any]:
        # ``rules`` is not sent: ``desired`` carries them, decided and normalised. The
        # host needs only the name and the properties of each record.
        return {
            "state": self.state,
            "group": self.group,
            "profiles": list(self.profiles),
            "management_ports": list(self.management_ports),
            "desired": [{"name": item["name"], "properties": item["properties"]} for item in self.records],
        }


def prepare(args: Mapping[str, Any], connection_port: Optional[int] = None) -> Prepared:
    """Validate the task's options and compute every desired record.

    ``state: absent`` desires nothing: reconciling to the empty set removes every owned
    rule, which is what absent means, so the PowerShell side has a single code path.
    """
    for key in INTERNAL_OPTIONS:
        if key in args:
            raise RuleError("%s: set by the action plugin from 'rules'; do not pass it" % key)
    state = args.get("state", "present")
    if state not in STATES:
        raise invalid("state", state, ", ".join(STATES))
    group = validate_group(args.get("group", DEFAULT_GROUP))
    profiles = normalise_profiles(args.get("profiles", list(PROFILES)))
    ports = normalise_ports(args.get("management_ports"))
    if connection_port is not None:
        ports = sorted(set(ports) | {connection_port})
    # The doc fragment says rules are ignored with state=absent: not even validated.
    rules = rules_from_dicts(args.get("rules") or []) if state == "present" else []
    records = tuple(record(rule, group, profiles) for rule in rules)
    names = [item["name"] for item in records]
    if len(set(names)) != len(names):
        # A digest collision would silently merge two rules; refuse instead.
        raise RuleError("rules: two different rules got the same Windows rule name; please report this")
    return Prepared(state, group, tuple(profiles), tuple(ports), tuple(rules), records)


def connection_port(transport: str, port: Any = None, scheme: Optional[str] = None) -> Optional[int]:
    """The connection's port with the connection plugins' defaults (module_utils/connection.py)."""
    return connection.connection_port(transport, port, scheme)


def _canonical_peer(text: str) -> str:
    """Windows reports 10.0.0.0/24 as 10.0.0.0/255.255.255.0 and hosts without a prefix."""
    try:
        return ipaddress.ip_network(text, strict=False).with_prefixlen
    except ValueError:
        return text


def _as_list(value: Any) -> List[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return [str(value)]


def rule_from_record(found: Mapping[str, Any]) -> Tuple[Dict[str, Any], Optional[Rule]]:
    """A rule dict (the firewall_ports result shape) for a rule read from the host.

    The Rule is None when the rule in the group is not something this collection could
    have written (edited by hand to ICMP, several ports, ...); the dict then carries the
    raw values so the report still says what was there.
    """
    props = found.get("properties") or {}
    direction = str(props.get("Direction", "")).lower()
    protocol = str(props.get("Protocol", "")).lower()
    ports = _as_list(props.get("LocalPort" if direction == "inbound" else "RemotePort"))
    remote = _as_list(props.get("RemoteAddress"))
    peers = [] if remote in ([], [ANY]) else [_canonical_peer(item) for item in remote]
    data = {
        "protocol": protocol,
        "port": ",".join(ports),
        "direction": direction,
        "peers": peers,
    }
    try:
        rule = rule_from_dict({**data, "port": ports[0] if len(ports) == 1 else data["port"]})
    except RuleError:
        rule = None
    if rule is not None:
        data = rule.to_dict()
    data["name"] = str(found.get("name", ""))
    return data, rule


def _line(found: Mapping[str, Any], data: Mapping[str, Any], rule: Optional[Rule]) -> str:
    props = found.get("properties") or {}
    if rule is not None:
        text = rule.describe()
    else:
        where = ", ".join(data["peers"]) or "any"
        text = "%s %s/%s %s" % (data["direction"], data["protocol"], data["port"], where)
    flags = []
    profiles = [item for item in _as_list(props.get("Profile")) if item]
    if profiles and sorted(profiles) != sorted(PROFILES):
        flags.append("profiles " + ", ".join(profiles))
    if str(props.get("Enabled", "True")) != "True":
        flags.append("disabled")
    if str(props.get("Action", "Allow")) != "Allow":
        flags.append("action " + str(props.get("Action")))
    suffix = " [%s]" % "; ".join(flags) if flags else ""
    return "%s%s (%s)\n" % (text, suffix, data["name"])


def render_records(records: Iterable[Mapping[str, Any]]) -> str:
    """Readable --diff text, one Windows rule a line, sorted by what it allows."""
    lines = []
    for item in records:
        data, rule = rule_from_record(item)
        # Rules this collection could have written sort like everywhere else (ports
        # numerically); anything edited by hand into another shape goes last.
        key = (0, rule.sort_key()) if rule is not None else (1, str(sorted(data.items())))
        lines.append((key, _line(item, data, rule)))
    return "".join(line for _key, line in sorted(lines, key=lambda pair: pair[0]))


def build_result(prepared: Prepared, raw: Mapping[str, Any], diff: bool = False) -> Dict[str, Any]:
    """Turn the .ps1's report (names and raw records) into the firewall_ports result shape."""
    current = {str(item.get("name")): item for item in raw.get("current") or []}
    wanted = {item["name"]: item for item in prepared.records}
    added = [wanted[name]["rule"] for name in raw.get("added") or [] if name in wanted]
    updated = []
    for entry in raw.get("updated") or []:
        name = str(entry.get("name"))
        if name in wanted:
            updated.append(dict(wanted[name]["rule"], differences=sorted(_as_list(entry.get("differences")))))
    removed = [rule_from_record(current[name])[0] for name in raw.get("removed") or [] if name in current]
    changed = bool(added or updated or removed)
    enabled = set(_as_list(raw.get("profiles_enabled")))
    filtering = any(name in enabled for name in prepared.profiles)
    result: Dict[str, Any] = {
        "changed": changed,
        "backend": BACKEND,
        "filtering": filtering,
        "added": added,
        "updated": updated,
        "removed": removed,
        "rules": [item["rule"] for item in prepared.records],
        "persisted": [STORE] if changed else [],
        "group": prepared.group,
        "profiles": list(prepared.profiles),
        "management_ports": sorted({int(port) for port in raw.get("management_ports") or prepared.management_ports}),
    }
    warnings = []
    if not filtering:
        warnings.append(
            "Windows Defender Firewall is off for the profiles %s: the rules are stored but nothing filters"
            % ", ".join(prepared.profiles)
        )
    if warnings:
        result["warnings"] = warnings
    if diff:
        result["diff"] = {
            "before_header": "%s (%s)" % (prepared.group, STORE),
            "after_header": "%s (%s)" % (prepared.group, STORE),
            "before": render_records(current.values()),
            "after": render_records(prepared.records),
        }
    return result
