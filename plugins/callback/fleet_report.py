# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record what the site and verify runs did, and write the fleet posture report."""

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_report
type: notification
short_description: Record BioStar site and verify runs and write the fleet posture report
description:
  - Records, for every playbook run, what the role C(biostar.hardening.firewall) and the playbook
    C(biostar.hardening.verify) returned, host by host, as a run record (JSON) in the folder's
    C(records/) subfolder. Nothing is recomputed; the record holds the module results of
    M(biostar.hardening.firewall_ports) and M(biostar.hardening.win_firewall_ports), the facts
    C(biostar_firewall_context) and C(biostar_firewall_rules), the M(biostar.hardening.port_probe)
    results and the play stats.
  - At the end of each run it merges every record in the folder (the latest result per host and per
    probe host wins) and writes C(report.html) (a self-contained page, with no external assets and no network access),
    C(report.json) (schema C(biostar.hardening/fleet-report/1), see the collection's docs/report.md)
    and C(report.junit.xml) (one test case per host and per probe check) into the folder.
  - Check mode works; the report of a C(--check) run shows the drift a real run would fix.
  - Runs without any BioStar task write nothing.
version_added: 0.1.0
requirements:
  - enable it in C(callbacks_enabled) (C(ANSIBLE_CALLBACKS_ENABLED=biostar.hardening.fleet_report))
options:
  dir:
    description: The folder of the report and of its C(records/). Created when missing.
    type: path
    default: biostar-report
    env:
      - name: BIOSTAR_REPORT_DIR
    ini:
      - section: callback_biostar_fleet_report
        key: dir
  records:
    description:
      - The folder of the run records the report is made from. Default is O(dir)C(/records).
      - Every record in it counts, so give separate sites separate folders.
    type: path
    env:
      - name: BIOSTAR_REPORT_RECORDS
    ini:
      - section: callback_biostar_fleet_report
        key: records
  record_name:
    description:
      - The name of this run's record (C(records/<name>.json)); a record of the same name is replaced.
      - Default is the UTC start time and the playbook's name, so every run adds a record.
    type: str
    env:
      - name: BIOSTAR_REPORT_RECORD_NAME
    ini:
      - section: callback_biostar_fleet_report
        key: record_name
  render:
    description: Write the report after each run. With V(false) only the record is written.
    type: bool
    default: true
    env:
      - name: BIOSTAR_REPORT_RENDER
    ini:
      - section: callback_biostar_fleet_report
        key: render
  title:
    description: The page's title.
    type: str
    default: BioStar fleet posture
    env:
      - name: BIOSTAR_REPORT_TITLE
    ini:
      - section: callback_biostar_fleet_report
        key: title
"""

import datetime
import os
import time

from ansible import context as cli_context
from ansible.plugins.callback import CallbackBase

from ansible_collections.biostar.hardening.plugins.plugin_utils import fleet_report

FIREWALL_MODULES = frozenset(
    (
        "biostar.hardening.firewall_ports",
        "biostar.hardening.win_firewall_ports",
    )
)
# The role's one task: it runs one of the modules above and returns the role's facts.
ROLE_ACTION = "biostar.hardening.biostar_firewall"
PROBE_MODULE = "biostar.hardening.port_probe"
FACTS = ("biostar_firewall_context", "biostar_firewall_rules")


# ansible-core 2.19 gives callbacks public .result/.host/.task; 2.16 to 2.18 only the
# private attributes (meta/runtime.yml claims 2.16; make compat runs this callback there).
def _data(result):
    return result.result if hasattr(result, "result") else result._result


def _host(result):
    return result.host if hasattr(result, "host") else result._host


def _task(result):
    return result.task if hasattr(result, "task") else result._task


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "biostar.hardening.fleet_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.record = None
        self.playbook = ""
        self.seen = False

    def _check_mode(self, result) -> bool:
        # --check, or the task keyword check_mode: true (its default differs across versions,
        # so only an explicit true counts).
        return getattr(_task(result), "check_mode", None) is True or bool(cli_context.CLIARGS.get("check", False))

    def v2_playbook_on_start(self, playbook):
        self.playbook = os.path.basename(getattr(playbook, "_file_name", "") or "playbook")
        inventory = [str(source) for source in (cli_context.CLIARGS.get("inventory") or [])]
        name = self.get_option("record_name") or "%s-%s" % (
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ"),
            os.path.splitext(self.playbook)[0],
        )
        self.record = fleet_report.new_record(
            name, self.playbook, inventory, bool(cli_context.CLIARGS.get("check", False))
        )

    def _task_result(self, result):
        if self.record is None:
            return
        action = _task(result).resolved_action
        data = _data(result)
        host = _host(result).name
        if action in FIREWALL_MODULES or (action == ROLE_ACTION and data.get("biostar_firewall_module")):
            if data.get("skipped"):
                return
            self.record["firewall"][host] = fleet_report.firewall_entry(data, self._check_mode(result))
            self.seen = True
        if action in (ROLE_ACTION, "ansible.builtin.set_fact"):
            facts = data.get("ansible_facts") or {}
            if "biostar_firewall_context" in facts:
                self.record["context"][host] = dict(facts["biostar_firewall_context"])
                self.seen = True
            if "biostar_firewall_rules" in facts:
                self.record["matrix_rules"][host] = list(facts["biostar_firewall_rules"])

    def v2_runner_on_ok(self, result):
        self._task_result(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._task_result(result)

    def v2_runner_on_unreachable(self, result):
        if self.record is not None:
            self.record["unreachable"][_host(result).name] = str(_data(result).get("msg", "unreachable"))

    def _probe_item(self, result):
        if self.record is None or _task(result).resolved_action != PROBE_MODULE:
            return
        self.record["probes"].append(fleet_report.probe_entry(_host(result).name, _data(result)))
        self.seen = True

    def v2_runner_item_on_ok(self, result):
        self._probe_item(result)

    def v2_runner_item_on_failed(self, result):
        self._probe_item(result)

    def v2_playbook_on_stats(self, stats):
        if self.record is None or not self.seen:
            return
        for host in sorted(stats.processed):
            self.record["stats"][host] = stats.summarize(host)
        self.record["finished"] = fleet_report.utc_now()
        folder = self.get_option("dir")
        records_folder = self.get_option("records") or os.path.join(folder, fleet_report.RECORDS_DIR)
        try:
            path = fleet_report.write_record(self.record, records_folder)
            if not self.get_option("render"):
                self._display.display("fleet report: recorded %s" % path)
                return
            began = time.monotonic()
            records = fleet_report.load_records(records_folder)
            report = fleet_report.build_report(records, title=self.get_option("title"))
            paths = fleet_report.write_report(report, folder)
        except (OSError, ValueError) as exc:
            self._display.warning(
                "biostar.hardening.fleet_report: could not write the report in %s: %s" % (folder, exc)
            )
            return
        summary = report["summary"]
        self._display.display(
            "fleet report: %s (%d hosts: %d exposed, %d failed, %d drifted; %d/%d probe checks as expected; %.2fs)"
            % (
                os.path.abspath(paths["html"]),
                summary["hosts"],
                summary["by_status"]["exposed"],
                summary["by_status"]["failed"],
                summary["by_status"]["drift"],
                summary["probe_checks"]["passed"],
                summary["probe_checks"]["total"],
                time.monotonic() - began,
            )
        )
