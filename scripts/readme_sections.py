"""Render the README sections that are generated from data, or check they are current.

    python scripts/readme_sections.py          rewrite README.md in place
    python scripts/readme_sections.py --check  exit 1 if README.md differs from the data

Each section sits between `<!-- BEGIN NAME -->` and `<!-- END NAME -->` markers.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from typing import Callable, Dict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
sys.path.insert(0, os.path.join(REPO, "tests"))
import conftest  # noqa: E402  (makes ansible_collections.biostar.hardening importable)

from ansible_collections.biostar.hardening.plugins.module_utils import port_matrix  # noqa: E402

assert os.path.isdir(conftest.ROOT), "tests/conftest.py provides the collection import root"


def _ports(rules) -> str:
    if not rules:
        return "none"
    return ", ".join("%s %s (%s)" % (r["protocol"].upper(), r["port"], r["provenance"]) for r in rules)


def port_matrix_section() -> str:
    lines = []
    for matrix in port_matrix.MATRICES.values():
        lines += [
            "**%s**, what each managed host opens by default:" % matrix.title,
            "",
            "| host role | mode | inbound | outbound (opt-in) |",
            "|---|---|---|---|",
        ]
        for host_role in port_matrix.HOST_ROLES:
            for mode in port_matrix.MODES:
                rules = port_matrix.select(mode, host_role, version=matrix.version)
                inbound = [r for r in rules if r["direction"] == "inbound"]
                outbound = [r for r in rules if r["direction"] == "outbound"]
                lines.append("| %s | %s | %s | %s |" % (host_role, mode, _ports(inbound), _ports(outbound)))
        lines += [
            "",
            "Every flow behind the table, with its source:",
            "",
            "| host role | direction | port | modes | peer | provenance | facts | reference |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for flow in matrix.flows:
            lines.append(
                "| %s | %s | %s %s (`%s`) | %s | %s | %s | %s | %s |"
                % (
                    flow.host_role,
                    flow.direction,
                    flow.protocol.upper(),
                    matrix.ports[flow.port_name],
                    flow.port_name,
                    ", ".join(flow.modes),
                    flow.peer_kind + (" (%s)" % flow.device_family if flow.device_family else ""),
                    flow.provenance,
                    ", ".join(flow.facts),
                    flow.reference,
                )
            )
        lines += ["", "Port override keys (`biostar_port_overrides`, lookup option `port_overrides`):", ""]
        lines += [
            "- `%s` (default %d): %s" % (name, matrix.ports[name], matrix.port_descriptions[name])
            for name in sorted(matrix.ports)
        ]
    return "\n".join(lines)


SECTIONS: Dict[str, Callable[[], str]] = {"PORT MATRIX": port_matrix_section}

try:  # The role's variables table, rendered from meta/argument_specs.yml when the role exists.
    from role_vars_table import render as role_vars_section  # type: ignore[import-not-found]

    SECTIONS["ROLE VARS"] = role_vars_section
except ImportError:
    pass


def render(text: str) -> str:
    for name, build in SECTIONS.items():
        pattern = re.compile(r"(<!-- BEGIN %s -->\n).*?(<!-- END %s -->)" % (name, name), re.S)
        if not pattern.search(text):
            raise SystemExit("README.md has no '<!-- BEGIN %s -->' ... '<!-- END %s -->' markers" % (name, name))
        body = build()
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is not current")
    args = parser.parse_args()
    with open(README, encoding="utf-8") as handle:
        current = handle.read()
    wanted = render(current)
    if args.check:
        if current != wanted:
            sys.stdout.writelines(
                difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), "README.md", "generated")
            )
            print("README.md is out of date with the data: run `make docs`.", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        with open(README, "w", encoding="utf-8") as handle:
            handle.write(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
