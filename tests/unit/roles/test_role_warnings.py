"""The firewall role's one task says each applicable warning, and only those.

The three warnings (BioStar 1 direct mode, BioStar X plaintext, baseline on Windows) come
from the role's action on the controller, in the same task as the module call, so a host
pays no task slot for them. One ansible-playbook run in check mode; every host connects
locally with a Python that does not exist, so nothing runs on this machine (the module
call after the warnings fails on every host, by design).
"""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.biostar.hardening.plugins.module_utils import role_plan

WARNINGS = (role_plan.WARN_DIRECT, role_plan.WARN_PLAINTEXT, role_plan.WARN_WINDOWS_BASELINE)
ROLE_TASK = "Reconcile the owned BioStar rules (one module call, all rules)"

HOSTS = {
    "v1_direct": ({"biostar_mode": "direct"}, ["direct mode as for temporary use only"]),
    "v1_direct_absent": ({"biostar_mode": "direct", "biostar_firewall_state": "absent"}, []),
    "vx_plaintext": ({"biostar_version": "x", "biostar_tls": False}, ["devices use the plaintext Main Server port"]),
    "v1_server": ({"biostar_mode": "server"}, []),
    "windows_baseline_direct": (
        {"ansible_shell_type": "powershell", "biostar_firewall_baseline": True, "biostar_mode": "direct"},
        ["direct mode as for temporary use only", "on Windows the role does not change the firewall"],
    ),
}


@pytest.fixture(scope="module")
def warnings(tmp_path_factory, ansible_playbook):
    tmp = tmp_path_factory.mktemp("warnings")
    hosts = {name: dict(variables, biostar_host_role="server") for name, (variables, _expected) in HOSTS.items()}
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": "/nonexistent/biostar/python3"},
            "hosts": hosts,
        }
    }
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp / "play.yml").write_text(
        yaml.safe_dump([{"hosts": "all", "gather_facts": False, "roles": ["biostar.hardening.firewall"]}])
    )
    completed = ansible_playbook(
        tmp, ["-i", "inventory.yml", "play.yml", "--check"], dict(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    )
    report = json.loads(completed.stdout)
    tasks = [t for play in report["plays"] for t in play["tasks"] if t["task"]["name"].endswith(ROLE_TASK)]
    assert len(tasks) == 1, completed.stdout[-3000:]
    found = {}
    for host, result in tasks[0]["hosts"].items():
        # Real warnings (ansible-core shows them as [WARNING]), from the role's own texts.
        found[host] = [text for text in result.get("warnings", []) if text.startswith("biostar_")]
        assert len(found[host]) == len(result.get("warnings", [])), result
        if result.get("unreachable"):
            # ansible-core 2.20+ reports the fake PowerShell host unreachable, so the result
            # is lost: the action says its warnings on the display instead. The display
            # shows each text once per run, so only their presence can be checked here.
            shown = " ".join((completed.stdout + completed.stderr).split())
            wanted = [text for text in WARNINGS if any(fragment in text for fragment in HOSTS[host][1])]
            found[host] = [text for text in wanted if text in shown]
    return found


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_each_host_gets_exactly_its_warnings(warnings, host):
    expected = HOSTS[host][1]
    got = warnings[host]
    assert len(got) == len(expected), got
    for text, fragment in zip(got, expected):
        assert fragment in " ".join(text.split())
