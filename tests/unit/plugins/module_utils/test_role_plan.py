"""module_utils/role_plan.py: what the role's one task decides on the controller, per host."""

from __future__ import annotations

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils import role_plan
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import RuleError

# The role's defaults (defaults/main.yml), as the action hands them over after validation.
DEFAULTS = {
    "biostar_version": "1",
    "biostar_mode": None,
    "biostar_tls": None,
    "biostar_services": [],
    "biostar_database": None,
    "biostar_server_addresses": [],
    "biostar_trusted_sources": [],
    "biostar_allowed_sources": [],
    "biostar_manage_outbound": False,
    "biostar_port_overrides": {},
    "biostar_extra_rules": [],
    "biostar_firewall_state": "present",
    "biostar_firewall_backend": "auto",
    "biostar_firewall_owner": "biostar-hardening",
    "biostar_firewall_baseline": False,
    "biostar_firewall_management_ports": [],
    "biostar_firewall_zone": None,
    "biostar_firewall_persist": True,
}


def variables(**given):
    return dict(DEFAULTS, **given)


def ports(rules):
    return [(rule["protocol"], rule["port"], rule["direction"]) for rule in rules]


def test_linux_server_gets_the_matrix_rules_and_one_firewall_ports_call():
    plan = role_plan.plan(variables(biostar_host_role="server"), connection_name="ssh")
    assert plan.module == "biostar.hardening.firewall_ports"
    assert ports(plan.rules) == [("tcp", 1470, "inbound"), ("tcp", 1471, "inbound"), ("tcp", 1480, "inbound"),
                                 ("udp", 51110, "inbound")]  # fmt: skip
    assert plan.module_args == {
        "rules": [
            {key: rule[key] for key in ("protocol", "port", "direction", "peers", "purpose")} for rule in plan.rules
        ],
        "state": "present",
        "backend": "auto",
        "owner": "biostar-hardening",
        "persist": True,
        "baseline": False,
    }
    # The module gets what it uses of each rule; the fact keeps the matrix's whole rule.
    assert all(rule["provenance"] and rule["reference"] for rule in plan.rules)
    assert plan.context == {
        "platform": "linux",
        "mode": "server",
        "host_role": "server",
        "version": "1",
        "tls": False,
        "services": [],
        "direction": "inbound",
    }
    assert plan.warnings == []
    assert plan.facts() == {"biostar_firewall_rules": plan.rules, "biostar_firewall_context": plan.context}


def test_outbound_rules_only_when_asked():
    inbound = role_plan.plan(variables(biostar_host_role="client", biostar_mode="direct"))
    both = role_plan.plan(variables(biostar_host_role="client", biostar_mode="direct", biostar_manage_outbound=True))
    assert {rule["direction"] for rule in inbound.rules} == {"inbound"}
    assert {rule["direction"] for rule in both.rules} == {"inbound", "outbound"}
    assert both.context["direction"] == "all"


def test_zone_and_management_ports_reach_the_module_only_when_they_apply():
    plan = role_plan.plan(
        variables(
            biostar_host_role="server",
            biostar_firewall_zone="internal",
            biostar_firewall_baseline=True,
            biostar_firewall_management_ports=[2222],
        ),
        connection_name="ansible.builtin.ssh",
        connection_port=22022,
    )
    assert plan.module_args["zone"] == "internal"
    assert plan.module_args["management_ports"] == [2222, 22022]
    # Without a baseline the module needs no management ports.
    plain = role_plan.plan(variables(biostar_host_role="server", biostar_firewall_management_ports=[2222]))
    assert "management_ports" not in plain.module_args and "zone" not in plain.module_args


@pytest.mark.parametrize(
    "where",
    [
        {"connection_name": "winrm"},
        {"connection_name": "ansible.builtin.psrp"},
        {"connection_name": "ssh", "shell_type": "powershell"},
        {"os_family": "Windows", "connection_name": "ssh"},
    ],
)
def test_windows_is_told_without_facts_and_gets_win_firewall_ports(where):
    plan = role_plan.plan(
        variables(
            biostar_host_role="server", biostar_firewall_owner="site-a", biostar_firewall_management_ports=[5986]
        ),
        **where,
    )
    assert plan.module == "biostar.hardening.win_firewall_ports"
    assert plan.context["platform"] == "windows"
    assert plan.module_args == {"rules": plan.rules, "state": "present", "group": "site-a", "management_ports": [5986]}


