"""The fleet report: JSON shape, statuses, merging, check-mode drift, JUnit, HTML, scale."""

from __future__ import annotations

import json
import os
import re
import time
from html.parser import HTMLParser

import jsonschema
import pytest
from fleet_records import SUBNET, by_name, check, fleet, site_record, verify_record
from lxml import etree

from ansible_collections.biostar.hardening.plugins.plugin_utils import fleet_report
from ansible_collections.biostar.hardening.plugins.plugin_utils.fleet_report_html import render_html

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCHEMA_PATH = os.path.join(REPO, "docs", "report.schema.json")
XSD_PATH = os.path.join(REPO, "tests", "schemas", "junit.xsd")


@pytest.fixture(scope="module")
def schema():
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        document = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document)


@pytest.fixture(scope="module")
def junit_schema():
    return etree.XMLSchema(etree.parse(XSD_PATH))


def site_and_verify():
    """server-1 fine; server-2 answers on an internal port; client-1 does not filter and a
    BioStar port is blocked."""
    site = site_record(
        "site",
        {
            "server-1": {"host_role": "server"},
            "server-2": {"host_role": "server"},
            "client-1": {"host_role": "client", "filtering": False, "backend": "iptables"},
        },
    )
    verify = verify_record(
        "verify",
        [
            {"probe": "device-1", "target": "server-1", "checks": [check("tcp", 1480, "open", "open")]},
            {
                "probe": "device-1",
                "target": "server-2",
                "checks": [check("tcp", 1480, "open", "open"), check("tcp", 3312, "closed", "open")],
            },
            {
                "probe": "device-2",
                "target": "server-2",
                "checks": [check("tcp", 3312, "closed", "open"), check("udp", 9310, "closed", "open|filtered", "open")],
            },
            {"probe": "device-1", "target": "client-1", "checks": [check("udp", 51110, "open", "filtered")]},
        ],
    )
    return [site, verify]


def test_report_matches_the_documented_schema(schema):
    report = fleet_report.build_report(site_and_verify(), generated="2026-12-01T10:02:00Z")
    schema.validate(report)
    assert report["schema"] == fleet_report.SCHEMA == schema.schema["properties"]["schema"]["const"]
    assert report["generated"] == "2026-12-01T10:02:00Z"
    assert report["collection"] == {"name": "biostar.hardening", "version": fleet_report.collection_version()}
    assert report["inventory"] == ["inventory/fleet.yml"]
    assert [run["name"] for run in report["runs"]] == ["site", "verify"]


def test_schema_rejects_a_report_with_a_missing_or_unknown_field(schema):
    report = fleet_report.build_report(site_and_verify())
    broken = json.loads(json.dumps(report))
    del broken["hosts"][0]["filtering"]
    with pytest.raises(jsonschema.ValidationError, match="filtering"):
        schema.validate(broken)
    broken = json.loads(json.dumps(report))
    broken["hosts"][0]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError, match="colour"):
        schema.validate(broken)


def test_collection_version_comes_from_galaxy_yml_or_manifest(tmp_path):
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        version = re.search(r"^version:\s*(\S+)", handle.read(), re.M).group(1)
    assert fleet_report.collection_version(REPO) == version
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": "9.8.7"}}))
    assert fleet_report.collection_version(str(tmp_path)) == "9.8.7"
    assert fleet_report.collection_version(str(tmp_path / "nowhere")) == "unknown"


def test_exposures_come_first_and_each_host_gets_its_status():
    report = fleet_report.build_report(site_and_verify())
    assert [(host["name"], host["status"]) for host in report["hosts"]] == [
        ("client-1", "exposed"),
        ("server-2", "exposed"),
        ("server-1", "ok"),
    ]
    client = by_name(report, "client-1")
    assert {(issue["kind"], issue["severity"]) for issue in client["issues"]} == {
        ("not_filtering", "exposure"),
        ("open_port_blocked", "failure"),
    }
    assert client["filtering"] is False and client["backend"] == "iptables"
    server = by_name(report, "server-2")
    kinds = sorted((issue["kind"], issue["port"]) for issue in server["issues"])
    # One issue per port and kind, however many probe hosts saw it.
    assert kinds == [("closed_port_answered", "tcp/3312"), ("closed_port_not_closed", "udp/9310")]
    answered = next(issue for issue in server["issues"] if issue["port"] == "tcp/3312")
    assert "device-1: open" in answered["message"] and "device-2: open" in answered["message"]
    assert report["summary"]["by_status"] == {"exposed": 2, "failed": 0, "drift": 0, "ok": 1, "unknown": 0}
    assert report["summary"]["exposures"] == 3
    assert report["summary"]["failures"] == 1
    assert report["summary"]["probe_checks"] == {"total": 6, "passed": 2, "failed": 4}


