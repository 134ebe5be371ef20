"""The win_firewall_ports action plugin: what it sends to the .ps1 and what it returns.

The PowerShell module cannot run here (no PowerShell on these machines), so the module
call is replaced by a recorder that returns reports shaped like the .ps1's.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail
from ansible.plugins.shell.powershell import ShellModule as PowerShell
from ansible.plugins.shell.sh import ShellModule as Sh

from ansible_collections.biostar.hardening.plugins.action.win_firewall_ports import ActionModule

SERVER_MODE = [
    {"protocol": "tcp", "port": 1470, "direction": "inbound", "peers": [], "provenance": "documented"},
    {"protocol": "tcp", "port": 1471, "direction": "inbound", "peers": [], "reference": "SDK manual"},
    {"protocol": "tcp", "port": 1480, "direction": "inbound", "peers": [], "purpose": "BioStar server"},
    {"protocol": "udp", "port": 51110, "direction": "inbound", "peers": []},
]


class Connection:
    def __init__(self, transport="winrm", shell=None, **options):
        self.transport = transport
        self._shell = shell or PowerShell()
        self._options = options

    def get_option(self, name):
        if name not in self._options:
            raise KeyError(name)
        return self._options[name]


class Recorder:
    """Stands in for _execute_module: records the call, returns a .ps1-shaped report."""

    def __init__(self, report=None):
        self.calls = []
        self.report = report

    def __call__(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        self.calls.append({"module_name": module_name, "module_args": module_args})
        if self.report is not None:
            return self.report
        # Behave like a first run on an empty group: everything is added.
        return {
            "changed": bool(module_args["desired"]),
            "current": [],
            "added": [item["name"] for item in module_args["desired"]],
            "updated": [],
            "removed": [],
            "profiles_enabled": ["Domain", "Private", "Public"],
            "management_ports": module_args["management_ports"],
        }


def action(args, connection=None, report=None, check_mode=False, diff=False):
    task = SimpleNamespace(
        args=args,
        action="biostar.hardening.win_firewall_ports",
        async_val=0,
        check_mode=check_mode,
        diff=diff,
        delegate_to=None,
    )
    plugin = ActionModule(task, connection or Connection(port=5986), None, None, None, None)
    plugin._execute_module = Recorder(report)
    return plugin


def test_sends_prepared_records_and_the_connection_port():
    plugin = action({"rules": SERVER_MODE})
    result = plugin.run(task_vars={})
    (call,) = plugin._execute_module.calls
    assert call["module_name"] == "biostar.hardening.win_firewall_ports"
    sent = call["module_args"]
    assert "rules" not in sent
    assert sent["management_ports"] == [5986]
    assert sent["group"] == "biostar-hardening"
    assert [item["name"] for item in sent["desired"]] == [
        "biostar-hardening-in-tcp-1470-any",
        "biostar-hardening-in-tcp-1471-any",
        "biostar-hardening-in-tcp-1480-any",
        "biostar-hardening-in-udp-51110-any",
    ]
    assert result["changed"] is True
    assert result["backend"] == "windows_firewall"
    assert [rule["port"] for rule in result["added"]] == [1470, 1471, 1480, 51110]
    assert result["rules"] == result["added"]
    assert result["removed"] == []
    assert result["persisted"] == ["PersistentStore"]
    assert result["invocation"]["module_args"]["rules"][0]["port"] == 1470
    assert "diff" not in result


def test_lookup_extras_and_order_do_not_change_the_call():
    first = action({"rules": SERVER_MODE})
    first.run(task_vars={})
    shuffled = [dict(rule, provenance="inferred") for rule in reversed(SERVER_MODE)]
    second = action({"rules": shuffled + shuffled})
    second.run(task_vars={})
    sent = [plugin._execute_module.calls[0]["module_args"] for plugin in (first, second)]
    assert sent[0] == sent[1]


def test_rerun_with_nothing_to_do_reports_unchanged():
    report = {"current": [], "added": [], "updated": [], "removed": [], "profiles_enabled": ["Domain"]}
    result = action({"rules": SERVER_MODE}, report=report, diff=True).run(task_vars={})
    assert result["changed"] is False
    assert result["persisted"] == []
    assert result["filtering"] is True
    assert "diff" in result


def test_absent_sends_no_desired_rules():
    plugin = action({"state": "absent", "rules": [{"protocol": "bogus"}]})
    result = plugin.run(task_vars={})
    assert plugin._execute_module.calls[0]["module_args"]["desired"] == []
    assert result["changed"] is False
    assert result["rules"] == []


def test_bad_rule_fails_before_the_host_is_touched():
    plugin = action({"rules": [{"protocol": "tcp", "port": 70000}]})
    with pytest.raises(AnsibleActionFail, match=r"rules\[0\]\.port: invalid value 70000"):
        plugin.run(task_vars={})
    assert plugin._execute_module.calls == []


def test_a_rule_that_is_not_a_dict_fails_naming_it_and_the_valid_keys():
    plugin = action({"rules": [SERVER_MODE[0], 8080]})
    with pytest.raises(AnsibleActionFail) as caught:
        plugin.run(task_vars={})
    assert str(caught.value) == (
        "rules[1]: invalid value 8080; valid values: a dict with the keys protocol, port, direction, peers, purpose,"
        " provenance, reference (protocol and port are required)"
    )
    assert plugin._execute_module.calls == []


@pytest.mark.parametrize(
    "args, message",
    [
        ({"rules": [], "backend": "nftables"}, "backend"),
        ({"rules": [{"protocol": "tcp", "port": 1, "colour": "red"}]}, r"rules\[0\] key: invalid value 'colour'"),
        ({"rules": [], "profiles": ["Office"]}, "Office"),
        ({"rules": [], "desired": []}, "desired: set by the action plugin"),
        ({"rules": [], "group": "bio*"}, r"group: invalid value 'bio\*'"),
    ],
)
def test_bad_options_fail_before_the_host_is_touched(args, message):
    plugin = action(args)
    with pytest.raises(AnsibleActionFail, match=message):
        plugin.run(task_vars={})
    assert plugin._execute_module.calls == []


def test_refuses_non_windows_connections():
    plugin = action({"rules": SERVER_MODE}, connection=Connection("ssh", shell=Sh()))
    with pytest.raises(AnsibleActionFail, match=r"biostar\.hardening\.firewall_ports"):
        plugin.run(task_vars={})
    assert plugin._execute_module.calls == []


@pytest.mark.parametrize(
    "connection, ports",
    [
        (Connection("ssh"), [22]),
        (Connection("ssh", port=2222), [2222]),
        (Connection("psrp", port=None, protocol="http"), [5985]),
        (Connection("ansible.builtin.winrm", port=5985, scheme="http"), [5985]),
    ],
)
def test_management_port_comes_from_the_connection(connection, ports):
    plugin = action({"rules": [], "management_ports": [ports[0]]}, connection=connection)
    plugin.run(task_vars={})
    assert plugin._execute_module.calls[0]["module_args"]["management_ports"] == ports


def test_unknown_connection_port_is_said_not_guessed():
    plugin = action({"rules": [], "management_ports": [5985]}, connection=Connection("someone.else.transport"))
    result = plugin.run(task_vars={})
    assert plugin._execute_module.calls[0]["module_args"]["management_ports"] == [5985]
    assert any("could not tell the management port" in warning for warning in result["warnings"])


def test_module_failure_is_passed_through():
    report = {"failed": True, "msg": "Refusing to remove or change owned rules that let the management connection in"}
    result = action({"rules": []}, report=report).run(task_vars={})
    assert result["failed"] is True
    assert result["msg"].startswith("Refusing")
    assert "backend" not in result


def test_check_mode_result_predicts_the_run():
    plugin = action({"rules": SERVER_MODE}, check_mode=True, diff=True)
    result = plugin.run(task_vars={})
    assert result["changed"] is True
    assert result["diff"]["before"] == ""
    assert result["diff"]["after"].count("\n") == 4
