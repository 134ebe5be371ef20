"""Print the demo's tables from the run records of the callback biostar.hardening.fleet_report.

    report.py state  SITE.json VERIFY.json --title TEXT
    report.py change BEFORE_SITE.json BEFORE_VERIFY.json AFTER_SITE.json AFTER_VERIFY.json [--predicted CHECK.json]
    report.py rerun  SITE.json

Every figure comes from a recorded run: module results, the role's context fact, port_probe
results and play stats. Nothing is recomputed from the inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, Iterable, List, Sequence, Tuple


def load(path: str) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def rule_text(rule: Dict[str, Any]) -> str:
    return "%s%s/%s" % ("out:" if rule.get("direction") == "outbound" else "", rule["protocol"], rule["port"])


def rules_text(rules: Iterable[Dict[str, Any]]) -> str:
    return " ".join(rule_text(r) for r in rules) or "-"


def peers_text(rules: Sequence[Dict[str, Any]]) -> str:
    groups = sorted({", ".join(r.get("peers") or []) or "any" for r in rules})
    return " | ".join(groups) if groups else "-"


def table(headers: Sequence[str], rows: List[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [headers, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def probe_key(probe: Dict[str, Any]) -> Tuple[str, str]:
    return probe["probe"], probe["target"]


def probes_for(verify: Dict[str, Any], target: str) -> List[Dict[str, Any]]:
    return [p for p in verify["probes"] if p["target"] == target]


def check_text(check: Dict[str, Any]) -> str:
    mark = "" if check["ok"] else "!"
    closed = "*" if check["expect"] == "closed" else ""
    return "%s%s/%s%s=%s" % (mark, check["protocol"], check["port"], closed, check["state"])


def probe_result_text(probe: Dict[str, Any]) -> str:
    checks = probe["checks"]
    if not checks:
        return "no result: %s" % probe.get("msg", "")
    passed = sum(1 for c in checks if c["ok"])
    return "%d/%d as expected" % (passed, len(checks))


def probes_summary(probes: List[Dict[str, Any]]) -> str:
    if not probes:
        return "not probed"
    checks = [c for p in probes for c in p["checks"]]
    passed = sum(1 for c in checks if c["ok"])
    return "%d/%d as expected, from %d probe host%s" % (
        passed,
        len(checks),
        len(probes),
        "" if len(probes) == 1 else "s",
    )


def state(site: Dict[str, Any], verify: Dict[str, Any], title: str) -> int:
    print("\n=== %s ===" % title)
    rows = []
    for host in sorted(set(site["firewall"]) | set(site["context"])):
        context = site["context"].get(host, {})
        result = site["firewall"].get(host, {})
        inbound = [r for r in result.get("rules", []) if r.get("direction") == "inbound"]
        probes = probes_for(verify, host)
        rows.append(
            (
                host,
                context.get("host_role", "?"),
                context.get("mode", "?"),
                result.get("backend", "?") if not result.get("failed") else "FAILED: %s" % result.get("msg", ""),
                "yes" if result.get("changed") else "no",
                rules_text(inbound),
                peers_text(inbound),
                probes_summary(probes),
            )
        )
    print(
        table(
            ("host", "host role", "mode", "backend", "changed", "ports opened (inbound)", "from", "probe results"),
            rows,
        )
    )
    print("\nport_probe, check by check (* = expected closed; ! = expectation not met):")
    means = sorted({p.get("udp_no_answer_means") for p in verify["probes"] if p.get("udp_no_answer_means")})
    if means:
        print("UDP silence (open|filtered) counted as: %s" % ", ".join(means))
    rows = [
        ("%s -> %s" % probe_key(p), probe_result_text(p), " ".join(check_text(c) for c in p["checks"]))
        for p in sorted(verify["probes"], key=probe_key)
    ]
    print(table(("probe -> target", "result", "port=state seen"), rows))
    failed = [h for h, s in verify["stats"].items() if s.get("failures") or s.get("unreachable")]
    failed += [h for h, s in site["stats"].items() if s.get("failures") or s.get("unreachable")]
    return 1 if failed else 0


def change(before_site, before_verify, after_site, after_verify, predicted=None) -> int:
    print("\n=== What the switch changed ===")
    rows = []
    mismatch = False
    for host in sorted(after_site["firewall"]):
        before = before_site["context"].get(host, {}).get("mode", "?")
        after = after_site["context"].get(host, {}).get("mode", "?")
        result = after_site["firewall"][host]
        row = [
            host,
            "%s -> %s" % (before, after),
            rules_text(result.get("removed", [])),
            rules_text(result.get("added", [])),
            rules_text(r for r in result.get("rules", []) if r.get("direction") == "inbound"),
        ]
        if predicted is not None:
            guess = predicted["firewall"].get(host, {})
            same = guess.get("added") == result.get("added") and guess.get("removed") == result.get("removed")
            mismatch = mismatch or not same
            row.append(
                "same"
                if same
                else "DIFFERENT (check mode said -%s +%s)"
                % (rules_text(guess.get("removed", [])), rules_text(guess.get("added", [])))
            )
        rows.append(row)
    headers = ["host", "mode", "removed", "added", "now open (inbound)"]
    if predicted is not None:
        headers.append("check mode predicted")
    print(table(headers, rows))

    print("\nProbe results that changed:")
    before_checks = {(*probe_key(p), c["protocol"], c["port"]): c for p in before_verify["probes"] for c in p["checks"]}
    rows = []
    for probe in sorted(after_verify["probes"], key=probe_key):
        for check in probe["checks"]:
            old = before_checks.get((*probe_key(probe), check["protocol"], check["port"]))
            if old is None or (old["state"], old["expect"]) != (check["state"], check["expect"]):
                rows.append(
                    (
                        "%s -> %s" % probe_key(probe),
                        "%s/%s" % (check["protocol"], check["port"]),
                        "%s (expected %s)" % (old["state"], old["expect"]) if old else "not probed",
                        "%s (expected %s)" % (check["state"], check["expect"]),
                        "ok" if check["ok"] else "NOT AS EXPECTED",
                    )
                )
    if rows:
        print(table(("probe -> target", "port", "before", "after", "now"), rows))
    else:
        print("  none")
    return 1 if mismatch else 0


def rerun(site: Dict[str, Any]) -> int:
    changed = {host: stats.get("changed", 0) for host, stats in site["stats"].items()}
    modules = {host: bool(r.get("changed")) for host, r in site["firewall"].items()}
    print("\n=== Same mode again ===")
    print(
        table(
            ("host", "tasks changed", "firewall module changed"),
            [(h, str(changed[h]), "yes" if modules.get(h) else "no") for h in sorted(changed)],
        )
    )
    return 1 if any(changed.values()) or any(modules.values()) else 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    state_parser = commands.add_parser("state")
    state_parser.add_argument("site")
    state_parser.add_argument("verify")
    state_parser.add_argument("--title", required=True)
    change_parser = commands.add_parser("change")
    change_parser.add_argument("files", nargs=4)
    change_parser.add_argument("--predicted")
    rerun_parser = commands.add_parser("rerun")
    rerun_parser.add_argument("site")
    args = parser.parse_args(argv)
    if args.command == "state":
        return state(load(args.site), load(args.verify), args.title)
    if args.command == "change":
        predicted = load(args.predicted) if args.predicted else None
        return change(*(load(path) for path in args.files), predicted=predicted)
    return rerun(load(args.site))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