def test_warnings_are_the_roles_texts_for_exactly_the_cases_that_need_them():
    direct = role_plan.plan(variables(biostar_host_role="server", biostar_mode="direct"))
    assert direct.warnings == [role_plan.WARN_DIRECT]
    assert "for temporary use only" in role_plan.WARN_DIRECT
    absent = role_plan.plan(
        variables(biostar_host_role="server", biostar_mode="direct", biostar_firewall_state="absent")
    )
    assert absent.warnings == []
    plaintext = role_plan.plan(variables(biostar_version="x", biostar_host_role="server", biostar_tls=False))
    assert plaintext.warnings == [role_plan.WARN_PLAINTEXT]
    tls = role_plan.plan(variables(biostar_version="x", biostar_host_role="server"))
    assert tls.warnings == []
    windows = role_plan.plan(
        variables(biostar_host_role="server", biostar_mode="direct", biostar_firewall_baseline=True),
        connection_name="winrm",
    )
    assert windows.warnings == [role_plan.WARN_DIRECT, role_plan.WARN_WINDOWS_BASELINE]
    # A baseline on Linux is applied, so it warns about nothing.
    linux = role_plan.plan(variables(biostar_host_role="server", biostar_firewall_baseline=True), connection_name="ssh")
    assert linux.warnings == []


def test_host_role_comes_from_the_group_when_unset():
    plan = role_plan.plan(variables(), hostname="ws1", group_names=["site", "biostar_clients"])
    assert plan.context["host_role"] == "client"
    # A value that is set wins over the group.
    given = role_plan.plan(variables(biostar_host_role="server"), group_names=["biostar_clients"])
    assert given.context["host_role"] == "server"


def test_host_in_two_groups_is_refused_with_what_the_other_role_needs():
    with pytest.raises(RuleError) as error:
        role_plan.plan(variables(), hostname="both1", group_names=["biostar_servers", "biostar_clients"])
    message = str(error.value)
    assert message.startswith("both1 is in the groups of host roles server and client; the role manages one host")
    assert message.endswith("biostar_extra_rules: client inbound udp/51110")


def test_missing_host_role_names_the_variable_and_the_versions_host_roles():
    with pytest.raises(RuleError) as error:
        role_plan.plan(variables(), group_names=["ungrouped"])
    assert str(error.value).startswith(
        "biostar_host_role: missing for BioStar version 1; valid values: server, client (set it, or put the host"
        " in one of the groups biostar_servers, biostar_clients)"
    )
    with pytest.raises(RuleError) as error:
        role_plan.plan(variables(biostar_version="x"))
    assert "valid values: server, client, database, communication_server" in str(error.value)


@pytest.mark.parametrize(
    "given,expected",
    [
        ({"biostar_mode": "hybrid"}, "biostar_mode: invalid value 'hybrid' for BioStar version 1; valid values"),
        ({"biostar_allowed_sources": ["10.0.0.1/8"]}, "biostar_allowed_sources: invalid value '10.0.0.1/8'"),
        (
            {"biostar_extra_rules": [{"protocol": "tcp", "port": "9-1"}]},
            "biostar_extra_rules[0].port: invalid range '9-1'",
        ),
        ({"biostar_port_overrides": {"server_port": 0}}, "biostar_port_overrides.server_port: invalid value 0"),
        ({"biostar_version": "9"}, "biostar_version: invalid value '9'; valid values: 1, 2, x"),
    ],
)
def test_matrix_errors_name_the_role_variable(given, expected):
    with pytest.raises(RuleError) as error:
        role_plan.plan(variables(biostar_host_role="server", **given))
    assert str(error.value).startswith(expected), str(error.value)


def test_linux_input_checks():
    with pytest.raises(RuleError, match=r"^biostar_firewall_owner: invalid value 'a/b'; valid values: 1-20"):
        role_plan.plan(variables(biostar_host_role="server", biostar_firewall_owner="a/b"))
    with pytest.raises(RuleError, match=r"^biostar_firewall_management_ports: invalid value 65536"):
        role_plan.plan(variables(biostar_host_role="server", biostar_firewall_management_ports=[65536]))
    with pytest.raises(RuleError, match=r"^biostar_firewall_management_ports: no port known.* is podman, "):
        role_plan.plan(variables(biostar_host_role="server", biostar_firewall_baseline=True), connection_name="podman")
    # Over SSH the module finds the session's port itself, so no port is needed here.
    assert role_plan.plan(variables(biostar_host_role="server", biostar_firewall_baseline=True), connection_name="ssh")


def test_in_callers_terms_maps_only_whole_option_names():
    assert role_plan.in_callers_terms("peers: x") == "biostar_allowed_sources: x"
    assert role_plan.in_callers_terms("extra_rules[1].port: x") == "biostar_extra_rules[1].port: x"
    assert role_plan.in_callers_terms("peersx: x") == "peersx: x"


def test_module_rules_keep_the_keys_the_module_uses_and_what_an_extra_rule_lacks_stays_out():
    rules = [
        {"protocol": "tcp", "port": 1480, "direction": "inbound", "peers": ["10.0.0.0/8"], "purpose": "p",
         "provenance": "documented", "reference": "KB"},
        {"protocol": "udp", "port": "7000-7010"},
    ]  # fmt: skip
    assert role_plan.module_rules(rules) == [
        {"protocol": "tcp", "port": 1480, "direction": "inbound", "peers": ["10.0.0.0/8"], "purpose": "p"},
        {"protocol": "udp", "port": "7000-7010"},
    ]
