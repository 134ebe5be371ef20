"""The firewall-neutral rule model: validation, normalisation and the reconcile plan."""

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    OWNER_VALID,
    RULE_OPTIONS,
    Rule,
    RuleError,
    diff,
    parse_port,
    render,
    rule_from_dict,
    rules_from_dicts,
    validate_owner,
)


def rule(port, protocol="tcp", direction="inbound", peers=(), purpose=""):
    low, _sep, high = str(port).partition("-")
    return Rule(protocol, int(low), int(high or low), direction, tuple(peers), purpose)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, (1, 1)), (65535, (65535, 65535)), ("1480", (1480, 1480)), ("1000-2000", (1000, 2000)), ("7-7", (7, 7))],
)
def test_parse_port_accepts_ints_strings_and_ranges(value, expected):
    assert parse_port(value) == expected


@pytest.mark.parametrize("value", [0, 65536, -1, "0", "70000", "20-10", "a", "1-", "-1", "1-2-3", 1.5, None, True, []])
def test_parse_port_rejects_everything_else(value):
    with pytest.raises(RuleError, match="port"):
        parse_port(value)


def test_rule_from_dict_normalises_and_keeps_purpose_as_a_label():
    parsed = rule_from_dict(
        {"protocol": "TCP", "port": "1470", "peers": ["2001:db8::/32", "10.0.0.0/8", "10.0.0.0/8"], "purpose": "x"}
    )
    assert parsed == rule(1470, peers=("10.0.0.0/8", "2001:db8::/32"))
    assert parsed.purpose == "x"
    assert parsed.families() == ["ipv4", "ipv6"]
    assert parsed.peers_for("ipv6") == ("2001:db8::/32",)


def test_empty_peers_mean_both_families():
    assert rule(1).families() == ["ipv4", "ipv6"]
    assert rule(1, peers=("192.0.2.0/24",)).families() == ["ipv4"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"protocol": "icmp", "port": 1}, "rules[3].protocol"),
        ({"port": 1}, "rules[3].protocol"),
        ({"protocol": "tcp"}, "rules[3].port"),
        ({"protocol": "tcp", "port": 0}, "rules[3].port"),
        ({"protocol": "tcp", "port": 1, "direction": "both"}, "rules[3].direction"),
        ({"protocol": "tcp", "port": 1, "peers": ["300.0.0.0/8"]}, "rules[3].peers"),
        ("tcp/1", "rules[3]"),
    ],
)
def test_bad_rules_name_the_rule_and_the_field(data, field):
    with pytest.raises(RuleError) as error:
        rule_from_dict(data, "rules[3]")
    assert str(error.value).startswith(field)


def test_rules_from_dicts_collapses_duplicates_and_sorts():
    rules = rules_from_dicts(
        [
            {"protocol": "udp", "port": 51110},
            {"protocol": "tcp", "port": 1480, "direction": "outbound"},
            {"protocol": "tcp", "port": 1480, "purpose": "a"},
            {"protocol": "tcp", "port": 1480, "purpose": "b"},
        ]
    )
    assert rules == [rule(1480), rule(51110, "udp"), rule(1480, direction="outbound")]


def test_rules_from_dicts_reports_the_index():
    with pytest.raises(RuleError, match=r"^rules\[1\]\.port"):
        rules_from_dicts([{"protocol": "tcp", "port": 1}, {"protocol": "tcp", "port": 70000}])


