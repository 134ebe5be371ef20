"""The fleet report of a real `make demo` run, rendered in headless Chromium.

`make report-test` runs the demo (real containers, real firewalls, real probes), which
leaves tests/output/demo/report/ (the hardened site) and tests/output/demo/report/drill/
(the same site after its server's firewall was flushed: exposures and drift), beside the
run records of every step (tests/output/demo/<step>.json). These tests open those pages
in Debian's chromium, with a fresh profile and no network features, read the DOM after the
page's script ran, and compare it with report.json. They also save the screenshots.

BIOSTAR_DEMO_RESULTS names the demo's results folder (default tests/output/demo), as for the demo.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys

import lxml.html
from lxml import etree

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.environ.get("BIOSTAR_DEMO_RESULTS") or os.path.join(REPO, "tests", "output", "demo")
DEMO = os.path.join(RESULTS, "report")
XSD = os.path.join(REPO, "tests", "schemas", "junit.xsd")
RENDERER = os.path.join(REPO, "plugins", "plugin_utils", "fleet_report.py")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
WINDOW = (1600, 1000)


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "Debian's chromium is not installed: run `make report-test`, which installs it"
    return path


def browse(tmp_path, url: str, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / ("profile-%d" % len(list(tmp_path.glob("profile-*"))))
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, "--user-data-dir=%s" % profile, *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def dom(tmp_path, page: str, fragment: str = ""):
    url = "file://%s%s" % (os.path.abspath(page), ("#" + fragment) if fragment else "")
    text = browse(tmp_path, url, "--dump-dom").stdout
    assert "<html" in text, "chromium returned no DOM for %s" % url
    return lxml.html.fromstring(text)


def load(folder: str):
    page = os.path.join(folder, "report.html")
    assert os.path.exists(page), "no report in %s: run `make report-test` (it runs `make demo` first)" % folder
    with open(os.path.join(folder, "report.json"), encoding="utf-8") as handle:
        return page, json.load(handle)


def rows(tree):
    return tree.xpath('//table[@id="hosts"]/tbody/tr[contains(concat(" ", @class, " "), " host ")]')


def visible(tree):
    return [row for row in rows(tree) if row.get("hidden") is None]


def card(tree, key: str) -> str:
    return tree.xpath('//div[@id="count-%s"]/span[@class="n"]' % key)[0].text_content().strip()


def assert_page_matches_json(tree, report):
    """Every host present, every exposure flagged, every count as in report.json."""
    assert tree.xpath("//body/@data-ready") == ["1"], "the page's script did not run"
    host_rows = rows(tree)
    assert [row.get("data-name") for row in host_rows] == [host["name"] for host in report["hosts"]]
    assert len(visible(tree)) == report["summary"]["hosts"]
    shown = tree.xpath('//*[@id="shown-count"]')[0].text_content()
    assert shown == "showing %d of %d hosts" % (report["summary"]["hosts"], report["summary"]["hosts"])
    summary = report["summary"]
    assert card(tree, "hosts") == str(summary["hosts"])
    for status in ("exposed", "failed", "drift", "ok"):
        assert card(tree, status) == str(summary["by_status"][status]), status
    checks = summary["probe_checks"]
    assert card(tree, "checks") == "%d/%d" % (checks["passed"], checks["total"])
    by_name = {row.get("data-name"): row for row in host_rows}
    exposures = 0
    for host in report["hosts"]:
        row = by_name[host["name"]]
        assert row.get("data-status") == host["status"]
        assert host["status"] in row.get("class").split("status-", 1)[1]
        for field in ("host_role", "version", "mode", "platform", "backend"):
            assert row.get("data-" + field) == (host[field] or ""), (host["name"], field)
        flagged = [
            (item.get("data-kind"), item.text_content()) for item in row.xpath('.//li[contains(@class, "issue")]')
        ]
        assert flagged == [(issue["kind"], issue["message"]) for issue in host["issues"]]
        for issue in host["issues"]:
            if issue["severity"] == "exposure":
                exposures += 1
                assert "exposure" in row.xpath('.//li[@data-kind="%s"]' % issue["kind"])[0].get("class")
                if issue["port"]:
                    chips = row.xpath('.//span[contains(@class, "port exposed")][@data-port="%s"]' % issue["port"])
                    assert chips, "exposed port %s of %s not flagged" % (issue["port"], host["name"])
        checks_dom = row.xpath('.//tr[contains(@class, "check")]')
        assert len(checks_dom) == sum(len(probe["checks"]) or 1 for probe in host["probes"])
        assert len([c for c in checks_dom if "failed" in c.get("class")]) == sum(
            probe["failed"] or (0 if probe["checks"] else 1) for probe in host["probes"]
        )
        labels = sorted(
            chip.get("data-port")
            for chip in row.xpath('.//span[contains(@class, "port")][not(contains(@class, "exposed"))]')
        )
        assert labels == sorted(
            ("out " if rule["direction"] == "outbound" else "") + "%s/%s" % (rule["protocol"], rule["port"])
            for rule in host["ports"]
        )
    assert exposures == summary["exposures"]
    assert len(tree.xpath('//li[contains(@class, "issue exposure")]')) == summary["exposures"]
    assert len(tree.xpath('//table[@id="ports"]/tbody/tr')) == len(report["ports"])
    # Exposures first.
    ranks = [("exposed", "failed", "drift", "ok", "unknown").index(row.get("data-status")) for row in host_rows]
    assert ranks == sorted(ranks)
    assert (
        tree.xpath('//*[@id="collection"]')[0].text_content()
        == "biostar.hardening %s" % report["collection"]["version"]
    )
    assert tree.xpath('//*[@id="inventory"]')[0].text_content() == ", ".join(report["inventory"])


def screenshot(tmp_path, page: str, dest: str):
    if os.path.exists(dest):
        os.unlink(dest)
    browse(tmp_path, "file://%s" % os.path.abspath(page), "--screenshot=%s" % dest, "--window-size=%d,%d" % WINDOW)
    with open(dest, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == WINDOW
    assert os.path.getsize(dest) > 20000, "the screenshot looks empty"


def test_demo_report_every_host_present_and_counts_match(tmp_path):
    page, report = load(DEMO)
    tree = dom(tmp_path, page)
    assert_page_matches_json(tree, report)
    # The demo site is hardened: both managed hosts ok, every probe check as expected.
    assert {host["name"] for host in report["hosts"]} == {"biostar-demo-server", "biostar-demo-client"}
    assert report["summary"]["by_status"]["ok"] == 2
    assert report["summary"]["probe_checks"]["failed"] == 0 < report["summary"]["probe_checks"]["total"]
    server = next(host for host in report["hosts"] if host["name"] == "biostar-demo-server")
    assert server["mode"] == "direct" and server["version"] == "1" and server["backend"] == "nftables"
    assert server["filtering"] is True
    # The last run (the rerun) changed nothing; the mode switch is the last change.
    assert server["last_run"]["run"] == "direct-rerun" and not server["last_run"]["changed"]
    assert server["last_change"]["run"] == "direct-site"
    assert {rule["port"] for rule in server["last_change"]["removed"]} == {1470, 1471, 51110}
    # The demo's --check run was followed by real runs: this page shows no prediction.
    assert report["summary"]["check_mode"] is False
    assert tree.xpath("//body/@data-check-mode") == ["false"]
    row = tree.xpath('//tr[@data-name="biostar-demo-server"]')[0]
    assert "last change" in row.text_content() and "direct-site" in row.text_content()
    title = row.xpath('.//span[@data-port="tcp/1480"]')[0].get("title")
    assert "provenance: inferred" in title and "purpose:" in title


def test_drill_report_flags_every_exposure(tmp_path):
    page, report = load(os.path.join(DEMO, "drill"))
    tree = dom(tmp_path, page)
    assert_page_matches_json(tree, report)
    first = rows(tree)[0]
    assert first.get("data-name") == "biostar-demo-server"
    assert first.get("data-status") == "exposed"
    kinds = {item.get("data-kind") for item in first.xpath('.//li[contains(@class, "issue")]')}
    assert {"not_filtering", "closed_port_answered", "drift"} <= kinds
    # The control ports the demo's listeners hold must be flagged as answered.
    for port in ("tcp/1490", "udp/51111"):
        assert first.xpath('.//span[contains(@class, "port exposed")][@data-port="%s"]' % port), port
    assert report["summary"]["check_mode"] is True
    assert tree.xpath("//body/@data-check-mode") == ["true"]


def test_filter_sort_and_group_work_in_the_browser(tmp_path):
    page, report = load(os.path.join(DEMO, "drill"))
    exposed = [host["name"] for host in report["hosts"] if host["status"] == "exposed"]
    tree = dom(tmp_path, page, "status=exposed")
    assert [row.get("data-name") for row in visible(tree)] == exposed
    # The text filter matches the host's own fields and its probe hosts' names; the server
    # probes nothing, so its name picks its own row only.
    tree = dom(tmp_path, page, "q=demo-server")
    assert [row.get("data-name") for row in visible(tree)] == ["biostar-demo-server"]
    tree = dom(tmp_path, page, "q=no-such-host")
    assert visible(tree) == []
    assert tree.xpath('//*[@id="shown-count"]')[0].text_content() == "showing 0 of %d hosts" % len(report["hosts"])
    tree = dom(tmp_path, page, "sort=name&dir=desc")
    names = [row.get("data-name") for row in visible(tree)]
    assert names == sorted((host["name"] for host in report["hosts"]), reverse=True)
    tree = dom(tmp_path, page, "group=host_role")
    groups = [row.text_content() for row in tree.xpath('//tr[@class="group-row"]')]
    assert sorted(group.split(":")[1].split("(")[0].strip() for group in groups) == sorted(
        {host["host_role"] for host in report["hosts"]}
    )


def test_check_mode_report_of_the_demo_shows_the_drift(tmp_path):
    """The report of the demo's --check run for direct mode, before the real switch."""
    out = tmp_path / "check-report"
    subprocess.run(
        [
            sys.executable,
            RENDERER,
            "--records",
            RESULTS,
            "--runs",
            "server-site,server-verify,direct-check",
            "--dest",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    page, report = load(str(out))
    tree = dom(tmp_path, page)
    assert_page_matches_json(tree, report)
    server = next(host for host in report["hosts"] if host["name"] == "biostar-demo-server")
    assert server["status"] == "drift"
    assert server["last_run"]["check_mode"] is True
    assert {rule["port"]: rule["pending"] for rule in server["ports"]} == {
        1470: "remove",
        1471: "remove",
        1480: "",
        51110: "remove",
    }
    row = tree.xpath('//tr[@data-name="biostar-demo-server"]')[0]
    pending = sorted(chip.get("data-port") for chip in row.xpath('.//span[contains(@class, "pending-remove")]'))
    assert pending == ["tcp/1470", "tcp/1471", "udp/51110"]
    assert "would remove tcp/1470 tcp/1471 udp/51110" in row.text_content()


def test_demo_junit_validates_and_failing_probes_fail(tmp_path):
    schema = etree.XMLSchema(etree.parse(XSD))
    for folder, failing in ((DEMO, False), (os.path.join(DEMO, "drill"), True)):
        _page, report = load(folder)
        document = etree.parse(os.path.join(folder, "report.junit.xml"))
        assert schema.validate(document), schema.error_log
        probes = document.xpath('//testcase[starts-with(@classname, "biostar.probe.")]')
        assert len(probes) == report["summary"]["probe_checks"]["total"]
        failed = [case for case in probes if case.find("failure") is not None]
        assert len(failed) == report["summary"]["probe_checks"]["failed"]
        assert bool(failed) == failing
        hosts = document.xpath('//testcase[@classname="biostar.firewall"]')
        assert sorted(case.get("name") for case in hosts) == sorted(host["name"] for host in report["hosts"])


def test_screenshots(tmp_path):
    for folder in (DEMO, os.path.join(DEMO, "drill")):
        page, _report = load(folder)
        screenshot(tmp_path, page, os.path.join(folder, "report.png"))
