# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Emit a real Ansible warning from a task, on the controller.

ansible-core has no task that warns: ``debug`` prints a message, not a warning. A
warning returned in a task result is shown as ``[WARNING]:`` by every callback, kept in
the host's result (AWX, JSON callbacks) and shown once per run by the display, which
drops repeats of the same text, so every host may return it without flooding the screen.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("msg",))
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(argument_spec={"msg": {"type": "str", "required": True}})
        result.update(changed=False, msg=args["msg"], warnings=[args["msg"]])
        return result
