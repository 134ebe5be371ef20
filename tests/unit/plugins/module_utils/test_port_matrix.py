"""The BioStar port matrix: every mode x host_role pair, overrides, extras and bad input."""

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils import port_matrix
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import RuleError
from ansible_collections.biostar.hardening.plugins.module_utils.port_matrix import select


def flows(rules):
    return [(r["direction"], r["protocol"], r["port"]) for r in rules]


# The default matrix, straight from PORTS.md ("What each managed host opens, by mode").
EXPECTED = {
    ("server", "server"): [
        ("inbound", "tcp", 1470),
        ("inbound", "tcp", 1471),
        ("inbound", "tcp", 1480),
        ("inbound", "udp", 51110),
    ],
    ("direct", "server"): [("inbound", "tcp", 1480)],
    ("direct", "client"): [
        ("inbound", "udp", 51110),
        ("outbound", "tcp", 1470),
        ("outbound", "tcp", 1471),
        ("outbound", "tcp", 1480),
        ("outbound", "udp", 51110),
    ],
    ("server", "client"): [
        ("inbound", "udp", 51110),
        ("outbound", "tcp", 1480),
        ("outbound", "udp", 51110),
    ],
}


def test_mode_defaults_to_the_versions_own():
    assert select(None, "server") == select("server", "server")


@pytest.mark.parametrize(("mode", "host_role"), sorted(EXPECTED))
def test_every_mode_and_host_role_matches_ports_md(mode, host_role):
    assert flows(select(mode, host_role)) == EXPECTED[(mode, host_role)]


def test_seed_server_mode_list_comes_out_exactly():
    rules = select("server", "server", direction="inbound")
    assert sorted(r["port"] for r in rules if r["protocol"] == "tcp") == [1470, 1471, 1480]
    assert [r["port"] for r in rules if r["protocol"] == "udp"] == [51110]
    assert all(r["provenance"] == "documented" for r in rules)


@pytest.mark.parametrize(
    ("mode", "host_role", "direction", "port", "provenance"),
    [
        ("direct", "server", "inbound", 1480, "inferred"),
        ("server", "client", "inbound", 51110, "inferred"),
        ("server", "client", "outbound", 51110, "documented"),
        ("direct", "client", "outbound", 1470, "documented"),
        ("direct", "client", "outbound", 1480, "inferred"),
    ],
)
def test_provenance_follows_ports_md(mode, host_role, direction, port, provenance):
    (rule,) = [r for r in select(mode, host_role) if r["direction"] == direction and r["port"] == port]
    assert rule["provenance"] == provenance
    assert rule["reference"]
    assert rule["purpose"]


def test_shared_port_merges_purposes_and_is_documented_when_any_part_is():
    (rule,) = [r for r in select("server", "server") if r["port"] == 1480]
    assert rule["provenance"] == "documented"
    assert "Devices connect" in rule["purpose"]
    assert "clients connect" in rule["purpose"]


def test_rule_keys_are_the_documented_shape():
    for rule in select("direct", "client"):
        assert set(rule) == {"protocol", "port", "direction", "peers", "purpose", "provenance", "reference"}


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
def test_direction_filter(direction):
    rules = select("direct", "client", direction=direction)
    assert rules
    assert {r["direction"] for r in rules} == {direction}


def test_peers_apply_to_every_rule_and_are_normalised():
    rules = select("server", "server", peers=["2001:db8::/64", "10.1.0.0/16", "192.0.2.7"])
    assert {tuple(r["peers"]) for r in rules} == {("10.1.0.0/16", "192.0.2.7/32", "2001:db8::/64")}


def test_server_port_override_moves_every_1480_flow():
    rules = select("direct", "client", port_overrides={"server_port": 1490})
    ports = flows(rules)
    assert ("outbound", "tcp", 1490) in ports
    assert all(flow[2] != 1480 for flow in ports)


def test_device_port_overrides_accept_digit_strings():
    rules = select("server", "server", port_overrides={"biostation_device_port": "2470", "bioentry_device_port": 2471})
    assert [r["port"] for r in rules if r["protocol"] == "tcp"] == [1480, 2470, 2471]


def test_override_onto_an_existing_port_merges_instead_of_duplicating():
    rules = select("server", "server", port_overrides={"bioentry_device_port": 1470})
    assert [r["port"] for r in rules if r["protocol"] == "tcp"] == [1470, 1480]


def test_extra_rules_are_added_with_user_provenance_and_default_peers():
    rules = select(
        "direct",
        "server",
        peers=["10.0.0.0/8"],
        extra_rules=[
            {"protocol": "tcp", "port": "8000-8010", "purpose": "site tools"},
            {"protocol": "udp", "port": 514, "direction": "outbound", "peers": ["192.0.2.1"]},
        ],
    )
    by_port = {r["port"]: r for r in rules}
    assert by_port["8000-8010"]["provenance"] == "user"
    assert by_port["8000-8010"]["peers"] == ["10.0.0.0/8"]
    assert by_port["8000-8010"]["purpose"] == "site tools"
    assert by_port[514]["direction"] == "outbound"
    assert by_port[514]["peers"] == ["192.0.2.1/32"]


