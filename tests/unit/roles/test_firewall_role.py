"""The firewall role refuses bad input on the controller, before the host is touched.

The role is one task (the action biostar.hardening.biostar_firewall), which checks the
variables, computes the rules and then runs one module. One ansible-playbook run (in
check mode) applies the role to one inventory host per case.
Every host connects locally but with a Python interpreter that does not exist, so any
module executed on a host would fail with an interpreter error: a host that fails with
the validation message below has run nothing on the host before it.
"""

from __future__ import annotations

import json
import os
import re
from typing import Dict, Tuple

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NO_PYTHON = "/nonexistent/biostar-role-test/python3"

# host: (variables, substrings the failure message must contain)
BAD_INPUT: Dict[str, Tuple[dict, Tuple[str, ...]]] = {
    # Modes depend on the version, so the port matrix checks them and names the version.
    "bad_mode": (
        {"biostar_mode": "standalone"},
        ("biostar_mode: invalid value 'standalone' for BioStar version 1; valid values: server, direct",),
    ),
    "v1_mode_with_version_x": (
        {"biostar_version": "x", "biostar_mode": "server"},
        ("biostar_mode: invalid value 'server' for BioStar version x; valid values: device_to_server",),
    ),
    "v2_mode_with_version_1": (
        {"biostar_mode": "device_to_server"},
        ("biostar_mode: invalid value 'device_to_server' for BioStar version 1; valid values: server, direct",),
    ),
    "bad_version": (
        {"biostar_version": "3"},
        ("value of biostar_version must be one of: 1, 2, x, got: 3",),
    ),
    "bad_host_role": (
        {"biostar_host_role": "device"},
        ("value of biostar_host_role must be one of: server, client, database, communication_server, got: device",),
    ),
    "database_role_with_version_1": (
        {"biostar_host_role": "database"},
        ("biostar_host_role: invalid value 'database' for BioStar version 1; valid values: server, client",),
    ),
    "communication_server_with_version_2": (
        {"biostar_version": "2", "biostar_host_role": "communication_server"},
        (
            "biostar_host_role: invalid value 'communication_server' for BioStar version 2;"
            " valid values: server, client, database",
        ),
    ),
    "database_without_server_addresses": (
        {"biostar_version": "x", "biostar_host_role": "database"},
        ("biostar_server_addresses: missing for host_role database", "never opened to everyone"),
    ),
    "tls_with_version_1": (
        {"biostar_tls": True},
        ("biostar_tls: invalid value True for BioStar version 1; valid values: false",),
    ),
    "v2_service_with_version_x": (
        {"biostar_version": "x", "biostar_services": ["ta"]},
        ("biostar_services: invalid value 'ta' for BioStar version x; valid values: core_web, api, cloud",),
    ),
    "bad_database": (
        {"biostar_version": "2", "biostar_database": "oracle"},
        ("biostar_database: invalid value 'oracle' for BioStar version 2; valid values: mariadb, mssql",),
    ),
    "bad_trusted_source": (
        {"biostar_version": "x", "biostar_trusted_sources": ["10.0.0.1/8"]},
        ("biostar_trusted_sources: invalid value '10.0.0.1/8'", "did you mean 10.0.0.0/8"),
    ),
    "missing_host_role": (
        {"biostar_host_role": None},
        ("biostar_host_role: missing for BioStar version 1; valid values: server, client", "biostar_clients"),
    ),
    "bad_cidr": (
        {"biostar_allowed_sources": ["10.0.0.0/24", "10.0.0.300/24"]},
        ("biostar_allowed_sources: invalid value '10.0.0.300/24'", "valid values: IPv4/IPv6 addresses or CIDRs"),
    ),
    "cidr_host_bits": (
        {"biostar_allowed_sources": ["10.0.0.1/24"]},
        ("biostar_allowed_sources: invalid value '10.0.0.1/24'", "did you mean 10.0.0.0/24"),
    ),
    "bad_backend": (
        {"biostar_firewall_backend": "pf"},
        ("value of biostar_firewall_backend must be one of: auto, nftables, iptables, ufw, firewalld, got: pf",),
    ),
    "bad_state": (
        {"biostar_firewall_state": "gone"},
        ("value of biostar_firewall_state must be one of: present, absent, got: gone",),
    ),
    "extra_rule_port_70000": (
        {"biostar_extra_rules": [{"protocol": "tcp", "port": 70000}]},
        ("biostar_extra_rules[0].port: invalid value 70000", "valid values: an integer 1-65535 or a range 'low-high'"),
    ),
    "extra_rule_bad_peer": (
        {"biostar_extra_rules": [{"protocol": "udp", "port": 9, "peers": ["not-a-network"]}]},
        ("biostar_extra_rules[0].peers: invalid value 'not-a-network'", "valid values: IPv4/IPv6 addresses or CIDRs"),
    ),
    "extra_rule_bad_protocol": (
        {"biostar_extra_rules": [{"protocol": "sctp", "port": 9}]},
        ("value of protocol must be one of: tcp, udp, got: sctp found in biostar_extra_rules",),
    ),
    "override_unknown_key": (
        {"biostar_port_overrides": {"web_port": 80}},
        (
            "biostar_port_overrides: invalid value 'web_port' for BioStar version 1; valid values: "
            "bioentry_device_port, biostation_device_port, device_udp_port, server_port",
        ),
    ),
    "override_key_of_version_1_with_version_2": (
        {"biostar_version": "2", "biostar_port_overrides": {"device_udp_port": 51111}},
        (
            "biostar_port_overrides: invalid value 'device_udp_port' for BioStar version 2; valid values: ",
            "server_tls_port",
        ),
    ),
    # A connection without a port to keep: refused on the controller, no container is asked.
    "baseline_without_management_port": (
        {
            "biostar_firewall_baseline": True,
            "ansible_connection": "containers.podman.podman",
            "ansible_host": "biostar-role-test-no-such-container",
        },
        ("biostar_firewall_management_ports: no port known", "Set biostar_firewall_management_ports"),
    ),
    "override_port_70000": (
        {"biostar_port_overrides": {"server_port": 70000}},
        ("biostar_port_overrides.server_port: invalid value 70000",),
    ),
}

