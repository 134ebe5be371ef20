"""BioStar 2 and BioStar X in the port matrix, against the facts of PORTS.md.

Each version has its own modes, host roles, TLS default, optional services and internal
services; a value from another version's vocabulary is refused with this version's
valid values.
"""

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils import port_matrix
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import RuleError
from ansible_collections.biostar.hardening.plugins.module_utils.port_matrix import checks, internal, select

SERVERS = ["10.30.0.10"]


def flows(rules):
    return [(r["direction"], r["protocol"], r["port"]) for r in rules]


def ports(rules, direction="inbound"):
    return sorted(r["port"] for r in rules if r["direction"] == direction)


# --- BioStar 2 -------------------------------------------------------------------------

# (mode, tls) -> what a BioStar 2 server opens; B2-1..B2-4 and B2-7.
V2_SERVER = {
    ("server_to_device", False): [
        ("inbound", "tcp", 443),
        ("inbound", "udp", 51210),
        ("outbound", "tcp", 51211),
        ("outbound", "udp", 51210),
    ],
    ("device_to_server", False): [
        ("inbound", "tcp", 443),
        ("inbound", "tcp", 51212),
        ("inbound", "udp", 51210),
        ("outbound", "udp", 51210),
    ],
    ("device_to_server", True): [
        ("inbound", "tcp", 443),
        ("inbound", "tcp", 51213),
        ("inbound", "udp", 51210),
        ("outbound", "udp", 51210),
    ],
    ("mixed", False): [
        ("inbound", "tcp", 443),
        ("inbound", "tcp", 51212),
        ("inbound", "udp", 51210),
        ("outbound", "tcp", 51211),
        ("outbound", "udp", 51210),
    ],
    ("mixed", True): [
        ("inbound", "tcp", 443),
        ("inbound", "tcp", 51213),
        ("inbound", "udp", 51210),
        ("outbound", "tcp", 51211),
        ("outbound", "udp", 51210),
    ],
    # TLS changes only the port devices connect to, which server-to-device mode does not use.
    ("server_to_device", True): [
        ("inbound", "tcp", 443),
        ("inbound", "udp", 51210),
        ("outbound", "tcp", 51211),
        ("outbound", "udp", 51210),
    ],
}


@pytest.mark.parametrize(("mode", "tls"), sorted(V2_SERVER))
def test_biostar_2_server_by_mode_and_tls(mode, tls):
    assert flows(select(mode, "server", "2", tls=tls)) == V2_SERVER[(mode, tls)]


def test_biostar_2_defaults_are_server_to_device_without_tls():
    assert select(None, "server", "2") == select("server_to_device", "server", "2", tls=False)
    assert port_matrix.selection(version="2", host_role="server")["tls"] is False


def test_biostar_2_tls_opens_51213_and_never_51212():
    for mode in ("device_to_server", "mixed"):
        inbound = ports(select(mode, "server", "2", tls=True))
        assert 51213 in inbound and 51212 not in inbound


@pytest.mark.parametrize(
    ("port", "direction", "provenance", "fact", "source"),
    [
        (51212, "inbound", "documented", "B2-1", "S4"),
        (51213, "inbound", "documented", "B2-2", "S3"),
        (51211, "outbound", "documented", "B2-3", "S2"),
        (443, "inbound", "documented", "B2-7", "S1"),
    ],
)
def test_biostar_2_provenance_and_reference_name_the_sources(port, direction, provenance, fact, source):
    rules = select("mixed", "server", "2", tls=(port == 51213))
    (rule,) = [r for r in rules if r["port"] == port and r["direction"] == direction]
    assert rule["provenance"] == provenance
    assert rule["reference"].startswith("S1 ") and source + " " in rule["reference"]
    flow = next(f for f in port_matrix.BIOSTAR_2.flows if f.direction == direction
                and port_matrix.BIOSTAR_2.ports[f.port_name] == port and f.expect == "open")  # fmt: skip
    assert fact in flow.facts


