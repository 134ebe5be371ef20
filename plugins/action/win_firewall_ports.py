# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller half of biostar.hardening.win_firewall_ports.

Validates the rules, computes every desired Windows rule (module_utils/windows_rules.py),
finds the management port of the connection, runs the PowerShell module once, and turns
its report into the result shape firewall_ports returns.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.biostar.hardening.plugins.module_utils import connection, windows_rules
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import RuleError

MODULE = "biostar.hardening.win_firewall_ports"


def connection_option(plugin: Any, name: str) -> Any:
    try:
        return plugin.get_option(name)
    except (KeyError, AnsibleError):
        return None


def management_port(plugin: Any) -> Optional[int]:
    """The port of the current connection, from the connection plugin's resolved options.

    The derivation itself is module_utils/connection.py's, which the role uses for Linux too.
    """
    transport = str(getattr(plugin, "transport", "") or "")
    port = connection_option(plugin, "port")
    scheme = connection_option(plugin, "scheme") or connection_option(plugin, "protocol")
    return connection.connection_port(transport, port, scheme)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp

        for key in windows_rules.INTERNAL_OPTIONS:
            if key in self._task.args:
                raise AnsibleActionFail("%s: set by the action plugin from 'rules'; do not pass it" % key)
        if not getattr(self._connection._shell, "_IS_WINDOWS", False):
            raise AnsibleActionFail(
                "win_firewall_ports manages Windows Defender Firewall, but this connection uses the '%s' shell."
                " Use biostar.hardening.firewall_ports for Linux hosts." % self._connection._shell.SHELL_FAMILY
            )

        _validation, args = self.validate_argument_spec(argument_spec=windows_rules.ARGUMENT_SPEC)
        try:
            port = management_port(self._connection)
            prepared = windows_rules.prepare(args, connection_port=port)
        except RuleError as exc:
            raise AnsibleActionFail(str(exc)) from None

        raw = self._execute_module(
            module_name=MODULE,
            module_args=prepared.module_args(),
            task_vars=task_vars,
        )
        if raw.get("failed") or raw.get("skipped"):
            result.update(raw)
            return result

        result.update(windows_rules.build_result(prepared, raw, diff=bool(self._task.diff)))
        warnings = list(raw.get("warnings") or []) + result.pop("warnings", [])
        if port is None and str(getattr(self._connection, "transport", "")) != "local":
            warnings.append(
                "could not tell the management port of this connection; only management_ports %s are guarded"
                % (list(prepared.management_ports) or "(none)")
            )
        if warnings:
            result["warnings"] = warnings
        if raw.get("deprecations"):
            result["deprecations"] = raw["deprecations"]
        result["invocation"] = {"module_args": dict(args)}
        return result
