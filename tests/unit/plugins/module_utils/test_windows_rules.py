"""The controller's half of win_firewall_ports: records, names, ports, results."""

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils import windows_rules as wr
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import RuleError

SERVER_MODE = [
    {"protocol": "tcp", "port": 1470, "direction": "inbound", "peers": [], "purpose": "BioStation devices"},
    {"protocol": "tcp", "port": 1471, "direction": "inbound", "peers": []},
    {"protocol": "tcp", "port": 1480, "direction": "inbound", "peers": [], "provenance": "documented"},
    {"protocol": "udp", "port": 51110, "direction": "inbound", "peers": []},
]


def prepare(rules=None, **options):
    args = {"rules": SERVER_MODE if rules is None else rules}
    args.update(options)
    return wr.prepare(args)


def by_port(prepared):
    return {item["rule"]["port"]: item for item in prepared.records}


def test_server_mode_records_carry_cmdlet_parameters():
    records = by_port(prepare())
    assert sorted(records) == [1470, 1471, 1480, 51110]
    tcp = records[1470]
    assert tcp["name"] == "biostar-hardening-in-tcp-1470-any"
    assert tcp["properties"] == {
        "DisplayName": "biostar-hardening: inbound TCP 1470 from any",
        "Description": "BioStation devices. Managed by biostar.hardening (group biostar-hardening);"
        " manual changes are reverted.",
        "Direction": "Inbound",
        "Action": "Allow",
        "Enabled": "True",
        "Profile": ["Domain", "Private", "Public"],
        "Protocol": "TCP",
        "LocalPort": ["1470"],
        "RemotePort": ["Any"],
        "LocalAddress": ["Any"],
        "RemoteAddress": ["Any"],
    }
    assert records[51110]["properties"]["Protocol"] == "UDP"
    assert records[51110]["name"] == "biostar-hardening-in-udp-51110-any"


def test_record_properties_are_exactly_the_compared_ones():
    for item in prepare().records:
        assert tuple(item["properties"]) == wr.PROPERTIES


def test_outbound_rule_matches_the_remote_port():
    item = prepare([{"protocol": "tcp", "port": 1480, "direction": "outbound", "peers": ["10.0.0.0/24"]}]).records[0]
    assert item["properties"]["Direction"] == "Outbound"
    assert item["properties"]["LocalPort"] == ["Any"]
    assert item["properties"]["RemotePort"] == ["1480"]
    assert item["properties"]["RemoteAddress"] == ["10.0.0.0/24"]
    assert item["properties"]["DisplayName"] == "biostar-hardening: outbound TCP 1480 to 10.0.0.0/24"
    assert item["name"].startswith("biostar-hardening-out-tcp-1480-peers-")


def test_port_range_is_passed_as_windows_writes_it():
    item = prepare([{"protocol": "udp", "port": "51110-51120"}]).records[0]
    assert item["properties"]["LocalPort"] == ["51110-51120"]
    assert item["name"] == "biostar-hardening-in-udp-51110-51120-any"
    assert item["rule"]["port"] == "51110-51120"


def test_names_are_stable_and_peer_order_does_not_matter():
    peers = ["2001:db8::/64", "10.1.0.0/16", "10.0.0.0/24"]
    first = prepare([{"protocol": "tcp", "port": 1480, "peers": peers}]).records[0]
    again = prepare([{"protocol": "tcp", "port": 1480, "peers": list(reversed(peers))}]).records[0]
    assert first["name"] == again["name"]
    assert first["properties"] == again["properties"]
    # Sorted by family then network, as owned_rules normalises them.
    assert first["properties"]["RemoteAddress"] == ["10.0.0.0/24", "10.1.0.0/16", "2001:db8::/64"]


def test_name_is_pinned_across_releases():
    # A changed naming scheme would orphan (and later duplicate) every rule on every host.
    item = prepare([{"protocol": "tcp", "port": 1480, "peers": ["10.0.0.0/24"]}]).records[0]
    assert item["name"] == "biostar-hardening-in-tcp-1480-peers-a34d80f7b68b"


def test_different_peers_different_names_same_peers_merge():
    rules = [
        {"protocol": "tcp", "port": 1480, "peers": ["10.0.0.0/24"]},
        {"protocol": "tcp", "port": 1480, "peers": ["10.0.1.0/24"]},
        {"protocol": "tcp", "port": 1480, "peers": ["10.0.0.0/24"], "purpose": "duplicate"},
        {"protocol": "tcp", "port": 1480},
    ]
    names = [item["name"] for item in prepare(rules).records]
    assert len(names) == len(set(names)) == 3


