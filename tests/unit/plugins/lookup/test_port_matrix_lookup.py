"""The lookup as Ansible runs it: option handling and error messages."""

import json

import pytest
from ansible.errors import AnsibleError
from ansible.plugins.loader import lookup_loader

from ansible_collections.biostar.hardening.plugins.module_utils.port_matrix import select


@pytest.fixture
def lookup():
    plugin = lookup_loader.get("biostar.hardening.port_matrix")
    assert plugin is not None, "the lookup plugin must load by its FQCN"
    return plugin


def test_returns_one_item_per_rule(lookup):
    rules = lookup.run([], variables={}, mode="server", host_role="server")
    assert rules == select("server", "server")
    assert [r["port"] for r in rules] == [1470, 1471, 1480, 51110]


def test_defaults_are_version_1_all_directions_any_peer(lookup):
    rules = lookup.run([], variables={}, mode="direct", host_role="client")
    assert {r["direction"] for r in rules} == {"inbound", "outbound"}
    assert all(r["peers"] == [] for r in rules)


def test_options_pass_through(lookup):
    rules = lookup.run(
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
        ({"mode": "server"}, ["host_role", "missing", "server, client"]),
        (
            {"version": "x", "mode": "server", "host_role": "server"},
            ["mode", "'server'", "for BioStar version x", "valid values: device_to_server"],
        ),
        ({"version": "2", "host_role": "communication_server"}, ["host_role", "version 2", "server, client, database"]),
        ({"version": "1", "host_role": "server", "tls": True}, ["tls", "True", "version 1", "valid values: false"]),
        ({"version": "x", "host_role": "server", "services": ["ta"]}, ["services", "'ta'", "core_web, api, cloud"]),
        ({"version": "2", "host_role": "database"}, ["server_addresses", "missing", "host_role database"]),
        (
            {"version": "2", "host_role": "server", "result": "everything"},
            ["result", "'everything'", "rules, internal"],
        ),
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
    assert str(error.value) == "biostar_mode: invalid value 'servr' for BioStar version 1; valid values: server, direct"


def test_unknown_variable_names_key_is_an_error(lookup):
    with pytest.raises(AnsibleError, match=r"variable_names: invalid value .*valid keys: mode, host_role"):
        lookup.run([], variables={}, mode="server", host_role="server", variable_names={"modes": "x"})


# Issue 14: lookup results as items, through Ansible's own templating.
def _template(expression):
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    try:
        from ansible.template import trust_as_template
    except ImportError:  # ansible-core < 2.19 (make compat): every string is a template

        def trust_as_template(value):
            return value

    return Templar(loader=DataLoader(), variables={}).template(trust_as_template(expression))


def test_query_returns_a_flat_list_of_rule_dicts_that_feeds_firewall_ports_unchanged():
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import rules_from_dicts
    from ansible_collections.biostar.hardening.plugins.modules.firewall_ports import ARGUMENT_SPEC

    rules = _template("{{ query('biostar.hardening.port_matrix', mode='direct', host_role='server') }}")
    assert isinstance(rules, list) and len(rules) == 1
    (rule,) = rules
    assert isinstance(rule, dict)
    assert (rule["protocol"], rule["port"], rule["direction"], rule["peers"]) == ("tcp", 1480, "inbound", [])
    # What reaches the module is the task's arguments serialised to JSON.
    validated = ArgumentSpecValidator(ARGUMENT_SPEC).validate({"rules": json.loads(json.dumps(rules))})
    assert validated.error_messages == []
    assert [r.to_dict()["port"] for r in rules_from_dicts(validated.validated_parameters["rules"])] == [1480]


def test_wantlist_gives_the_same_list_and_plain_lookup_unwraps_a_single_rule():
    listed = _template(
        "{{ lookup('biostar.hardening.port_matrix', mode='direct', host_role='server', wantlist=True) }}"
    )
    assert listed == _template("{{ query('biostar.hardening.port_matrix', mode='direct', host_role='server') }}")
    # Why the docs say query(): plain lookup() hands back the one rule itself, not a list.
    single = _template("{{ lookup('biostar.hardening.port_matrix', mode='direct', host_role='server') }}")
    assert single == listed[0]
    several = _template("{{ query('biostar.hardening.port_matrix', mode='server', host_role='server') }}")
    assert [r["port"] for r in several] == [1470, 1471, 1480, 51110]


def test_internal_services_come_back_as_expectations_never_as_rules(lookup):
    entries = lookup.run([], variables={}, version="x", host_role="server", result="internal")
    assert {e["port"] for e in entries} >= {51219, 10800, 47500, 47100, 21810, 9310, 9002, 9000}
    assert all(e["expect"] == "closed" and "direction" not in e for e in entries)
    rules = lookup.run([], variables={}, version="x", host_role="server")
    assert not {r["port"] for r in rules} & {e["port"] for e in entries}


def test_checks_feed_port_probe(lookup):
    checks = lookup.run([], variables={}, version="x", host_role="server", result="checks")
    assert all(set(c) <= {"protocol", "port", "expect", "open_from", "label"} for c in checks)
    by_port = {c["port"]: c for c in checks}
    assert by_port[51213]["expect"] == "open" and by_port[51212]["expect"] == "closed"
    assert by_port[51219]["label"].startswith("internal")


def test_selection_fills_in_the_versions_defaults(lookup):
    (chosen,) = lookup.run([], variables={}, version="2", host_role="server", result="selection")
    assert (chosen["mode"], chosen["tls"], chosen["database"]) == ("server_to_device", False, "mariadb")
