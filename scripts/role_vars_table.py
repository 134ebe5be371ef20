"""Render the role's variables table for the README from roles/firewall/meta/argument_specs.yml.

argument_specs.yml is the single place the variables are documented; this keeps the
README's table (between `<!-- BEGIN ROLE VARS -->` and `<!-- END ROLE VARS -->`) a view
of it. scripts/readme_sections.py calls render(); run this file to print the table.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, Iterator, List, Tuple

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(REPO, "roles", "firewall", "meta", "argument_specs.yml")

# Ansible's documentation markup, as plain Markdown.
MARKUP = (
    (re.compile(r"\b(?:O|V|C|RV|E)\(([^)]*)\)"), r"`\1`"),
    (re.compile(r"\bI\(([^)]*)\)"), r"*\1*"),
    (re.compile(r"\b(?:M|P)\(([^)#]*)(?:#[^)]*)?\)"), r"`\1`"),
    (re.compile(r"\bU\(([^)]*)\)"), r"<\1>"),
    (re.compile(r"\bL\(([^,]*),([^)]*)\)"), r"[\1](\2)"),
)


def markdown(text: str) -> str:
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    return text.replace("|", "\\|").replace("\n", " ")


def describe(spec: Dict[str, Any]) -> str:
    description = spec.get("description", "")
    if isinstance(description, list):
        description = " ".join(description)
    return markdown(description.strip())


def type_text(spec: Dict[str, Any]) -> str:
    kind = spec.get("type", "str")
    if kind == "list" and spec.get("elements"):
        kind = "list of %s" % spec["elements"]
    return kind


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "`%s`" % str(value).lower()
    if isinstance(value, (list, dict)):
        return "`%s`" % json.dumps(value)
    return "`%s`" % value


def default_text(spec: Dict[str, Any]) -> str:
    if spec.get("required"):
        return "required"
    if "default" in spec and spec["default"] is not None:
        return value_text(spec["default"])
    return ""


def choices_text(spec: Dict[str, Any]) -> str:
    return ", ".join(value_text(choice) for choice in spec.get("choices", []))


def rows(options: Dict[str, Any], prefix: str = "") -> Iterator[Tuple[str, ...]]:
    for name, spec in options.items():
        label = prefix + name
        yield (
            "`%s`" % label,
            type_text(spec),
            default_text(spec),
            choices_text(spec),
            describe(spec),
        )
        if spec.get("options"):
            child_prefix = label + ("[]." if spec.get("type") == "list" else ".")
            yield from rows(spec["options"], child_prefix)


def render() -> str:
    with open(SPEC, encoding="utf-8") as handle:
        entry = yaml.safe_load(handle)["argument_specs"]["main"]
    lines: List[str] = [
        "Generated from `roles/firewall/meta/argument_specs.yml` (`make docs`); "
        "`ansible-doc -t role biostar.hardening.firewall` shows the same.",
        "",
        "| variable | type | default | choices | description |",
        "|---|---|---|---|---|",
    ]
    lines += ["| %s |" % " | ".join(row) for row in rows(entry["options"])]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())
