"""One controller-side place for the platform test and the management port."""

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils import connection
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import RuleError


@pytest.mark.parametrize(
    ("os_family", "name", "shell", "expected"),
    [
        ("Windows", "ssh", "sh", "windows"),
        ("Debian", "ssh", "sh", "linux"),
        ("", "winrm", "", "windows"),
        ("", "ansible.builtin.psrp", "", "windows"),
        (None, "ssh", "powershell", "windows"),
        (None, "ssh", "cmd", "windows"),
        (None, None, None, "linux"),
        ("", "containers.podman.podman", "", "linux"),
    ],
)
def test_platform(os_family, name, shell, expected):
    assert connection.platform(os_family, name, shell) == expected


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (None, "ssh"),
        ("ansible.builtin.ssh", "ssh"),
        ("paramiko", "ssh"),
        ("ansible.netcommon.libssh", "ssh"),
        ("winrm", "windows"),
        ("psrp", "windows"),
        ("local", "local"),
        ("containers.podman.podman", "other"),
    ],
)
def test_connection_kind(name, kind):
    assert connection.connection_kind(name) == kind


@pytest.mark.parametrize(
    ("transport", "port", "scheme", "defaults", "expected"),
    [
        ("ssh", None, None, True, 22),
        ("ssh", None, None, False, None),
        ("ssh", "2222", None, False, 2222),
        ("winrm", None, "http", True, 5985),
        ("winrm", None, "https", True, 5986),
        ("psrp", None, None, True, 5986),
        ("psrp", None, None, False, None),
        ("winrm", 15986, None, False, 15986),
        ("containers.podman.podman", 22, None, True, None),
        ("local", None, None, True, None),
    ],
)
def test_connection_port(transport, port, scheme, defaults, expected):
    assert connection.connection_port(transport, port, scheme, defaults) == expected


def test_management_ports_join_the_connections_own():
    assert connection.management_ports([5985, "22"], "ssh", 2222) == [22, 2222, 5985]
    assert connection.management_ports([], "ssh", None, plugin_defaults=False) == []
    assert connection.management_ports(None, "docker") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((["22-23"], "ssh"), "management_ports: invalid value '22-23'; valid values: single ports"),
        (([70000], "ssh"), "management_ports: invalid value 70000"),
        (([], "ssh", "1-2"), "ansible_port: invalid value '1-2'; valid values: a single port 1-65535"),
    ],
)
def test_bad_ports_are_named(args, message):
    with pytest.raises(RuleError) as error:
        connection.management_ports(*args)
    assert message in str(error.value)
