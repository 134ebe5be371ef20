# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall-neutral rule model shared by the lookup and every reconciler.

A ``Rule`` is one allowed flow: protocol, a port or port range, a direction seen from
the managed host, and the peers (CIDRs) it is limited to. Empty peers mean any address
of both families. Nothing here knows about BioStar or about a particular firewall.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple

PROTOCOLS = ("tcp", "udp")
DIRECTIONS = ("inbound", "outbound")
FAMILIES = ("ipv4", "ipv6")
PORT_MIN = 1
PORT_MAX = 65535

# The owner tag ends up in nftables/iptables chain names and comments, ufw comments and
# firewalld service and policy names. This is what all of them accept AND what maps one
# to one onto them: nftables turns '-' into '_', iptables upper-cases and allows 28
# characters for a chain, so '_', capitals or a longer owner would let two owners share
# a chain and touch each other's rules.
OWNER_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
OWNER_VALID = "1-20 lowercase letters, digits, or '-', starting with a letter"
# A firewalld zone name: what firewalld itself accepts (it caps zone names at 17).
ZONE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,17}$")
ZONE_VALID = "1-17 letters, digits, '_' or '-' (a firewalld zone name)"
# Longer bad values are shown cut, with their length, so the message stays readable.
SHOWN_MAX = 80

# The keys of one rule dict, shared by both modules and the lookup's extra rules. The
# modules declare ``rules`` as a list of raw elements and give this as its documented
# suboptions: ansible-core checks the suboptions of dict elements only, and its message
# for an element that is not a dict names neither the rule nor the valid keys.
# rules_from_dicts checks every element, its keys and its values, and names the rule
# (rules[2].port). provenance and reference are accepted so the lookup's output feeds
# the modules unchanged.
RULE_OPTIONS: Dict[str, Dict[str, Any]] = {
    "protocol": {"type": "str"},
    "port": {"type": "raw"},
    "direction": {"type": "str", "default": "inbound"},
    "peers": {"type": "list", "elements": "str", "default": []},
    "purpose": {"type": "str"},
    "provenance": {"type": "str"},
    "reference": {"type": "str"},
}


class RuleError(ValueError):
    """Invalid rule input. The message names the field, the bad value and what is valid."""


def shown(value: Any) -> str:
    text = repr(value)
    if len(text) <= SHOWN_MAX:
        return text
    return "%s... (%d characters)" % (text[: SHOWN_MAX - 20], len(text))


def invalid(argument: str, value: Any, valid: str) -> RuleError:
    return RuleError("%s: invalid value %s; valid values: %s" % (argument, shown(value), valid))


def validate_owner(owner: Any, argument: str = "owner") -> str:
    if not isinstance(owner, str) or not OWNER_PATTERN.match(owner):
        raise invalid(argument, owner, OWNER_VALID)
    return owner


def validate_zone(zone: Any, argument: str = "zone") -> str:
    if not isinstance(zone, str) or not ZONE_PATTERN.match(zone):
        raise invalid(argument, zone, ZONE_VALID)
    return zone


def parse_port(value: Any, argument: str = "port") -> Tuple[int, int]:
    """Return (low, high) for an int, a digit string or a 'low-high' range."""
    valid = "an integer %d-%d or a range 'low-high'" % (PORT_MIN, PORT_MAX)
    if isinstance(value, bool):
        raise invalid(argument, value, valid)
    if isinstance(value, int):
        low = high = value
    elif isinstance(value, str):
        text = value.strip()
        low_text, sep, high_text = text.partition("-")
        if not low_text.isdigit() or (sep and not high_text.isdigit()):
            raise invalid(argument, value, valid)
        low = int(low_text)
        high = int(high_text) if sep else low
    else:
        raise invalid(argument, value, valid)
    if not (PORT_MIN <= low <= PORT_MAX and PORT_MIN <= high <= PORT_MAX):
        raise invalid(argument, value, valid)
    if low > high:
        raise RuleError("%s: invalid range %r; the low port must not exceed the high port" % (argument, value))
    return low, high


def format_port(low: int, high: int) -> Any:
    return low if low == high else "%d-%d" % (low, high)


