# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet posture report as one self-contained HTML page.

Everything is inline: the styles, a small script (plain JavaScript, no framework) for
filtering, sorting and grouping the host table, and the data, rendered as table rows on
the server side so the page reads without JavaScript as well. A Content-Security-Policy
forbids every fetch, so the page opens from disk and never touches the network.

The page's state (filter, status, grouping, sort) lives in the URL fragment, for example
``report.html#status=exposed&group=mode&sort=name``, so a link or a headless browser can
open a given view.
"""

from __future__ import annotations

import html
from typing import Any, Dict, Iterable, List

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

# Worst first: the rows' data-rank and the status filter's order.
STATUS_RANK = ("exposed", "failed", "drift", "ok", "unknown")
STATUS_LABEL = {
    "exposed": "exposed",
    "failed": "failed",
    "drift": "drift",
    "ok": "ok",
    "unknown": "no result",
}

STYLE = """
:root { --bad: #b3261e; --bad-bg: #fde7e4; --warn: #8a5300; --warn-bg: #fff1d6;
  --drift: #5b3fa8; --drift-bg: #ece6fb; --ok: #1e6b34; --ok-bg: #e3f4e7; --muted: #5f6368;
  --line: #d7dbe0; --head: #f3f5f7; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  margin: 0; color: #1f2328; background: #fff; }
header { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 24px 0 8px; }
main { padding: 0 24px 32px; }
.meta { color: var(--muted); margin: 0; }
.meta b { color: #1f2328; font-weight: 600; }
.cards { display: flex; gap: 10px; flex-wrap: wrap; margin: 14px 0 6px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 118px; }
.card .n { font-size: 24px; font-weight: 700; display: block; }
.card.exposed { background: var(--bad-bg); border-color: #f3b7b0; color: var(--bad); }
.card.failed { background: var(--warn-bg); border-color: #f0d29a; color: var(--warn); }
.card.drift { background: var(--drift-bg); border-color: #cdbff2; color: var(--drift); }
.card.ok { background: var(--ok-bg); border-color: #b6dfc1; color: var(--ok); }
.controls { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin: 12px 0; }
.controls input, .controls select { font: inherit; padding: 4px 8px; border: 1px solid var(--line);
  border-radius: 6px; }
.controls input { width: 280px; }
#shown-count { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 6px; border-bottom: 1px solid var(--line); }
thead th { background: var(--head); position: sticky; top: 0; z-index: 1; }
thead th[data-sort] { cursor: pointer; user-select: none; }
thead th[data-sort]::after { content: " \\2195"; color: #a0a6ad; }
thead th.sorted-asc::after { content: " \\2191"; color: #1f2328; }
thead th.sorted-desc::after { content: " \\2193"; color: #1f2328; }
tr.host.status-exposed { background: #fff8f7; }
tr.host.status-exposed td:first-child { box-shadow: inset 4px 0 var(--bad); }
tr.host.status-failed td:first-child { box-shadow: inset 4px 0 #e09b00; }
tr.host.status-drift td:first-child { box-shadow: inset 4px 0 var(--drift); }
tr.group-row th { background: #e9edf1; font-weight: 600; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600;
  white-space: nowrap; }
.badge.exposed { background: var(--bad); color: #fff; }
.badge.failed { background: #e09b00; color: #fff; }
.badge.drift { background: var(--drift); color: #fff; }
.badge.ok { background: var(--ok-bg); color: var(--ok); }
.badge.unknown { background: #eceff1; color: var(--muted); }
.badge.check { background: var(--drift-bg); color: var(--drift); }
td.findings { min-width: 260px; max-width: 420px; }
td.lastrun { min-width: 150px; }
td.hostname { white-space: nowrap; }
ul.issues { margin: 0; padding-left: 16px; font-size: 12px; }
li.issue.exposure { color: var(--bad); }
li.issue.failure { color: var(--warn); }
li.issue.drift { color: var(--drift); }
.port { display: inline-block; font: 12px ui-monospace, "DejaVu Sans Mono", monospace; border: 1px solid var(--line);
  border-radius: 4px; padding: 0 4px; margin: 1px 2px 1px 0; background: #f8f9fa; cursor: help; }
.port.pending-add { border-style: dashed; border-color: var(--drift); color: var(--drift); }
.port.pending-remove { text-decoration: line-through; color: var(--drift); }
.port.exposed { background: var(--bad-bg); border-color: var(--bad); color: var(--bad); }
.no { color: var(--bad); font-weight: 600; }
.muted { color: var(--muted); }
.mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
details summary { cursor: pointer; }
table.checks { margin-top: 4px; font-size: 12px; width: auto; }
table.checks td, table.checks th { padding: 2px 6px; }
td.seen-bad { color: var(--bad); font-weight: 600; }
td.seen-ok { color: var(--ok); }
footer { color: var(--muted); padding: 0 24px 24px; font-size: 12px; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var table = document.getElementById("hosts");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.querySelectorAll("tr.host"));
  var filter = document.getElementById("filter");
  var statusFilter = document.getElementById("status-filter");
  var groupBy = document.getElementById("group-by");
  var shown = document.getElementById("shown-count");
  var headers = Array.prototype.slice.call(table.tHead.querySelectorAll("th[data-sort]"));
  var columns = table.tHead.rows[0].cells.length;
  var state = { q: "", status: "", group: "", sort: "rank", dir: "asc" };

  function readHash() {
    var text = window.location.hash.replace(/^#/, "");
    text.split("&").forEach(function (part) {
      var pair = part.split("=");
      if (pair.length === 2 && Object.prototype.hasOwnProperty.call(state, pair[0])) {
        state[pair[0]] = decodeURIComponent(pair[1].replace(/\+/g, " "));
      }
    });
  }
  function writeHash() {
    var parts = [];
    Object.keys(state).forEach(function (key) {
      if (state[key]) { parts.push(key + "=" + encodeURIComponent(state[key])); }
    });
    try { window.history.replaceState(null, "", "#" + parts.join("&")); } catch (error) { /* file: URLs */ }
  }
  function value(row, key) {
    var text = row.getAttribute("data-" + key) || "";
    return /^-?\d+(\.\d+)?$/.test(text) ? parseFloat(text) : text.toLowerCase();
  }
  function compare(a, b) {
    var x = value(a, state.sort), y = value(b, state.sort), order = 0;
    if (typeof x === "number" && typeof y === "number") { order = x - y; }
    else { order = String(x).localeCompare(String(y)); }
    if (order === 0 && state.sort !== "rank") { order = value(a, "rank") - value(b, "rank"); }
    if (order === 0) { order = String(value(a, "name")).localeCompare(String(value(b, "name"))); }
    return state.dir === "desc" ? -order : order;
  }
  function apply() {
    var query = state.q.toLowerCase().trim();
    var visible = rows.filter(function (row) {
      var match = (!query || row.getAttribute("data-search").indexOf(query) !== -1) &&
        (!state.status || row.getAttribute("data-status") === state.status);
      row.hidden = !match;
      return match;
    });
    var ordered = rows.slice().sort(compare);
    Array.prototype.slice.call(body.querySelectorAll("tr.group-row")).forEach(function (row) {
      body.removeChild(row);
    });
    if (state.group) {
      var groups = {}, names = [];
      ordered.forEach(function (row) {
        var key = row.getAttribute("data-" + state.group) || "(none)";
        if (!groups[key]) { groups[key] = []; names.push(key); }
        groups[key].push(row);
      });
      names.sort(function (a, b) {
        var worst = function (key) {
          return Math.min.apply(null, groups[key].map(function (row) { return value(row, "rank"); }));
        };
        return worst(a) - worst(b) || a.localeCompare(b);
      });
      names.forEach(function (key) {
        var members = groups[key];
        var showing = members.filter(function (row) { return !row.hidden; });
        var exposed = showing.filter(function (row) { return row.getAttribute("data-status") === "exposed"; });
        var head = document.createElement("tr");
        head.className = "group-row";
        head.hidden = showing.length === 0;
        var cell = document.createElement("th");
        cell.colSpan = columns;
        cell.textContent = groupBy.options[groupBy.selectedIndex].text + ": " + key + " (" +
          showing.length + " host" + (showing.length === 1 ? "" : "s") +
          (exposed.length ? ", " + exposed.length + " exposed" : "") + ")";
        head.appendChild(cell);
        body.appendChild(head);
        members.forEach(function (row) { body.appendChild(row); });
      });
    } else {
      ordered.forEach(function (row) { body.appendChild(row); });
    }
    headers.forEach(function (th) {
      th.classList.remove("sorted-asc", "sorted-desc");
      if (th.getAttribute("data-sort") === state.sort) { th.classList.add("sorted-" + state.dir); }
    });
    shown.textContent = "showing " + visible.length + " of " + rows.length + " hosts";
    table.setAttribute("data-shown", String(visible.length));
    writeHash();
  }
  readHash();
  filter.value = state.q;
  statusFilter.value = state.status;
  groupBy.value = state.group;
  filter.addEventListener("input", function () { state.q = filter.value; apply(); });
  statusFilter.addEventListener("change", function () { state.status = statusFilter.value; apply(); });
  groupBy.addEventListener("change", function () { state.group = groupBy.value; apply(); });
  headers.forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-sort");
      state.dir = state.sort === key && state.dir === "asc" ? "desc" : "asc";
      state.sort = key;
      apply();
    });
  });
  apply();
  document.body.setAttribute("data-ready", "1");
})();
"""

HOST_COLUMNS = (
    ("status", "rank"),
    ("host", "name"),
    ("findings", "exposures"),
    ("host role", "host_role"),
    ("version", "version"),
    ("mode", "mode"),
    ("platform", "platform"),
    ("backend", "backend"),
    ("filters", "filtering"),
    ("ports opened", "port_count"),
    ("last run", "changed"),
    ("probes (expected vs seen)", "probe_failed"),
)
GROUPS = (
    ("", "no grouping"),
    ("status", "status"),
    ("host_role", "host role"),
    ("mode", "mode"),
    ("version", "version"),
    ("platform", "platform"),
    ("backend", "backend"),
)


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def rule_text(rule: Dict[str, Any]) -> str:
    return "%s%s/%s" % ("out " if rule.get("direction") == "outbound" else "", rule.get("protocol"), rule.get("port"))


def rules_text(rules: Iterable[Dict[str, Any]]) -> str:
    return " ".join(rule_text(rule) for rule in rules)


def port_title(rule: Dict[str, Any]) -> str:
    lines = [rule_text(rule) + (" (%s)" % rule["direction"])]
    if rule.get("purpose"):
        lines.append("purpose: %s" % rule["purpose"])
    lines.append("provenance: %s" % (rule.get("provenance") or "not from the port matrix"))
    if rule.get("reference"):
        lines.append("reference: %s" % rule["reference"])
    lines.append("from: %s" % (", ".join(rule.get("peers") or []) or "any address"))
    if rule.get("pending"):
        lines.append("check mode: a real run would %s it" % rule["pending"])
    return "\n".join(lines)


def port_chips(rules: List[Dict[str, Any]], exposed: Iterable[str]) -> str:
    exposed = set(exposed)
    chips = []
    for rule in rules:
        classes = ["port"]
        if rule.get("pending"):
            classes.append("pending-" + rule["pending"])
        prefix = {"add": "+", "remove": "\u2212"}.get(rule.get("pending") or "", "")
        chips.append(
            '<span class="%s" title="%s" data-port="%s">%s%s</span>'
            % (" ".join(classes), esc(port_title(rule)), esc(rule_text(rule)), prefix, esc(rule_text(rule)))
        )
    for label in sorted(exposed):
        chips.append(
            '<span class="port exposed" title="%s" data-port="%s">%s answered</span>'
            % (esc("expected closed, but a peer reached it"), esc(label), esc(label))
        )
    return " ".join(chips) or '<span class="muted">none</span>'


def last_run_cell(host: Dict[str, Any]) -> str:
    run = host.get("last_run")
    if not run:
        return '<span class="muted">no firewall result</span>'
    parts = []
    verb = "would " if run["check_mode"] else ""
    if run["failed"]:
        parts.append('<span class="no">failed</span>: %s' % esc(run["msg"]))
    elif run["changed"]:
        changes = []
        if run["added"]:
            changes.append("%sadd %s" % (verb, esc(rules_text(run["added"]))))
        if run["removed"]:
            changes.append("%sremove %s" % (verb, esc(rules_text(run["removed"]))))
        if run["updated"]:
            changes.append("%supdate %s" % (verb, esc(rules_text(run["updated"]))))
        parts.append("; ".join(changes) or "%schange the saved configuration" % verb)
    else:
        parts.append("no change")
    if run["check_mode"]:
        parts.append('<span class="badge check">check mode</span>')
    parts.append('<br><span class="muted">run %s</span>' % esc(run["run"]))
    change = host.get("last_change")
    if change and not run["changed"] and change["run"] != run["run"]:
        what = []
        if change["added"]:
            what.append("+" + rules_text(change["added"]))
        if change["removed"]:
            what.append("\u2212" + rules_text(change["removed"]))
        parts.append(
            '<br><span class="muted">last change: %s (run %s%s)</span>'
            % (
                esc(" ".join(what) or "configuration"),
                esc(change["run"]),
                ", check mode" if change["check_mode"] else "",
            )
        )
    return " ".join(parts)


def probes_cell(host: Dict[str, Any]) -> str:
    if not host["probes"]:
        return '<span class="muted">not probed</span>'
    passed = sum(probe["passed"] for probe in host["probes"])
    total = sum(probe["passed"] + probe["failed"] for probe in host["probes"])
    rows = []
    for probe in host["probes"]:
        if not probe["checks"]:
            rows.append(
                '<tr class="check failed"><td>%s</td><td colspan="3" class="seen-bad">no result: %s</td></tr>'
                % (esc(probe["probe"]), esc(probe["msg"]))
            )
        for check in probe["checks"]:
            rows.append(
                '<tr class="check%s%s"><td>%s</td><td class="mono">%s/%s</td><td>%s</td>'
                '<td class="%s" title="%s">%s</td></tr>'
                % (
                    "" if check["ok"] else " failed",
                    " exposure" if check["exposure"] else "",
                    esc(probe["probe"]),
                    esc(check["protocol"]),
                    esc(check["port"]),
                    esc(check["expect"]),
                    "seen-ok" if check["ok"] else "seen-bad",
                    esc(check["detail"]),
                    esc(check["state"]),
                )
            )
    peers = ", ".join(probe["probe"] for probe in host["probes"])
    summary = "%d/%d as expected" % (passed, total)
    return (
        '<details><summary><span class="%s">%s</span> <span class="muted">from %s</span></summary>'
        '<table class="checks"><thead><tr><th>from</th><th>port</th><th>expected</th><th>seen</th></tr></thead>'
        "<tbody>%s</tbody></table></details>"
        % ("" if passed == total else "no", esc(summary), esc(peers), "".join(rows))
    )


def _exposed_ports(host: Dict[str, Any]) -> List[str]:
    """The ports a probe reached though they must stay closed, as "protocol/port"."""
    return sorted(
        {
            "%s/%s" % (check["protocol"], check["port"])
            for probe in host["probes"]
            for check in probe["checks"]
            if check["exposure"]
        }
    )


def _issues_cell(host: Dict[str, Any]) -> str:
    issues = "".join(
        '<li class="issue %s" data-kind="%s">%s</li>'
        % (esc(issue["severity"]), esc(issue["kind"]), esc(issue["message"]))
        for issue in host["issues"]
    )
    return '<ul class="issues">%s</ul>' % issues if issues else '<span class="muted">none</span>'


def _filters_cell(filtering: Any) -> str:
    if filtering is None:
        return '<span class="muted">?</span>'
    return "yes" if filtering else '<span class="no" title="nothing blocks traffic on this host">no</span>'


def _search_text(host: Dict[str, Any]) -> str:
    """What the filter box matches a row against, lower case."""
    return " ".join(
        str(part)
        for part in (
            host["name"],
            host["status"],
            host["host_role"],
            host["mode"],
            host["platform"],
            host["backend"],
            "v%s" % host["version"],
            rules_text(host["ports"]),
            " ".join(issue["message"] for issue in host["issues"]),
            " ".join(probe["probe"] for probe in host["probes"]),
        )
        if part
    ).lower()


def _row_attributes(host: Dict[str, Any], rank: int) -> str:
    """The data-* attributes the page's script sorts, filters and groups the rows by."""
    filtering = host["filtering"]
    run = host.get("last_run") or {}
    attributes = {
        "data-name": host["name"],
        "data-status": host["status"],
        "data-rank": rank,
        "data-host_role": host["host_role"] or "",
        "data-version": host["version"] or "",
        "data-mode": host["mode"] or "",
        "data-platform": host["platform"] or "",
        "data-backend": host["backend"] or "",
        "data-filtering": "" if filtering is None else ("yes" if filtering else "no"),
        "data-port_count": len(host["ports"]),
        "data-changed": "failed" if run.get("failed") else ("changed" if run.get("changed") else "unchanged"),
        "data-probe_failed": sum(probe["failed"] for probe in host["probes"]),
        "data-exposures": sum(1 for issue in host["issues"] if issue["severity"] == "exposure"),
        "data-search": _search_text(host),
    }
    return " ".join('%s="%s"' % (key, esc(value)) for key, value in attributes.items())


def host_row(host: Dict[str, Any], rank: int) -> str:
    return (
        '<tr class="host status-%s" %s>'
        '<td><span class="badge %s">%s</span></td>'
        '<td class="hostname"><b>%s</b></td><td class="findings">%s</td>'
        "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
        '<td>%s</td><td class="lastrun">%s</td><td>%s</td></tr>'
        % (
            esc(host["status"]),
            _row_attributes(host, rank),
            esc(host["status"]),
            esc(STATUS_LABEL[host["status"]]),
            esc(host["name"]),
            _issues_cell(host),
            esc(host["host_role"] or "?"),
            esc(host["version"] or "?"),
            esc(host["mode"] or "?"),
            esc(host["platform"] or "?"),
            esc(host["backend"] or "?"),
            _filters_cell(host["filtering"]),
            port_chips(host["ports"], _exposed_ports(host)),
            last_run_cell(host),
            probes_cell(host),
        )
    )


def port_row(port: Dict[str, Any]) -> str:
    def hosts(names: List[str]) -> str:
        if not names:
            return '<span class="muted">none</span>'
        shown = ", ".join(names[:12])
        more = " and %d more" % (len(names) - 12) if len(names) > 12 else ""
        return '<span title="%s">%d: %s%s</span>' % (esc(", ".join(names)), len(names), esc(shown), more)

    def tally(bucket: Dict[str, int]) -> str:
        total = bucket["passed"] + bucket["failed"]
        if not total:
            return '<span class="muted">-</span>'
        return '<span class="%s">%d/%d</span>' % ("no" if bucket["failed"] else "", bucket["passed"], total)

    return (
        '<tr class="port-row%s" data-port="%s">'
        '<td class="mono">%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>'
        % (
            " exposed" if port["exposed_on"] else "",
            esc(rule_text(port)),
            esc(rule_text(port)),
            esc("; ".join(port["purposes"]) or "-"),
            esc(", ".join(port["provenance"]) or "-"),
            hosts(port["open_on"])
            + (' <span class="muted">(+%d pending)</span>' % len(port["pending_on"]) if port["pending_on"] else ""),
            tally(port["probed_open"]),
            tally(port["probed_closed"]),
            '<span class="no">%s</span>' % hosts(port["exposed_on"])
            if port["exposed_on"]
            else '<span class="muted">none</span>',
            '<span class="no">%s</span>' % hosts(port["blocked_on"])
            if port["blocked_on"]
            else '<span class="muted">none</span>',
        )
    )


# The page; render_html fills it in. Braces in STYLE and SCRIPT are safe: they are values, not the template.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{collection} {version}">
<title>{title}</title>
<style>{style}</style>
</head>
<body data-schema="{schema}" data-hosts="{hosts}" data-exposures="{exposures}" data-check-mode="{check}">
<header>
<h1>{title}{check_badge}</h1>
<p class="meta">generated <b id="generated">{generated}</b> &middot; inventory <b id="inventory">{inventory}</b>
&middot; collection <b id="collection">{collection} {version}</b></p>
<p class="meta">runs: <span id="runs">{runs}</span></p>
</header>
<main>
<div class="cards">{cards}</div>
<h2>Hosts <span class="muted">(exposures first)</span></h2>
<div class="controls">
<input id="filter" type="search" placeholder="filter: host, port, backend, issue..." aria-label="filter hosts">
<select id="status-filter" aria-label="status">{status_options}</select>
<select id="group-by" aria-label="group by">{group_options}</select>
<span id="shown-count">showing {hosts} of {hosts} hosts</span>
<span class="muted">Click a heading to sort; hover a port for its purpose and provenance.</span>
</div>
<table id="hosts">
<thead><tr>{headers}</tr></thead>
<tbody>
{rows}
</tbody>
</table>
<h2>Ports across the fleet</h2>
<table id="ports">
<thead><tr><th>port</th><th>purpose</th><th>provenance</th><th>opened on</th>
<th>probes expecting open</th><th>probes expecting closed</th>
<th>answered though expected closed</th><th>blocked though expected open</th></tr></thead>
<tbody>
{port_rows}
</tbody>
</table>
</main>
<footer>{collection} {version} &middot; schema {schema} &middot; the same facts are in report.json and
report.junit.xml next to this page.</footer>
<script>{script}</script>
</body>
</html>
"""


def _cards(summary: Dict[str, Any]) -> str:
    by_status = summary["by_status"]
    checks = summary["probe_checks"]
    cards = [
        ("hosts", "hosts", summary["hosts"]),
        ("exposed", "exposed hosts", by_status["exposed"]),
        ("failed", "failed hosts", by_status["failed"]),
        ("drift", "drifted hosts", by_status["drift"]),
        ("ok", "ok hosts", by_status["ok"]),
        ("checks", "probe checks as expected", "%d/%d" % (checks["passed"], checks["total"])),
    ]
    return "".join(
        '<div class="card %s" id="count-%s"><span class="n">%s</span>%s</div>' % (key, key, esc(value), esc(label))
        for key, label, value in cards
    )


def _status_options(by_status: Dict[str, int]) -> str:
    """Only the statuses some host has, each with its count."""
    return '<option value="">all statuses</option>' + "".join(
        '<option value="%s">%s (%d)</option>' % (status, STATUS_LABEL[status], by_status[status])
        for status in STATUS_RANK
        if by_status[status]
    )


def render_html(report: Dict[str, Any]) -> str:
    summary = report["summary"]
    runs = (
        ", ".join("%s%s" % (run["name"], " (check mode)" if run["check_mode"] else "") for run in report["runs"])
        or "none"
    )
    group_options = "".join('<option value="%s">%s</option>' % (key, esc(label)) for key, label in GROUPS)
    headers = "".join('<th data-sort="%s">%s</th>' % (key, esc(label)) for label, key in HOST_COLUMNS)
    rows = "\n".join(host_row(host, STATUS_RANK.index(host["status"])) for host in report["hosts"])
    port_rows = "\n".join(port_row(port) for port in report["ports"])
    return PAGE.format(
        csp=CSP,
        collection=esc(report["collection"]["name"]),
        version=esc(report["collection"]["version"]),
        title=esc(report["title"]),
        style=STYLE,
        schema=esc(report["schema"]),
        hosts=summary["hosts"],
        exposures=summary["exposures"],
        check="true" if summary["check_mode"] else "false",
        check_badge=' <span class="badge check">check mode: predicted state</span>' if summary["check_mode"] else "",
        generated=esc(report["generated"]),
        inventory=esc(", ".join(report["inventory"]) or "unknown"),
        runs=esc(runs),
        cards=_cards(summary),
        status_options=_status_options(summary["by_status"]),
        group_options=group_options,
        headers=headers,
        rows=rows,
        port_rows=port_rows or '<tr><td colspan="8" class="muted">no ports</td></tr>',
        script=SCRIPT,
    )
