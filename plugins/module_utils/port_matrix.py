# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BioStar's network flows, as data, and the functions that select them.

This is the only place in the collection that knows BioStar's ports. Each flow says
where its fact comes from (``provenance``, ``facts`` and ``reference``), so users can tell
what Suprema documents from what this collection infers. The selection returns plain rule
dicts that the firewall reconcilers understand without knowing anything about BioStar.

Three generations, each with its own vocabulary (modes, host roles, TLS, optional
services, database engines): BioStar 1 (``1``), BioStar 2 (``2``) and BioStar X (``x``).
Besides the flows to allow, versions 2 and x list *internal* services: ports that must not
answer from the network. They are never allowed for everyone: ``select`` turns them into
rules only for ``trusted_sources``, and ``internal``/``checks`` return them as
expectations for the verify step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    DIRECTIONS,
    PORT_MAX,
    PORT_MIN,
    RULE_OPTIONS,
    RuleError,
    check_rule_keys,
    invalid,
    parse_peers,
    rule_from_dict,
)

PEER_KINDS = ("device", "server", "client", "cloud", "trusted")
PROVENANCES = ("documented", "inferred")
DIRECTION_FILTERS = ("inbound", "outbound", "all")
RESULTS = ("rules", "internal", "checks", "selection")

# Where a flow's peers come from: the site's allowed sources, the BioStar servers'
# addresses (a database host), or the trusted sources (internal services).
PEERS_FROM = ("allowed", "server_addresses", "trusted")

# Provenance for rules the user adds; they are not part of the matrix.
USER_PROVENANCE = "user"

OPEN = "open"
CLOSED = "closed"

SEED = "Suprema KB 'What network port BioStar server & device use' (BioStar 1, 2019-12-30)"
SDK = "BioStar SDK Manual V1.9"

# The sources of the BioStar 2 and BioStar X facts, named as the project's port notes name them.
SOURCES = {
    "S1": "S1 Suprema Support, '[BioStar 2] Server and Device Port Usage' (article 24000005909)",
    "S2": "S2 Suprema Support, '[BioStar 2] The configuration for the connection ... Secure communication"
    " with device' (article 24000097629)",
    "S3": "S3 BioStar 2 Device SDK, BS2IpConfig.h",
    "S4": "S4 Suprema G-SDK documentation, 'Device Gateway: Configuration'",
    "S5": "S5 BioStar 2 documentation, 'Precautions when upgrading BioStar 2'",
    "X1": "X1 Suprema BioStar X hardening guide, 'References'",
    "X2": "X2 Suprema BioStar X hardening guide, 'Network firewall'",
    "X3": "X3 BioStar X manual, 'Service Settings'",
}


def refs(*names: str) -> str:
    return "; ".join(SOURCES[name] for name in names)


@dataclass(frozen=True)
class Flow:
    """One BioStar flow, seen from the managed host.

    ``tls``: None applies with and without TLS device traffic, True only with it, False
    only without. ``service``: the optional service that must be asked for. ``database``:
    the database engine the flow belongs to. ``expect``: ``open`` for a flow to allow,
    ``closed`` for an internal service that must not answer from the network.
    """

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
    tls: Optional[bool] = None
    service: Optional[str] = None
    database: Optional[str] = None
    expect: str = OPEN
    peers_from: str = "allowed"


@dataclass(frozen=True)
class Matrix:
    version: str
    title: str
    ports: Mapping[str, int]
    port_descriptions: Mapping[str, str]
    flows: Tuple[Flow, ...]
    modes: Tuple[str, ...]
    default_mode: str
    host_roles: Tuple[str, ...]
    # None: the version has no TLS device port, so only tls=false is valid.
    tls_default: Optional[bool] = None
    services: Mapping[str, str] = None  # type: ignore[assignment]
    databases: Tuple[str, ...] = ()

    def service_names(self) -> Tuple[str, ...]:
        return tuple(self.services or {})


BIOSTATION_FAMILY = "FaceStation, BioStation T2, D-Station, BioStation, X-Station"
BIOENTRY_FAMILY = "BioEntry Plus, BioEntry W, BioLite Net, Xpass, Xpass Slim, Xpass S2"

V1_MODES = ("server", "direct")

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
    modes=V1_MODES,
    default_mode="server",
    host_roles=("server", "client"),
    services={},
)  # fmt: skip