# The modules declare rules as raw elements, so every check of an element is here.
KEYS = "protocol, port, direction, peers, purpose, provenance, reference"


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([8080], "rules[0]: invalid value 8080; valid values: a dict with the keys %s" % KEYS),
        ([{"protocol": "tcp", "port": 1}, "tcp/80"], "rules[1]: invalid value 'tcp/80'; valid values: a dict"),
        ([None], "rules[0]: invalid value None; valid values: a dict with the keys"),
        ([[{"protocol": "tcp", "port": 1}]], "rules[0]: invalid value [{'protocol': 'tcp', 'port': 1}]"),
        ([True], "rules[0]: invalid value True"),
        (
            [{"protocol": "tcp", "port": 80, "source": "10.0.0.0/8"}],
            "rules[0] key: invalid value 'source'; valid values: %s" % KEYS,
        ),
        ({"protocol": "tcp", "port": 80}, "rules: invalid value {'protocol': 'tcp', 'port': 80}; valid values: a list"),
        ("tcp/80", "rules: invalid value 'tcp/80'; valid values: a list of rules, each a dict"),
        (8080, "rules: invalid value 8080; valid values: a list"),
    ],
)
def test_rules_from_dicts_refuses_what_is_not_a_rule_dict(items, message):
    with pytest.raises(RuleError) as caught:
        rules_from_dicts(items)
    assert str(caught.value).startswith(message)


def test_the_keys_in_messages_are_the_rule_options():
    assert list(RULE_OPTIONS) == KEYS.split(", ")


def test_module_rules_treat_none_as_unset_and_split_a_peers_string():
    rules = rules_from_dicts(
        [
            {"protocol": "tcp", "port": 1480, "direction": None, "peers": None, "purpose": None},
            {"protocol": "udp", "port": 51110, "peers": "10.0.0.0/8, 2001:db8::/32"},
        ]
    )
    assert rules == [rule(1480), rule(51110, "udp", peers=("10.0.0.0/8", "2001:db8::/32"))]


def test_diff_adds_removes_and_keeps():
    plan = diff([rule(1470), rule(1471), rule(1480)], [rule(1480), rule(51110, "udp")])
    assert plan.add == (rule(51110, "udp"),)
    assert plan.remove == (rule(1470), rule(1471))
    assert plan.keep == (rule(1480),)
    assert plan.changed
    assert plan.result == [rule(1480), rule(51110, "udp")]


def test_diff_of_equal_sets_is_no_change_even_if_purposes_differ():
    plan = diff([rule(1480, purpose="old")], [rule(1480, purpose="new")])
    assert not plan.changed


def test_peers_are_part_of_a_rule_identity():
    plan = diff([rule(1480, peers=("10.0.0.0/8",))], [rule(1480)])
    assert plan.add == (rule(1480),)
    assert plan.remove == (rule(1480, peers=("10.0.0.0/8",)),)


def test_render_is_one_readable_line_per_rule():
    text = render([rule("8000-8010", peers=("10.0.0.0/8",)), rule(1480, direction="outbound")])
    assert text == "inbound tcp/8000-8010 from 10.0.0.0/8\noutbound tcp/1480 to any\n"


def test_to_dict_has_the_lookup_shape():
    assert rule("1-2", peers=("10.0.0.0/8",), purpose="p").to_dict() == {
        "protocol": "tcp",
        "port": "1-2",
        "direction": "inbound",
        "peers": ["10.0.0.0/8"],
        "purpose": "p",
    }


@pytest.mark.parametrize("owner", ["biostar-hardening", "site-extra2", "a", "x" * 20])
def test_owner_pattern_accepts_plain_names(owner):
    assert validate_owner(owner) == owner


@pytest.mark.parametrize(
    "owner",
    ["", "has space", 'quote"', "-leading-dash", "x" * 21, "site.extra:2", "a_b", "A-B", "1st", None, 7],
)
def test_owner_pattern_refuses_what_would_not_map_one_to_one_onto_chain_and_service_names(owner):
    # a_b and a-b would share nftables' a_b chain; A-B and a-b iptables' A-B-INPUT; a longer
    # owner would be cut to iptables' 28-character chain names.
    with pytest.raises(RuleError) as caught:
        validate_owner(owner)
    assert str(caught.value) == "owner: invalid value %r; valid values: %s" % (owner, OWNER_VALID)