def test_biostar_2_search_replies_are_inferred():
    (rule,) = [r for r in select("mixed", "server", "2") if r["port"] == 51210 and r["direction"] == "inbound"]
    assert rule["provenance"] == "inferred"


# Each optional service adds exactly these inbound ports on its host role (B2-7..B2-10).
V2_SERVICES = {
    "web_http": ("server", [80]),
    "ta": ("server", [3002]),
    "ta_http": ("server", [3000]),
    "video": ("server", [3012]),
    "video_http": ("server", [3010]),
    "report": ("server", [4214]),
    "report_http": ("server", [4213]),
    "unified_gateway": ("server", [5002]),
    "unified_gateway_http": ("server", [5000]),
    "cloud": ("server", [4443, 52000, 52001]),
    "usb_agent": ("client", [8081]),
    "usb_agent_http": ("client", [8082]),
    "device_search": ("client", [51210]),
}


@pytest.mark.parametrize("service", sorted(V2_SERVICES))
def test_biostar_2_each_optional_service_is_off_unless_asked(service):
    host_role, added = V2_SERVICES[service]
    without = ports(select(None, host_role, "2"))
    with_it = ports(select(None, host_role, "2", services=[service]))
    assert sorted(set(with_it) - set(without)) == added
    assert not set(added) & set(without)
    # Asked for on the other host role, it opens nothing there.
    other = "client" if host_role == "server" else "server"
    assert select(None, other, "2", services=[service]) == select(None, other, "2")


def test_biostar_2_client_is_a_browser():
    assert flows(select(None, "client", "2")) == [("outbound", "tcp", 443)]
    (rule,) = select(None, "client", "2")
    assert rule["provenance"] == "inferred"


@pytest.mark.parametrize(("database", "port"), [(None, 3312), ("mariadb", 3312), ("mssql", 1433)])
def test_database_host_opens_its_port_to_the_servers_only(database, port):
    for version in ("2", "x"):
        rules = select(None, "database", version, peers=["10.0.0.0/8"], server_addresses=SERVERS, database=database)
        assert flows(rules) == [("inbound", "tcp", port)]
        assert rules[0]["peers"] == ["10.30.0.10/32"]


@pytest.mark.parametrize("version", ["2", "x"])
def test_database_host_without_server_addresses_is_refused(version):
    with pytest.raises(RuleError, match=r"server_addresses: missing for host_role database; valid values"):
        select(None, "database", version)


V2_INTERNAL = [3312, 6379, 9000, 9002, 9010, 9310, 27017]


def test_biostar_2_internal_services_are_never_rules_without_trusted_sources():
    for mode in port_matrix.BIOSTAR_2.modes:
        assert not set(ports(select(mode, "server", "2", services=list(V2_SERVICES)))) & set(V2_INTERNAL)
    entries = internal(version="2", host_role="server")
    assert [e["port"] for e in entries] == V2_INTERNAL
    assert all(e["expect"] == "closed" and e["trusted_sources"] == [] for e in entries)


def test_biostar_2_internal_database_port_follows_the_engine():
    entries = internal(version="2", host_role="server", database="mssql")
    assert 1433 in [e["port"] for e in entries] and 3312 not in [e["port"] for e in entries]


def test_internal_services_open_only_to_trusted_sources():
    rules = select(None, "server", "2", peers=["10.20.0.0/24"], trusted_sources=["10.9.0.0/16"])
    trusted = [r for r in rules if r["port"] in V2_INTERNAL]
    assert sorted(r["port"] for r in trusted) == V2_INTERNAL
    assert all(r["peers"] == ["10.9.0.0/16"] for r in trusted)
    assert all(r["peers"] == ["10.20.0.0/24"] for r in rules if r["port"] not in V2_INTERNAL)


def test_thrift_override_moves_the_internal_port():
    entries = internal(version="2", host_role="server", port_overrides={"thrift_port": 9510})
    assert 9510 in [e["port"] for e in entries] and 9310 not in [e["port"] for e in entries]


