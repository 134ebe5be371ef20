# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewalld configuration as the backend sees it: owned names, rich rules and definitions.

Pure functions over plain values: what an owned service is called, how an owned rich rule
is spelled, which entries of a zone's or policy's settings are owned (a ``Layer``), and
the settings of the definitions the backend creates. Nothing here talks to firewalld.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    DIRECTIONS,
    Rule,
    parse_peers,
    peer_family,
    sort_rules,
)

CONFIG_DIR = "/etc/firewalld"
CONFIG_FOLDERS = {"service": "services", "policy": "policies", "zone": "zones"}
# firewalld's own limit on policy names; the owned policy is named after the owner.
POLICY_NAME_MAX = 18
POLICY_PRIORITY = -100
RICH_PATTERN = re.compile(
    r'^rule family="(ipv4|ipv6)" (source|destination) address="([^"]+)" service name="([^"]+)" accept$'
)
SERVICE_SUFFIX = re.compile(r"^(tcp|udp)(\d{1,5})(?:_(\d{1,5}))?(?:-([0-9a-f]{8}))?$")
SERVICE_REF = re.compile(r'service name="([^"]+)"')
RICH_SIDE = {"inbound": "source", "outbound": "destination"}
RichKey = Tuple[str, str, str]


def config_path(kind: str, name: str) -> str:
    """Where firewalld keeps a permanent definition of this kind."""
    return "%s/%s/%s.xml" % (CONFIG_DIR, CONFIG_FOLDERS[kind], name)


def policy_fits(owner: str) -> bool:
    return len(owner) <= POLICY_NAME_MAX


def policy_too_long(owner: str) -> str:
    return (
        "firewalld: outbound rules live in a policy named after the owner, and firewalld allows at most %d"
        " characters in a policy name; owner %r has %d. Use a shorter owner or leave outbound rules out"
        % (POLICY_NAME_MAX, owner, len(owner))
    )


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


def owned_rich_key(owner: str, text: str, direction: str) -> Optional[RichKey]:
    """(direction, service, peer) when ``text`` is an owned rich rule for ``direction``."""
    match = RICH_PATTERN.match(text)
    if not match or match.group(2) != RICH_SIDE[direction] or not parse_service_name(owner, match.group(4)):
        return None
    try:
        peer = ipaddress.ip_network(match.group(3), strict=False).with_prefixlen
    except ValueError:
        return None
    if peer_family(peer) != match.group(1):
        return None
    return direction, match.group(4), peer


@dataclass(frozen=True)
class Layer:
    """The owned entries of one configuration (runtime or permanent).

    ``rich`` maps (direction, service, peer) to the rule text exactly as firewalld keeps it,
    because firewalld removes a rich rule only when given the same spelling.
    """

    services: Mapping[str, FrozenSet[str]] = field(default_factory=lambda: {d: frozenset() for d in DIRECTIONS})
    rich: Mapping[RichKey, str] = field(default_factory=dict)
    policy: bool = False
    policy_foreign: bool = False

    def entries(self) -> Tuple[Set[Tuple[str, str]], Set[RichKey]]:
        services = {(d, name) for d, names in self.services.items() for name in names}
        return services, set(self.rich)

    def has_outbound(self) -> bool:
        return bool(self.services["outbound"]) or any(key[0] == "outbound" for key in self.rich)

    def service_names(self) -> Set[str]:
        return {name for names in self.services.values() for name in names} | {key[1] for key in self.rich}

    def rules(self, owner: str) -> Set[Rule]:
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
        return result

    def part(self, direction: str) -> Tuple[List[str], List[Tuple[RichKey, str]]]:
        """The sorted services and rich rules of one direction (the zone's or the policy's)."""
        return sorted(self.services[direction]), sorted(i for i in self.rich.items() if i[0][0] == direction)