def test_extra_rules_obey_the_direction_filter():
    rules = select(
        "direct", "server", direction="inbound", extra_rules=[{"protocol": "udp", "port": 9, "direction": "outbound"}]
    )
    assert flows(rules) == [("inbound", "tcp", 1480)]


def test_select_is_pure():
    extra = [{"protocol": "tcp", "port": 10}]
    first = select("server", "server", extra_rules=extra)
    first[0]["port"] = 1
    assert select("server", "server", extra_rules=extra)[0]["port"] == 10
    assert extra == [{"protocol": "tcp", "port": 10}]


def assert_error(message_parts, **kwargs):
    args = {"mode": "server", "host_role": "server"}
    args.update(kwargs)
    with pytest.raises(RuleError) as error:
        select(**args)
    for part in message_parts:
        assert part in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "parts"),
    [
        ({"mode": "servr"}, ["mode", "'servr'", "server, direct"]),
        ({"host_role": None}, ["host_role", "missing", "server, client"]),
        ({"host_role": "device"}, ["host_role", "'device'", "server, client"]),
        ({"version": "3"}, ["version", "'3'", "valid values: 1, 2, x"]),
        ({"direction": "in"}, ["direction", "'in'", "inbound, outbound, all"]),
        ({"peers": ["10.0.0.300/24"]}, ["peers", "10.0.0.300/24", "CIDRs"]),
        ({"peers": ["2001:db8::zz/64"]}, ["peers", "2001:db8::zz/64"]),
        ({"peers": ["10.0.0.1/24"]}, ["peers", "host bits", "10.0.0.0/24"]),
        ({"peers": ["2001:db8::1/64"]}, ["peers", "host bits", "2001:db8::/64"]),
        ({"peers": "10.0.0.0/8"}, ["peers", "a list"]),
        ({"port_overrides": {"sever_port": 1}}, ["port_overrides", "sever_port", "version 1", "server_port"]),
        ({"port_overrides": {"server_port": 0}}, ["port_overrides.server_port", "0", "a single port 1-65535"]),
        ({"port_overrides": {"server_port": 65536}}, ["port_overrides.server_port", "65536", "a single port"]),
        ({"port_overrides": {"server_port": "1-2"}}, ["port_overrides.server_port", "single port"]),
        ({"port_overrides": {"server_port": True}}, ["port_overrides.server_port", "True"]),
        ({"port_overrides": ["server_port"]}, ["port_overrides", "a dict"]),
        ({"extra_rules": [{"protocol": "tcp", "port": 70000}]}, ["extra_rules[0].port", "70000", "1-65535"]),
        ({"extra_rules": [{"protocol": "tcp", "port": 0}]}, ["extra_rules[0].port", "0"]),
        ({"extra_rules": [{"protocol": "tcp", "port": "20-10"}]}, ["extra_rules[0].port", "'20-10'", "low port"]),
        ({"extra_rules": [{"protocol": "tcp", "port": "1-x"}]}, ["extra_rules[0].port", "'1-x'"]),
        ({"extra_rules": [{"protocol": "icmp", "port": 1}]}, ["extra_rules[0].protocol", "icmp", "tcp, udp"]),
        ({"extra_rules": [{"protocol": "tcp"}]}, ["extra_rules[0].port", "missing"]),
        ({"extra_rules": [{"protocol": "tcp", "port": 1, "direction": "in"}]}, ["extra_rules[0].direction", "in"]),
        ({"extra_rules": [{"protocol": "tcp", "port": 1, "peers": ["x"]}]}, ["extra_rules[0].peers", "'x'"]),
        ({"extra_rules": [{"protocol": "tcp", "port": 1, "prot": 2}]}, ["extra_rules[0] key", "prot", "protocol"]),
        ({"extra_rules": [{}, "tcp/1"]}, ["extra_rules[0].protocol"]),
        ({"extra_rules": ["tcp/1"]}, ["extra_rules[0]", "a dict"]),
        # Without provenance: the matrix sets it itself.
        (
            {"extra_rules": [8080]},
            ["extra_rules[0]", "8080", "keys protocol, port, direction, peers, purpose, reference"],
        ),
        ({"extra_rules": {"protocol": "tcp"}}, ["extra_rules", "a list"]),
    ],
)
def test_bad_input_names_argument_value_and_valid_values(kwargs, parts):
    assert_error(parts, **kwargs)


def test_every_flow_carries_provenance_and_reference():
    for matrix in port_matrix.MATRICES.values():
        for flow in matrix.flows:
            assert flow.provenance in port_matrix.PROVENANCES
            assert flow.reference
            assert flow.facts
            assert flow.port_name in matrix.ports
            assert set(flow.modes) <= set(matrix.modes)
            assert flow.host_role in matrix.host_roles
            assert flow.peer_kind in port_matrix.PEER_KINDS
            assert flow.service is None or flow.service in matrix.services
            assert flow.database is None or flow.database in matrix.databases
            assert flow.expect in ("open", "closed")
            # Internal services are only ever opened to the trusted sources.
            assert (flow.expect == "closed") == (flow.peers_from == "trusted")
