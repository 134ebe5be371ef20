"""Static checks of win_firewall_ports.ps1, which cannot run here (no PowerShell).

The .ps1 is parsed with tree-sitter-powershell: it must parse without a single ERROR or
MISSING node, call the NetSecurity cmdlets the way the module contract says, and declare
the argument spec that win_firewall_ports.py documents (as ansible-doc renders it, doc
fragments included) and that the action plugin validates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import tree_sitter_powershell
import yaml
from tree_sitter import Language, Node, Parser

from ansible_collections.biostar.hardening.plugins.doc_fragments import port_rules
from ansible_collections.biostar.hardening.plugins.module_utils import windows_rules

REPO = Path(__file__).resolve().parents[4]
PS1 = REPO / "plugins" / "modules" / "win_firewall_ports.ps1"
MODULE = "biostar.hardening.win_firewall_ports"
PARSER = Parser(Language(tree_sitter_powershell.language()))


def parse(source: bytes) -> Node:
    return PARSER.parse(source).root_node


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def broken_nodes(root: Node) -> List[str]:
    return [
        "%s at line %d: %r" % ("MISSING" if node.is_missing else "ERROR", node.start_point[0] + 1, node.text[:60])
        for node in walk(root)
        if node.type == "ERROR" or node.is_missing
    ]


@pytest.fixture(scope="module")
def source() -> bytes:
    return PS1.read_bytes()


@pytest.fixture(scope="module")
def tree(source) -> Node:
    return parse(source)


# --- syntax -------------------------------------------------------------------------


def test_ps1_parses_without_errors(tree):
    assert tree.type == "program"
    assert broken_nodes(tree) == []
    assert not tree.has_error


@pytest.mark.parametrize(
    "old, new",
    [
        ("if ($null -eq $desired) {", "if ($null -eq $desired {"),
        ("$module.ExitJson()", "$module.ExitJson("),
        ("default = 'biostar-hardening' }", "default = 'biostar-hardening }"),
        (
            "    return $false\n}\n\nFunction Test-AllowsManagementPort",
            "    return $false\n\nFunction Test-AllowsManagementPort",
        ),
    ],
)
def test_the_syntax_check_catches_broken_copies(source, old, new):
    """The parser is strict enough to be a check: each small breakage is reported."""
    text = source.decode()
    assert text.count(old) == 1
    assert broken_nodes(parse(text.replace(old, new).encode())) != []


def test_header_lines(source):
    lines = source.decode().splitlines()
    assert lines[0] == "#!powershell"
    assert "#AnsibleRequires -CSharpUtil Ansible.Basic" in lines
    assert "GNU General Public License v3.0+" in source.decode()


# --- cmdlets ------------------------------------------------------------------------


def commands(tree: Node) -> List[Tuple[str, List[Tuple[str, Optional[str]]]]]:
    """(command name, [(parameter, the element after it)]) for every command call."""
    found = []
    for node in walk(tree):
        if node.type != "command":
            continue
        name_node = node.child_by_field_name("command_name") or next(
            (child for child in node.children if child.type == "command_name"), None
        )
        if name_node is None:
            continue
        elements = next((child for child in node.children if child.type == "command_elements"), None)
        items = [c for c in (elements.children if elements else []) if c.type not in ("command_argument_sep", ":")]
        parameters = []
        for index, item in enumerate(items):
            if item.type == "command_parameter":
                following = items[index + 1] if index + 1 < len(items) else None
                value = following.text.decode() if following is not None else None
                if following is not None and following.type == "command_parameter":
                    value = None
                parameters.append((item.text.decode(), value))
            elif item.type == "variable" and item.text.startswith(b"@"):
                parameters.append(("@splat", item.text.decode()))
        found.append((name_node.text.decode(), parameters))
    return found


def calls_of(tree: Node, name: str) -> List[Dict[str, Optional[str]]]:
    return [dict(parameters) for command, parameters in commands(tree) if command == name]


def test_uses_the_netsecurity_cmdlets(tree):
    used = {name for name, _args in commands(tree)}
    assert {
        "Get-NetFirewallRule",
        "Get-NetFirewallPortFilter",
        "Get-NetFirewallAddressFilter",
        "Get-NetFirewallProfile",
        "New-NetFirewallRule",
        "Set-NetFirewallRule",
        "Remove-NetFirewallRule",
    } <= used


def test_reads_the_group_from_the_persistent_store(tree):
    reads = [call for call in calls_of(tree, "Get-NetFirewallRule") if "-Group" in call]
    assert reads, "no Get-NetFirewallRule -Group"
    for call in reads:
        assert call["-PolicyStore"] == "PersistentStore"


@pytest.mark.parametrize("cmdlet", ["New-NetFirewallRule", "Set-NetFirewallRule", "Remove-NetFirewallRule"])
def test_every_write_is_by_name_in_the_persistent_store_and_honours_check_mode(tree, cmdlet):
    calls = calls_of(tree, cmdlet)
    assert calls, cmdlet
    for call in calls:
        assert call["-PolicyStore"] == "PersistentStore"
        assert call["-WhatIf"] == "$check"
        assert call["-ErrorAction"] == "Stop"
        # Writes address single rules by name, never a whole group, display group or store.
        assert "-Name" in call
        assert not {"-DisplayGroup", "-DisplayName", "-All", "-InputObject"} & set(call)
        if cmdlet == "New-NetFirewallRule":
            assert call["-Group"] == "$group"
        else:
            assert "-Group" not in call


def test_removal_never_prompts(tree):
    for call in calls_of(tree, "Remove-NetFirewallRule"):
        assert call["-Confirm"] == "$false"


def test_check_mode_flag_comes_from_the_module(source):
    assert "$check = $module.CheckMode" in source.decode()


def test_reads_exactly_the_properties_the_controller_prepares(tree):
    """Get-OwnedRule's 'properties' keys are the keys of windows_rules records."""
    function = next(
        node
        for node in walk(tree)
        if node.type == "function_statement"
        and any(child.type == "function_name" and child.text == b"Get-OwnedRule" for child in node.children)
    )
    entry = next(node for node in walk(function) if node.type == "hash_entry" and hash_key(node) == "properties")
    table = next(node for node in walk(entry) if node.type == "hash_literal_expression")
    keys = [hash_key(item) for item in direct_entries(table)]
    assert sorted(keys) == sorted(windows_rules.PROPERTIES)


