"""The README section "What happens when things go wrong", from the reliability suite's rows.

    python scripts/reliability_section.py --check  [RUN_JSON]   exit 1 if the committed summary
                                                               differs from this run's rows
    python scripts/reliability_section.py --update [RUN_JSON]   write the committed summary from
                                                               a complete, passing run

RUN_JSON is what tests/reliability/run.py writes (default tests/output/reliability.json).
The committed summary, tests/reliability/summary.json, keeps of each row only what does
not change from run to run: its part, what it checks, whether it passed, and its figure
when the figure is a count ("15 of 15 faults survived"). Times, firewall messages and
temporary file names stay in tests/output. scripts/readme_sections.py renders the README
section from the committed summary, so `make lint` checks the README without containers,
and `make reliability` checks the summary against the rows it just produced.

Rows are grouped by part. A part this file has no words for yet still gets its rows in
the section under its own name, so new parts show up when the summary is regenerated.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from typing import Any, Dict, List, Optional, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUMMARY = os.path.join(REPO, "tests", "reliability", "summary.json")
RUN_JSON = os.path.join(REPO, "tests", "output", "reliability.json")
REGENERATE = "make reliability-docs"
# The bad-input table: its known_unclear cases are named under "Not promised".
BAD_INPUTS = os.path.join(REPO, "tests", "reliability", "bad_inputs.yml")

# A figure the README may quote: a count, the same on every passing run.
COUNT = re.compile(r"^\d+ of \d+\b")
BACKENDS = ("nftables", "iptables", "ufw", "firewalld")

# What each part means to a user: a promise in one sentence, then how it is checked.
# Keys are the ``part`` of the suite's rows; parts are shown in this order, then any
# part not listed here, by name.
PARTS: Dict[str, Dict[str, str]] = {
    "bad input": {
        "promise": "A mistake in your variables or options is refused before the host is touched.",
        "how": "The suite gives the lookup, the role and both modules wrong types, empty and huge values,"
        " ports out of range, reversed ranges, malformed CIDRs, unknown keys and bad owners. Each one"
        " must fail before anything on the host changes (its ruleset and saved firewall files are"
        " compared byte for byte), with a message that names the variable or option, the bad value"
        " and the valid values.",
    },
    "faults": {
        "promise": "A firewall command that fails halfway leaves your previous rules in place.",
        "how": "Each fault is forced on a real firewall: the apply command fails, the second address"
        " family fails after the first, the saved-rules file system is full or read-only, the module"
        " is killed before or after the apply. After each one, the previous rules are in place"
        " (packets from a peer and a ruleset comparison say so), your own rules are unchanged, and"
        " the next run converges cleanly. A failed command's error names the step (`step` in the"
        " result) and carries the firewall's own message.",
    },
    "concurrency": {
        "promise": "Two runs on the same host at the same time do not mix.",
        "how": "The module holds a host-wide lock (`/run/lock/biostar-hardening-firewall.lock`) for the"
        " whole detect, read, plan, apply and persist sequence, whatever the owner. Runs that start together"
        " wait for each other and end in exactly one of the requested rule sets, with one jump. A run"
        " that cannot get the lock within `lock_timeout` seconds (default 60) fails, names the lock"
        " file and changes nothing.",
    },
    "drift": {
        "promise": "Rules of the collection that someone changed by hand are repaired by the next run,"
        " and the result says what was repaired.",
        "how": "The next run restores exactly the owned rules, lists what it put back in `actions`,"
        " leaves every other rule as it found it, and the run after it changes nothing.",
    },
    "lockout": {
        "promise": "The connection Ansible works over is not cut.",
        "how": "Over real SSH, the session stays up through a baseline, a mode switch and"
        " `state: absent`, and the next task runs on it.",
    },
    "restart": {
        "promise": "A restart keeps the rules.",
        "how": "The host boots through its own init system and the firewall's own service loads what"
        " the module saved; packets after the restart prove it, and the next run changes nothing.",
    },
}

# What the section must say is NOT promised. Each line holds whatever parts were run.
NOT_PROMISED = [
    "A module killed between its IPv4 and IPv6 transactions (iptables, ufw) leaves the two"
    " families different until the next run, which repairs it.",
    "A module killed after the nftables apply but before it saved the rules leaves the running"
    " firewall new and the saved file old; a reboot before the next run brings the previous"
    " rules back.",
    "The lock serializes runs of this collection only. A person or another tool changing the"
    " firewall during a run is not stopped; the next run repairs the collection's rules.",
    "Repair covers only the rules the collection owns. Rules it did not create are never restored or removed.",
    "On Windows only bad input is checked (the action plugin refuses it on the controller): no"
    " PowerShell runs on the test machines, so faults, drift and concurrent runs on Windows"
    " Defender Firewall are not tested here.",
]

# How the "not yet checked on <firewall>" line names each part.
SHORT = {
    "faults": "faults",
    "concurrency": "concurrent runs",
    "drift": "repair of hand changes",
    "restart": "restart",
    "lockout": "the SSH session",
}

# Said when a part the issue asks for is missing from the summary.
NOT_YET = {
    "faults": "failing firewall commands",
    "concurrency": "concurrent runs on one host",
    "drift": "repair of rules changed by hand",
    "lockout": "the management connection over real SSH (the lockout guard has unit tests and the"
    " `baseline` molecule scenario)",
    "restart": "a restart of the host through the firewall's own boot service",
}


class SummaryError(Exception):
    pass


def load(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise SummaryError("%s: not found; run `make reliability` first" % path) from None


def figure(text: Any) -> Optional[str]:
    text = str(text or "").strip()
    return text if COUNT.match(text) else None


def summarise(run: Dict[str, Any]) -> Dict[str, Any]:
    """The committed summary of one run: its rows by part, each part's rows sorted by ``what``."""
    parts: Dict[str, List[Dict[str, Any]]] = {}
    for row in run["rows"]:
        parts.setdefault(row["part"], []).append(
            {"what": row["what"], "passed": bool(row["passed"]), "figure": figure(row.get("figure"))}
        )
    return {
        "source": "tests/reliability/run.py, all parts; regenerate with `%s`" % REGENERATE,
        "parts": [{"part": name, "rows": sorted(parts[name], key=lambda r: r["what"])} for name in ordered(parts)],
    }