def test_biostar_2_server_port_override():
    rules = select("device_to_server", "server", "2", port_overrides={"server_port": "52300"})
    assert 52300 in ports(rules) and 51212 not in ports(rules)


def test_biostar_2_ipv6_and_zone_master_ports_are_not_opened():
    everything = set()
    for mode in port_matrix.BIOSTAR_2.modes:
        for tls in (False, True):
            for role in ("server", "client"):
                everything |= {r["port"] for r in select(mode, role, "2", tls=tls, services=list(V2_SERVICES))}
    assert not everything & {52210, 52211, 52212, 52213, 51214, 445}


# --- BioStar X -------------------------------------------------------------------------

X_INTERNAL = [3312, 9000, 9002, 9310, 10800, 21810, 47100, 47500, 51218, 51219]


def test_biostar_x_server_defaults_to_tls():
    assert flows(select(None, "server", "x")) == [("inbound", "tcp", 443), ("inbound", "tcp", 51213)]
    assert select(None, "server", "x") == select("device_to_server", "server", "x", tls=True)


def test_biostar_x_plaintext_only_when_asked():
    assert flows(select(None, "server", "x", tls=False)) == [("inbound", "tcp", 443), ("inbound", "tcp", 51212)]


@pytest.mark.parametrize(("service", "port"), [("core_web", 5002), ("api", 9010), ("cloud", 52000)])
def test_biostar_x_optional_services(service, port):
    assert sorted(set(ports(select(None, "server", "x", services=[service]))) - {443, 51213}) == [port]


def test_biostar_x_internal_services_match_x5_x6_x7():
    entries = internal(version="x", host_role="server")
    assert [e["port"] for e in entries] == X_INTERNAL
    by_port = {e["port"]: e for e in entries}
    for port in (51219, 10800, 47500, 47100, 21810, 9310):
        assert by_port[port]["provenance"] == "documented"
        assert "X1 " in by_port[port]["reference"] and "X2 " in by_port[port]["reference"]
    assert by_port[51218]["provenance"] == "inferred"
    assert not set(ports(select(None, "server", "x", services=["core_web", "api", "cloud"]))) & set(X_INTERNAL)


def test_biostar_x_communication_server():
    rules = select(None, "communication_server", "x")
    assert flows(rules) == [("inbound", "tcp", 51213), ("outbound", "tcp", 51219)]
    plaintext = select(None, "communication_server", "x", tls=False)
    (rule,) = [r for r in plaintext if r["direction"] == "inbound"]
    assert (rule["port"], rule["provenance"]) == (51212, "documented")
    assert "X2 " in rule["reference"] and "X3 " in rule["reference"]
    assert [e["port"] for e in internal(version="x", host_role="communication_server")] == [51218, 51219]


def test_biostar_x_client_logs_in_through_443():
    assert flows(select(None, "client", "x")) == [("outbound", "tcp", 443)]


def test_biostar_x_has_no_device_port_or_device_search():
    """PORTS.md: 51211 and UDP 51210 were not found for BioStar X, so they are not in its matrix."""
    assert not {51211, 51210} & set(port_matrix.BIOSTAR_X.ports.values())


# --- Vocabulary: another version's value is refused with this version's valid values ---