def owned_layer(owner: str, parts: Mapping[str, Optional[Mapping[str, Any]]]) -> Tuple[Layer, Set[str]]:
    """The owned Layer of a zone's and a policy's entries (``{"services", "rules"}`` each).

    Also returns the services that the non-owned entries of the two refer to.
    """
    services: Dict[str, FrozenSet[str]] = {}
    rich: Dict[RichKey, str] = {}
    foreign: Set[str] = set()
    foreign_in_policy = False
    for direction, where in (("inbound", "zone"), ("outbound", "policy")):
        found = parts.get(where) or {"services": [], "rules": []}
        services[direction] = frozenset(n for n in found["services"] if parse_service_name(owner, n))
        other_services = [n for n in found["services"] if n not in services[direction]]
        other_rules = []
        for text in found["rules"]:
            key = owned_rich_key(owner, text, direction)
            if key:
                rich[key] = text
            else:
                other_rules.append(text)
        foreign.update(other_services)
        foreign.update(name for text in other_rules for name in SERVICE_REF.findall(text))
        foreign_in_policy = foreign_in_policy or (where == "policy" and bool(other_services or other_rules))
    return Layer(services, rich, parts.get("policy") is not None, foreign_in_policy), foreign


def desired_layer(owner: str, rules: Iterable[Rule]) -> Tuple[Layer, Dict[str, str]]:
    """The owned Layer that holds ``rules``, and the purpose of each service it needs."""
    services: Dict[str, Set[str]] = {d: set() for d in DIRECTIONS}
    rich: Dict[RichKey, str] = {}
    purposes: Dict[str, str] = {}
    for rule in sort_rules(rules):
        name = service_name(owner, rule)
        purposes.setdefault(name, rule.purpose)
        if not rule.peers:
            services[rule.direction].add(name)
        for peer in rule.peers:
            rich[(rule.direction, name, peer)] = rich_rule(rule.direction, name, peer)
    outbound = bool(services["outbound"]) or any(key[0] == "outbound" for key in rich)
    return Layer({d: frozenset(names) for d, names in services.items()}, rich, outbound), purposes


def service_settings(owner: str, name: str, purpose: str) -> Dict[str, Any]:
    protocol, low, high = parse_service_name(owner, name) or ("tcp", 0, 0)
    port = str(low) if low == high else "%d-%d" % (low, high)
    description = "Owned by %s (biostar.hardening firewall_ports): %s/%s." % (owner, protocol, port)
    if purpose:
        description += " " + purpose
    return {"short": "%s %s/%s" % (owner, protocol, port), "description": description, "ports": [[port, protocol]]}


def purpose_of(owner: str, name: str, text: Optional[str]) -> str:
    """The purpose an owned definition file was written with (its description's tail), else ""."""
    found = re.search(r"<description>(.*?)</description>", text or "", re.S)
    head = service_settings(owner, name, "")["description"] + " "
    description = unescape(found.group(1)) if found else ""
    return description[len(head) :] if description.startswith(head) else ""


def escape(text: str) -> str:
    """Text for an XML element, as xml.sax.saxutils.escape writes it (importing that module pulls in
    urllib and http.client: about 25 ms of every run on firewalld, for three replacements)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """The inverse of :func:`escape`, as xml.sax.saxutils.unescape reads it."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def quoteattr(text: str) -> str:
    """A double-quoted XML attribute value."""
    escaped = escape(text).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return '"%s"' % escaped.replace('"', "&quot;")


def service_xml(settings: Mapping[str, Any]) -> str:
    """A service definition file as firewalld reads it from /etc/firewalld/services."""
    port, protocol = settings["ports"][0]
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<service>\n'
        "  <short>%s</short>\n  <description>%s</description>\n"
        "  <port protocol=%s port=%s/>\n</service>\n"
        % (escape(settings["short"]), escape(settings["description"]), quoteattr(protocol), quoteattr(port))
    )


def policy_settings(owner: str) -> Dict[str, Any]:
    description = (
        "Owned by %s (biostar.hardening firewall_ports): outbound flows it allows; services and rich rules"
        " here are managed by it." % owner
    )
    return {
        "short": owner,
        "description": description,
        "target": "CONTINUE",
        "priority": POLICY_PRIORITY,
        "ingress_zones": ["HOST"],
        "egress_zones": ["ANY"],
    }