def test_both_families_in_one_rule():
    item = prepare([{"protocol": "udp", "port": 51110, "peers": ["fd00::/8", "192.168.1.10"]}]).records[0]
    assert item["properties"]["RemoteAddress"] == ["192.168.1.10/32", "fd00::/8"]
    assert item["properties"]["DisplayName"].endswith("from 2 peers")


def test_group_and_profiles_shape_the_records():
    prepared = prepare(group="site-a", profiles=["Public", "Domain", "Public"])
    assert prepared.profiles == ("Domain", "Public")
    for item in prepared.records:
        assert item["name"].startswith("site-a-in-")
        assert item["properties"]["Profile"] == ["Domain", "Public"]
        assert "(group site-a)" in item["properties"]["Description"]


def test_absent_desires_nothing_and_ignores_rules():
    prepared = prepare([{"protocol": "icmp", "port": 0}], state="absent")
    assert prepared.records == ()
    assert prepared.module_args()["desired"] == []


def test_module_args_send_records_not_rules():
    args = prepare(management_ports=[5986, 22, 5986]).module_args()
    assert set(args) == {"state", "group", "profiles", "management_ports", "desired"}
    assert args["management_ports"] == [22, 5986]
    assert all(set(item) == {"name", "properties"} for item in args["desired"])


def test_connection_port_joins_management_ports():
    prepared = wr.prepare({"rules": [], "management_ports": [22]}, connection_port=5985)
    assert prepared.management_ports == (22, 5985)


@pytest.mark.parametrize(
    "rules, message",
    [
        ([{"protocol": "tcp", "port": 0}], "rules[0].port: invalid value 0"),
        ([{"protocol": "tcp", "port": 70000}], "rules[0].port: invalid value 70000"),
        ([{"protocol": "tcp", "port": "1480-1470"}], "rules[0].port: invalid range"),
        ([{"protocol": "icmp", "port": 1}], "rules[0].protocol: invalid value 'icmp'; valid values: tcp, udp"),
        ([{"protocol": "tcp", "port": 1, "direction": "in"}], "rules[0].direction: invalid value 'in'"),
        ([{"protocol": "tcp", "port": 1, "peers": ["10.0.0.1/24"]}], "did you mean 10.0.0.0/24"),
        ([{"protocol": "tcp", "port": 1, "peers": ["not-an-ip"]}], "rules[0].peers: invalid value 'not-an-ip'"),
        ([{"protocol": "tcp"}], "rules[0].port: missing"),
        ("tcp/1480", "rules: invalid value 'tcp/1480'"),
    ],
)
def test_bad_rules_fail_naming_the_field(rules, message):
    with pytest.raises(RuleError) as caught:
        prepare(rules)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"group": ""}, "group: invalid value ''"),
        ({"group": "biostar*"}, "group: invalid value 'biostar*'"),
        ({"group": " padded"}, "group: invalid value ' padded'"),
        ({"profiles": []}, "profiles: invalid value []"),
        ({"profiles": ["domain"]}, "profiles: invalid value 'domain'; valid values: Domain, Private, Public"),
        ({"management_ports": [0]}, "management_ports: invalid value 0"),
        ({"management_ports": ["5985-5986"]}, "management_ports: invalid value '5985-5986'"),
        ({"state": "gone"}, "state: invalid value 'gone'; valid values: present, absent"),
        ({"desired": []}, "desired: set by the action plugin"),
    ],
)
def test_bad_options_fail(options, message):
    with pytest.raises(RuleError) as caught:
        prepare(**options)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "transport, port, scheme, expected",
    [
        ("winrm", 5986, None, 5986),
        ("ansible.builtin.winrm", "5985", "http", 5985),
        ("winrm", None, "http", 5985),
        ("psrp", None, None, 5986),
        ("psrp", None, "http", 5985),
        ("ansible.builtin.psrp", 15986, "https", 15986),
        ("ssh", None, None, 22),
        ("ssh", 2222, None, 2222),
        ("ansible.builtin.paramiko_ssh", None, None, 22),
        ("local", None, None, None),
        ("community.general.something", None, None, None),
    ],
)
def test_connection_port(transport, port, scheme, expected):
    assert wr.connection_port(transport, port, scheme) == expected


