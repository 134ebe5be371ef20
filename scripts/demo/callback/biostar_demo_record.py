# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record what a demo run really did, for scripts/demo/report.py to print.

Enabled only by scripts/demo.sh (ANSIBLE_CALLBACKS_ENABLED); it writes the JSON file
named by BIOSTAR_DEMO_RECORD at the end of the run. Nothing is computed here: the
report's figures are the module results, facts and stats of the run, as Ansible saw them.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: biostar_demo_record
type: notification
short_description: Write the demo run's BioStar results to a JSON file
description:
  - Collects the results of the firewall modules, the role's context fact, port_probe items
    and the play stats, and writes them to the file named by E(BIOSTAR_DEMO_RECORD).
requirements:
  - enabled in callbacks_enabled
"""

FIREWALL_MODULES = ("biostar.hardening.firewall_ports", "biostar.hardening.win_firewall_ports")
PROBE_MODULE = "biostar.hardening.port_probe"
FIREWALL_KEYS = (
    "changed",
    "failed",
    "msg",
    "backend",
    "filtering",
    "added",
    "removed",
    "rules",
    "persisted",
    "diff",
)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "biostar_demo_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.record = {"firewall": {}, "context": {}, "probes": [], "stats": {}}

    def _firewall(self, result):
        data = result.result
        self.record["firewall"][result.host.name] = {key: data[key] for key in FIREWALL_KEYS if key in data}

    def _facts(self, result):
        context = result.result.get("ansible_facts", {}).get("biostar_firewall_context")
        if context:
            self.record["context"][result.host.name] = context

    def _task_result(self, result):
        action = result.task.resolved_action
        if action in FIREWALL_MODULES:
            self._firewall(result)
        elif action == "ansible.builtin.set_fact":
            self._facts(result)

    def v2_runner_on_ok(self, result):
        self._task_result(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._task_result(result)

    def _probe_item(self, result):
        if result.task.resolved_action != PROBE_MODULE:
            return
        data = result.result
        self.record["probes"].append(
            {
                "probe": result.host.name,
                "target": data.get("item"),
                "address": data.get("address"),
                "checks": data.get("checks", []),
                "summary": data.get("summary", ""),
                "msg": data.get("msg", ""),
                "udp_no_answer_means": data.get("invocation", {}).get("module_args", {}).get("udp_no_answer_means"),
            }
        )

    def v2_runner_item_on_ok(self, result):
        self._probe_item(result)

    def v2_runner_item_on_failed(self, result):
        self._probe_item(result)

    def v2_playbook_on_stats(self, stats):
        for host in sorted(stats.processed):
            self.record["stats"][host] = stats.summarize(host)
        path = os.environ.get("BIOSTAR_DEMO_RECORD")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(self.record, handle, indent=2, sort_keys=True)
