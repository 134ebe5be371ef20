"""The role's one task, the biostar_firewall action plugin: validation, dispatch, result.

The module calls are replaced by recorders: the Linux module by a fake _execute_module,
the Windows action plugin (which cannot reach a PowerShell here) by a fake action loader.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.plugins.shell.powershell import ShellModule as PowerShell
from ansible.plugins.shell.sh import ShellModule as Sh

from ansible_collections.biostar.hardening.plugins.action import biostar_firewall
from ansible_collections.biostar.hardening.plugins.action.biostar_firewall import ActionModule
from ansible_collections.biostar.hardening.plugins.modules import biostar_firewall as docs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


class Task(SimpleNamespace):
    def copy(self):
        return Task(**vars(self))


class Templar:
    def template(self, value):
        return value


class Connection:
    def __init__(self, shell=None):
        self.transport = "ssh"
        self._shell = shell or Sh()


class Modules:
    """Stands in for _execute_module: records the call, returns a firewall_ports-shaped result."""

    def __init__(self):
        self.calls = []

    def __call__(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        self.calls.append((module_name, module_args))
        return {"changed": True, "backend": "nftables", "added": module_args["rules"], "removed": []}


class WindowsAction:
    def __init__(self, task):
        self.task = task

    def run(self, task_vars=None):
        return {"changed": False, "backend": "windows_firewall", "added": [], "removed": [], "args": self.task.args}


class Loader:
    def __init__(self):
        self.asked = []

    def get(self, name, task=None, **kwargs):
        self.asked.append(name)
        return WindowsAction(task)


def action(args=None, task_vars_shell=None, check_mode=False):
    task = Task(args=args or {}, action="biostar.hardening.biostar_firewall", async_val=0, check_mode=check_mode,
                diff=False, delegate_to=None)  # fmt: skip
    shared = SimpleNamespace(action_loader=Loader())
    plugin = ActionModule(task, Connection(task_vars_shell), None, None, Templar(), shared)
    # ansible-core 2.19 ignores the argument and keeps its own loaders: put the fake in.
    plugin._shared_loader_obj = shared
    plugin._execute_module = Modules()
    return plugin


def test_linux_host_gets_one_firewall_ports_call_and_the_role_facts():
    plugin = action()
    task_vars = {"biostar_host_role": "server", "biostar_mode": "direct", "ansible_connection": "ssh"}
    result = plugin.run(task_vars=task_vars)
    ((module, args),) = plugin._execute_module.calls
    assert module == "biostar.hardening.firewall_ports"
    assert [(rule["protocol"], rule["port"]) for rule in args["rules"]] == [("tcp", 1480)]
    assert args["owner"] == "biostar-hardening" and args["backend"] == "auto" and args["persist"] is True
    assert result["changed"] is True and result["backend"] == "nftables"
    assert result["biostar_firewall_module"] == module
    assert result["ansible_facts"]["biostar_firewall_rules"] == args["rules"]
    assert result["ansible_facts"]["biostar_firewall_context"]["mode"] == "direct"
    assert any("temporary use" in text for text in result["warnings"])
    assert plugin._shared_loader_obj.action_loader.asked == []


def test_windows_host_goes_through_the_win_firewall_ports_action():
    plugin = action()
    result = plugin.run(task_vars={"biostar_host_role": "client", "ansible_connection": "winrm"})
    assert plugin._execute_module.calls == []
    assert plugin._shared_loader_obj.action_loader.asked == ["biostar.hardening.win_firewall_ports"]
    assert result["backend"] == "windows_firewall"
    assert result["args"]["group"] == "biostar-hardening"
    assert result["ansible_facts"]["biostar_firewall_context"]["platform"] == "windows"


def test_task_options_win_over_host_variables():
    plugin = action({"biostar_host_role": "client"})
    result = plugin.run(task_vars={"biostar_host_role": "server"})
    assert result["ansible_facts"]["biostar_firewall_context"]["host_role"] == "client"


@pytest.mark.parametrize(
    "task_vars,expected",
    [
        ({"biostar_host_role": "server", "biostar_firewall_state": "gone"}, "value of biostar_firewall_state must be"),
        ({"biostar_host_role": "server", "biostar_manage_outbound": "often"}, "biostar_manage_outbound"),
        ({"biostar_host_role": "server", "biostar_mode": "hybrid"}, "biostar_mode: invalid value 'hybrid'"),
        ({}, "biostar_host_role: missing for BioStar version 1; valid values: server, client"),
    ],
)
def test_bad_input_is_refused_before_any_module(task_vars, expected):
    plugin = action()
    with pytest.raises(AnsibleActionFail) as error:
        plugin.run(task_vars=task_vars)
    assert expected in str(error.value)
    assert plugin._execute_module.calls == [] and plugin._shared_loader_obj.action_loader.asked == []


def test_unknown_option_is_refused_with_the_valid_names():
    with pytest.raises(AnsibleActionFail, match=r"biostar_moed: not a variable of the role.*biostar_mode"):
        action({"biostar_moed": "server"}).run(task_vars={"biostar_host_role": "server"})


def test_windows_shell_without_winrm_is_windows_too():
    plugin = action(task_vars_shell=PowerShell())
    result = plugin.run(task_vars={"biostar_host_role": "server", "ansible_shell_type": "powershell"})
    assert result["biostar_firewall_module"] == "biostar.hardening.win_firewall_ports"


def test_documented_options_are_the_roles_argument_spec():
    with open(os.path.join(REPO, "roles", "firewall", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    documented = yaml.safe_load(docs.DOCUMENTATION)["options"]
    assert biostar_firewall.role_argument_spec() == spec
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        for key in ("type", "elements", "choices", "default", "required", "description"):
            assert documented[name].get(key) == option.get(key), (name, key)
        if "options" in option:
            assert sorted(documented[name]["suboptions"]) == sorted(option["options"])
    # A missing host role gets the action's clear message, not ansible-core's required check.
    assert "required" not in spec["biostar_host_role"]