V2_MODES = ("server_to_device", "device_to_server", "mixed")
TO_DEVICE = ("server_to_device", "mixed")
TO_SERVER = ("device_to_server", "mixed")
S1_S5 = refs("S1", "S5")
DATABASES = ("mariadb", "mssql")


def _internal(
    port_name: str,
    host_role: str,
    modes: Tuple[str, ...],
    purpose: str,
    provenance: str,
    reference: str,
    facts: Tuple[str, ...],
    database: Optional[str] = None,
) -> Flow:
    """An internal service: must not answer from the network, allowed only from trusted sources."""
    return Flow(
        "tcp", port_name, "inbound", host_role, modes, "trusted", purpose, provenance, reference, facts,
        database=database, expect=CLOSED, peers_from="trusted",
    )  # fmt: skip


def _database(
    host_role: str, modes: Tuple[str, ...], provenance: str, reference: str, facts: Tuple[str, ...]
) -> Tuple[Flow, ...]:
    """The database host's inbound port, from the BioStar servers' addresses only."""
    return tuple(
        Flow(
            "tcp", "%s_port" % engine, "inbound", host_role, modes, "server",
            "The BioStar server reaches its %s database on a separate host" % title,
            provenance, reference, facts, database=engine, peers_from="server_addresses",
        )
        for engine, title in (("mariadb", "MariaDB"), ("mssql", "MSSQL"))
    )  # fmt: skip


def _web(port_name: str, service: Optional[str], purpose: str, facts: Tuple[str, ...] = ("B2-8",)) -> Flow:
    return Flow(
        "tcp", port_name, "inbound", "server", V2_MODES, "client", purpose, "documented", S1_S5, facts,
        service=service,
    )  # fmt: skip