V = " for BioStar version "


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"version": "x", "mode": "server"}, "mode: invalid value 'server'" + V + "x; valid values: device_to_server"),
        ({"version": "x", "mode": "direct"}, "valid values: device_to_server"),
        ({"version": "x", "mode": "server_to_device"}, "valid values: device_to_server"),
        ({"version": "2", "mode": "server"}, "valid values: server_to_device, device_to_server, mixed"),
        ({"version": "1", "mode": "mixed"}, "mode: invalid value 'mixed'" + V + "1; valid values: server, direct"),
        ({"version": "1", "host_role": "database"}, "host_role: invalid value 'database'" + V + "1; valid values:"),
        ({"version": "2", "host_role": "communication_server"}, "valid values: server, client, database"),
        ({"version": "1", "tls": True}, "tls: invalid value True" + V + "1; valid values: false"),
        ({"version": "2", "tls": "yes"}, "tls: invalid value 'yes'; valid values: true, false"),
        ({"version": "1", "services": ["ta"]}, "services: invalid value 'ta'" + V + "1; valid values: none"),
        ({"version": "x", "services": ["ta"]}, "services: invalid value 'ta'" + V + "x; valid values: core_web, api"),
        ({"version": "2", "services": ["core_web"]}, "services: invalid value 'core_web'" + V + "2; valid values: web"),
        ({"version": "2", "services": "ta"}, "services: invalid value 'ta'; valid values: a list of service names"),
        ({"version": "1", "database": "mariadb"}, "database: invalid value 'mariadb'" + V + "1; valid values: none"),
        ({"version": "2", "database": "oracle"}, "database: invalid value 'oracle'" + V + "2; valid values: mariadb"),
        ({"version": "x", "port_overrides": {"device_port": 1}}, "port_overrides: invalid value 'device_port'" + V),
        ({"version": "2", "port_overrides": {"server_port": 0}}, "port_overrides.server_port: invalid value 0"),
        ({"version": "x", "trusted_sources": ["10.0.0.1/8"]}, "trusted_sources: invalid value '10.0.0.1/8'; it has"),
        ({"version": "2", "server_addresses": ["db"]}, "server_addresses: invalid value 'db'"),
    ],
)
def test_cross_version_values_are_refused_with_this_versions_valid_values(kwargs, message):
    args = {"host_role": "server"}
    args.update(kwargs)
    with pytest.raises(RuleError) as error:
        select(**args)
    assert message in str(error.value)


def test_version_is_case_insensitive_for_x():
    assert select(None, "server", "X") == select(None, "server", "x")


# --- checks: what a peer must see ------------------------------------------------------


def test_checks_for_biostar_1_reproduce_the_other_mode_expectations():
    direct = {c["port"]: c["expect"] for c in checks(version="1", mode="direct", host_role="server")}
    assert direct == {1480: "open", 1470: "closed", 1471: "closed", 51110: "closed"}
    server = {c["port"]: c["expect"] for c in checks(version="1", mode="server", host_role="server")}
    assert server == {1470: "open", 1471: "open", 1480: "open", 51110: "open"}


def test_checks_classify_allowed_internal_and_not_opened():
    result = {(c["protocol"], c["port"]): c for c in checks(version="x", host_role="server")}
    assert result[("tcp", 51213)]["expect"] == "open" and result[("tcp", 51213)]["label"].startswith("allowed: ")
    assert result[("tcp", 51212)]["expect"] == "closed" and result[("tcp", 51212)]["label"].startswith("not opened: ")
    for port in X_INTERNAL:
        assert result[("tcp", port)]["expect"] == "closed"
        assert result[("tcp", port)]["label"].startswith("internal: ")
        assert "open_from" not in result[("tcp", port)]


def test_checks_open_internal_ports_from_trusted_sources_only():
    result = {c["port"]: c for c in checks(version="x", host_role="server", trusted_sources=["10.9.0.0/16"])}
    assert result[51219]["expect"] == "open" and result[51219]["open_from"] == ["10.9.0.0/16"]


def test_checks_of_a_database_host_open_from_the_servers_only():
    (check,) = checks(version="2", host_role="database", server_addresses=SERVERS, peers=["10.0.0.0/8"])
    assert check == {
        "protocol": "tcp",
        "port": 3312,
        "expect": "open",
        "label": check["label"],
        "open_from": ["10.30.0.10/32"],
    }
    assert check["label"].startswith("allowed: ")


def test_checks_include_extra_rules_and_ignore_peers_equal_to_the_allowed_sources():
    result = checks(
        version="2",
        host_role="client",
        peers=["10.0.0.0/8"],
        extra_rules=[{"protocol": "tcp", "port": 8443, "purpose": "site proxy"}],
    )
    (extra,) = [c for c in result if c["port"] == 8443]
    assert extra == {"protocol": "tcp", "port": 8443, "expect": "open", "label": "allowed: site proxy"}
