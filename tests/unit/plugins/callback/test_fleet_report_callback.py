"""The callback and the action biostar.hardening.fleet_report inside a real ansible-playbook run.

Hosts are local (connection local); the only traffic is port_probe to a listener this test
opens on 127.0.0.1 and to a loopback port nobody listens on. No firewall is touched: the role's
context and rule facts are set as the role sets them, and the report is made from them and
from the real probe results.
"""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest
import yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory, ansible_playbook):
    tmp = tmp_path_factory.mktemp("fleet-report")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    open_port = listener.getsockname()[1]
    closed_port = free_port()
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "hosts": {"srv1": {}, "srv2": {}, "probe1": {}},
        }
    }
    checks = {
        # srv1: the listener must answer, the free port must not.
        "srv1": [
            {"protocol": "tcp", "port": open_port, "expect": "open"},
            {"protocol": "tcp", "port": closed_port, "expect": "closed"},
        ],
        # srv2: the listener stands for an internal port that must stay closed, and answers.
        "srv2": [{"protocol": "tcp", "port": open_port, "expect": "closed"}],
    }
    playbook = [
        {
            "name": "What the role records",
            "hosts": "srv1:srv2",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Context and rules, as the role sets them",
                    "ansible.builtin.set_fact": {
                        "biostar_firewall_context": {
                            "platform": "linux",
                            "mode": "server",
                            "host_role": "server",
                            "version": "1",
                            "direction": "inbound",
                        },
                        "biostar_firewall_rules": "{{ lookup('biostar.hardening.port_matrix', mode='server', "
                        "host_role='server', direction='inbound') }}",
                    },
                }
            ],
        },
        {
            "name": "What verify.yml records",
            "hosts": "probe1",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Probe",
                    "biostar.hardening.port_probe": {
                        "host": "127.0.0.1",
                        "checks": "{{ checks[item] }}",
                        "timeout": 1,
                        "retries": 0,
                    },
                    "loop": ["srv1", "srv2"],
                    "register": "biostar_verify_results",
                    "failed_when": False,  # as in verify.yml
                    "vars": {"checks": checks},
                }
            ],
        },
        {
            "name": "The report from this run's variables",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Write it",
                    "biostar.hardening.fleet_report": {
                        "dest": str(tmp / "action-report"),
                        "hosts": ["srv1", "srv2", "probe1"],
                        "fail_on": ["exposure"],
                    },
                    "register": "written",
                    "ignore_errors": True,
                },
                {
                    "name": "Keep its result for the test",
                    "ansible.builtin.copy": {"content": "{{ written | to_json }}", "dest": str(tmp / "action.json")},
                },
            ],
        },
    ]
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp / "playbook.yml").write_text(yaml.safe_dump(playbook, sort_keys=False))
    env = dict(
        ANSIBLE_CALLBACKS_ENABLED="biostar.hardening.fleet_report",
        BIOSTAR_REPORT_DIR=str(tmp / "callback-report"),
        BIOSTAR_REPORT_RECORD_NAME="probe-run",
    )
    try:
        completed = ansible_playbook(tmp, ["-i", "inventory.yml", "playbook.yml"], env)
    finally:
        listener.close()
    output = completed.stdout + completed.stderr
    return tmp, output, open_port, closed_port


def load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def test_callback_records_the_run_and_writes_the_report(run):
    tmp, output, open_port, closed_port = run
    record = load(tmp / "callback-report" / "records" / "probe-run.json")
    assert set(record["context"]) == {"srv1", "srv2"}, output
    assert {rule["port"] for rule in record["matrix_rules"]["srv1"]} == {1470, 1471, 1480, 51110}
    assert [(probe["probe"], probe["target"]) for probe in record["probes"]] == [("probe1", "srv1"), ("probe1", "srv2")]
    assert record["check_mode"] is False and record["finished"]
    report = load(tmp / "callback-report" / "report.json")
    statuses = {host["name"]: host["status"] for host in report["hosts"]}
    assert statuses == {"srv1": "ok", "srv2": "exposed"}
    srv2 = report["hosts"][0]
    assert srv2["issues"][0]["kind"] == "closed_port_answered"
    assert srv2["issues"][0]["port"] == "tcp/%d" % open_port
    srv1 = report["hosts"][1]
    states = {check["port"]: check["state"] for check in srv1["probes"][0]["checks"]}
    assert states == {open_port: "open", closed_port: "closed"}
    assert "fleet report: %s" % (tmp / "callback-report" / "report.html") in output
    assert os.path.exists(tmp / "callback-report" / "report.junit.xml")


def test_action_writes_the_same_report_from_hostvars_and_fails_on_exposure(run):
    tmp, output, _open_port, _closed_port = run
    result = load(tmp / "action.json")
    assert result["failed"] is True, output
    assert "failing because of 1 exposure (fail_on)" in result["msg"]
    assert result["html"] == str(tmp / "action-report" / "report.html")
    assert result["summary"]["by_status"] == {"exposed": 1, "failed": 0, "drift": 0, "ok": 1, "unknown": 0}
    by_action = load(tmp / "action-report" / "report.json")
    by_callback = load(tmp / "callback-report" / "report.json")

    def essentials(report):  # the run names differ by design
        return [
            (host["name"], host["status"], host["issues"], [[c["state"] for c in p["checks"]] for p in host["probes"]])
            for host in report["hosts"]
        ]

    assert essentials(by_action) == essentials(by_callback)
    assert os.path.exists(result["record"])