def test_a_blocked_biostar_port_alone_makes_the_host_failed():
    site = site_record("site", {"server-1": {"host_role": "server"}})
    verify = verify_record(
        "verify", [{"probe": "client-1", "target": "server-1", "checks": [check("tcp", 1480, "open", "filtered")]}]
    )
    report = fleet_report.build_report([site, verify])
    host = by_name(report, "server-1")
    assert host["status"] == "failed"
    assert host["probes"][0]["checks"][0]["exposure"] is False
    assert report["ports"][0]["blocked_on"] == ["server-1"]


def test_ports_carry_purpose_and_provenance_from_the_port_matrix():
    report = fleet_report.build_report(site_and_verify())
    ports = {(rule["protocol"], rule["port"]): rule for rule in by_name(report, "server-1")["ports"]}
    assert set(ports) == {("tcp", 1470), ("tcp", 1471), ("tcp", 1480), ("udp", 51110)}
    assert ports[("tcp", 1480)]["provenance"] == "documented"
    assert ports[("tcp", 1480)]["purpose"]
    assert "Suprema" in ports[("tcp", 1480)]["reference"]
    assert ports[("tcp", 1480)]["peers"] == [SUBNET]
    assert all(rule["pending"] == "" for rule in ports.values())


def test_check_mode_run_shows_the_drift_and_the_ports_open_now():
    server_rules = site_record("x", {"s": {"host_role": "server"}})["firewall"]["s"]["rules"]
    # The host is in server mode now; a --check run for direct mode predicts the switch.
    check_run = site_record(
        "direct-check", {"server-1": {"host_role": "server", "mode": "direct", "before": server_rules}}, check_mode=True
    )
    report = fleet_report.build_report([check_run])
    host = by_name(report, "server-1")
    assert host["status"] == "drift"
    assert [issue["kind"] for issue in host["issues"]] == ["drift"]
    assert "remove tcp/1470 tcp/1471 udp/51110" in host["issues"][0]["message"]
    # Still open now: all four server-mode ports; three of them would go.
    pending = {"%s/%s" % (rule["protocol"], rule["port"]): rule["pending"] for rule in host["ports"]}
    assert pending == {"tcp/1470": "remove", "tcp/1471": "remove", "tcp/1480": "", "udp/51110": "remove"}
    assert host["last_run"]["check_mode"] is True and host["last_run"]["changed"] is True
    assert report["summary"]["check_mode"] is True and report["summary"]["drift"] == 1
    # A check-mode run that would change nothing is not drift.
    clean = site_record("check", {"server-1": {"host_role": "server"}}, check_mode=True)
    assert by_name(fleet_report.build_report([clean]), "server-1")["status"] == "ok"


def test_check_mode_additions_are_pending_not_open():
    check_run = site_record("check", {"server-1": {"host_role": "server", "before": []}}, check_mode=True)
    host = by_name(fleet_report.build_report([check_run]), "server-1")
    assert {rule["pending"] for rule in host["ports"]} == {"add"}
    assert host["status"] == "drift"


def test_latest_record_wins_and_the_last_change_is_kept():
    server_rules = site_record("x", {"s": {"host_role": "server"}})["firewall"]["s"]["rules"]
    first = site_record(
        "server-site", {"server-1": {"host_role": "server", "before": []}}, finished="2026-12-01T09:00:00Z"
    )
    switch = site_record(
        "direct-site",
        {"server-1": {"host_role": "server", "mode": "direct", "before": server_rules}},
        finished="2026-12-01T09:10:00Z",
    )
    rerun = site_record(
        "direct-rerun", {"server-1": {"host_role": "server", "mode": "direct"}}, finished="2026-12-01T09:20:00Z"
    )
    report = fleet_report.build_report([first, switch, rerun])
    host = by_name(report, "server-1")
    assert host["mode"] == "direct"
    assert host["last_run"]["run"] == "direct-rerun" and host["last_run"]["changed"] is False
    assert host["last_change"]["run"] == "direct-site"
    assert [rule["port"] for rule in host["last_change"]["removed"]] == [1470, 1471, 51110]
    assert [(rule["protocol"], rule["port"]) for rule in host["ports"]] == [("tcp", 1480)]
    # A check-mode run followed by a real one: the report no longer shows a prediction.
    check_run = site_record("direct-check", {"server-1": {"host_role": "server", "mode": "direct"}}, check_mode=True)
    assert fleet_report.build_report([check_run])["summary"]["check_mode"] is True
    assert fleet_report.build_report([check_run, rerun])["summary"]["check_mode"] is False


