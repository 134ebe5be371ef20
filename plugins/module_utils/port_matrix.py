# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BioStar's network flows, as data, and the one function that selects them.

This is the only place in the collection that knows BioStar's ports. Each flow says
where its fact comes from (``provenance`` and ``reference``), so users can tell what
Suprema documents from what this collection infers. The selection returns plain rule
dicts that the firewall reconcilers understand without knowing anything about BioStar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    DIRECTIONS,
    PORT_MAX,
    PORT_MIN,
    PROTOCOLS,
    RuleError,
    format_port,
    invalid,
    parse_peers,
    parse_port,
)

MODES = ("server", "direct")
HOST_ROLES = ("server", "client")
PEER_KINDS = ("device", "server", "client")
PROVENANCES = ("documented", "inferred")
DIRECTION_FILTERS = ("inbound", "outbound", "all")

# Provenance for rules the user adds; they are not part of the matrix.
USER_PROVENANCE = "user"

SEED = "Suprema KB 'What network port BioStar server & device use' (BioStar 1, 2019-12-30)"
SDK = "BioStar SDK Manual V1.9"


@dataclass(frozen=True)
class Flow:
    """One BioStar flow, seen from the managed host."""

    protocol: str
    port_name: str
    direction: str
    host_role: str
    modes: Tuple[str, ...]
    peer_kind: str
    purpose: str
    provenance: str
    reference: str
    facts: Tuple[str, ...]
    device_family: Optional[str] = None


@dataclass(frozen=True)
class Matrix:
    version: str
    title: str
    ports: Mapping[str, int]
    port_descriptions: Mapping[str, str]
    flows: Tuple[Flow, ...]


BIOSTATION_FAMILY = "FaceStation, BioStation T2, D-Station, BioStation, X-Station"
BIOENTRY_FAMILY = "BioEntry Plus, BioEntry W, BioLite Net, Xpass, Xpass Slim, Xpass S2"

BIOSTAR_1 = Matrix(
    version="1",
    title="BioStar 1",
    ports={
        "server_port": 1480,
        "biostation_device_port": 1470,
        "bioentry_device_port": 1471,
        "device_udp_port": 51110,
    },
    port_descriptions={
        "server_port": "TCP port the BioStar server listens on (devices in server mode, clients)",
        "biostation_device_port": "TCP port of BioStation-family devices (%s)" % BIOSTATION_FAMILY,
        "bioentry_device_port": "TCP port of BioEntry-family devices (%s)" % BIOENTRY_FAMILY,
        "device_udp_port": "UDP port for device search, network setup and reset",
    },
    flows=(
        Flow(
            "tcp", "biostation_device_port", "inbound", "server", ("server",), "device",
            "BioStation-family device port, listed by Suprema for server mode",
            "documented", "%s; %s, BS_OpenSocket" % (SEED, SDK), ("F1", "F3"), BIOSTATION_FAMILY,
        ),
        Flow(
            "tcp", "bioentry_device_port", "inbound", "server", ("server",), "device",
            "BioEntry-family device port, listed by Suprema for server mode",
            "documented", "%s; %s, BS_OpenSocket" % (SEED, SDK), ("F1", "F4"), BIOENTRY_FAMILY,
        ),
        Flow(
            "tcp", "server_port", "inbound", "server", ("server",), "device",
            "Devices connect to the BioStar server (server mode)",
            "documented", "%s; %s, Server API (serverPort)" % (SEED, SDK), ("F1", "F5"),
        ),
        Flow(
            "tcp", "server_port", "inbound", "server", ("server", "direct"), "client",
            "BioStar clients connect to the server",
            "inferred", "%s (direct mode text); server listening port from F1, F5" % SEED, ("I1", "I3"),
        ),
        Flow(
            "udp", "device_udp_port", "inbound", "server", ("server",), "device",
            "Device UDP port, listed by Suprema for server mode",
            "documented", SEED, ("F1",),
        ),
        Flow(
            "udp", "device_udp_port", "inbound", "client", ("server", "direct"), "device",
            "Device answers to the client's UDP search broadcast",
            "inferred", "%s, BS_SearchDeviceInLAN (broadcast replies are not tracked)" % SDK, ("I2", "F6"),
        ),
        Flow(
            "udp", "device_udp_port", "outbound", "client", ("server", "direct"), "device",
            "Client UDP to devices: search, network settings, reset",
            "documented", "%s, 'Client UDP Port'" % SEED, ("F2",),
        ),
        Flow(
            "tcp", "server_port", "outbound", "client", ("server", "direct"), "server",
            "Client connects to the BioStar server",
            "inferred", "%s; server listening port from F1, F5" % SEED, ("I1",),
        ),
        Flow(
            "tcp", "biostation_device_port", "outbound", "client", ("direct",), "device",
            "Client connects to BioStation-family devices (direct mode)",
            "documented", "%s, BS_OpenSocket" % SDK, ("F3",), BIOSTATION_FAMILY,
        ),
        Flow(
            "tcp", "bioentry_device_port", "outbound", "client", ("direct",), "device",
            "Client connects to BioEntry-family devices (direct mode)",
            "documented", "%s, BS_OpenSocket" % SDK, ("F4",), BIOENTRY_FAMILY,
        ),
    ),
)  # fmt: skip

MATRICES: Dict[str, Matrix] = {BIOSTAR_1.version: BIOSTAR_1}
VERSIONS = tuple(MATRICES)


