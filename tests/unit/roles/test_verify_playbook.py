"""playbooks/verify.yml against loopback listeners: exposures are named, with the fix.

The probe host is this machine (connection local, this Python). Every target's address is
127.0.0.1 and every port of its matrix is moved (port_overrides) to a loopback port this
test owns: the ones the test listens on answer, the others are closed. Only 127.0.0.1 is
ever probed.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys

import pytest
import yaml

from ansible_collections.biostar.hardening.plugins.module_utils import port_matrix

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LOOPBACK = "127.0.0.1"


@contextlib.contextmanager
def loopback_ports(count):
    """``count`` loopback TCP sockets, bound but not listening: connecting to them is refused."""
    sockets = []
    try:
        for _index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def moved_ports(matrix, sockets):
    """Every named port of the matrix on one of our loopback sockets."""
    names = sorted(matrix.ports)
    return {name: sockets[index].getsockname()[1] for index, name in enumerate(names)}


@pytest.fixture(scope="module")
def run(tmp_path_factory, ansible_playbook):
    tmp = tmp_path_factory.mktemp("verify")
    x = port_matrix.BIOSTAR_X
    with loopback_ports(3 * len(x.ports)) as sockets:
        exposed = moved_ports(x, sockets[: len(x.ports)])
        healthy = moved_ports(x, sockets[len(x.ports) : 2 * len(x.ports)])
        trusting = moved_ports(x, sockets[2 * len(x.ports) :])
        listening = {
            # The exposed host: its opened ports and two internal services answer.
            "exposed": [exposed[name] for name in ("web_https_port", "server_tls_port", "grpc_port", "thrift_port")],
            # A healthy host: only its opened ports answer.
            "healthy": [healthy["web_https_port"], healthy["server_tls_port"]],
            # Internal services open to a trusted source, which the probe (127.0.0.1) is: from
            # there every one of them must answer.
            "trusting": [
                trusting["web_https_port"],
                trusting["server_tls_port"],
                *sorted({trusting[flow.port_name] for flow in x.flows if flow.expect == port_matrix.CLOSED}),
            ],
        }
        by_port = {sock.getsockname()[1]: sock for sock in sockets}
        for ports in listening.values():
            for port in ports:
                by_port[port].listen(8)
        common = {"biostar_version": "x", "biostar_probe_address": LOOPBACK}
        inventory = {
            "all": {
                "vars": {"biostar_verify_timeout": 0.5, "biostar_verify_retries": 0},
                "children": {
                    "biostar_probes": {
                        "hosts": {
                            "probe": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
                        }
                    },
                    "biostar_servers": {
                        "hosts": {
                            "xsrv_exposed": dict(common, biostar_port_overrides=exposed),
                            "xsrv_healthy": dict(common, biostar_port_overrides=healthy),
                            "xsrv_trusting": dict(
                                common, biostar_port_overrides=trusting, biostar_trusted_sources=["127.0.0.0/8"]
                            ),
                            # Same ports as the exposed one, but a Windows host: the fix differs.
                            "xwin_exposed": dict(common, biostar_port_overrides=exposed, ansible_connection="winrm"),
                        }
                    },
                },
            }
        }
        (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
        env = dict(
            ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
            ANSIBLE_CALLBACK_RESULT_FORMAT="json",
            ANSIBLE_CALLBACK_FORMAT_PRETTY="false",
        )
        completed = ansible_playbook(tmp, ["-i", "inventory.yml", "biostar.hardening.verify", "-v"], env)
    output = completed.stdout + completed.stderr
    messages = []
    for line in completed.stdout.splitlines():
        if line.startswith("fatal: [probe]: FAILED! => "):
            messages = json.loads(line.split("=> ", 1)[1])["msg"]
    return completed.returncode, output, messages, exposed


def test_verify_fails_while_a_host_is_exposed(run):
    returncode, output, messages, _ports = run
    assert returncode != 0, output
    assert messages, output


def test_exposure_names_each_internal_port_that_answered_and_the_linux_fix(run):
    _rc, _output, messages, ports = run
    (line,) = [m for m in messages if m.startswith("EXPOSED xsrv_exposed ")]
    assert "2 internal service(s) and 0 other port(s)" in line, line
    assert "tcp/%d (internal: gRPC, internal only)" % ports["grpc_port"] in line
    assert "tcp/%d (internal: Thrift, internal only)" % ports["thrift_port"] in line
    assert "biostar_firewall_baseline: true" in line


def test_a_windows_host_gets_the_windows_fix(run):
    _rc, _output, messages, _ports = run
    (line,) = [m for m in messages if m.startswith("EXPOSED xwin_exposed ")]
    assert "turn Windows Defender Firewall on for every profile" in line
    assert "biostar_firewall_baseline" not in line


def test_exposures_come_first_and_healthy_hosts_are_not_named(run):
    _rc, _output, messages, _ports = run
    assert messages[0].startswith("EXPOSED"), messages
    assert not any("xsrv_healthy" in m for m in messages), messages
    # The trusting host's gRPC listener answers the probe, which is a trusted source: not a failure.
    assert not any("xsrv_trusting" in m for m in messages), messages
    # Each failed check is also listed with its label.
    assert any("expected closed, got open" in m and "[internal: gRPC" in m for m in messages), messages