BIOSTAR_2 = Matrix(
    version="2",
    title="BioStar 2",
    ports={
        "server_port": 51212,
        "server_tls_port": 51213,
        "device_port": 51211,
        "device_search_port": 51210,
        "web_https_port": 443,
        "web_http_port": 80,
        "ta_https_port": 3002,
        "ta_http_port": 3000,
        "video_https_port": 3012,
        "video_http_port": 3010,
        "report_https_port": 4214,
        "report_http_port": 4213,
        "unified_gateway_https_port": 5002,
        "unified_gateway_http_port": 5000,
        "usb_agent_https_port": 8081,
        "usb_agent_http_port": 8082,
        "cloud_nginx_port": 52000,
        "cloud_ngrok_port": 4443,
        "ta_cloud_port": 52001,
        "mariadb_port": 3312,
        "mssql_port": 1433,
        "fastcgi_port": 9000,
        "websocket_port": 9002,
        "thrift_port": 9310,
        "api_port": 9010,
        "local_api_port": 27017,
        "redis_port": 6379,
    },
    port_descriptions={
        "server_port": "TCP port devices connect to in device-to-server mode (Setting > Server, 10-65535)",
        "server_tls_port": "TCP port devices connect to when secure communication (TLS) is on",
        "device_port": "TCP port of the devices, which the server connects to in server-to-device mode",
        "device_search_port": "UDP port of the device search broadcast",
        "web_https_port": "HTTPS port of the web server (operators' browsers)",
        "web_http_port": "HTTP port of the web server (service web_http)",
        "ta_https_port": "T&A over HTTPS (service ta)",
        "ta_http_port": "T&A over HTTP (service ta_http)",
        "video_https_port": "Video over HTTPS (service video)",
        "video_http_port": "Video over HTTP (service video_http)",
        "report_https_port": "Report over HTTPS (service report)",
        "report_http_port": "Report over HTTP (service report_http)",
        "unified_gateway_https_port": "Unified Gateway over HTTPS (service unified_gateway)",
        "unified_gateway_http_port": "Unified Gateway over HTTP (service unified_gateway_http)",
        "usb_agent_https_port": "USB Agent on the operator's PC, HTTPS (service usb_agent)",
        "usb_agent_http_port": "USB Agent on the operator's PC, HTTP (service usb_agent_http)",
        "cloud_nginx_port": "Cloud, nginx (service cloud)",
        "cloud_ngrok_port": "Cloud, ngrok (service cloud)",
        "ta_cloud_port": "T&A cloud (service cloud)",
        "mariadb_port": "MariaDB (internal on the server; from the BioStar servers on a database host)",
        "mssql_port": "MSSQL (internal on the server; from the BioStar servers on a database host)",
        "fastcgi_port": "FastCGI (internal)",
        "websocket_port": "WebSocket (internal)",
        "thrift_port": "Thrift (internal; 9510 on new installs of 2.7.11 and later)",
        "api_port": "API (internal)",
        "local_api_port": "Local API (internal)",
        "redis_port": "redis of the video service (internal)",
    },
    flows=(
        Flow(
            "tcp", "server_port", "inbound", "server", TO_SERVER, "device",
            "Devices connect to the BioStar 2 server (device-to-server mode)",
            "documented", refs("S1", "S3", "S4"), ("B2-1",), tls=False,
        ),
        Flow(
            "tcp", "server_tls_port", "inbound", "server", TO_SERVER, "device",
            "Devices connect to the BioStar 2 server over TLS (device-to-server mode, secure communication)",
            "documented", refs("S1", "S3", "S4"), ("B2-2",), tls=True,
        ),
        Flow(
            "tcp", "device_port", "outbound", "server", TO_DEVICE, "device",
            "The server connects to each device (server-to-device mode)",
            "documented", refs("S1", "S2", "S4"), ("B2-3",),
        ),
        Flow(
            "udp", "device_search_port", "outbound", "server", V2_MODES, "device",
            "Device search broadcast",
            "documented", refs("S1", "S3"), ("B2-4",),
        ),
        Flow(
            "udp", "device_search_port", "inbound", "server", V2_MODES, "device",
            "Device answers to the server's search broadcast (broadcast replies are not tracked, as I2)",
            "inferred", refs("S1", "S3"), ("B2-4", "I2"),
        ),
        _web("web_https_port", None, "Operators' browsers reach the BioStar 2 web server (HTTPS)", ("B2-7",)),
        _web("web_http_port", "web_http", "Operators' browsers reach the BioStar 2 web server (HTTP)", ("B2-7",)),
        _web("ta_https_port", "ta", "T&A (HTTPS)"),
        _web("ta_http_port", "ta_http", "T&A (HTTP)"),
        _web("video_https_port", "video", "Video (HTTPS)"),
        _web("video_http_port", "video_http", "Video (HTTP)"),
        _web("report_https_port", "report", "Report (HTTPS)"),
        _web("report_http_port", "report_http", "Report (HTTP)"),
        _web("unified_gateway_https_port", "unified_gateway", "Unified Gateway (HTTPS)"),
        _web("unified_gateway_http_port", "unified_gateway_http", "Unified Gateway (HTTP)"),
        Flow(
            "tcp", "cloud_nginx_port", "inbound", "server", V2_MODES, "cloud", "Cloud (nginx)",
            "documented", S1_S5, ("B2-10",), service="cloud",
        ),
        Flow(
            "tcp", "cloud_ngrok_port", "inbound", "server", V2_MODES, "cloud", "Cloud (ngrok)",
            "documented", S1_S5, ("B2-10",), service="cloud",
        ),
        Flow(
            "tcp", "ta_cloud_port", "inbound", "server", V2_MODES, "cloud", "T&A cloud",
            "documented", S1_S5, ("B2-10",), service="cloud",
        ),
        _internal("mariadb_port", "server", V2_MODES, "MariaDB, local to the server", "inferred", S1_S5,
                  ("B2-11",), database="mariadb"),
        _internal("mssql_port", "server", V2_MODES, "MSSQL, local to the server", "inferred", S1_S5,
                  ("B2-11",), database="mssql"),
        _internal("fastcgi_port", "server", V2_MODES, "FastCGI, server-local", "inferred", S1_S5, ("B2-11",)),
        _internal("websocket_port", "server", V2_MODES, "WebSocket, server-local", "inferred", S1_S5, ("B2-11",)),
        _internal("thrift_port", "server", V2_MODES, "Thrift, server-local", "inferred", S1_S5, ("B2-11",)),
        _internal("api_port", "server", V2_MODES, "API, server-local", "inferred", S1_S5, ("B2-11",)),
        _internal("local_api_port", "server", V2_MODES, "Local API, server-local", "inferred", S1_S5, ("B2-11",)),
        _internal("redis_port", "server", V2_MODES, "redis (video), server-local", "inferred", S1_S5, ("B2-11",)),
        Flow(
            "tcp", "web_https_port", "outbound", "client", V2_MODES, "server",
            "The operator's browser connects to the BioStar 2 web server",
            "inferred", refs("S1"), ("B2-7",),
        ),
        Flow(
            "tcp", "usb_agent_https_port", "inbound", "client", V2_MODES, "client",
            "USB Agent for USB enrolment devices on the operator's PC (HTTPS)",
            "documented", refs("S1"), ("B2-9",), service="usb_agent",
        ),
        Flow(
            "tcp", "usb_agent_http_port", "inbound", "client", V2_MODES, "client",
            "USB Agent for USB enrolment devices on the operator's PC (HTTP)",
            "documented", refs("S1"), ("B2-9",), service="usb_agent_http",
        ),
        Flow(
            "udp", "device_search_port", "inbound", "client", V2_MODES, "device",
            "Device answers to a search the client itself runs",
            "inferred", refs("S1", "S3"), ("B2-4",), service="device_search",
        ),
        *_database("database", V2_MODES, "inferred", S1_S5, ("B2-11",)),
    ),
    modes=V2_MODES,
    default_mode="server_to_device",
    host_roles=("server", "client", "database"),
    tls_default=False,
    services={
        "web_http": "web server over HTTP, TCP 80 (server)",
        "ta": "T&A over HTTPS, TCP 3002 (server)",
        "ta_http": "T&A over HTTP, TCP 3000 (server)",
        "video": "Video over HTTPS, TCP 3012 (server)",
        "video_http": "Video over HTTP, TCP 3010 (server)",
        "report": "Report over HTTPS, TCP 4214 (server)",
        "report_http": "Report over HTTP, TCP 4213 (server)",
        "unified_gateway": "Unified Gateway over HTTPS, TCP 5002 (server)",
        "unified_gateway_http": "Unified Gateway over HTTP, TCP 5000 (server)",
        "cloud": "cloud: TCP 52000 (nginx), 4443 (ngrok), 52001 (T&A cloud) (server)",
        "usb_agent": "USB Agent over HTTPS, TCP 8081 (client: the operator's PC)",
        "usb_agent_http": "USB Agent over HTTP, TCP 8082 (client: the operator's PC)",
        "device_search": "UDP 51210 answers to a device search the client runs itself (client)",
    },
    databases=DATABASES,
)  # fmt: skip