def ordered(names: Sequence[str]) -> List[str]:
    known = [name for name in PARTS if name in names]
    return known + sorted(name for name in names if name not in PARTS)


def backends_in(rows: Sequence[Dict[str, Any]]) -> List[str]:
    text = " ".join(row["what"] for row in rows)
    return [name for name in BACKENDS if re.search(r"\b%s\b" % name, text)]


def sentence(text: str) -> str:
    """Capitalised, unless it starts with a name such as firewall_ports."""
    first = text.split(" ", 1)[0]
    return text if "_" in first else text[:1].upper() + text[1:]


def words(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "%s and %s" % (", ".join(items[:-1]), items[-1])


def known_unclear(path: Optional[str] = None) -> List[str]:
    """The bad inputs refused in ansible-core's words, as `name` value (where)."""
    import yaml

    with open(path or BAD_INPUTS, encoding="utf-8") as handle:
        cases = yaml.safe_load(handle)["cases"]
    return [
        "`%s` %s (%s)" % (case["expect"]["names"], case["expect"]["value"], case["where"])
        for case in cases
        if case.get("known_unclear")
    ]


def render(summary: Optional[Dict[str, Any]] = None) -> str:
    """The README section body from the committed summary."""
    summary = summary if summary is not None else load(SUMMARY)
    parts = summary["parts"]
    total = sum(len(part["rows"]) for part in parts)
    passed = sum(row["passed"] for part in parts for row in part["rows"])
    lines = [
        "What you can rely on when a run goes wrong. `make reliability` (part of `make test`) checks"
        " each promise below against real firewalls in containers, with real commands and real"
        " packets, no mocks. The figures are from the last full run: %d of %d checks passed. The"
        " whole table, with times and the firewalls' messages, is in `tests/output/reliability.md`"
        " after a run; this section is generated from `tests/reliability/summary.json`." % (passed, total),
        "",
    ]
    for part in parts:
        name, rows = part["part"], part["rows"]
        text = PARTS.get(name, {"promise": "%s." % name.capitalize(), "how": ""})
        ok = sum(row["passed"] for row in rows)
        lines.append("**%s** %s" % (text["promise"], text["how"]) if text["how"] else "**%s**" % text["promise"])
        lines.append("")
        found = backends_in(rows)
        where = " on %s" % words(found) if found else ""
        lines.append("- Checked%s: %d of %d checks passed." % (where, ok, len(rows)))
        lines += ["- %s: %s." % (sentence(row["what"]), row["figure"]) for row in rows if row["figure"]]
        lines += ["", "<details><summary>Every check of this part</summary>", ""]
        lines += ["- %s %s" % ("Passed:" if row["passed"] else "FAILED:", row["what"]) for row in rows]
        lines += ["", "</details>", ""]
    lines += ["**Not promised.**", ""]
    lines += ["- %s" % text for text in NOT_PROMISED]
    unclear = known_unclear()
    if unclear:
        lines.append(
            "- Refused before the host is touched, but in ansible-core's own words, which do not list the"
            " valid values: %s." % "; ".join(unclear)
        )
    present = {part["part"]: part["rows"] for part in parts}
    missing = [NOT_YET[name] for name in NOT_YET if name not in present]
    if missing:
        lines.append("- Not checked by the suite yet: %s." % "; ".join(missing))
    for backend in BACKENDS:
        gaps = [SHORT[name] for name in SHORT if name in present and backend not in backends_in(present[name])]
        if gaps:
            lines.append("- Not checked on %s yet: %s." % (backend, words(gaps)))
    return "\n".join(lines).rstrip("\n")


def dumps(summary: Dict[str, Any]) -> str:
    return json.dumps(summary, indent=1, ensure_ascii=False) + "\n"


def check(run_path: str) -> int:
    wanted = dumps(summarise(load(run_path)))
    try:
        with open(SUMMARY, encoding="utf-8") as handle:
            current = handle.read()
    except FileNotFoundError:
        current = ""
    if current == wanted:
        return 0
    sys.stdout.writelines(
        difflib.unified_diff(
            current.splitlines(True), wanted.splitlines(True), "tests/reliability/summary.json", "this run"
        )
    )
    print(
        "The README section 'What happens when things go wrong' is not current for the rows this run"
        " produced (tests/reliability/summary.json differs, see above). Run `%s` and commit"
        " tests/reliability/summary.json and README.md." % REGENERATE,
        file=sys.stderr,
    )
    return 1


def update(run_path: str) -> int:
    run = load(run_path)
    failed = [row["what"] for row in run["rows"] if not row["passed"]]
    if failed:
        raise SummaryError(
            "%s has %d failing rows (%s); fix them before it becomes the README"
            % (run_path, len(failed), "; ".join(failed[:3]))
        )
    if not run.get("complete"):
        raise SummaryError(
            "%s is from a run of some parts only (%s); the summary needs a run of all parts"
            % (run_path, ", ".join(run.get("parts") or []))
        )
    with open(SUMMARY, "w", encoding="utf-8") as handle:
        handle.write(dumps(summarise(run)))
    print("wrote %s; now `make docs` renders it into README.md" % os.path.relpath(SUMMARY, REPO))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail if the committed summary differs from the run")
    mode.add_argument("--update", action="store_true", help="write the committed summary from the run")
    parser.add_argument("run", nargs="?", default=RUN_JSON, help="the run's rows (default: %(default)s)")
    options = parser.parse_args(argv)
    try:
        return check(options.run) if options.check else update(options.run)
    except SummaryError as exc:
        print("reliability_section: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