# Valid input: these hosts get past validation and fail only at the module call, for
# want of a Python (Linux) or of PowerShell (Windows), which shows the dispatch.
LINUX = "biostar.hardening.firewall_ports"
WINDOWS = "biostar.hardening.win_firewall_ports"
VALID = {
    "linux_direct_1": ({"biostar_mode": "direct"}, LINUX),
    "linux_direct_2": ({"biostar_mode": "direct", "biostar_host_role": "client"}, LINUX),
    "windows_direct": ({"biostar_mode": "direct", "ansible_shell_type": "powershell"}, WINDOWS),
    # Versions 2 and x: no mode given, the version's default applies.
    "linux_v2_server": ({"biostar_version": "2"}, LINUX),
    "linux_vx_communication_server": ({"biostar_version": "x", "biostar_host_role": "communication_server"}, LINUX),
    "windows_vx_server": (
        {"biostar_version": "x", "biostar_services": ["core_web"], "ansible_shell_type": "powershell"},
        WINDOWS,
    ),
    "linux_vx_plaintext": ({"biostar_version": "x", "biostar_tls": False}, LINUX),
    "linux_vx_database": (
        {"biostar_version": "x", "biostar_host_role": "database", "biostar_server_addresses": ["10.30.0.10"]},
        LINUX,
    ),
}

# UNREACHABLE too: ansible-core 2.20+ reports the fake PowerShell host as unreachable at
# the module call, where earlier releases report a module failure.
FATAL = re.compile(r"^fatal: \[([^\]]+)\]: (?:FAILED|UNREACHABLE)! => (\{.*\})$")
TASK = re.compile(r"^TASK \[(?:[^:\]]+ : )?(.*)\] \**$")


