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
        result = {"changed": True, "backend": "nftables", "added": module_args["rules"], "removed": []}
        return dict(result, invocation={"module_args": dict(module_args)})


class WindowsAction:
    def __init__(self, task):
        self.task = task

    def run(self, task_vars=None):
        invocation = {"module_args": dict(self.task.args)}
        return {"changed": False, "backend": "windows_firewall", "added": [], "removed": [], "args": self.task.args,
                "invocation": invocation}  # fmt: skip


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
    facts = result["ansible_facts"]["biostar_firewall_rules"]
    assert [{k: v for k, v in rule.items() if k not in ("provenance", "reference")} for rule in facts] == args["rules"]
    assert facts[0]["provenance"] and facts[0]["reference"]  # the fact keeps what the module does not need
    assert result["ansible_facts"]["biostar_firewall_context"]["mode"] == "direct"
    assert any("temporary use" in text for text in result["warnings"])
    assert plugin._shared_loader_obj.action_loader.asked == []


@pytest.mark.parametrize("verbosity, shown", [(0, False), (2, False), (3, True), (4, True)])
@pytest.mark.parametrize("connection", ["ssh", "winrm"])
def test_the_modules_invocation_is_returned_only_where_the_output_shows_it(monkeypatch, verbosity, shown, connection):
    monkeypatch.setattr(biostar_firewall.display, "verbosity", verbosity)
    plugin = action()
    result = plugin.run(task_vars={"biostar_host_role": "server", "ansible_connection": connection})
    assert ("invocation" in result) is shown
    if shown:
        assert result["invocation"]["module_args"]["rules"][0]["port"] == 1470
    assert result["ansible_facts"]["biostar_firewall_rules"][0]["port"] == 1470


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


# --- the role's variables: templated only where needed, handed on in builtin types -----------


class TaggedStr(str):
    """Stands in for ansible-core's tagged str subclass (2.19) or unsafe text (2.16-2.18)."""


class TaggedInt(int):
    pass


class TaggedDict(dict):
    pass


class TaggedList(list):
    pass


def only_builtin_types(value):
    if isinstance(value, dict):
        items = value.items()
        return value.__class__ is dict and all(only_builtin_types(k) and only_builtin_types(v) for k, v in items)
    if isinstance(value, (list, tuple)):
        return value.__class__ in (list, tuple) and all(only_builtin_types(v) for v in value)
    return value.__class__ in (str, int, float, bool, type(None))


def test_builtin_copy_keeps_the_values_and_drops_the_subclasses():
    tagged = TaggedDict(
        rules=TaggedList(
            [TaggedDict(protocol=TaggedStr("tcp"), port=TaggedInt(7000), peers=(TaggedStr("10.0.0.0/8"),))]
        ),
        ratio=1.5,
        on=True,
        off=None,
    )
    copied = biostar_firewall.builtin_copy(tagged)
    assert copied == {"rules": [{"protocol": "tcp", "port": 7000, "peers": ("10.0.0.0/8",)}], "ratio": 1.5,
                      "on": True, "off": None}  # fmt: skip
    assert only_builtin_types(copied) and not only_builtin_types(tagged)
    assert copied["on"] is True and copied["off"] is None


def test_builtin_copy_with_a_template_test_refuses_what_the_templar_must_see():
    def test(text):
        return "{{" in text

    needs = biostar_firewall._NEEDS_TEMPLAR
    assert biostar_firewall.builtin_copy([{"port": "{{ p }}"}], test) is needs
    assert biostar_firewall.builtin_copy({"{{ k }}": 1}, test) is needs
    assert biostar_firewall.builtin_copy([object()], test) is needs  # a vaulted string, a date: the templar's
    assert biostar_firewall.builtin_copy([{"port": 7000, "purpose": "no template"}], test) == [
        {"port": 7000, "purpose": "no template"}
    ]
    unknown = object()
    assert biostar_firewall.builtin_copy([unknown])[0] is unknown  # after templating: kept as is


class RecordingTemplar:
    """Renders '{{ mode }}' and records every value it was asked to template."""

    def __init__(self):
        self.asked = []

    def is_possibly_template(self, value):
        return isinstance(value, str) and "{{" in value

    def template(self, value):
        self.asked.append(value)
        rendered = {k: ("direct" if v == "{{ mode }}" else v) for k, v in value.items()}
        return TaggedDict((k, TaggedStr(v) if isinstance(v, str) else v) for k, v in rendered.items())


def test_only_variables_that_may_hold_a_template_go_through_the_templar():
    plugin = action()
    plugin._templar = RecordingTemplar()
    extra = TaggedList([TaggedDict(protocol=TaggedStr("tcp"), port=TaggedInt(20000 + i)) for i in range(252)])
    task_vars = {"biostar_host_role": TaggedStr("server"), "biostar_mode": TaggedStr("{{ mode }}"),
                 "biostar_extra_rules": extra}  # fmt: skip
    result = plugin.run(task_vars=task_vars)
    assert plugin._templar.asked == [{"biostar_mode": "{{ mode }}"}]
    ((_module, args),) = plugin._execute_module.calls
    assert result["ansible_facts"]["biostar_firewall_context"]["mode"] == "direct"
    assert len(args["rules"]) == 1 + 252  # direct mode's one port, and every extra rule
    assert only_builtin_types(args) and only_builtin_types(result["ansible_facts"])


def test_the_real_templar_gives_the_same_variables_as_templating_everything():
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    trust = pytest.importorskip("ansible.template").__dict__.get("trust_as_template")
    if trust is None:
        pytest.skip("ansible-core before 2.19: no data tagging")
    loader = DataLoader()
    loaded = loader.load(
        "biostar_host_role: server\nbiostar_allowed_sources: ['10.1.0.0/16']\n"
        "biostar_extra_rules: [{protocol: tcp, port: 7000, purpose: plain}, {protocol: udp, port: '7001-7002'}]\n",
        file_name="/inventory/group_vars/all.yml",
    )
    task_vars = dict(loaded, site_mode="direct", biostar_mode=trust("{{ site_mode }}"),
                     biostar_port_overrides={"server_port": trust("{{ 400 + 1 }}")})  # fmt: skip
    plugin = action()
    plugin._templar = Templar(loader=loader, variables=task_vars)
    names = biostar_firewall.role_argument_spec()
    everything = biostar_firewall.builtin_copy(
        plugin._templar.template({n: task_vars[n] for n in names if n in task_vars})
    )
    got = plugin._variables(names, task_vars)
    assert got == everything and list(got) == list(everything)
    assert got["biostar_mode"] == "direct" and got["biostar_port_overrides"] == {"server_port": 401}
    assert only_builtin_types(got)