def test_connection_port_rejects_nonsense():
    with pytest.raises(RuleError):
        wr.connection_port("winrm", "5985-5986")


def found(name, **changes):
    """A rule as win_firewall_ports.ps1 reports it after reading the host."""
    properties = {
        "DisplayName": "x",
        "Description": "y",
        "Direction": "Inbound",
        "Action": "Allow",
        "Enabled": "True",
        "Profile": ["Domain", "Private", "Public"],
        "Protocol": "TCP",
        "LocalPort": ["1471"],
        "RemotePort": ["Any"],
        "LocalAddress": ["Any"],
        "RemoteAddress": ["Any"],
    }
    properties.update(changes)
    return {"name": name, "properties": properties}


def test_rule_from_record_reads_windows_address_forms():
    data, rule = wr.rule_from_record(
        found("r", RemoteAddress=["10.0.0.0/255.255.255.0", "10.9.9.9", "2001:db8::/64"], LocalPort=["1470-1471"])
    )
    assert rule is not None
    assert data == {
        "protocol": "tcp",
        "port": "1470-1471",
        "direction": "inbound",
        "peers": ["10.0.0.0/24", "10.9.9.9/32", "2001:db8::/64"],
        "name": "r",
    }


def test_rule_from_record_keeps_what_it_cannot_model():
    data, rule = wr.rule_from_record(found("odd", Protocol="ICMPv4", LocalPort=["Any"], RemoteAddress=["LocalSubnet"]))
    assert rule is None
    assert data == {
        "protocol": "icmpv4",
        "port": "Any",
        "direction": "inbound",
        "peers": ["LocalSubnet"],
        "name": "odd",
    }


def test_outbound_record_reports_the_remote_port():
    data, _name = wr.rule_from_record(found("o", Direction="Outbound", LocalPort=["Any"], RemotePort=["1480"]))
    assert (data["direction"], data["port"]) == ("outbound", 1480)


def test_build_result_server_to_direct_switch():
    """Server mode rules on the host, direct mode desired (TCP 1480 only)."""
    prepared = prepare([SERVER_MODE[2]], management_ports=[5986])
    keep = prepared.records[0]
    raw = {
        "changed": True,
        "current": [
            {"name": keep["name"], "properties": dict(keep["properties"], RemoteAddress=["192.168.0.0/16"])},
            found("biostar-hardening-in-tcp-1470-any", LocalPort=["1470"]),
            found("biostar-hardening-in-tcp-1471-any"),
        ],
        "added": [],
        "updated": [{"name": keep["name"], "differences": ["RemoteAddress"]}],
        "removed": ["biostar-hardening-in-tcp-1470-any", "biostar-hardening-in-tcp-1471-any"],
        "profiles_enabled": ["Domain", "Private", "Public"],
        "management_ports": [5986, 22],
    }
    result = wr.build_result(prepared, raw, diff=True)
    assert result["changed"] is True
    assert result["backend"] == "windows_firewall"
    assert result["filtering"] is True
    assert result["added"] == []
    assert [item["port"] for item in result["removed"]] == [1470, 1471]
    assert result["updated"] == [dict(keep["rule"], differences=["RemoteAddress"])]
    assert result["rules"] == [keep["rule"]]
    assert result["persisted"] == ["PersistentStore"]
    assert result["management_ports"] == [22, 5986]
    assert "warnings" not in result
    assert result["diff"]["before"] == (
        "inbound tcp/1470 from any (biostar-hardening-in-tcp-1470-any)\n"
        "inbound tcp/1471 from any (biostar-hardening-in-tcp-1471-any)\n"
        "inbound tcp/1480 from 192.168.0.0/16 (biostar-hardening-in-tcp-1480-any)\n"
    )
    assert result["diff"]["after"] == "inbound tcp/1480 from any (biostar-hardening-in-tcp-1480-any)\n"


def test_build_result_nothing_to_do_and_firewall_off():
    prepared = prepare(profiles=["Public"])
    raw = {
        "changed": False,
        "current": list(prepared.module_args()["desired"]),
        "added": [],
        "updated": [],
        "removed": [],
        "profiles_enabled": ["Domain"],
    }
    result = wr.build_result(prepared, raw, diff=True)
    assert result["changed"] is False
    assert result["persisted"] == []
    assert result["filtering"] is False
    assert "off for the profiles Public" in result["warnings"][0]
    assert result["diff"]["before"] == result["diff"]["after"]
    assert "[profiles Public]" in result["diff"]["after"]


