# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record what a demo run really did, for scripts/demo/report.py to print.

site_kit's recording callback (tests/site_kit/recorder.py) with the demo's view of the
record, written to the JSON file named by BIOSTAR_DEMO_RECORD at the end of the run.
Nothing is computed here: the report's figures are the module results, facts and stats
of the run, as Ansible saw them.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)).rsplit(os.sep, 3)[0], "tests"))

from site_kit.playbook import Run
from site_kit.recorder import Recorder, write_json

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
FIREWALL_KEYS = ("changed", "failed", "msg", "backend", "filtering", "added", "removed", "rules", "persisted", "diff")


def demo_view(record: Dict[str, Any]) -> Dict[str, Any]:
    """firewall: host -> the firewall module's result; context: host -> the role's context
    fact; probes: one entry per port_probe item; stats: the play recap."""
    run = Run(record)
    view: Dict[str, Any] = {"firewall": {}, "context": {}, "probes": [], "stats": run.stats()}
    for host in run.hosts():
        for result in run.results(host):
            if result.get("skipped"):
                continue
            if result["action"] in FIREWALL_MODULES:
                view["firewall"][host] = {key: result[key] for key in FIREWALL_KEYS if key in result}
            context = result.get("ansible_facts", {}).get("biostar_firewall_context")
            if result["action"] == "ansible.builtin.set_fact" and context:
                view["context"][host] = context
            if result["action"] == PROBE_MODULE:
                view["probes"].append(
                    {
                        "probe": host,
                        "target": result.get("item"),
                        "address": result.get("address"),
                        "checks": result.get("checks", []),
                        "summary": result.get("summary", ""),
                        "msg": result.get("msg", ""),
                        "udp_no_answer_means": result.get("invocation", {})
                        .get("module_args", {})
                        .get("udp_no_answer_means"),
                    }
                )
    return view


class CallbackModule(Recorder):
    CALLBACK_NAME = "biostar_demo_record"

    def finished(self, record: Dict[str, Any]) -> None:
        path = os.environ.get("BIOSTAR_DEMO_RECORD")
        if path:
            write_json(path, demo_view(record))
