"""Bad values are shown readably, and a firewalld zone is checked with every backend."""

from __future__ import annotations

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    RuleError,
    invalid,
    rule_from_dict,
    validate_owner,
    validate_zone,
)


def test_a_short_value_is_shown_whole():
    assert str(invalid("port", 70000, "1-65535")) == "port: invalid value 70000; valid values: 1-65535"


def test_a_huge_value_is_cut_and_its_length_given():
    message = str(invalid("owner", "x" * 5000, "1-40 letters"))
    assert message.startswith("owner: invalid value 'xxxxxxxx")
    assert "... (5002 characters); valid values: 1-40 letters" in message
    assert len(message) < 150


def test_huge_owner_and_port_messages_stay_short():
    with pytest.raises(RuleError) as caught:
        validate_owner("owner" * 2000)
    assert len(str(caught.value)) < 200
    with pytest.raises(RuleError) as caught:
        rule_from_dict({"protocol": "tcp", "port": "9" * 400})
    assert "rules[0].port: invalid value '999" in str(caught.value)
    assert "(402 characters)" in str(caught.value)


@pytest.mark.parametrize("zone", ["public", "internal", "biostar_dmz", "a-b", "z" * 17])
def test_zone_names_firewalld_accepts(zone):
    assert validate_zone(zone) == zone


@pytest.mark.parametrize("zone", ["", "public; drop", "pub lic", "z" * 18, "a/b", None, 5])
def test_zone_names_refused_with_the_valid_form(zone):
    with pytest.raises(RuleError) as caught:
        validate_zone(zone)
    message = str(caught.value)
    assert message.startswith("zone: invalid value ")
    assert "valid values: 1-17 letters, digits, '_' or '-'" in message