# --- argument spec ------------------------------------------------------------------


class NotALiteral(Exception):
    pass


def hash_key(entry: Node) -> str:
    key = entry.children[0]
    while key.type != "simple_name" and key.type != "string_literal" and key.named_child_count == 1:
        key = key.named_children[0]
    return key.text.decode() if key.type == "simple_name" else literal(key)


def direct_entries(table: Node) -> List[Node]:
    body = next((child for child in table.children if child.type == "hash_literal_body"), None)
    return [child for child in (body.children if body else []) if child.type == "hash_entry"]


def literal(node: Node) -> Any:
    """Evaluate a PowerShell literal (hashtable, array, string, number, $true/$false/$null)."""
    kind = node.type
    named = node.named_children
    if kind == "hash_literal_expression":
        result = {}
        for entry in direct_entries(node):
            value = next(child for child in entry.named_children[1:] if child.type != "comment")
            result[hash_key(entry)] = literal(value)
        return result
    if kind == "array_expression":
        items: List[Any] = []
        for statement in named:
            for pipeline in statement.named_children if statement.type == "statement_list" else [statement]:
                value = literal(pipeline)
                items.extend(value if isinstance(value, list) else [value])
        return items
    if kind == "array_literal_expression" and len(named) > 1:
        return [literal(child) for child in named]
    if kind in ("string_literal", "verbatim_string_characters", "expandable_string_literal"):
        if kind == "string_literal":
            return literal(named[0])
        text = node.text.decode()
        if kind == "expandable_string_literal" and "$" in text:
            raise NotALiteral(text)
        return text[1:-1]
    if kind == "decimal_integer_literal":
        return int(node.text)
    if kind == "variable":
        values = {"$true": True, "$false": False, "$null": None}
        if node.text.decode().lower() not in values:
            raise NotALiteral(node.text.decode())
        return values[node.text.decode().lower()]
    if len(named) == 1:
        return literal(named[0])
    raise NotALiteral("%s: %s" % (kind, node.text.decode()[:60]))


def ps1_spec(tree: Node) -> Dict[str, Any]:
    for node in walk(tree):
        if node.type == "assignment_expression" and node.children[0].text == b"$spec":
            return literal(node.children[2])
    raise AssertionError("no $spec = @{...} in the .ps1")


def test_spec_literal_reader_understands_the_forms_used():
    root = parse(
        b"$spec = @{ a = @{ type = 'list'; default = @('x', \"y\"); n = 3; b = $true; e = @() }; c = 'x', 'y' }"
    )
    assert ps1_spec(root) == {"a": {"type": "list", "default": ["x", "y"], "n": 3, "b": True, "e": []}, "c": ["x", "y"]}