X_MODES = ("device_to_server",)


def _x_flow(
    port_name: str,
    direction: str,
    host_role: str,
    peer_kind: str,
    purpose: str,
    provenance: str,
    reference: str,
    facts: Tuple[str, ...],
    **options: Any,
) -> Flow:
    """A BioStar X flow: every one is TCP, in X's one mode (devices connect to the server)."""
    return Flow(
        "tcp", port_name, direction, host_role, X_MODES, peer_kind, purpose, provenance, reference, facts, **options
    )  # fmt: skip


# A device port's purpose, provenance, reference and facts.
DeviceSource = Tuple[str, str, str, Tuple[str, ...]]


def _device_ports(host_role: str, tls: DeviceSource, plaintext: DeviceSource) -> Tuple[Flow, Flow]:
    """Devices reach a BioStar X server on its TLS port and on its plaintext port; the
    site's tls setting keeps one of the two."""
    return (
        _x_flow("server_tls_port", "inbound", host_role, "device", *tls, tls=True),
        _x_flow("server_port", "inbound", host_role, "device", *plaintext, tls=False),
    )


X1 = refs("X1")
X1_X2 = refs("X1", "X2")
X2_X3 = refs("X2", "X3")
X_DB = "%s (BioStar 2's database ports; no BioStar X source names them)" % S1_S5

