# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Count module invocations per host and action, for the benchmark.

Loop items count one each: a per-port loop of five items is five module runs on the
host. Written as JSON to $BIOSTAR_BENCH_COUNTS when the play ends.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: count_invocations
type: aggregate
short_description: Counts module invocations per host and action (benchmark only)
description:
  - "Writes a JSON object (host -> action -> count) to the file named by E(BIOSTAR_BENCH_COUNTS)."
requirements:
  - enable in callbacks_enabled
"""

import json
import os
from collections import defaultdict

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "count_invocations"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.counts = defaultdict(lambda: defaultdict(int))

    def _count(self, result):
        if result._result.get("results") is not None:
            return  # a loop's summary; its items were counted one by one
        if result._result.get("skipped"):
            return
        self.counts[result._host.get_name()][result._task.action] += 1

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_unreachable = _count
    v2_runner_item_on_ok = v2_runner_item_on_failed = _count

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BIOSTAR_BENCH_COUNTS")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({host: dict(actions) for host, actions in self.counts.items()}, handle)
