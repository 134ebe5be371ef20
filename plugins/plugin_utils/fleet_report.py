# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet posture report: recorded runs in, one JSON document, an HTML page and JUnit out.

Controller-side only (plugin_utils). The callback ``biostar.hardening.fleet_report`` and the
action ``biostar.hardening.fleet_report`` both write *run records* (``record_version`` 1:
what the site and verify runs returned, host by host) and call :func:`build_report` on
them, then :func:`write_report`. Nothing here talks to a host or to the network.

The report's JSON shape is documented in docs/report.md and docs/report.schema.json.
Standard library only, so ``python fleet_report.py --records DIR --dest DIR`` also works
outside Ansible.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
import tempfile
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

SCHEMA = "biostar.hardening/fleet-report/1"
RECORD_VERSION = 1
COLLECTION = "biostar.hardening"
FILES = {"html": "report.html", "json": "report.json", "junit": "report.junit.xml"}
RECORDS_DIR = "records"

# Host status, worst first: the page and the JSON list hosts in this order.
STATUSES = ("exposed", "failed", "drift", "ok", "unknown")
SEVERITY_STATUS = {"exposure": "exposed", "failure": "failed", "drift": "drift"}

# Keys of a firewall module result that a run record keeps.
FIREWALL_KEYS = (
    "changed",
    "failed",
    "msg",
    "backend",
    "filtering",
    "added",
    "removed",
    "updated",
    "rules",
    "persisted",
    "diff",
)


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------
# Run records: what the callback and the action write, one per playbook run.
# ---------------------------------------------------------------------------------------


def new_record(name: str, playbook: str, inventory: Sequence[str], check_mode: bool) -> Dict[str, Any]:
    return {
        "record_version": RECORD_VERSION,
        "name": name,
        "playbook": playbook,
        "inventory": list(inventory),
        "check_mode": bool(check_mode),
        "started": utc_now(),
        "finished": None,
        "collection_version": collection_version(),
        "firewall": {},
        "context": {},
        "matrix_rules": {},
        "probes": [],
        "stats": {},
        "unreachable": {},
    }