BIOSTAR_X = Matrix(
    version="x",
    title="BioStar X",
    ports={
        "web_https_port": 443,
        "server_tls_port": 51213,
        "server_port": 51212,
        "core_web_port": 5002,
        "api_port": 9010,
        "cloud_port": 52000,
        "grpc_port": 51219,
        "core_rpc_port": 51218,
        "cache_client_port": 10800,
        "cache_discovery_port": 47500,
        "cache_communication_port": 47100,
        "coordinator_port": 21810,
        "thrift_port": 9310,
        "websocket_port": 9002,
        "fastcgi_port": 9000,
        "mariadb_port": 3312,
        "mssql_port": 1433,
    },
    port_descriptions={
        "web_https_port": "HTTPS of the Unified Gateway: admin and operator login",
        "server_tls_port": "Main Server SSL: device traffic over TLS (preferred)",
        "server_port": "Main Server TCP: plaintext device traffic (block if possible)",
        "core_web_port": "Core Web HTTPS (service core_web; prefer proxied to 443)",
        "api_port": "API (service api; secure it with TLS and authentication)",
        "cloud_port": "Cloud (service cloud; disable if not required)",
        "grpc_port": "gRPC (internal; the Communication Server reaches the Main Server on it)",
        "core_rpc_port": "core service RPC (internal)",
        "cache_client_port": "cache (internal)",
        "cache_discovery_port": "cache (internal)",
        "cache_communication_port": "cache (internal)",
        "coordinator_port": "coordinator (internal)",
        "thrift_port": "Thrift (internal)",
        "websocket_port": "WebSocket (internal)",
        "fastcgi_port": "FastCGI (internal; should be bound locally)",
        "mariadb_port": "MariaDB (internal on the server; from the BioStar servers on a database host)",
        "mssql_port": "MSSQL (internal on the server; from the BioStar servers on a database host)",
    },
    flows=(
        _x_flow(
            "web_https_port", "inbound", "server", "client",
            "Unified Gateway: admin and operator login (HTTPS)", "documented", X1, ("X-1",),
        ),
        *_device_ports(
            "server",
            tls=("Devices connect to the Main Server over TLS (preferred)", "documented", X1, ("X-2",)),
            plaintext=("Devices connect to the Main Server in plaintext (Suprema: block if possible)",
                       "documented", X1, ("X-3",)),
        ),
        _x_flow(
            "core_web_port", "inbound", "server", "client",
            "Core Web HTTPS (Suprema: prefer proxied to 443, restrict direct access)",
            "documented", X1, ("X-4",), service="core_web",
        ),
        _x_flow(
            "api_port", "inbound", "server", "client",
            "API (Suprema: secure with TLS and authentication)", "documented", X1, ("X-6",), service="api",
        ),
        _x_flow(
            "cloud_port", "inbound", "server", "cloud",
            "Cloud (Suprema: disable if not required)", "documented", X1, ("X-6",), service="cloud",
        ),
        _internal("grpc_port", "server", X_MODES, "gRPC, internal only", "documented", X1_X2, ("X-5",)),
        _internal("cache_client_port", "server", X_MODES, "cache, internal only", "documented", X1_X2, ("X-5",)),
        _internal("cache_discovery_port", "server", X_MODES, "cache, internal only", "documented", X1_X2, ("X-5",)),
        _internal("cache_communication_port", "server", X_MODES, "cache, internal only", "documented", X1_X2,
                  ("X-5",)),
        _internal("coordinator_port", "server", X_MODES, "coordinator, internal only", "documented", X1_X2, ("X-5",)),
        _internal("thrift_port", "server", X_MODES, "Thrift, internal only", "documented", X1_X2, ("X-5",)),
        _internal("websocket_port", "server", X_MODES, "WebSocket, internal only", "documented", X1, ("X-6",)),
        _internal("fastcgi_port", "server", X_MODES, "FastCGI, should be bound locally", "documented", X1, ("X-6",)),
        _internal("core_rpc_port", "server", X_MODES, "core service RPC", "inferred", X2_X3, ("X-7",)),
        _internal("mariadb_port", "server", X_MODES, "MariaDB, local to the server", "inferred", X_DB, ("B2-11",),
                  database="mariadb"),
        _internal("mssql_port", "server", X_MODES, "MSSQL, local to the server", "inferred", X_DB, ("B2-11",),
                  database="mssql"),
        *_device_ports(
            "communication_server",
            tls=("Devices connect to the Communication Server over TLS (the Main Server's TLS port)",
                 "inferred", X1 + "; " + X2_X3, ("X-2", "X-7")),
            plaintext=("Devices connect to the Communication Server (the Main Server's communication port)",
                       "documented", X2_X3, ("X-7",)),
        ),
        _x_flow(
            "grpc_port", "outbound", "communication_server", "server",
            "The Communication Server reaches the Main Server's gRPC port",
            "documented", X2_X3, ("X-7",),
        ),
        _internal("grpc_port", "communication_server", X_MODES, "gRPC, internal only", "documented", X1_X2,
                  ("X-5", "X-7")),
        _internal("core_rpc_port", "communication_server", X_MODES, "core service RPC", "inferred", X2_X3,
                  ("X-7",)),
        _x_flow(
            "web_https_port", "outbound", "client", "server",
            "The operator's browser logs in through the Unified Gateway", "inferred", X1, ("X-1",),
        ),
        *_database("database", X_MODES, "inferred", X_DB, ("B2-11",)),
    ),
    modes=X_MODES,
    default_mode="device_to_server",
    host_roles=("server", "client", "database", "communication_server"),
    tls_default=True,
    services={
        "core_web": "Core Web HTTPS, TCP 5002 (server)",
        "api": "API, TCP 9010 (server)",
        "cloud": "cloud, TCP 52000 (server)",
    },
    databases=DATABASES,
)  # fmt: skip

