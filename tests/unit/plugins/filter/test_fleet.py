"""The filters the role and both playbooks share: host roles from groups, platform, ports."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader


@pytest.fixture
def filters():
    names = ("host_roles", "fleet_pattern", "platform", "connection_kind", "management_ports")
    found = {name: filter_loader.get("biostar.hardening.%s" % name) for name in names}
    found = {name: plugin.j2_function if plugin else None for name, plugin in found.items()}
    assert all(found.values()), "every filter loads by its FQCN"
    return found


@pytest.mark.parametrize(
    ("groups", "roles"),
    [
        (["biostar_servers"], ["server"]),
        (["all_linux", "biostar_clients"], ["client"]),
        (["biostar_databases"], ["database"]),
        (["biostar_communication_servers"], ["communication_server"]),
        (["biostar_clients", "biostar_servers"], ["server", "client"]),
        (["ungrouped"], []),
    ],
)
def test_host_roles_from_groups(filters, groups, roles):
    assert filters["host_roles"](groups) == roles


def test_host_roles_needs_a_list(filters):
    with pytest.raises(AnsibleFilterError, match="expects a list of group names"):
        filters["host_roles"]("biostar_servers")


def test_platform_and_ports(filters):
    assert filters["platform"]("", "winrm", "") == "windows"
    assert filters["platform"]("", "ssh", "sh") == "linux"
    assert filters["connection_kind"]("ansible.builtin.paramiko_ssh") == "ssh"
    assert filters["management_ports"]([22], "ssh", 2222, plugin_defaults=False) == [22, 2222]
    with pytest.raises(AnsibleFilterError, match="management_ports: invalid value"):
        filters["management_ports"](["1-2"], "ssh")


def test_fleet_pattern_names_only_the_groups_that_exist(filters):
    groups = {"all": [], "biostar_clients": ["ws1"], "biostar_servers": ["s1"], "biostar_probes": ["p1"]}
    assert filters["fleet_pattern"](groups) == "biostar_servers:biostar_clients"
    everything = dict(groups, biostar_databases=[], biostar_communication_servers=[])
    assert filters["fleet_pattern"](everything) == (
        "biostar_servers:biostar_clients:biostar_databases:biostar_communication_servers"
    )
    assert filters["fleet_pattern"]({"all": []}) == "biostar_servers"
    with pytest.raises(AnsibleFilterError, match="expects the groups mapping"):
        filters["fleet_pattern"](["biostar_servers"])


def test_management_ports_errors_name_the_callers_variable(filters):
    with pytest.raises(AnsibleFilterError) as caught:
        filters["management_ports"]([65536], "ssh", None, argument="biostar_firewall_management_ports")
    assert str(caught.value).startswith("biostar_firewall_management_ports: invalid value 65536; valid values: ")