def normalise(options: Dict[str, Any]) -> Dict[str, Any]:
    """name -> (type, elements, default, choices, required, suboptions), the compared fields."""
    result = {}
    for name, option in options.items():
        nested = option.get("options") or option.get("suboptions")
        default = option.get("default")
        result[name] = {
            "type": option.get("type", "str"),
            "elements": option.get("elements"),
            "default": list(default) if isinstance(default, (list, tuple)) else default,
            "choices": list(option["choices"]) if option.get("choices") else None,
            "required": bool(option.get("required", False)),
            "suboptions": normalise(nested) if nested else None,
        }
    return result


def disagreements(left: Dict[str, Any], right: Dict[str, Any], path: str = "") -> List[str]:
    """Every option or field where two option trees differ, named by its path."""
    problems = []
    for name in sorted(set(left) | set(right)):
        where = path + name
        if name not in left or name not in right:
            problems.append("%s: only in %s" % (where, "the first" if name in left else "the second"))
            continue
        for field in ("type", "elements", "default", "choices", "required"):
            if left[name][field] != right[name][field]:
                problems.append("%s.%s: %r != %r" % (where, field, left[name][field], right[name][field]))
        if left[name]["suboptions"] or right[name]["suboptions"]:
            problems += disagreements(left[name]["suboptions"] or {}, right[name]["suboptions"] or {}, where + "[].")
    return problems


@pytest.fixture(scope="module")
def documented(collections_path: str) -> Dict[str, Any]:
    """The module's documentation as ansible-doc renders it (doc fragments expanded)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR="1")
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    run = subprocess.run(
        [ansible_doc, "-t", "module", "--json", MODULE],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)[MODULE]


def test_ansible_doc_renders_the_fragment_options(documented):
    doc = documented["doc"]
    assert doc["module"] == "win_firewall_ports"
    assert doc["has_action"] is True
    # rules and state come from the shared port_rules fragment, unchanged.
    fragment = yaml.safe_load(port_rules.ModuleDocFragment.DOCUMENTATION)["options"]
    for name in ("rules", "state"):
        assert doc["options"][name]["description"] == fragment[name]["description"]
    assert set(doc["options"]) == {"rules", "state", "group", "profiles", "management_ports", "desired"}
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert doc["attributes"]["diff_mode"]["support"] == "full"
    assert doc["attributes"]["platform"]["platforms"] == "windows"
    assert documented["examples"].strip()
    returned = set(documented["return"])
    assert {"backend", "filtering", "added", "removed", "rules", "persisted"} <= returned


def test_ps1_spec_agrees_with_the_documentation(tree, documented):
    assert disagreements(normalise(ps1_spec(tree)["options"]), normalise(documented["doc"]["options"])) == []


def test_ps1_spec_agrees_with_the_action_plugin_spec(tree):
    spec = normalise(ps1_spec(tree)["options"])
    internal = {name: spec.pop(name) for name in windows_rules.INTERNAL_OPTIONS}
    assert disagreements(spec, normalise(windows_rules.ARGUMENT_SPEC)) == []
    assert internal == {"desired": {**internal["desired"], "type": "list", "elements": "dict", "default": None}}


def test_ps1_spec_supports_check_mode(tree):
    assert ps1_spec(tree)["supports_check_mode"] is True


def test_agreement_check_reports_each_kind_of_drift(tree):
    """The comparison is not vacuous: every field it compares is caught when it drifts."""
    spec = normalise(ps1_spec(tree)["options"])
    drifts = {
        "default": ("group", "default", "other"),
        "choices": ("profiles", "choices", ["Domain"]),
        "type": ("management_ports", "type", "str"),
        "elements": ("management_ports", "elements", "str"),
        "required": ("state", "required", True),
    }
    for field, (option, key, value) in drifts.items():
        changed = json.loads(json.dumps(spec))
        changed[option][key] = value
        assert disagreements(spec, changed) == ["%s.%s: %r != %r" % (option, field, spec[option][key], value)]
    changed = json.loads(json.dumps(spec))
    changed["rules"]["suboptions"]["port"]["type"] = "int"
    assert disagreements(spec, changed) == ["rules[].port.type: 'raw' != 'int'"]
    changed = json.loads(json.dumps(spec))
    del changed["desired"]
    assert disagreements(spec, changed) == ["desired: only in the first"]
