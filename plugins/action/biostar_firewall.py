# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role biostar.hardening.firewall in one task, for one host.

On the controller: checks the role's variables against the role's own argument spec
(roles/firewall/meta/argument_specs.yml), computes the rules with the port matrix and
the platform from the connection (module_utils/role_plan.py), and refuses bad input
before the host is touched. Then runs exactly one firewall module: firewall_ports on
Linux, win_firewall_ports (through its action plugin) on Windows. ansible-core starts a
worker per host for every task, so one task instead of seven is the per-host saving.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Optional, Tuple

import yaml
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.biostar.hardening.plugins.module_utils import role_plan
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import RuleError

ROLE_SPEC = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "roles",
    "firewall",
    "meta",
    "argument_specs.yml",
)
# What the controller knows of the host without facts: read from the host's variables.
CONNECTION_VARIABLES = ("ansible_connection", "ansible_shell_type", "ansible_port", "ansible_ssh_port")

display = Display()
# The verbosity (-vvv) from which ansible-core's default output shows a module's invocation.
# Below it the module's echo of its arguments (every rule again: 24 KB of a 100 KB result at
# 256 rules) is only copied from callback to callback in the controller's main process, so the
# result leaves it out there; the rules are in the result and in the fact anyway.
SHOWS_INVOCATION = 3
# libyaml's loader when PyYAML has it: the pure-Python one takes about 25 ms for the spec.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_spec() -> Dict[str, Any]:
    with open(ROLE_SPEC, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_LOADER)["argument_specs"]["main"]["options"]


# Read once when the plugin is imported: the strategy imports it in the main process
# before forking the per-host workers, which then share it.
_SPEC: Dict[str, Any] = {}


def role_argument_spec() -> Dict[str, Any]:
    """The options of the role's entry point ``main``."""
    if not _SPEC:
        _SPEC.update(_load_spec())
    return _SPEC


role_argument_spec()

_NEEDS_TEMPLAR = object()


def builtin_copy(value: Any, possibly_template: Optional[Callable[[Any], bool]] = None) -> Any:
    """``value`` rebuilt from Python's own dict, list, str, int, float, bool and None.

    Variables reach the action as ansible-core's tagged subclasses of those types (2.19 and
    later: origin and trust tags). Deep-copying and validating them costs far more than
    the same data in the builtin types: about 0.2 s per host for 256 extra rules. The
    module, the facts and the messages need only the values.

    With ``possibly_template`` (a string test), returns ``_NEEDS_TEMPLAR`` as soon as a
    string may hold a template or a value is of any other type (a vaulted string, a
    date): that variable goes through the templar instead. Without it, values of other
    types are kept as they are.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        if possibly_template is not None and possibly_template(value):
            return _NEEDS_TEMPLAR
        return str.__str__(value)  # a plain str: the same object, a subclass: its builtin copy
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        copied = {}
        for key, item in value.items():
            key = builtin_copy(key, possibly_template)
            item = builtin_copy(item, possibly_template)
            if key is _NEEDS_TEMPLAR or item is _NEEDS_TEMPLAR:
                return _NEEDS_TEMPLAR
            copied[key] = item
        return copied
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            item = builtin_copy(item, possibly_template)
            if item is _NEEDS_TEMPLAR:
                return _NEEDS_TEMPLAR
            items.append(item)
        return items if isinstance(value, list) else tuple(items)
    return _NEEDS_TEMPLAR if possibly_template is not None else value


def _split(
    found: Dict[str, Any], possibly_template: Optional[Callable[[Any], bool]]
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(variables copied as they are, variables the templar must render)."""
    if possibly_template is None:  # a templar without the test: render everything, as before
        return {}, found
    values: Dict[str, Any] = {}
    pending: Dict[str, Any] = {}
    for name, value in found.items():
        copied = builtin_copy(value, possibly_template)
        if copied is _NEEDS_TEMPLAR:
            pending[name] = value
        else:
            values[name] = copied
    return values, pending


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def _variables(self, names: Any, task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """The host's values of ``names``, templated, in builtin types.

        The templar walks and re-tags every element of a value even when no string in it
        is a template (0.1-0.2 s per host for 256 extra rules on ansible-core 2.19), so a
        variable goes through it only when one of its strings may be a template or it
        holds a type the templar transforms (a vaulted string); the others are copied.
        """
        found = {name: task_vars[name] for name in names if name in task_vars}
        test = getattr(self._templar, "is_possibly_template", None)
        values, pending = _split(found, test)
        if pending:
            values.update(builtin_copy(self._templar.template(pending)))
        return {name: values[name] for name in found}

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        spec = role_argument_spec()

        unknown = sorted(set(self._task.args) - set(spec))
        if unknown:
            raise AnsibleActionFail(
                "%s: not a variable of the role biostar.hardening.firewall; valid names: %s"
                % (unknown[0], ", ".join(sorted(spec)))
            )
        # The role's variables as the host sees them; options given to the task win.
        provided = self._variables(spec, task_vars)
        provided.update(self._task.args)
        validation = ArgumentSpecValidator(spec).validate(provided)
        if validation.error_messages:
            raise AnsibleActionFail(
                "Validation of the role's variables failed: %s" % "; ".join(validation.error_messages)
            )
        variables = dict(validation.validated_parameters)
        # The matrix checks extra rules itself; give it what the user wrote, without the
        # sub-options the validator filled in with None.
        variables["biostar_extra_rules"] = [
            {key: value for key, value in item.items() if value is not None}
            for item in variables.get("biostar_extra_rules") or []
        ]

        host = self._variables(CONNECTION_VARIABLES, task_vars)
        facts = task_vars.get("ansible_facts") or {}
        try:
            plan = role_plan.plan(
                variables,
                hostname=str(task_vars.get("inventory_hostname", "")),
                group_names=task_vars.get("group_names") or [],
                os_family=facts.get("os_family") if hasattr(facts, "get") else None,
                connection_name=host.get("ansible_connection"),
                shell_type=host.get("ansible_shell_type"),
                connection_port=host.get("ansible_port", host.get("ansible_ssh_port")),
            )
        except RuleError as error:
            raise AnsibleActionFail(str(error)) from None

        try:
            if plan.module == role_plan.WINDOWS_MODULE:
                raw = self._windows(plan, task_vars)
            else:
                raw = self._execute_module(module_name=plan.module, module_args=plan.module_args, task_vars=task_vars)
        except Exception:
            # An unreachable host raises and its result is lost: say the warnings anyway.
            for text in plan.warnings:
                display.warning(text)
            raise
        result.update(raw)
        if display.verbosity < SHOWS_INVOCATION:
            result.pop("invocation", None)
        warnings = plan.warnings + list(raw.get("warnings") or [])
        if warnings:
            result["warnings"] = warnings
        result["ansible_facts"] = plan.facts()
        result["biostar_firewall_module"] = plan.module
        return result

    def _windows(self, plan: role_plan.Plan, task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """win_firewall_ports through its own action plugin (rule preparation, lockout guard)."""
        task = self._task.copy()
        task.args = dict(plan.module_args)
        action = self._shared_loader_obj.action_loader.get(
            plan.module,
            task=task,
            connection=self._connection,
            play_context=self._play_context,
            loader=self._loader,
            templar=self._templar,
            shared_loader_obj=self._shared_loader_obj,
        )
        return action.run(task_vars=task_vars)