def test_records_round_trip_through_a_folder(tmp_path):
    records = site_and_verify()
    records[0]["finished"], records[1]["finished"] = "2026-12-01T10:05:00Z", "2026-12-01T10:01:00Z"
    for record in records:
        fleet_report.write_record(record, str(tmp_path))
    (tmp_path / "notes.txt").write_text("not a record")
    (tmp_path / "other.json").write_text(json.dumps({"something": "else"}))
    loaded = fleet_report.load_records(str(tmp_path))
    assert [record["name"] for record in loaded] == ["verify", "site"]  # by finish time
    assert [record["name"] for record in fleet_report.load_records(str(tmp_path), ["site"])] == ["site"]
    with pytest.raises(ValueError, match=r"runs: unknown run nope; valid values: site, verify"):
        fleet_report.load_records(str(tmp_path), ["nope"])
    with pytest.raises(ValueError, match=r"records: .* is not a folder"):
        fleet_report.load_records(str(tmp_path / "missing"))


def test_failed_and_unreachable_hosts_and_probes_without_result():
    site = site_record(
        "site", {"server-1": {"host_role": "server", "failed": True}, "server-2": {"host_role": "server"}}
    )
    site["unreachable"]["server-3"] = "ssh: connect to host server-3 port 22: No route to host"
    site["context"]["server-3"] = {"host_role": "server", "mode": "server", "version": "1", "platform": "linux"}
    verify = verify_record(
        "verify", [{"probe": "client-1", "target": "server-2", "checks": [], "msg": "Name or service not known"}]
    )
    report = fleet_report.build_report([site, verify])
    assert by_name(report, "server-1")["issues"][0]["kind"] == "firewall_failed"
    assert by_name(report, "server-1")["status"] == "failed"
    assert by_name(report, "server-3")["issues"][0]["kind"] == "unreachable"
    assert by_name(report, "server-2")["issues"][0]["kind"] == "probe_error"
    assert "client-1" not in [host["name"] for host in report["hosts"]]  # a probe host only


def test_junit_validates_and_a_failing_probe_is_a_failing_test_case(junit_schema):
    report = fleet_report.build_report(site_and_verify())
    document = etree.fromstring(fleet_report.render_junit(report).encode())
    assert junit_schema.validate(document), junit_schema.error_log
    cases = document.findall(".//testcase")
    hosts = [case for case in cases if case.get("classname") == "biostar.firewall"]
    probes = [case for case in cases if case.get("classname").startswith("biostar.probe.")]
    assert [case.get("name") for case in hosts] == ["client-1", "server-2", "server-1"]
    assert len(probes) == report["summary"]["probe_checks"]["total"]
    failing = {case.get("name") for case in probes if case.find("failure") is not None}
    assert failing == {
        "device-1 -> server-2 tcp/3312 expect closed",
        "device-2 -> server-2 tcp/3312 expect closed",
        "device-2 -> server-2 udp/9310 expect closed",
        "device-1 -> client-1 udp/51110 expect open",
    }
    blocked = next(case for case in probes if case.get("name") == "device-1 -> client-1 udp/51110 expect open")
    assert blocked.find("failure").get("type") == "blocked"
    assert blocked.find("failure").get("message") == "expected open, seen filtered"
    # client-1 does not filter: its own test case fails too.
    client = next(case for case in hosts if case.get("name") == "client-1")
    assert client.find("failure").get("type") == "not_filtering"
    assert next(case for case in hosts if case.get("name") == "server-1").find("failure") is None
    assert document.get("tests") == str(len(cases))
    assert document.get("failures") == str(sum(1 for case in cases if case.find("failure") is not None))
    for suite in document.findall("testsuite"):
        assert suite.get("tests") == str(len(suite.findall("testcase")))
        assert suite.get("failures") == str(
            sum(1 for case in suite.findall("testcase") if case.find("failure") is not None)
        )