MATRICES: Dict[str, Matrix] = {m.version: m for m in (BIOSTAR_1, BIOSTAR_2, BIOSTAR_X)}
VERSIONS = tuple(MATRICES)
# Every host role of any version, in a stable order (the playbooks map groups to them).
ALL_HOST_ROLES = ("server", "client", "database", "communication_server")


def _text(value: Any) -> Optional[str]:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _choice(argument: str, value: Any, valid: Sequence[str], version: Optional[str] = None) -> str:
    where = " for BioStar version %s" % version if version else ""
    if value is None:
        raise RuleError("%s: missing%s; valid values: %s" % (argument, where, ", ".join(valid)))
    text = _text(value)
    if text not in valid:
        raise RuleError("%s: invalid value %r%s; valid values: %s" % (argument, value, where, ", ".join(valid)))
    return text


def matrix_for(version: Any) -> Matrix:
    text = _text(version)
    return MATRICES[_choice("version", text.lower() if text else version, VERSIONS)]


def resolve_ports(matrix: Matrix, overrides: Optional[Mapping[str, Any]]) -> Dict[str, int]:
    """The matrix's named ports with the user's overrides applied."""
    ports = dict(matrix.ports)
    if overrides is None:
        return ports
    where = " for BioStar version %s" % matrix.version
    if not isinstance(overrides, Mapping):
        raise invalid("port_overrides", overrides, "a dict of %s" % ", ".join(sorted(ports)))
    for key, value in overrides.items():
        if key not in ports:
            raise RuleError(
                "port_overrides: invalid value %r%s; valid values: %s" % (key, where, ", ".join(sorted(ports)))
            )
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


# The keys an extra rule may have: the modules' rule options, less the provenance that
# the matrix sets itself.
EXTRA_RULE_KEYS = tuple(name for name in RULE_OPTIONS if name != "provenance")


def _extra_rule(item: Any, index: int, peers: Tuple[str, ...]) -> Dict[str, Any]:
    where = "extra_rules[%d]" % index
    check_rule_keys(item, where, EXTRA_RULE_KEYS)
    rule = rule_from_dict(item, where)
    return _rule(
        rule.protocol,
        rule.port,
        rule.direction,
        rule.peers if item.get("peers") else peers,
        rule.purpose or "Extra rule from the user",
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


@dataclass(frozen=True)
class Selection:
    """Validated input of one host: which version, mode, host role and options apply."""

    matrix: Matrix
    mode: str
    host_role: str
    tls: bool
    services: Tuple[str, ...]
    database: Optional[str]
    ports: Mapping[str, int]
    peers: Tuple[str, ...]
    server_addresses: Tuple[str, ...]
    trusted_sources: Tuple[str, ...]

    def applies(self, flow: Flow, mode: Optional[str] = None, tls: Optional[bool] = None) -> bool:
        """Whether ``flow`` is part of this host's configuration (or of a variant of it)."""
        mode = self.mode if mode is None else mode
        tls = self.tls if tls is None else tls
        return (
            flow.host_role == self.host_role
            and mode in flow.modes
            and (flow.tls is None or flow.tls == tls)
            and (flow.service is None or flow.service in self.services)
            and (flow.database is None or flow.database == self.database)
        )

    def peers_of(self, flow: Flow) -> Tuple[str, ...]:
        if flow.peers_from == "server_addresses":
            return self.server_addresses
        if flow.peers_from == "trusted":
            return self.trusted_sources
        return self.peers


def _tls(matrix: Matrix, value: Any) -> bool:
    if value is None:
        return bool(matrix.tls_default)
    if not isinstance(value, bool):
        raise invalid("tls", value, "true, false")
    if value and matrix.tls_default is None:
        raise RuleError(
            "tls: invalid value True for BioStar version %s; valid values: false (it has no TLS device port)"
            % matrix.version
        )
    return value


def _services(matrix: Matrix, value: Any) -> Tuple[str, ...]:
    valid = ", ".join(matrix.service_names()) or "none (BioStar %s has no optional services here)" % matrix.version
    if value is None:
        return ()
    if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)):
        raise invalid("services", value, "a list of service names: %s" % valid)
    for item in value:
        if item not in matrix.service_names():
            raise RuleError("services: invalid value %r for BioStar version %s; valid values: %s"
                            % (item, matrix.version, valid))  # fmt: skip
    return tuple(name for name in matrix.service_names() if name in value)