def test_build_result_reports_added_rules_in_result_shape():
    prepared = prepare()
    raw = {"current": [], "added": [item["name"] for item in prepared.records], "profiles_enabled": ["Domain"]}
    result = wr.build_result(prepared, raw)
    assert result["changed"] is True
    assert result["added"] == result["rules"]
    for item in result["added"]:
        assert (
            {"protocol", "port", "direction", "peers", "name"}
            <= set(item)
            <= {"protocol", "port", "direction", "peers", "name", "purpose"}
        )
    assert result["added"][0]["purpose"] == "BioStation devices"
    assert "diff" not in result


def test_diff_lines_sort_ports_numerically_and_foreign_shapes_last():
    prepared = prepare([{"protocol": "tcp", "port": 10000}, {"protocol": "tcp", "port": 1470}])
    odd = found("odd", Protocol="ICMPv4", LocalPort=["Any"], RemoteAddress=["LocalSubnet"], Enabled="False")
    assert wr.render_records([odd, *prepared.records]) == (
        "inbound tcp/1470 from any (biostar-hardening-in-tcp-1470-any)\n"
        "inbound tcp/10000 from any (biostar-hardening-in-tcp-10000-any)\n"
        "inbound icmpv4/Any LocalSubnet [disabled] (odd)\n"
    )


# BioStar 2 and BioStar X servers usually run Windows: every rule shape their matrices
# produce goes to the Windows module unchanged.
VERSION_CASES = [
    ("2", "server", {"mode": "mixed", "tls": True, "services": ["ta", "cloud", "web_http"]}),
    ("2", "client", {"services": ["usb_agent", "usb_agent_http", "device_search"]}),
    ("2", "database", {"server_addresses": ["10.30.0.10", "2001:db8::10"], "database": "mssql"}),
    ("x", "server", {"trusted_sources": ["10.40.0.0/24"], "services": ["core_web", "api", "cloud"]}),
    ("x", "communication_server", {"tls": False, "trusted_sources": ["10.40.0.0/24"]}),
    ("x", "database", {"server_addresses": ["10.30.0.10"]}),
]


@pytest.mark.parametrize(("version", "host_role", "options"), VERSION_CASES)
def test_biostar_2_and_x_rules_become_windows_records_unchanged(version, host_role, options):
    from ansible_collections.biostar.hardening.plugins.module_utils.port_matrix import select

    rules = select(host_role=host_role, version=version, peers=["10.20.0.0/24"], **options)
    prepared = prepare(rules)
    assert len(prepared.records) == len(rules)
    assert len({item["name"] for item in prepared.records}) == len(rules)
    for item, rule in zip(sorted(prepared.records, key=lambda r: (r["rule"]["direction"], r["rule"]["port"])),
                          sorted(rules, key=lambda r: (r["direction"], r["port"]))):  # fmt: skip
        props = item["properties"]
        assert props["Direction"] == rule["direction"].capitalize()
        assert props["Protocol"] == rule["protocol"].upper()
        port_key = "LocalPort" if rule["direction"] == "inbound" else "RemotePort"
        assert props[port_key] == [str(rule["port"])]
        assert props["RemoteAddress"] == (rule["peers"] or ["Any"])


def test_biostar_x_internal_services_reach_windows_only_from_trusted_sources():
    from ansible_collections.biostar.hardening.plugins.module_utils.port_matrix import internal, select

    rules = select(None, "server", "x", trusted_sources=["10.40.0.0/24"])
    records = by_port(prepare(rules))
    for entry in internal(version="x", host_role="server"):
        assert records[entry["port"]]["properties"]["RemoteAddress"] == ["10.40.0.0/24"]
    assert records[443]["properties"]["RemoteAddress"] == ["Any"]
    assert 51212 not in records
    # Without trusted sources the internal services get no Windows rule at all.
    assert sorted(by_port(prepare(select(None, "server", "x")))) == [443, 51213]


def test_database_rule_keeps_both_families_of_server_addresses():
    from ansible_collections.biostar.hardening.plugins.module_utils.port_matrix import select

    rules = select(None, "database", "2", server_addresses=["10.30.0.10", "2001:db8::10"])
    (item,) = prepare(rules).records
    assert item["properties"]["RemoteAddress"] == ["10.30.0.10/32", "2001:db8::10/128"]
    assert item["properties"]["LocalPort"] == ["3312"]
