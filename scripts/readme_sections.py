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


# The site a README table shows for a host role that needs one (never opened to everyone).
EXAMPLE_SERVERS = ["192.0.2.10"]


def _tls_cases(matrix):
    return [False] if matrix.tls_default is None else [matrix.tls_default, not matrix.tls_default]


def _conditions(matrix, flow) -> str:
    parts = []
    if flow.tls is not None:
        parts.append("TLS on" if flow.tls else "TLS off")
    if flow.service:
        parts.append("service `%s`" % flow.service)
    if flow.database:
        parts.append("database `%s`" % flow.database)
    if flow.peers_from == "server_addresses":
        parts.append("from `biostar_server_addresses` only")
    return ", ".join(parts) or "always"


def _opens_table(matrix) -> list:
    tls_column = matrix.tls_default is not None
    header = "| host role | mode | %sinbound | outbound (opt-in) |" % ("TLS | " if tls_column else "")
    lines = [header, "|---|---|%s---|---|" % ("---|" if tls_column else "")]
    for host_role in matrix.host_roles:
        for mode in matrix.modes:
            cells = []
            for tls in _tls_cases(matrix):
                rules = port_matrix.select(
                    mode, host_role, matrix.version, tls=tls if tls_column else None, server_addresses=EXAMPLE_SERVERS
                )
                inbound = _ports([r for r in rules if r["direction"] == "inbound"])
                outbound = _ports([r for r in rules if r["direction"] == "outbound"])
                cells.append(("on" if tls else "off", inbound, outbound))
            if len(cells) == 2 and cells[0][1:] == cells[1][1:]:
                cells = [("either", *cells[0][1:])]
            for tls_text, inbound, outbound in cells:
                tls_cell = "%s | " % tls_text if tls_column else ""
                lines.append("| %s | %s | %s%s | %s |" % (host_role, mode, tls_cell, inbound, outbound))
    return lines


def port_matrix_section() -> str:
    lines = []
    for matrix in port_matrix.MATRICES.values():
        defaults = "default mode `%s`" % matrix.default_mode
        if matrix.tls_default is not None:
            defaults += ", TLS %s by default" % ("on" if matrix.tls_default else "off")
        lines += [
            "**%s** (`biostar_version: %s`; %s), what each managed host opens without optional services:"
            % (matrix.title, matrix.version, defaults),
            "",
        ]
        lines += _opens_table(matrix)
        lines += [
            "",
            "Every flow behind the table, with its source:",
            "",
            "| host role | direction | port | modes | when | peer | provenance | facts | reference |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for flow in matrix.flows:
            if flow.expect != port_matrix.OPEN:
                continue
            lines.append(
                "| %s | %s | %s %s (`%s`) | %s | %s | %s | %s | %s | %s |"
                % (
                    flow.host_role,
                    flow.direction,
                    flow.protocol.upper(),
                    matrix.ports[flow.port_name],
                    flow.port_name,
                    ", ".join(flow.modes),
                    _conditions(matrix, flow),
                    flow.peer_kind + (" (%s)" % flow.device_family if flow.device_family else ""),
                    flow.provenance,
                    ", ".join(flow.facts),
                    flow.reference,
                )
            )
        internal = [flow for flow in matrix.flows if flow.expect == port_matrix.CLOSED]
        if internal:
            lines += [
                "",
                "Internal services, which must not answer from the network (never an allow rule for"
                " everyone; opened only to `biostar_trusted_sources`; `verify.yml` proves them closed):",
                "",
                "| host role | port | what | when | provenance | facts | reference |",
                "|---|---|---|---|---|---|---|",
            ]
            for flow in internal:
                lines.append(
                    "| %s | %s %s (`%s`) | %s | %s | %s | %s | %s |"
                    % (
                        flow.host_role,
                        flow.protocol.upper(),
                        matrix.ports[flow.port_name],
                        flow.port_name,
                        flow.purpose,
                        _conditions(matrix, flow),
                        flow.provenance,
                        ", ".join(flow.facts),
                        flow.reference,
                    )
                )
        if matrix.services:
            lines += [
                "",
                "Optional services (`biostar_services`, lookup option `services`), each off unless listed:",
                "",
            ]
            lines += ["- `%s`: %s" % (name, text) for name, text in matrix.services.items()]
        lines += ["", "Port override keys (`biostar_port_overrides`, lookup option `port_overrides`):", ""]
        lines += [
            "- `%s` (default %d): %s" % (name, matrix.ports[name], matrix.port_descriptions[name])
            for name in sorted(matrix.ports)
        ]
        lines.append("")
    return "\n".join(lines).rstrip("\n")


SECTIONS: Dict[str, Callable[[], str]] = {"PORT MATRIX": port_matrix_section}

# "What happens when things go wrong", from the committed reliability summary.
from reliability_section import render as reliability_section  # noqa: E402

SECTIONS["RELIABILITY"] = reliability_section

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