def firewall_entry(result: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    entry = {key: result[key] for key in FIREWALL_KEYS if key in result}
    entry["check_mode"] = bool(check_mode)
    return entry


def probe_entry(probe_host: str, result: Dict[str, Any]) -> Dict[str, Any]:
    """One port_probe loop item (one probe host -> one target) as a record keeps it."""
    module_args = (result.get("invocation") or {}).get("module_args") or {}
    return {
        "probe": probe_host,
        "target": result.get("item"),
        "address": result.get("address") or module_args.get("host"),
        "checks": list(result.get("checks") or []),
        "summary": result.get("summary", ""),
        "msg": result.get("msg", ""),
        "udp_no_answer_means": module_args.get("udp_no_answer_means"),
    }


def record_from_hostvars(
    name: str,
    playbook: str,
    inventory: Sequence[str],
    check_mode: bool,
    hostvars: Any,
    hosts: Iterable[str],
) -> Dict[str, Any]:
    """A run record from the variables the role and verify.yml registered in this run."""
    record = new_record(name, playbook, inventory, check_mode)
    for host in hosts:
        variables = hostvars[host]
        result = variables.get("biostar_firewall_result")
        if isinstance(result, dict) and not result.get("skipped"):
            record["firewall"][host] = firewall_entry(result, check_mode)
        # The role sets host facts; read them under ansible_facts, which ansible-core 2.20+
        # prefers to the injected top-level names (set_fact users still have those).
        facts = variables.get("ansible_facts") or {}
        context = facts.get("biostar_firewall_context") or variables.get("biostar_firewall_context")
        if isinstance(context, dict):
            record["context"][host] = dict(context)
        rules = facts.get("biostar_firewall_rules") or variables.get("biostar_firewall_rules")
        if isinstance(rules, list):
            record["matrix_rules"][host] = list(rules)
        verify = variables.get("biostar_verify_results")
        if isinstance(verify, dict):
            for item in verify.get("results") or []:
                if isinstance(item, dict) and not item.get("skipped"):
                    record["probes"].append(probe_entry(host, item))
    record["finished"] = utc_now()
    return record


def load_records(folder: str, names: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    """The run records in ``folder`` (``*.json``), oldest first; ``names`` picks some by name."""
    records = []
    if not os.path.isdir(folder):
        raise ValueError("records: %r is not a folder of run records" % folder)
    for entry in sorted(os.listdir(folder)):
        if not entry.endswith(".json"):
            continue
        with open(os.path.join(folder, entry), encoding="utf-8") as handle:
            record = json.load(handle)
        if not isinstance(record, dict) or record.get("record_version") != RECORD_VERSION:
            continue
        record.setdefault("name", entry[: -len(".json")])
        records.append(record)
    if names is not None:
        by_name = {record["name"]: record for record in records}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise ValueError(
                "runs: unknown run %s; valid values: %s" % (", ".join(unknown), ", ".join(sorted(by_name)) or "none")
            )
        records = [by_name[name] for name in names]
    else:
        records.sort(key=lambda record: (record.get("finished") or record.get("started") or "", record["name"]))
    return records


def write_record(record: Dict[str, Any], folder: str) -> str:
    os.makedirs(folder, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", record["name"]).strip("-") or "run"
    path = os.path.join(folder, safe + ".json")
    _write_atomic(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


# ---------------------------------------------------------------------------------------
# The collection's version, for the report's header.
# ---------------------------------------------------------------------------------------


def collection_version(root: Optional[str] = None) -> str:
    """From MANIFEST.json (an installed collection) or galaxy.yml (a checkout)."""
    root = root or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    manifest = os.path.join(root, "MANIFEST.json")
    try:
        with open(manifest, encoding="utf-8") as handle:
            return str(json.load(handle)["collection_info"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as handle:
            for line in handle:
                match = re.match(r"^version:\s*['\"]?([^'\"\s#]+)", line)
                if match:
                    return match.group(1)
    except OSError:
        pass
    return "unknown"


# ---------------------------------------------------------------------------------------
# Records -> report
# ---------------------------------------------------------------------------------------


def rule_key(rule: Dict[str, Any]) -> Tuple[str, str, str]:
    return (str(rule.get("protocol")), str(rule.get("port")), str(rule.get("direction") or "inbound"))


def rule_label(rule: Dict[str, Any]) -> str:
    prefix = "out " if rule.get("direction") == "outbound" else ""
    return "%s%s/%s" % (prefix, rule.get("protocol"), rule.get("port"))


def _port_sort(rule: Dict[str, Any]) -> Tuple[str, int, str]:
    low = str(rule.get("port")).split("-", 1)[0]
    return (str(rule.get("direction") or "inbound"), int(low) if low.isdigit() else 0, str(rule.get("protocol")))


def _plain_rule(rule: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "protocol": rule.get("protocol"),
        "port": rule.get("port"),
        "direction": rule.get("direction") or "inbound",
        "peers": list(rule.get("peers") or []),
    }


def _annotated(rule: Dict[str, Any], matrix: Dict[Tuple[str, str, str], Dict[str, Any]]) -> Dict[str, Any]:
    plain = _plain_rule(rule)
    known = matrix.get(rule_key(rule), {})
    plain["purpose"] = known.get("purpose") or rule.get("purpose") or ""
    plain["provenance"] = known.get("provenance") or ("unknown" if not known else "")
    plain["reference"] = known.get("reference") or ""
    return plain


def _identity(rule: Dict[str, Any]) -> Tuple[str, str, str, Tuple[str, ...]]:
    protocol, port, direction = rule_key(rule)
    return (protocol, port, direction, tuple(rule.get("peers") or []))


def _current_rules(firewall: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The owned rules on the host now. A check-mode result lists the rules after the run
    it predicts, so take back what it would add and put back what it would remove."""
    rules = list(firewall.get("rules") or [])
    if not firewall.get("check_mode"):
        return rules
    added = {_identity(rule) for rule in firewall.get("added") or []}
    kept = [rule for rule in rules if _identity(rule) not in added]
    return kept + list(firewall.get("removed") or [])


def _check_issues(host_probes: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    """One issue per port and kind, naming every probe host that saw it."""
    found: Dict[Tuple[str, str, str], List[str]] = {}
    for probe in host_probes:
        for check in probe["checks"]:
            if check["ok"]:
                continue
            if check["expect"] == "closed":
                kind = "closed_port_answered" if check["state"] == "open" else "closed_port_not_closed"
            else:
                kind = "open_port_blocked"
            port = "%s/%s" % (check["protocol"], check["port"])
            found.setdefault((kind, port), []).append("%s: %s" % (probe["probe"], check["state"]))
    issues = []
    for (kind, port), seen in found.items():
        text = {
            "closed_port_answered": "%s answered but must stay closed (seen from %s)",
            "closed_port_not_closed": "%s not proven closed, must stay closed (seen from %s)",
            "open_port_blocked": "%s blocked but BioStar needs it open (seen from %s)",
        }[kind] % (port, "; ".join(seen))
        severity = "failure" if kind == "open_port_blocked" else "exposure"
        issues.append({"kind": kind, "severity": severity, "message": text, "port": port})
    return issues


def _change(run: Dict[str, Any], firewall: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "run": run.get("name"),
        "finished": run.get("finished"),
        "check_mode": bool(firewall.get("check_mode")),
        "failed": bool(firewall.get("failed")),
        "msg": firewall.get("msg", "") if firewall.get("failed") else "",
        "changed": bool(firewall.get("changed")),
        "added": [_plain_rule(rule) for rule in firewall.get("added") or []],
        "removed": [_plain_rule(rule) for rule in firewall.get("removed") or []],
        "updated": [_plain_rule(rule) for rule in firewall.get("updated") or []],
        "persisted": list(firewall.get("persisted") or []),
    }


class _Latest:
    """What the records say about each host, the latest record winning.

    Records come oldest first, so a later record simply overwrites what an earlier one said.
    """

    def __init__(self) -> None:
        self.context: Dict[str, Dict[str, Any]] = {}
        self.matrix: Dict[str, List[Dict[str, Any]]] = {}
        self.last_run: Dict[str, Tuple[Dict[str, Any], Dict[str, Any]]] = {}
        self.last_change: Dict[str, Tuple[Dict[str, Any], Dict[str, Any]]] = {}
        self.probes: Dict[str, Dict[str, Tuple[Dict[str, Any], Dict[str, Any]]]] = {}
        self.unreachable: Dict[str, Tuple[Dict[str, Any], str]] = {}
        self.probe_hosts: Set[str] = set()
        self.sources: List[str] = []
        self.versions: List[str] = []

    def add(self, run: Dict[str, Any]) -> None:
        for source in run.get("inventory") or []:
            if source not in self.sources:
                self.sources.append(source)
        if run.get("collection_version"):
            self.versions.append(run["collection_version"])
        self.context.update(run.get("context") or {})
        self.matrix.update(run.get("matrix_rules") or {})
        for host, firewall in (run.get("firewall") or {}).items():
            self.last_run[host] = (run, firewall)
            # A firewall result means the host answered after an earlier run could not reach it.
            self.unreachable.pop(host, None)
            if firewall.get("changed"):
                self.last_change[host] = (run, firewall)
        for host, message in (run.get("unreachable") or {}).items():
            self.unreachable[host] = (run, message)
        for probe in run.get("probes") or []:
            if probe.get("target"):
                self.probes.setdefault(probe["target"], {})[probe["probe"]] = (run, probe)
                self.probe_hosts.add(probe["probe"])

    def hosts(self) -> List[str]:
        """Every host some record speaks of, except a probe host that was only unreachable:
        the report is about the probed fleet, not about the peers that probe it."""
        managed = set(self.context) | set(self.last_run) | set(self.probes)
        managed |= {host for host in self.unreachable if host not in self.probe_hosts or host in self.context}
        return sorted(managed)


def build_report(
    records: Sequence[Dict[str, Any]],
    inventory: Optional[Sequence[str]] = None,
    generated: Optional[str] = None,
    title: str = "BioStar fleet posture",
) -> Dict[str, Any]:
    """Merge run records (oldest first) into the report document (schema :data:`SCHEMA`).

    Per host the latest record that has it wins: its context, its firewall result (the
    "last run") and its probes, per probe host. "last_change" is the latest run that
    changed (or, in check mode, would change) the host's firewall.
    """
    latest = _Latest()
    for run in records:
        latest.add(run)
    hosts = [_host_entry(host, latest) for host in latest.hosts()]
    hosts.sort(key=lambda entry: (STATUSES.index(entry["status"]), entry["name"]))
    ports = _port_view(hosts)
    return {
        "schema": SCHEMA,
        "title": title,
        "generated": generated or utc_now(),
        "collection": {
            "name": COLLECTION,
            "version": latest.versions[-1] if latest.versions else collection_version(),
        },
        "inventory": list(inventory) if inventory is not None else latest.sources,
        "runs": [_run_summary(run) for run in records],
        "summary": _summary(hosts),
        "hosts": hosts,
        "ports": ports,
    }


def _run_summary(run: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "name": run.get("name"),
        "playbook": run.get("playbook"),
        "started": run.get("started"),
        "finished": run.get("finished"),
        "check_mode": bool(run.get("check_mode")),
    }


def _summary(hosts: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    checks = [check for entry in hosts for probe in entry["probes"] for check in probe["checks"]]

    def issues(severity: str) -> int:
        return sum(1 for entry in hosts for issue in entry["issues"] if issue["severity"] == severity)

    return {
        "hosts": len(hosts),
        "by_status": {status: sum(1 for entry in hosts if entry["status"] == status) for status in STATUSES},
        "exposures": issues("exposure"),
        "failures": issues("failure"),
        "drift": issues("drift"),
        "probe_checks": {
            "total": len(checks),
            "passed": sum(1 for check in checks if check["ok"]),
            "failed": sum(1 for check in checks if not check["ok"]),
        },
        # The report shows a predicted state when some host's latest result came from check mode.
        "check_mode": any(host["last_run"] and host["last_run"]["check_mode"] for host in hosts),
    }


def _host_entry(host: str, latest: _Latest) -> Dict[str, Any]:
    facts = latest.context.get(host, {})
    run, firewall = latest.last_run.get(host, ({}, {}))
    known = {rule_key(rule): rule for rule in latest.matrix.get(host, [])}
    host_probes = _host_probes(latest.probes.get(host, {}))
    issues = _firewall_issues(firewall, latest.unreachable.get(host))
    issues.extend(_no_result_issues(host_probes))
    issues.extend(_check_issues(host_probes))
    for issue in issues:
        issue.setdefault("port", None)
    # With no firewall result, no probe and no failed attempt to reach it, nothing is known.
    known_at_all = bool(firewall) or host in latest.unreachable or bool(host_probes)
    change = latest.last_change.get(host)
    return {
        "name": host,
        "status": _status(issues) if known_at_all else "unknown",
        "host_role": facts.get("host_role"),
        "version": None if facts.get("version") is None else str(facts.get("version")),
        "mode": facts.get("mode"),
        "platform": facts.get("platform"),
        "backend": firewall.get("backend"),
        "filtering": firewall.get("filtering") if "filtering" in firewall else None,
        "issues": issues,
        "ports": _host_ports(firewall, known),
        "last_run": _change(run, firewall) if firewall else None,
        "last_change": _change(*change) if change else None,
        "probes": host_probes,
    }


def _status(issues: Sequence[Dict[str, Any]]) -> str:
    """The worst severity among the issues decides; none at all is ok."""
    severities = {issue["severity"] for issue in issues}
    for severity in ("exposure", "failure", "drift"):
        if severity in severities:
            return SEVERITY_STATUS[severity]
    return "ok"


def _firewall_issues(
    firewall: Dict[str, Any], unreachable: Optional[Tuple[Dict[str, Any], str]]
) -> List[Dict[str, str]]:
    """What the host's latest run says: unreachable, a failed or non-filtering firewall, drift."""
    issues = []
    if unreachable:
        issues.append({"kind": "unreachable", "severity": "failure", "message": "unreachable: %s" % unreachable[1]})
    if firewall.get("failed"):
        issues.append(
            {
                "kind": "firewall_failed",
                "severity": "failure",
                "message": "firewall task failed: %s" % firewall.get("msg"),
            }
        )
    elif firewall and firewall.get("filtering") is False:
        issues.append(
            {
                "kind": "not_filtering",
                "severity": "exposure",
                "message": "firewall does not filter (%s): every listening port answers" % firewall.get("backend", "?"),
            }
        )
    if firewall.get("check_mode") and firewall.get("changed") and not firewall.get("failed"):
        issues.append(_drift_issue(firewall))
    return issues


def _drift_issue(firewall: Dict[str, Any]) -> Dict[str, str]:
    """A check-mode run that would change the firewall: the host drifted from the matrix."""

    def labels(rules: Optional[List[Dict[str, Any]]]) -> str:
        return " ".join(rule_label(rule) for rule in rules or []) or "nothing"

    return {
        "kind": "drift",
        "severity": "drift",
        "message": "drift: a real run would add %s, remove %s"
        % (labels(firewall.get("added")), labels(firewall.get("removed"))),
    }


def _host_ports(firewall: Dict[str, Any], known: Dict[Tuple[str, str, str], Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The host's owned rules now, annotated from the port matrix; after a check-mode run,
    marked with what a real run would remove, followed by what it would add."""
    check_mode = firewall.get("check_mode")
    removing = {rule_key(rule) for rule in firewall.get("removed") or []} if check_mode else set()
    ports = []
    for rule in sorted(_current_rules(firewall), key=_port_sort):
        entry = _annotated(rule, known)
        entry["pending"] = "remove" if rule_key(rule) in removing else ""
        ports.append(entry)
    if check_mode:
        for rule in sorted(firewall.get("added") or [], key=_port_sort):
            entry = _annotated(rule, known)
            entry["pending"] = "add"
            ports.append(entry)
    return ports


def _probe_check(check: Dict[str, Any]) -> Dict[str, Any]:
    ok = bool(check.get("ok"))
    return {
        "protocol": check.get("protocol"),
        "port": check.get("port"),
        "expect": check.get("expect"),
        "state": check.get("state"),
        "ok": ok,
        "detail": check.get("detail", ""),
        "exposure": not ok and check.get("expect") == "closed",
    }


def _host_probes(by_probe_host: Dict[str, Tuple[Dict[str, Any], Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """The latest probe of this host from each probe host, by probe host name."""
    host_probes = []
    for probe_host in sorted(by_probe_host):
        probe_run, probe = by_probe_host[probe_host]
        checks = [_probe_check(check) for check in probe.get("checks") or []]
        host_probes.append(
            {
                "probe": probe_host,
                "run": probe_run.get("name"),
                "address": probe.get("address"),
                "udp_no_answer_means": probe.get("udp_no_answer_means"),
                "msg": "" if checks else probe.get("msg", ""),
                "passed": sum(1 for check in checks if check["ok"]),
                "failed": sum(1 for check in checks if not check["ok"]),
                "checks": checks,
            }
        )
    return host_probes


def _no_result_issues(host_probes: Sequence[Dict[str, Any]]) -> List[Dict[str, str]]:
    """A probe that returned no checks (it failed before probing) proves nothing either way."""
    return [
        {
            "kind": "probe_error",
            "severity": "failure",
            "message": "no probe result from %s: %s" % (probe["probe"], probe["msg"] or "unknown error"),
        }
        for probe in host_probes
        if not probe["checks"]
    ]


def _port_view(hosts: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One row per (direction, protocol, port): who opens it and what the probes saw."""
    view: Dict[Tuple[str, str, str], Dict[str, Any]] = {}

    def row(protocol: Any, port: Any, direction: str) -> Dict[str, Any]:
        key = (str(protocol), str(port), direction)
        if key not in view:
            view[key] = {
                "protocol": protocol,
                "port": port,
                "direction": direction,
                "purposes": [],
                "provenance": [],
                "open_on": [],
                "pending_on": [],
                "probed_open": {"passed": 0, "failed": 0},
                "probed_closed": {"passed": 0, "failed": 0},
                "exposed_on": [],
                "blocked_on": [],
            }
        return view[key]

    for entry in hosts:
        for rule in entry["ports"]:
            item = row(rule["protocol"], rule["port"], rule["direction"])
            target = item["pending_on"] if rule["pending"] == "add" else item["open_on"]
            if entry["name"] not in target:
                target.append(entry["name"])
            if rule["purpose"] and rule["purpose"] not in item["purposes"]:
                item["purposes"].append(rule["purpose"])
            if rule["provenance"] and rule["provenance"] not in item["provenance"]:
                item["provenance"].append(rule["provenance"])
        for probe in entry["probes"]:
            for check in probe["checks"]:
                item = row(check["protocol"], check["port"], "inbound")
                bucket = item["probed_open"] if check["expect"] == "open" else item["probed_closed"]
                bucket["passed" if check["ok"] else "failed"] += 1
                if check["exposure"] and entry["name"] not in item["exposed_on"]:
                    item["exposed_on"].append(entry["name"])
                if not check["ok"] and check["expect"] == "open" and entry["name"] not in item["blocked_on"]:
                    item["blocked_on"].append(entry["name"])
    rows = list(view.values())
    rows.sort(key=lambda item: (0 if item["exposed_on"] else 1 if item["blocked_on"] else 2, _port_sort(item)))
    return rows


# ---------------------------------------------------------------------------------------
# JUnit XML: one testsuite for the hosts' firewalls, one for the probes.
# ---------------------------------------------------------------------------------------


def _attrs(values: Dict[str, Any]) -> str:
    return "".join(" %s=%s" % (key, quoteattr(str(value))) for key, value in values.items() if value is not None)


class _Case(NamedTuple):
    """One <testcase> and whether it counts as a failure or an error in its suite's totals."""

    failure: bool
    error: bool
    xml: str


def _tally(cases: Sequence[_Case]) -> Dict[str, int]:
    return {
        "tests": len(cases),
        "failures": sum(1 for case in cases if case.failure),
        "errors": sum(1 for case in cases if case.error),
    }


def _testcase(classname: str, name: str, body: str, out: str) -> str:
    return '    <testcase%s time="0">%s<system-out>%s</system-out></testcase>' % (
        _attrs({"classname": classname, "name": name}),
        body,
        xml_escape(out),
    )


def _issues_element(tag: str, issues: Sequence[Dict[str, Any]]) -> str:
    """<error> or <failure>: the first issue as its message, every issue in its text."""
    return "<%s%s>%s</%s>" % (
        tag,
        _attrs({"message": issues[0]["message"], "type": issues[0]["kind"]}),
        xml_escape("\n".join(issue["message"] for issue in issues)),
        tag,
    )


def _host_case(host: Dict[str, Any]) -> _Case:
    """The host's firewall: a failed task or an unreachable host is an error, anything
    else wrong with it (exposure, drift) a failure. Probe findings are the probe cases'."""
    problems = [issue for issue in host["issues"] if issue["kind"] not in PROBE_KINDS]
    errors = [issue for issue in problems if issue["severity"] == "failure"]
    failures = [issue for issue in problems if issue["severity"] != "failure"]
    body = ""
    if errors:
        body = _issues_element("error", errors)
    elif failures:
        body = _issues_element("failure", failures)
    ports = " ".join(
        rule_label(rule) + (" (%s)" % rule["pending"] if rule["pending"] else "") for rule in host["ports"]
    )
    out = "host role %s, version %s, mode %s, platform %s, backend %s, filtering %s\nports: %s" % (
        host["host_role"],
        host["version"],
        host["mode"],
        host["platform"],
        host["backend"],
        host["filtering"],
        ports or "none",
    )
    return _Case(bool(failures) and not errors, bool(errors), _testcase("biostar.firewall", host["name"], body, out))


def _probe_cases(host: Dict[str, Any]) -> List[_Case]:
    """One case per probe check; a probe that returned no checks is one error case."""
    classname = "biostar.probe.%s" % host["name"]
    cases = []
    for probe in host["probes"]:
        if not probe["checks"]:
            xml = '    <testcase%s time="0"><error%s/></testcase>' % (
                _attrs({"classname": classname, "name": "%s -> %s" % (probe["probe"], host["name"])}),
                _attrs({"message": probe["msg"] or "no result", "type": "probe_error"}),
            )
            cases.append(_Case(False, True, xml))
        for check in probe["checks"]:
            name = "%s -> %s %s/%s expect %s" % (
                probe["probe"],
                host["name"],
                check["protocol"],
                check["port"],
                check["expect"],
            )
            body = ""
            if not check["ok"]:
                body = "<failure%s>%s</failure>" % (
                    _attrs(
                        {
                            "message": "expected %s, seen %s" % (check["expect"], check["state"]),
                            "type": "exposure" if check["exposure"] else "blocked",
                        }
                    ),
                    xml_escape(check["detail"]),
                )
            out = "seen %s: %s" % (check["state"], check["detail"])
            cases.append(_Case(not check["ok"], False, _testcase(classname, name, body, out)))
    return cases


def _properties(report: Dict[str, Any]) -> str:
    return "".join(
        "      <property%s/>\n" % _attrs({"name": name, "value": value})
        for name, value in (
            ("collection", "%s %s" % (report["collection"]["name"], report["collection"]["version"])),
            ("inventory", ", ".join(report["inventory"])),
            ("check_mode", str(report["summary"]["check_mode"]).lower()),
            ("schema", report["schema"]),
        )
    )


def _testsuite(suite_id: int, name: str, cases: Sequence[_Case], properties: str, timestamp: str) -> str:
    attributes = {"name": name}
    attributes.update(_tally(cases))
    attributes.update(
        {
            "skipped": 0,
            "time": "0",
            "timestamp": timestamp,
            "hostname": "controller",
            "id": suite_id,
            "package": COLLECTION,
        }
    )
    return "  <testsuite%s>\n    <properties>\n%s    </properties>\n%s\n  </testsuite>" % (
        _attrs(attributes),
        properties,
        "\n".join(case.xml for case in cases),
    )


def render_junit(report: Dict[str, Any]) -> str:
    """A failing probe check is a <failure>; a host that is exposed or drifted is a
    <failure>; a firewall task that failed, an unreachable host or a probe with no result
    is an <error>. One <testcase> per host and one per probe check."""
    timestamp = report["generated"].rstrip("Z")
    host_cases = [_host_case(host) for host in report["hosts"]]
    probe_cases = [case for host in report["hosts"] for case in _probe_cases(host)]
    properties = _properties(report)
    suites = [
        _testsuite(suite_id, name, cases, properties, timestamp)
        for suite_id, (name, cases) in enumerate((("biostar.firewall", host_cases), ("biostar.probes", probe_cases)))
    ]
    attributes = {"name": report["title"]}
    attributes.update(_tally(host_cases + probe_cases))
    attributes["time"] = "0"
    return '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites%s>\n%s\n</testsuites>\n' % (
        _attrs(attributes),
        "\n".join(suites),
    )


PROBE_KINDS = frozenset(("closed_port_answered", "closed_port_not_closed", "open_port_blocked", "probe_error"))


# ---------------------------------------------------------------------------------------
# Writing the three files
# ---------------------------------------------------------------------------------------


def _write_atomic(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_report(report: Dict[str, Any], dest: str) -> Dict[str, str]:
    """Write report.html, report.json and report.junit.xml into ``dest``; return their paths."""
    try:
        from ansible_collections.biostar.hardening.plugins.plugin_utils.fleet_report_html import render_html
    except ImportError:  # run as a script, outside Ansible's collection loader
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from fleet_report_html import render_html  # type: ignore[no-redef]

    paths = {kind: os.path.join(dest, name) for kind, name in FILES.items()}
    _write_atomic(paths["json"], json.dumps(report, indent=2, sort_keys=True) + "\n")
    _write_atomic(paths["junit"], render_junit(report))
    _write_atomic(paths["html"], render_html(report))
    return paths


def main(argv: Sequence[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Render the fleet posture report from recorded runs.")
    parser.add_argument("--records", required=True, help="folder of run records (the callback's records/)")
    parser.add_argument("--dest", required=True, help="folder to write report.html, report.json, report.junit.xml")
    parser.add_argument("--runs", help="comma-separated run names to use, in this order (default: all, oldest first)")
    parser.add_argument("--title", default="BioStar fleet posture")
    args = parser.parse_args(argv)
    names = [name for name in args.runs.split(",") if name] if args.runs else None
    report = build_report(load_records(args.records, names), title=args.title)
    for path in write_report(report, args.dest).values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
