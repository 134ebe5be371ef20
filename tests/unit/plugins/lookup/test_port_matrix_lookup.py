"""The lookup as Ansible runs it: option handling and error messages."""

import pytest
from ansible.errors import AnsibleError
from ansible.plugins.loader import lookup_loader

from ansible_collections.biostar.hardening.plugins.module_utils.port_matrix import select


@pytest.fixture
def lookup():
    plugin = lookup_loader.get("biostar.hardening.port_matrix")
    assert plugin is not None, "the lookup plugin must load by its FQCN"
    return plugin


def test_returns_the_rule_list_as_one_result(lookup):
    (rules,) = lookup.run([], variables={}, mode="server", host_role="server")
    assert rules == select("server", "server")
    assert [r["port"] for r in rules] == [1470, 1471, 1480, 51110]


def test_defaults_are_version_1_all_directions_any_peer(lookup):
    (rules,) = lookup.run([], variables={}, mode="direct", host_role="client")
    assert {r["direction"] for r in rules} == {"inbound", "outbound"}
    assert all(r["peers"] == [] for r in rules)


def test_options_pass_through(lookup):
    (rules,) = lookup.run(
        [],
        variables={},
        mode="direct",
        host_role="client",
        direction="outbound",
        peers=["10.0.0.0/24"],
        port_overrides={"server_port": 1490},
        extra_rules=[{"protocol": "udp", "port": 9, "direction": "outbound"}],
    )
    assert [(r["protocol"], r["port"]) for r in rules] == [
        ("tcp", 1470),
        ("tcp", 1471),
        ("tcp", 1490),
        ("udp", 9),
        ("udp", 51110),
    ]
    assert all(r["peers"] == ["10.0.0.0/24"] for r in rules)


@pytest.mark.parametrize(
    ("kwargs", "parts"),
    [
        ({"mode": "servr", "host_role": "server"}, ["mode", "servr", "server, direct"]),
        ({"mode": "server", "host_role": "srv"}, ["host_role", "srv", "server, client"]),
        ({"host_role": "server"}, ["mode", "missing", "server, direct"]),
        ({"mode": "server", "host_role": "server", "direction": "up"}, ["direction", "up", "inbound, outbound, all"]),
        ({"mode": "server", "host_role": "server", "peers": ["10.0.0.1/8"]}, ["peers", "host bits"]),
        ({"mode": "server", "host_role": "server", "port_overrides": {"x": 1}}, ["port_overrides", "'x'"]),
    ],
)
def test_bad_input_raises_ansible_error_with_a_clear_message(lookup, kwargs, parts):
    with pytest.raises(AnsibleError) as error:
        lookup.run([], variables={}, **kwargs)
    message = str(error.value)
    assert message.startswith("biostar.hardening.port_matrix: ")
    for part in parts:
        assert part in message


def test_variable_names_put_errors_in_the_callers_terms(lookup):
    with pytest.raises(AnsibleError) as error:
        lookup.run(
            [],
            variables={},
            mode="server",
            host_role="server",
            extra_rules=[{"protocol": "tcp", "port": 70000}],
            variable_names={"extra_rules": "biostar_extra_rules", "mode": "biostar_mode"},
        )
    assert str(error.value).startswith("biostar_extra_rules[0].port: invalid value 70000; valid values:")


def test_variable_names_also_apply_to_ansibles_own_choice_errors(lookup):
    with pytest.raises(AnsibleError) as error:
        lookup.run([], variables={}, mode="servr", host_role="server", variable_names={"mode": "biostar_mode"})
    assert str(error.value) == "biostar_mode: invalid value 'servr'; valid values: server, direct"


def test_unknown_variable_names_key_is_an_error(lookup):
    with pytest.raises(AnsibleError, match=r"variable_names: invalid value .*valid keys: mode, host_role"):
        lookup.run([], variables={}, mode="server", host_role="server", variable_names={"modes": "x"})