def _database_engine(matrix: Matrix, value: Any) -> Optional[str]:
    if not matrix.databases:
        if value is not None:
            raise RuleError(
                "database: invalid value %r for BioStar version %s; valid values: none (no database flows)"
                % (value, matrix.version)
            )
        return None
    return _choice("database", matrix.databases[0] if value is None else value, matrix.databases, matrix.version)


def validate(
    mode: Any = None,
    host_role: Any = None,
    version: Any = "1",
    peers: Optional[Sequence[str]] = None,
    port_overrides: Optional[Mapping[str, Any]] = None,
    tls: Any = None,
    services: Any = None,
    database: Any = None,
    server_addresses: Optional[Sequence[str]] = None,
    trusted_sources: Optional[Sequence[str]] = None,
) -> Selection:
    """Check every input against the chosen version's vocabulary; None means its default."""
    matrix = matrix_for(version)
    mode = _choice("mode", matrix.default_mode if mode is None else mode, matrix.modes, matrix.version)
    host_role = _choice("host_role", host_role, matrix.host_roles, matrix.version)
    selection = Selection(
        matrix=matrix,
        mode=mode,
        host_role=host_role,
        tls=_tls(matrix, tls),
        services=_services(matrix, services),
        database=_database_engine(matrix, database),
        ports=resolve_ports(matrix, port_overrides),
        peers=parse_peers(peers, "peers"),
        server_addresses=parse_peers(server_addresses, "server_addresses"),
        trusted_sources=parse_peers(trusted_sources, "trusted_sources"),
    )
    needs_servers = any(f.peers_from == "server_addresses" and selection.applies(f) for f in matrix.flows)
    if needs_servers and not selection.server_addresses:
        raise RuleError(
            "server_addresses: missing for host_role %s; valid values: the BioStar servers' addresses or CIDRs"
            " (the database port is never opened to everyone)" % host_role
        )
    return selection


def _flow_rule(selection: Selection, flow: Flow) -> Dict[str, Any]:
    return _rule(
        flow.protocol,
        selection.ports[flow.port_name],
        flow.direction,
        selection.peers_of(flow),
        flow.purpose,
        flow.provenance,
        flow.reference,
    )


def select(
    mode: Any = None,
    host_role: Any = None,
    version: Any = "1",
    peers: Optional[Sequence[str]] = None,
    port_overrides: Optional[Mapping[str, Any]] = None,
    extra_rules: Optional[Sequence[Mapping[str, Any]]] = None,
    direction: Any = "all",
    **options: Any,
) -> List[Dict[str, Any]]:
    """The rules a host with ``host_role`` needs when the site runs in ``mode``.

    ``options`` are ``tls``, ``services``, ``database``, ``server_addresses`` and
    ``trusted_sources`` (see ``validate``). Internal services become rules only for the
    trusted sources; with none given they are left to the host's default deny.

    Pure: validates everything first and raises RuleError (a ValueError) naming the
    argument, the bad value and the valid values.
    """
    selection = validate(mode, host_role, version, peers, port_overrides, **options)
    direction = _choice("direction", direction, DIRECTION_FILTERS)
    if extra_rules is not None and (isinstance(extra_rules, (str, Mapping)) or not isinstance(extra_rules, Sequence)):
        raise invalid("extra_rules", extra_rules, "a list of rule dicts")
    extras = [_extra_rule(item, index, selection.peers) for index, item in enumerate(extra_rules or [])]
    rules = [
        _flow_rule(selection, flow)
        for flow in selection.matrix.flows
        if selection.applies(flow) and (flow.expect == OPEN or selection.trusted_sources)
    ]
    rules.extend(extras)
    if direction != "all":
        rules = [rule for rule in rules if rule["direction"] == direction]
    return _merge(rules)