def test_junit_errors_for_failed_tasks_and_probes_without_result(junit_schema):
    site = site_record(
        "site", {"server-1": {"host_role": "server", "failed": True}, "server-2": {"host_role": "server"}}
    )
    verify = verify_record("verify", [{"probe": "client-1", "target": "server-2", "checks": [], "msg": "no route"}])
    document = etree.fromstring(fleet_report.render_junit(fleet_report.build_report([site, verify])).encode())
    assert junit_schema.validate(document), junit_schema.error_log
    errors = [case.get("name") for case in document.findall(".//testcase") if case.find("error") is not None]
    assert errors == ["server-1", "client-1 -> server-2"]
    assert document.get("errors") == "2"


def test_the_schema_catches_a_malformed_junit_file(junit_schema):
    bad = etree.fromstring(b'<testsuites><testsuite name="x"><testcase classname="c"/></testsuite></testsuites>')
    assert not junit_schema.validate(bad)  # testsuite without tests=, testcase without name=
    messages = " ".join(str(error.message) for error in junit_schema.error_log)
    assert "tests" in messages and "name" in messages


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows = []
        self.references = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "tr" and "host" in (values.get("class") or "").split():
            self.rows.append(values)
        for name in ("src", "href"):
            if values.get(name):
                self.references.append(values[name])
        if tag == "script":
            self.scripts += 1


def test_page_is_self_contained_and_has_a_row_per_host():
    report = fleet_report.build_report(site_and_verify())
    page = render_html(report)
    parser = PageParser()
    parser.feed(page)
    assert [row["data-name"] for row in parser.rows] == [host["name"] for host in report["hosts"]]
    assert [row["data-status"] for row in parser.rows] == ["exposed", "exposed", "ok"]
    assert parser.references == []  # no link, image or script from anywhere
    assert parser.scripts == 1
    assert "default-src 'none'" in page
    assert not re.search(r"https?://|@import|url\(", page.replace("https://json-schema.org", ""))


def test_page_escapes_what_it_shows():
    site = site_record("site", {'<img src=x onerror="alert(1)">': {"host_role": "server"}})
    page = render_html(fleet_report.build_report([site]))
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_write_report_writes_three_files(tmp_path, schema, junit_schema):
    paths = fleet_report.write_report(fleet_report.build_report(site_and_verify()), str(tmp_path / "out"))
    assert sorted(os.path.basename(path) for path in paths.values()) == [
        "report.html",
        "report.json",
        "report.junit.xml",
    ]
    with open(paths["json"], encoding="utf-8") as handle:
        schema.validate(json.load(handle))
    assert junit_schema.validate(etree.parse(paths["junit"]))
    assert sorted(os.listdir(tmp_path / "out")) == ["report.html", "report.json", "report.junit.xml"]  # no temp files


def test_two_hundred_hosts_are_written_quickly(tmp_path, schema, junit_schema):
    records = fleet(200, exposed_every=25, blocked_every=40)
    began = time.monotonic()
    report = fleet_report.build_report(records)
    paths = fleet_report.write_report(report, str(tmp_path))
    elapsed = time.monotonic() - began
    size = os.path.getsize(paths["html"])
    print("\n200-host report: built and written in %.3fs; page %d KiB" % (elapsed, size // 1024))
    # The target is 2 s; the bound is generous so a loaded CI machine does not flake.
    assert elapsed < 10
    schema.validate(report)
    assert junit_schema.validate(etree.parse(paths["junit"]))
    assert report["summary"]["hosts"] == 200
    assert report["summary"]["by_status"]["exposed"] == 8  # hosts 0, 25, ..., 175
    assert report["summary"]["by_status"]["failed"] == 5  # hosts 1, 41, ..., 161
    assert [host["status"] for host in report["hosts"][:8]] == ["exposed"] * 8
    parser = PageParser()
    with open(paths["html"], encoding="utf-8") as handle:
        parser.feed(handle.read())
    assert len(parser.rows) == 200
    port_view = {"%s/%s" % (port["protocol"], port["port"]): port for port in report["ports"]}
    assert report["ports"][0]["port"] == 3312  # exposures first
    assert len(port_view["tcp/3312"]["exposed_on"]) == 8
