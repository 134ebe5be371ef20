# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recording callback's code (the plugin file is callback/site_kit_record.py).

It writes, when the play ends, one JSON object to the file named by $SITE_KIT_RECORD:

- ``tasks``: every task result as Ansible reported it (host, task, resolved action,
  status ok/failed/skipped/unreachable, the result; a loop's items in its ``results``);
  with $SITE_KIT_RECORD_LEAN=1 an ok or skipped task keeps only ``changed`` and the module name;
- ``counts``: module invocations per host and action as written in the task, loop items
  one each (a per-port loop of five items is five module runs on the host);
- the role's one task (the action biostar.hardening.biostar_firewall) is recorded and
  counted under the firewall module it ran, which its result names
  (``biostar_firewall_module``), so readers find that module's result by its name;
- ``stats``: the play recap per host.

It works next to any stdout callback, so a run keeps its human-readable log. Nothing is
computed here: readers (site_kit.playbook.Run) take the figures from the record.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Any, Dict

from ansible.plugins.callback import CallbackBase

from .collection import RECORD_ENV, RECORD_LEAN_ENV

# Where the role's action names the firewall module it ran.
MODULE_KEY = "biostar_firewall_module"


# ansible-core 2.19 gives callbacks public .result/.host/.task; 2.16-2.18 only the private
# attributes. make compat runs this recorder on both.
def _data(result: Any) -> Any:
    return result.result if hasattr(result, "result") else result._result


def _flags(result: Any) -> Any:
    """The result's top-level values as the worker sent them, for counts and lean records.

    ansible-core 2.19's ``result`` converts the whole result to native types on first use,
    once per callback: about 30 ms per host for a 256-rule result, in the one process that
    receives every result. A fleet running only the default callback pays that once; the
    recorder reads flags and the module name only, so it does not ask for the conversion.
    """
    raw = getattr(result, "_return_data", None)
    return raw if isinstance(raw, dict) else _data(result)


def _host(result: Any) -> Any:
    return result.host if hasattr(result, "host") else result._host


def _task(result: Any) -> Any:
    return result.task if hasattr(result, "task") else result._task


class Recorder(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "site_kit_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tasks: list = []
        self.counts: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.lean = os.environ.get(RECORD_LEAN_ENV) == "1"

    def _record(self, result: Any, status: str) -> None:
        task = _task(result)
        if self.lean and status in ("ok", "skipped"):
            flags = _flags(result)
            data = {key: flags[key] for key in ("changed", MODULE_KEY) if key in flags}
        else:
            data = dict(_data(result))
        if status != "ok":
            # ansible-core 2.19 leaves the flag out of some results (a failed action plugin).
            data.setdefault(status, True)
        self.tasks.append(
            {
                "host": _host(result).get_name(),
                "task": task.get_name(),
                "action": data.get(MODULE_KEY) or task.resolved_action or task.action,
                "status": status,
                "result": data,
            }
        )

    def _count(self, result: Any) -> None:
        flags = _flags(result)
        if flags.get("results") is not None:
            return  # a loop's summary; its items were counted one by one
        if flags.get("skipped"):
            return
        self.counts[_host(result).get_name()][flags.get(MODULE_KEY) or _task(result).action] += 1

    def v2_runner_on_ok(self, result: Any) -> None:
        self._record(result, "ok")
        self._count(result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._record(result, "failed")
        self._count(result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._record(result, "unreachable")
        self._count(result)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._record(result, "skipped")

    def v2_runner_item_on_ok(self, result: Any) -> None:
        self._count(result)

    def v2_runner_item_on_failed(self, result: Any) -> None:
        self._count(result)

    def finished(self, record: Dict[str, Any]) -> None:
        """Called with the record at the end of the run; a subclass may write a view of it."""

    def v2_playbook_on_stats(self, stats: Any) -> None:
        record = {
            "tasks": self.tasks,
            "counts": {host: dict(actions) for host, actions in self.counts.items()},
            "stats": {host: stats.summarize(host) for host in sorted(stats.processed)},
        }
        path = os.environ.get(RECORD_ENV)
        if path:
            write_json(path, record)
        self.finished(record)


def write_json(path: str, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True, default=str)