def _choice(argument: str, value: Any, valid: Sequence[str]) -> str:
    if value is None:
        raise RuleError("%s: missing; valid values: %s" % (argument, ", ".join(valid)))
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text not in valid:
        raise RuleError("%s: invalid value %r; valid values: %s" % (argument, value, ", ".join(valid)))
    return text


def matrix_for(version: Any) -> Matrix:
    return MATRICES[_choice("version", version, VERSIONS)]


def resolve_ports(matrix: Matrix, overrides: Optional[Mapping[str, Any]]) -> Dict[str, int]:
    """The matrix's named ports with the user's overrides applied."""
    ports = dict(matrix.ports)
    if overrides is None:
        return ports
    if not isinstance(overrides, Mapping):
        raise invalid("port_overrides", overrides, "a dict of %s" % ", ".join(sorted(ports)))
    for key, value in overrides.items():
        if key not in ports:
            raise invalid("port_overrides", key, ", ".join(sorted(ports)))
        argument = "port_overrides.%s" % key
        digits = isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
        if isinstance(value, bool) or not digits or not PORT_MIN <= int(value) <= PORT_MAX:
            raise invalid(argument, value, "a single port %d-%d" % (PORT_MIN, PORT_MAX))
        ports[key] = int(value)
    return ports


def _rule(protocol, port, direction, peers, purpose, provenance, reference) -> Dict[str, Any]:
    return {
        "protocol": protocol,
        "port": port,
        "direction": direction,
        "peers": list(peers),
        "purpose": purpose,
        "provenance": provenance,
        "reference": reference,
    }


def _extra_rule(item: Any, index: int, peers: Tuple[str, ...]) -> Dict[str, Any]:
    where = "extra_rules[%d]" % index
    if not isinstance(item, Mapping):
        raise invalid(where, item, "a dict with protocol, port and optionally direction, peers, purpose")
    allowed = ("protocol", "port", "direction", "peers", "purpose", "reference")
    unknown = sorted(set(item) - set(allowed))
    if unknown:
        raise invalid("%s key" % where, unknown[0], ", ".join(allowed))
    protocol = item.get("protocol")
    if protocol not in PROTOCOLS:
        raise invalid("%s.protocol" % where, protocol, ", ".join(PROTOCOLS))
    if "port" not in item:
        raise RuleError("%s.port: missing; valid values: an integer 1-65535 or a range 'low-high'" % where)
    low, high = parse_port(item["port"], "%s.port" % where)
    direction = item.get("direction", "inbound")
    if direction not in DIRECTIONS:
        raise invalid("%s.direction" % where, direction, ", ".join(DIRECTIONS))
    own_peers = parse_peers(item["peers"], "%s.peers" % where) if item.get("peers") else peers
    return _rule(
        protocol,
        format_port(low, high),
        direction,
        own_peers,
        str(item.get("purpose") or "Extra rule from the user"),
        USER_PROVENANCE,
        str(item.get("reference") or "extra_rules"),
    )


def _merge(rules: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One rule per (direction, protocol, port, peers); keep every purpose and reference.

    Several flows share a port (1480 serves devices and clients). The merged rule is
    ``documented`` when any of its flows is.
    """
    merged: Dict[Tuple[Any, ...], Dict[str, Any]] = {}
    for rule in rules:
        key = (rule["direction"], rule["protocol"], str(rule["port"]), tuple(rule["peers"]))
        seen = merged.get(key)
        if seen is None:
            merged[key] = dict(rule)
            continue
        for field_name in ("purpose", "reference"):
            if rule[field_name] not in seen[field_name].split("; "):
                seen[field_name] = "%s; %s" % (seen[field_name], rule[field_name])
        if "documented" in (seen["provenance"], rule["provenance"]):
            seen["provenance"] = "documented"
    return sorted(merged.values(), key=_sort_key)


def _sort_key(rule: Mapping[str, Any]) -> Tuple[Any, ...]:
    low, _sep, high = str(rule["port"]).partition("-")
    return (DIRECTIONS.index(rule["direction"]), rule["protocol"], int(low), int(high or low), rule["peers"])


def select(
    mode: Any,
    host_role: Any,
    version: Any = "1",
    peers: Optional[Sequence[str]] = None,
    port_overrides: Optional[Mapping[str, Any]] = None,
    extra_rules: Optional[Sequence[Mapping[str, Any]]] = None,
    direction: Any = "all",
) -> List[Dict[str, Any]]:
    """The rules a host with ``host_role`` needs when the site runs in ``mode``.

    Pure: validates everything first and raises RuleError (a ValueError) naming the
    argument, the bad value and the valid values.
    """
    matrix = matrix_for(version)
    mode = _choice("mode", mode, MODES)
    host_role = _choice("host_role", host_role, HOST_ROLES)
    direction = _choice("direction", direction, DIRECTION_FILTERS)
    peer_list = parse_peers(peers, "peers")
    ports = resolve_ports(matrix, port_overrides)
    if extra_rules is not None and (isinstance(extra_rules, (str, Mapping)) or not isinstance(extra_rules, Sequence)):
        raise invalid("extra_rules", extra_rules, "a list of rule dicts")
    extras = [_extra_rule(item, index, peer_list) for index, item in enumerate(extra_rules or [])]

    rules = [
        _rule(
            flow.protocol,
            ports[flow.port_name],
            flow.direction,
            peer_list,
            flow.purpose,
            flow.provenance,
            flow.reference,
        )
        for flow in matrix.flows
        if flow.host_role == host_role and mode in flow.modes
    ]
    rules.extend(extras)
    if direction != "all":
        rules = [rule for rule in rules if rule["direction"] == direction]
    return _merge(rules)