@pytest.fixture(scope="module")
def run(tmp_path_factory, ansible_playbook):
    tmp = tmp_path_factory.mktemp("role")
    hosts = {}
    for name, (variables, _expected) in BAD_INPUT.items():
        hosts[name] = {k: v for k, v in variables.items() if v is not None}
    for name, (variables, _task) in VALID.items():
        hosts[name] = dict(variables)
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": NO_PYTHON,
                "biostar_host_role": "server",
            },
            "hosts": hosts,
        }
    }
    # missing_host_role must not inherit the group default.
    inventory["all"]["vars"].pop("biostar_host_role")
    for name, host_vars in hosts.items():
        if name != "missing_host_role":
            host_vars.setdefault("biostar_host_role", "server")
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp / "play.yml").write_text(
        yaml.safe_dump([{"hosts": "all", "gather_facts": False, "roles": ["biostar.hardening.firewall"]}])
    )
    env = dict(ANSIBLE_FORCE_COLOR="0", ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_CALLBACK_FORMAT_PRETTY="false")
    completed = ansible_playbook(tmp, ["-i", "inventory.yml", "play.yml", "--check", "--diff"], env)
    output = completed.stdout + completed.stderr
    failures: Dict[str, Tuple[str, dict]] = {}
    task = ""
    for line in completed.stdout.splitlines():
        banner = TASK.match(line)
        if banner:
            task = banner.group(1)
            continue
        fatal = FATAL.match(line)
        if fatal:
            # The last failure of a host is the one that stopped it.
            failures[fatal.group(1)] = (task, json.loads(fatal.group(2)))
    return output, failures


@pytest.mark.parametrize("host", sorted(BAD_INPUT))
def test_bad_input_fails_naming_variable_value_and_valid_values(run, host):
    output, failures = run
    assert host in failures, "%s did not fail:\n%s" % (host, output[-3000:])
    _task, result = failures[host]
    for expected in BAD_INPUT[host][1]:
        assert expected in result["msg"], "%s: %r not in %r" % (host, expected, result["msg"])
    assert NO_PYTHON not in json.dumps(result), "a module ran on the host before validation failed"
    # The action names the module it ran; a refusal comes before any module.
    assert "biostar_firewall_module" not in result, "%s failed at the module call, not in validation" % host


def test_lookup_option_names_are_mapped_to_role_variables(run):
    _output, failures = run
    expected = {
        "bad_cidr": "biostar_allowed_sources: invalid value",
        "extra_rule_port_70000": "biostar_extra_rules[0].port: invalid value 70000",
        "override_port_70000": "biostar_port_overrides.server_port: invalid value 70000",
    }
    for host, start in expected.items():
        _task, result = failures[host]
        assert start in result["msg"], result["msg"]
        # The lookup's own option names never reach the user.
        for option in ("'extra_rules", ": extra_rules", ": peers", ": port_overrides"):
            assert option not in result["msg"], result["msg"]


@pytest.mark.parametrize("host", sorted(VALID))
def test_valid_input_reaches_the_one_module_call_for_its_platform(run, host):
    output, failures = run
    assert host in failures, "%s should fail only for want of an interpreter:\n%s" % (host, output[-3000:])
    _task, result = failures[host]
    if not result.get("unreachable"):
        assert result.get("biostar_firewall_module") == VALID[host][1], result
    if host.startswith("linux"):
        # In msg (ansible-core 2.19+) or in module_stderr (2.16-2.18).
        assert NO_PYTHON in json.dumps(result), result
    elif result.get("unreachable"):
        # ansible-core 2.20+: the shell could not even make the module's temp dir.
        assert "Unsupported parameters" not in result["msg"], result
    else:
        # The action plugin accepted the arguments and handed the module to the shell.
        assert "module_stderr" in result and "Unsupported parameters" not in result["msg"], result


def test_direct_mode_warning_is_shown_once_for_many_hosts(run):
    output, _failures = run
    # ansible-core before 2.19 wraps a warning over several lines: join each one up.
    warnings = re.findall(r"^\[WARNING\]: (biostar_mode is 'direct'.*?)(?:\n\s*\n|\Z)", output, re.M | re.S)
    assert len(warnings) == 1, output
    assert "temporary use" in " ".join(warnings[0].split())


def test_plaintext_device_traffic_on_biostar_x_is_warned_about(run):
    output, _failures = run
    # ansible-core before 2.19 wraps a warning over several lines: join each one up.
    warnings = re.findall(r"^\[WARNING\]: (biostar_tls is false.*?)(?:\n\s*\n|\Z)", output, re.M | re.S)
    assert len(warnings) == 1, output
    assert "block if possible" in " ".join(warnings[0].split())
