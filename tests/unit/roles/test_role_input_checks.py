"""The role's controller-side owner check is the module's owner check, word for word.

roles/firewall/tasks/linux.yml refuses a bad biostar_firewall_owner before the module
runs, so the message names the role variable. It cannot import owned_rules, so this
test keeps its pattern and its text equal to OWNER_PATTERN and OWNER_VALID, and proves
the pattern accepts and refuses the same owners.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import OWNER_PATTERN, OWNER_VALID

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def owner_check():
    """The owner check of the role's one input-check task: (its condition, its message)."""
    with open(os.path.join(REPO, "roles", "firewall", "tasks", "linux.yml"), encoding="utf-8") as handle:
        tasks = yaml.safe_load(handle)[0]["block"]
    task = next(t for t in tasks if "ansible.builtin.fail" in t)
    return task["vars"]["_biostar_input_errors"], task["vars"]["_biostar_bad_owner"]


def test_role_pattern_is_the_module_pattern():
    condition, message = owner_check()
    found = re.search(r"match\('([^']*)'\)", condition)
    assert found, condition
    assert found.group(1) == OWNER_PATTERN.pattern
    assert OWNER_VALID in " ".join(message.split())


@pytest.mark.parametrize(
    "owner,ok",
    [
        ("biostar-hardening", True),
        ("a", True),
        ("a" * 20, True),
        ("a" * 21, False),
        ("-x", False),
        ("a/b", False),
        ("a_b", False),
        ("A-B", False),
    ],
)
def test_role_pattern_decides_like_the_module(owner, ok):
    pattern = re.search(r"match\('([^']*)'\)", owner_check()[0]).group(1)
    assert bool(re.match(pattern, owner)) is ok
    assert bool(OWNER_PATTERN.match(owner)) is ok
