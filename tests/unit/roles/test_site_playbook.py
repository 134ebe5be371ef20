"""playbooks/site.yml: the host role comes from the group, and a host in both groups is refused.

Runs `ansible-playbook biostar.hardening.site --check` against local hosts whose Python
does not exist, so nothing runs on this machine; the collection's recording callback
(biostar.hardening.fleet_report) reports the context fact the role computed for each host.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NO_PYTHON = "/nonexistent/biostar-site-test/python3"


@pytest.fixture(scope="module")
def record(tmp_path_factory, ansible_playbook):
    tmp = tmp_path_factory.mktemp("site")
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": NO_PYTHON},
            "children": {
                "biostar_servers": {"hosts": {"srv1": {}, "both1": {}}},
                "biostar_clients": {"hosts": {"ws1": {}, "both1": {}}},
                "biostar_databases": {
                    "hosts": {"db1": {"biostar_version": "x", "biostar_server_addresses": ["10.30.0.10"]}}
                },
                "biostar_communication_servers": {"hosts": {"comm1": {"biostar_version": "x"}}},
            },
        }
    }
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    env = dict(
        ANSIBLE_CALLBACKS_ENABLED="biostar.hardening.fleet_report",
        BIOSTAR_REPORT_DIR=str(tmp / "report"),
        BIOSTAR_REPORT_RECORDS=str(tmp),
        BIOSTAR_REPORT_RECORD_NAME="record",
    )
    completed = ansible_playbook(tmp, ["-i", "inventory.yml", "biostar.hardening.site", "--check"], env)
    assert (tmp / "record.json").exists(), completed.stdout + completed.stderr
    return json.loads((tmp / "record.json").read_text()), completed.stdout


def test_host_role_comes_from_the_group(record):
    data, output = record
    context = data["context"]
    assert context["srv1"]["host_role"] == "server", output
    assert context["ws1"]["host_role"] == "client"
    assert {context[h]["platform"] for h in ("srv1", "ws1")} == {"linux"}
    assert all(context[h]["mode"] == "server" for h in ("srv1", "ws1"))
    assert all(c["direction"] == "inbound" for c in context.values())
    # The recorder knows this was a --check run, for the report's drift.
    assert data["check_mode"] is True


def test_biostar_x_groups_give_their_host_roles_and_the_versions_default_mode(record):
    data, output = record
    context = data["context"]
    assert context["db1"]["host_role"] == "database", output
    assert context["comm1"]["host_role"] == "communication_server", output
    assert {context[h]["mode"] for h in ("db1", "comm1")} == {"device_to_server"}
    assert {str(context[h]["tls"]) for h in ("db1", "comm1")} == {"True"}


def test_a_host_in_both_groups_is_refused_before_the_role_runs(record):
    data, output = record
    assert "both1" not in data["context"], "the role must not run for a host in both groups"
    assert (
        "both1 is in the groups of host roles server and client; the role manages one host role per host" in output
    ), output
    # What the client role would need comes from the port matrix (BioStar 1: inbound UDP 51110).
    assert "client inbound udp/51110" in output, output
    assert data["stats"]["both1"]["failures"] == 1