def internal(**arguments: Any) -> List[Dict[str, Any]]:
    """The host's internal services as expectations: must not answer from the network.

    Each entry is ``{protocol, port, expect: closed, trusted_sources, purpose, provenance,
    reference}``; ``trusted_sources`` are the only addresses they are opened for.
    """
    selection = validate(**arguments)
    entries = {}
    for flow in selection.matrix.flows:
        if flow.expect == CLOSED and selection.applies(flow):
            port = selection.ports[flow.port_name]
            entries.setdefault((flow.protocol, port), {
                "protocol": flow.protocol,
                "port": port,
                "expect": CLOSED,
                "trusted_sources": list(selection.trusted_sources),
                "purpose": flow.purpose,
                "provenance": flow.provenance,
                "reference": flow.reference,
            })  # fmt: skip
    return [entries[key] for key in sorted(entries)]


def _check(protocol: str, port: int, expect: str, label: str, open_from: Sequence[str] = ()) -> Dict[str, Any]:
    check = {"protocol": protocol, "port": port, "expect": expect, "label": label}
    if open_from:
        check["open_from"] = list(open_from)
    return check


def checks(extra_rules: Optional[Sequence[Mapping[str, Any]]] = None, **arguments: Any) -> List[Dict[str, Any]]:
    """What a peer should see on the host's inbound ports: port_probe checks.

    - ``allowed``: each inbound rule's (low) port, open; when the rule is limited to some
      peers, ``open_from`` lists them and a probe from elsewhere expects it closed;
    - ``internal``: each internal service, closed (open only from the trusted sources);
    - ``not opened``: ports the host role opens in another mode or TLS setting of its
      version, or for an optional service it does not run: closed.

    Each check has a ``label`` that starts with its class, so a report can name an
    internal service that answered.
    """
    selection = validate(**arguments)
    rules = select(
        selection.mode, selection.host_role, selection.matrix.version, list(selection.peers),
        dict(selection.ports), extra_rules, "inbound", tls=selection.tls, services=list(selection.services),
        database=selection.database, server_addresses=list(selection.server_addresses),
    )  # fmt: skip
    result: Dict[Tuple[str, int], Dict[str, Any]] = {}
    for rule in rules:
        port = int(str(rule["port"]).split("-", maxsplit=1)[0])
        # Rules limited to the site's allowed sources: the probe is one of them (verify's contract).
        limited = rule["peers"] if rule["peers"] and tuple(rule["peers"]) != selection.peers else []
        label = "allowed: " + rule["purpose"]
        result.setdefault((rule["protocol"], port), _check(rule["protocol"], port, OPEN, label, limited))
    for entry in internal(**arguments):
        key = (entry["protocol"], entry["port"])
        if key not in result:
            label = "internal: %s" % entry["purpose"]
            trusted = entry["trusted_sources"]
            result[key] = _check(entry["protocol"], entry["port"], OPEN if trusted else CLOSED, label, trusted)
    everything = replace(selection, services=selection.matrix.service_names())
    for flow in selection.matrix.flows:
        port = selection.ports[flow.port_name]
        if flow.direction != "inbound" or flow.expect != OPEN or (flow.protocol, port) in result:
            continue
        variants = [(m, t) for m in selection.matrix.modes for t in (False, True)]
        if any(everything.applies(flow, m, t) for m, t in variants):
            result[(flow.protocol, port)] = _check(flow.protocol, port, CLOSED, "not opened: " + flow.purpose)
    return [result[key] for key in sorted(result)]


def selection(**arguments: Any) -> Dict[str, Any]:
    """The validated choices with the version's defaults filled in, for reports and messages."""
    chosen = validate(**arguments)
    return {
        "version": chosen.matrix.version,
        "title": chosen.matrix.title,
        "mode": chosen.mode,
        "host_role": chosen.host_role,
        "tls": chosen.tls,
        "services": list(chosen.services),
        "database": chosen.database,
    }