def parse_peers(value: Any, argument: str = "peers") -> Tuple[str, ...]:
    """Normalise a list of addresses/CIDRs to sorted, unique network strings."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise invalid(argument, value, "a list of IPv4/IPv6 addresses or CIDRs")
    networks = set()
    for item in value:
        text = str(item).strip()
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise invalid(
                    argument, item, "IPv4/IPv6 addresses or CIDRs such as 10.0.0.0/24 or 2001:db8::/64"
                ) from None
            raise RuleError(
                "%s: invalid value %r; it has host bits set, did you mean %s?" % (argument, item, loose.with_prefixlen)
            ) from None
        networks.add(network)
    return tuple(n.with_prefixlen for n in sorted(networks, key=lambda n: (n.version, n)))


def peer_family(peer: str) -> str:
    return "ipv4" if ipaddress.ip_network(peer).version == 4 else "ipv6"


@dataclass(frozen=True)
class Rule:
    """One owned allow rule. Equality and hashing ignore ``purpose``: it is a label."""

    protocol: str
    port_low: int
    port_high: int
    direction: str
    peers: Tuple[str, ...] = ()
    purpose: str = field(default="", compare=False)

    @property
    def port(self) -> Any:
        return format_port(self.port_low, self.port_high)

    def families(self) -> List[str]:
        """The address families this rule applies to (empty peers: both)."""
        if not self.peers:
            return list(FAMILIES)
        present = {peer_family(p) for p in self.peers}
        return [f for f in FAMILIES if f in present]

    def peers_for(self, family: str) -> Tuple[str, ...]:
        """Peers of one family; empty means 'any address' for that family."""
        return tuple(p for p in self.peers if peer_family(p) == family)

    def sort_key(self) -> Tuple[Any, ...]:
        return (DIRECTIONS.index(self.direction), self.protocol, self.port_low, self.port_high, self.peers)

    def key(self) -> str:
        """A short, stable name for the rule's identity, for tags in firewalls' comments."""
        identity = "%s %s %d %d %s" % (
            self.direction,
            self.protocol,
            self.port_low,
            self.port_high,
            ",".join(self.peers),
        )
        return hashlib.sha1(identity.encode("ascii")).hexdigest()[:8]

    def describe(self) -> str:
        arrow = "from" if self.direction == "inbound" else "to"
        where = ", ".join(self.peers) if self.peers else "any"
        return "%s %s/%s %s %s" % (self.direction, self.protocol, self.port, arrow, where)

    def to_dict(self) -> dict:
        result = {
            "protocol": self.protocol,
            "port": self.port,
            "direction": self.direction,
            "peers": list(self.peers),
        }
        if self.purpose:
            result["purpose"] = self.purpose
        return result


def rule_shape(keys: Sequence[str] = tuple(RULE_OPTIONS)) -> str:
    """What one rule must be, in the words every message about a rule's shape uses."""
    return "a dict with the keys %s (protocol and port are required)" % ", ".join(keys)


def check_rule_keys(data: Any, where: str, keys: Sequence[str] = tuple(RULE_OPTIONS)) -> Mapping[str, Any]:
    """Refuse an element that is not a dict, or a dict with a key that is not in ``keys``."""
    if not isinstance(data, Mapping):
        raise invalid(where, data, rule_shape(keys))
    unknown = sorted(str(key) for key in data if key not in keys)
    if unknown:
        raise invalid("%s key" % where, unknown[0], ", ".join(keys))
    return data


def rule_from_dict(data: Mapping[str, Any], where: str = "rules[0]") -> Rule:
    """Validate one rule dict (the shape the port_matrix lookup returns)."""
    if not isinstance(data, Mapping):
        raise invalid(where, data, rule_shape())
    protocol = str(data.get("protocol", "")).lower()
    if protocol not in PROTOCOLS:
        raise invalid("%s.protocol" % where, data.get("protocol"), ", ".join(PROTOCOLS))
    if "port" not in data:
        raise RuleError(
            "%s.port: missing; valid values: an integer %d-%d or a range 'low-high'" % (where, PORT_MIN, PORT_MAX)
        )
    low, high = parse_port(data["port"], "%s.port" % where)
    direction = data.get("direction", "inbound")
    if direction not in DIRECTIONS:
        raise invalid("%s.direction" % where, direction, ", ".join(DIRECTIONS))
    peers = parse_peers(data.get("peers"), "%s.peers" % where)
    return Rule(protocol, low, high, direction, peers, str(data.get("purpose") or ""))


def module_rule(item: Any, where: str) -> Dict[str, Any]:
    """One element of a module's ``rules`` option, checked as its suboptions would be.

    Its keys must be RULE_OPTIONS; a key set to None counts as unset (its default
    applies); ``peers`` given as one string is split at commas, as Ansible's own list
    options do.
    """
    data = {key: value for key, value in check_rule_keys(item, where).items() if value is not None}
    if isinstance(data.get("peers"), str):
        data["peers"] = [part.strip() for part in data["peers"].split(",") if part.strip()]
    return data


def rules_from_dicts(items: Iterable[Any], argument: str = "rules") -> List[Rule]:
    """Validate a module's list of rule dicts; duplicates collapse into one rule.

    Every element is checked here, not by ansible-core (the option's elements are raw),
    so any message names the element (``rules[3]``), the bad value and the valid values.
    """
    if items is None:
        return []
    if isinstance(items, (str, Mapping)) or not isinstance(items, Iterable):
        raise invalid(argument, items, "a list of rules, each %s" % rule_shape())
    seen = {}
    for index, item in enumerate(items):
        where = "%s[%d]" % (argument, index)
        rule = rule_from_dict(module_rule(item, where), where)
        seen.setdefault(rule, rule)
    return sort_rules(seen.values())


def sort_rules(rules: Iterable[Rule]) -> List[Rule]:
    return sorted(rules, key=Rule.sort_key)


@dataclass(frozen=True)
class Plan:
    """What reconciling the owned rules would do."""

    add: Tuple[Rule, ...]
    remove: Tuple[Rule, ...]
    keep: Tuple[Rule, ...]

    @property
    def changed(self) -> bool:
        return bool(self.add or self.remove)

    @property
    def result(self) -> List[Rule]:
        return sort_rules(self.keep + self.add)


def diff(current: Iterable[Rule], desired: Iterable[Rule]) -> Plan:
    """Compare the owned rules found on the host with the desired ones."""
    current_set = set(current)
    desired_set = set(desired)
    return Plan(
        add=tuple(sort_rules(desired_set - current_set)),
        remove=tuple(sort_rules(current_set - desired_set)),
        keep=tuple(sort_rules(desired_set & current_set)),
    )


def render(rules: Sequence[Rule]) -> str:
    """A readable listing for --diff: one rule a line."""
    return "".join(rule.describe() + "\n" for rule in sort_rules(rules))
