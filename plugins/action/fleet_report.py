# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the fleet posture report on the controller, from this run's variables or from records."""

from __future__ import annotations

import json
import os
import time

from ansible import context as cli_context
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.biostar.hardening.plugins.plugin_utils import fleet_report

FAIL_ON = ("exposure", "failure", "drift")
ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "records": {"type": "path"},
    "runs": {"type": "list", "elements": "str"},
    "hosts": {"type": "list", "elements": "str"},
    "title": {"type": "str", "default": "BioStar fleet posture"},
    "save_record": {"type": "bool", "default": True},
    "fail_on": {"type": "list", "elements": "str", "default": [], "choices": list(FAIL_ON)},
}


def plain(value):
    """Registered results as plain JSON data (no lazy or tagged values)."""
    return json.loads(json.dumps(value, default=to_text))


# What the role and verify.yml register, and all that a run record is made from.
RECORDED_VARIABLES = (
    "biostar_firewall_result",
    "biostar_firewall_context",
    "biostar_firewall_rules",
    "biostar_verify_results",
)


# The role's action sets these as host facts (ansible_facts); a play may set them with set_fact.
ROLE_FACTS = ("biostar_firewall_context", "biostar_firewall_rules")


def recorded_variables(variables):
    """RECORDED_VARIABLES of one host. The role's facts are read under ansible_facts first:
    ansible-core 2.20+ deprecates reading facts by their injected top-level names."""
    facts = variables.get("ansible_facts") or {}
    found = {"ansible_facts": {name: facts[name] for name in ROLE_FACTS if name in facts}}
    for name in RECORDED_VARIABLES:
        if name not in found["ansible_facts"]:
            found[name] = variables.get(name)
    return found


def outcome_message(summary, html_path, fail_on):
    """The result's msg and, when a kind listed in fail_on was found, the reason to fail."""
    counts = {"exposure": summary["exposures"], "failure": summary["failures"], "drift": summary["drift"]}
    hit = ["%d %s" % (counts[kind], kind) for kind in fail_on if counts[kind]]
    msg = "report written to %s (%d hosts: %d exposed, %d failed, %d drifted)" % (
        html_path,
        summary["hosts"],
        summary["by_status"]["exposed"],
        summary["by_status"]["failed"],
        summary["by_status"]["drift"],
    )
    if hit:
        msg += "; failing because of %s (fail_on)" % ", ".join(hit)
    return msg, bool(hit)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _spec, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if args["runs"] and not args["records"]:
            raise AnsibleActionFail(
                "runs: %s given without records; valid: set records to a folder of run records" % args["runs"]
            )
        began = time.monotonic()
        try:
            if args["records"]:
                records = fleet_report.load_records(args["records"], args["runs"])
            else:
                records = [self._record_this_run(args, task_vars, result)]
            report = fleet_report.build_report(records, title=args["title"])
            paths = fleet_report.write_report(report, args["dest"])
        except ValueError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        except OSError as exc:
            raise AnsibleActionFail("dest: cannot write the report in %r: %s" % (args["dest"], exc)) from exc
        summary = report["summary"]
        result.update(
            changed=True,
            html=paths["html"],
            json=paths["json"],
            junit=paths["junit"],
            summary=summary,
            seconds=round(time.monotonic() - began, 3),
        )
        result["msg"], failing = outcome_message(summary, paths["html"], args["fail_on"])
        if failing:
            result["failed"] = True
        return result

    def _record_this_run(self, args, task_vars, result):
        """A run record from this play's registered variables; saved under dest when asked,
        its path in ``result["record"]``."""
        hostvars = task_vars.get("hostvars", {})
        hosts = args["hosts"] or list((task_vars.get("groups") or {}).get("all", []))
        unknown = [host for host in hosts if host not in hostvars]
        if unknown:
            raise AnsibleActionFail("hosts: unknown host %s; valid values: inventory host names" % ", ".join(unknown))
        variables = {host: plain(recorded_variables(hostvars[host])) for host in hosts}
        record = fleet_report.record_from_hostvars(
            "%s-%s" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), "report"),
            os.path.basename(str(task_vars.get("ansible_play_name") or "report")),
            [str(source) for source in (cli_context.CLIARGS.get("inventory") or [])],
            bool(cli_context.CLIARGS.get("check", False)),
            variables,
            hosts,
        )
        if args["save_record"]:
            result["record"] = fleet_report.write_record(record, os.path.join(args["dest"], fleet_report.RECORDS_DIR))
        return record
