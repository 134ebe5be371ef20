"""FirewalldBackend, replayed against command output captured from a real firewalld container.

Fixtures: tests/unit/fixtures/firewalld/*.jsonl, made by tests/unit/fixtures/firewalld/capture.sh
on a host running firewalld 1.3 (Debian 12) with a foreign port 2222/tcp in the public zone
and a foreign policy ``userout``; the offline-* runs had the daemon stopped.
"""

import copy
import os
import re

import pytest
from recorded_runner import FIXTURES, ReplayRunner, drive, load_session, programs, recorded_outcome, session_names

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    BackendError,
    BackendOptions,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.firewalld import (
    FirewalldBackend,
    Layer,
    owned_entries,
    parse_list_all,
    parse_service_name,
    referenced_services,
    rich_rule,
    service_name,
)
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import Rule, diff, rules_from_dicts

OWNER = "biostar-hardening"
READS = ("--state", "--list-all", "--get-services", "--list-all-zones", "--list-all-policies")
DEFAULT_PROGRAMS = {"firewall-cmd": "/usr/bin/firewall-cmd", "firewall-offline-cmd": "/usr/bin/firewall-offline-cmd"}


def replay(name, calls=None, session=None):
    session = session or load_session("firewalld", name)
    if calls is not None:
        session["calls"] = calls
    runner = ReplayRunner(session["calls"], programs(session["calls"], DEFAULT_PROGRAMS))
    return session, runner, drive(FirewalldBackend, runner, session)


def writes(commands):
    """Commands that change something: everything that is not one of the reads."""
    return [c for c in commands if not any(arg in READS for arg in c)]


def options_of(commands):
    """The words after the program (and after --permanent), one string per command."""
    result = []
    for command in writes(commands):
        words = [w for w in command[1:] if w != "--permanent"]
        result.append(" ".join(re.sub(r"from-file=\S*/", "from-file=<tmp>/", w) for w in words))
    return result


def rule(port, protocol="tcp", direction="inbound", peers=(), purpose=""):
    low, _sep, high = str(port).partition("-")
    return Rule(protocol, int(low), int(high or low), direction, tuple(peers), purpose)


# Every recorded run, replayed: same commands in the same order, same outcome.


@pytest.mark.parametrize("name", session_names("firewalld"))
def test_recorded_run_replays_exactly(name):
    session, runner, outcome = replay(name)
    assert outcome == recorded_outcome(session)
    assert runner.finished, "the backend stopped before the recorded run did"


def test_no_run_touches_foreign_entries_zone_ports_or_global_settings():
    forbidden = ("--complete-reload", "--set-default-zone", "--runtime-to-permanent", "--panic-on", "--set-target")
    for name in session_names("firewalld"):
        _session, runner, _outcome = replay(name)
        for command in writes(runner.commands):
            text = " ".join(command)
            assert "2222" not in text and "userout" not in text, command
            assert "-port=" not in text, command
            assert not any(word in text for word in forbidden), command
            names = re.findall(r"(?:service|policy)(?:-from-zone|-from-policy)?=(\S+)|name=\"?([\w-]+)", text)
            assert all((a or b).startswith(OWNER) for a, b in names if (a or b)), command


# detect


def test_detect_running_and_offline_from_captured_state():
    assert replay("detect-running")[2] == {
        "name": "firewalld",
        "available": True,
        "active": True,
        "detail": "firewalld is running",
    }
    offline = replay("detect-offline")[2]
    assert (offline["available"], offline["active"]) == (True, False)
    assert "firewall-offline-cmd" in offline["detail"]


def test_detect_without_firewalld():
    detection = FirewalldBackend.detect(ReplayRunner([], {}))
    assert (detection.available, detection.active) == (False, False)
    assert "not installed" in detection.detail


def test_detect_stopped_daemon_without_offline_tool_is_unusable():
    session = load_session("firewalld", "detect-offline")
    detection = FirewalldBackend.detect(ReplayRunner(session["calls"], {"firewall-cmd": "/usr/bin/firewall-cmd"}))
    assert (detection.available, detection.active) == (False, False)
    assert "firewall-offline-cmd is not installed" in detection.detail


# reading


def test_list_all_output_parses_services_and_rich_rules():
    session = load_session("firewalld", "mixed-again")
    zone = parse_list_all(session["calls"][2]["stdout"])
    assert [listing.name for listing in zone] == ["public"]
    assert zone[0].services == [
        "biostar-hardening-tcp6000_6010",
        "biostar-hardening-udp51110",
        "dhcpv6-client",
        "ssh",
    ]
    # firewalld lists rich rules in no fixed order.
    assert sorted(zone[0].rich_rules) == [
        'rule family="ipv4" source address="10.88.0.0/16" service name="biostar-hardening-tcp1480-c4aba9f7" accept',
        'rule family="ipv4" source address="10.99.0.0/16" service name="biostar-hardening-tcp1480-0f4c360c" accept',
        'rule family="ipv6" source address="2001:db8::/64" service name="biostar-hardening-tcp1480-c4aba9f7" accept',
    ]


def test_list_all_zones_output_gives_every_reference():
    session = load_session("firewalld", "shared-absent")
    zones = next(c["stdout"] for c in session["calls"] if "--list-all-zones" in c["args"])
    listings = parse_list_all(zones)
    assert {"public", "internal", "drop", "trusted"} <= {listing.name for listing in listings}
    assert "biostar-hardening-tcp1480" in referenced_services(
        [listing for listing in listings if listing.name == "internal"]
    )


def test_read_owned_rebuilds_rules_from_services_rich_rules_and_the_policy():
    _session, _runner, outcome = replay("mixed-again")
    assert outcome["changed"] is False
    assert outcome["before"] == [
        {"protocol": "tcp", "port": 1480, "direction": "inbound", "peers": ["10.88.0.0/16", "2001:db8::/64"]},
        {"protocol": "tcp", "port": 1480, "direction": "inbound", "peers": ["10.99.0.0/16"]},
        {"protocol": "tcp", "port": "6000-6010", "direction": "inbound", "peers": []},
        {"protocol": "udp", "port": 51110, "direction": "inbound", "peers": []},
        {"protocol": "tcp", "port": 1470, "direction": "outbound", "peers": ["10.88.0.0/16"]},
        {"protocol": "tcp", "port": 1480, "direction": "outbound", "peers": []},
    ]


def test_a_rule_counts_only_when_runtime_and_permanent_both_have_it():
    session = load_session("firewalld", "server-again")
    calls = copy.deepcopy(session["calls"])
    runtime = calls[2]
    assert runtime["args"][1:] == ["--list-all"]
    runtime["stdout"] = runtime["stdout"].replace("biostar-hardening-tcp1471 ", "")
    backend = FirewalldBackend(ReplayRunner(calls[1:], programs(calls, DEFAULT_PROGRAMS)), BackendOptions())
    assert [r.port for r in backend.read_owned()] == [1470, 1480, 51110]


def test_only_owned_names_and_the_owned_rich_rule_form_are_read_as_owned():
    listing = parse_list_all(
        "public\n  services: ssh biostar-hardening-tcp1470 biostar-hardening-other biostar-hardening-tcp70000\n"
        "  rich rules: \n"
        '\trule family="ipv4" source address="10.0.0.0/8" service name="ssh" accept\n'
        '\trule family="ipv4" source address="10.0.0.0/8" service name="biostar-hardening-tcp1480-aaaaaaaa"'
        " log accept\n"
        '\trule family="ipv4" source address="10.0.0.5" service name="biostar-hardening-tcp1480-bbbbbbbb" accept\n'
        '\trule family="ipv6" source address="2001:0db8::/64" service name="biostar-hardening-tcp1480-bbbbbbbb"'
        " accept\n"
    )[0]
    layer = Layer()
    foreign = owned_entries(OWNER, listing, "inbound", layer)
    assert layer.services["inbound"] == {"biostar-hardening-tcp1470"}
    # The spelling firewalld keeps is what a later removal must name.
    assert layer.rich == {
        ("inbound", "biostar-hardening-tcp1480-bbbbbbbb", "10.0.0.5/32"): listing.rich_rules[2],
        ("inbound", "biostar-hardening-tcp1480-bbbbbbbb", "2001:db8::/64"): listing.rich_rules[3],
    }
    assert foreign == 5
    assert layer.rules(OWNER) == [
        rule(1470),
        rule(1480, peers=("10.0.0.5/32", "2001:db8::/64")),
    ]


def test_service_names_carry_port_protocol_and_peers():
    assert service_name(OWNER, rule(1470)) == "biostar-hardening-tcp1470"
    assert service_name(OWNER, rule("6000-6010", "udp")) == "biostar-hardening-udp6000_6010"
    peered = service_name(OWNER, rule(1480, peers=("10.0.0.0/24",)))
    assert re.match(r"^biostar-hardening-tcp1480-[0-9a-f]{8}$", peered)
    assert peered != service_name(OWNER, rule(1480, peers=("10.0.1.0/24",)))
    assert parse_service_name(OWNER, peered) == ("tcp", 1480, 1480)
    assert parse_service_name(OWNER, "biostar-hardening-udp6000_6010") == ("udp", 6000, 6010)
    assert parse_service_name(OWNER, "biostar-hardening-tcp0") is None
    assert parse_service_name(OWNER, "biostar-hardening-x-tcp1470") is None
    assert parse_service_name(OWNER, "ssh") is None
    assert rich_rule("outbound", peered, "10.0.0.0/24") == (
        'rule family="ipv4" destination address="10.0.0.0/24" service name="%s" accept' % peered
    )


# writing


def test_server_set_defines_owned_services_adds_them_and_reloads_once():
    _session, runner, outcome = replay("server")
    assert options_of(runner.commands) == [
        "--new-service-from-file=<tmp>/biostar-hardening-tcp1470.xml --name=biostar-hardening-tcp1470",
        "--new-service-from-file=<tmp>/biostar-hardening-tcp1471.xml --name=biostar-hardening-tcp1471",
        "--new-service-from-file=<tmp>/biostar-hardening-tcp1480.xml --name=biostar-hardening-tcp1480",
        "--new-service-from-file=<tmp>/biostar-hardening-udp51110.xml --name=biostar-hardening-udp51110",
        "--zone=public --add-service=biostar-hardening-tcp1470 --add-service=biostar-hardening-tcp1471"
        " --add-service=biostar-hardening-tcp1480 --add-service=biostar-hardening-udp51110",
        "--reload",
    ]
    assert all("--permanent" in c for c in writes(runner.commands)[:-1])
    xml = runner.files["biostar-hardening-udp51110.xml"]
    assert '<port protocol="udp" port="51110"/>' in xml
    assert "Owned by biostar-hardening" in xml and "BioStar device search" in xml
    assert outcome["persisted"][-1] == "/etc/firewalld/zones/public.xml"


def test_second_identical_run_writes_nothing():
    _session, runner, outcome = replay("server-again")
    assert (outcome["changed"], writes(runner.commands), outcome["persisted"]) == (False, [], [])


def test_apply_of_an_unchanged_set_writes_nothing():
    session = load_session("firewalld", "server-again")
    runner = ReplayRunner(session["calls"][1:], programs(session["calls"], DEFAULT_PROGRAMS))
    backend = FirewalldBackend(runner, BackendOptions())
    current = backend.read_owned()
    backend.apply(diff(current, current))
    assert runner.finished and writes(runner.commands) == [] and backend.persist() == []


def test_direct_set_removes_without_reload_and_deletes_unused_definitions():
    _session, runner, _outcome = replay("direct")
    removal = (
        "--zone=public --remove-service=biostar-hardening-tcp1470 --remove-service=biostar-hardening-tcp1471"
        " --remove-service=biostar-hardening-udp51110"
    )
    assert options_of(runner.commands) == [
        removal,
        "--delete-service=biostar-hardening-tcp1470",
        "--delete-service=biostar-hardening-tcp1471",
        "--delete-service=biostar-hardening-udp51110",
        removal,
    ]
    permanent = [("--permanent" in c) for c in writes(runner.commands)]
    assert permanent == [True, True, True, True, False]


def test_adding_back_what_the_runtime_still_knows_needs_no_reload():
    _session, runner, _outcome = replay("server-readd")
    assert "--reload" not in options_of(runner.commands)
    runtime = [c for c in writes(runner.commands) if "--permanent" not in c]
    assert [c[1:] for c in runtime] == [
        [
            "--zone=public",
            "--add-service=biostar-hardening-tcp1470",
            "--add-service=biostar-hardening-tcp1471",
            "--add-service=biostar-hardening-udp51110",
        ]
    ]


def test_absent_removes_every_owned_entry_and_definition():
    _session, runner, outcome = replay("absent")
    assert outcome["changed"] is True
    assert [o.split("=")[0] for o in options_of(runner.commands)] == [
        "--zone",
        "--delete-service",
        "--delete-service",
        "--delete-service",
        "--delete-service",
        "--zone",
    ]
    _session, runner, outcome = replay("absent-again")
    assert (outcome["changed"], writes(runner.commands)) == (False, [])


def test_peers_become_rich_rules_and_outbound_rules_an_owned_policy():
    _session, runner, _outcome = replay("mixed")
    commands = options_of(runner.commands)
    assert "--new-policy-from-file=<tmp>/biostar-hardening.xml --name=biostar-hardening" in commands
    policy = runner.files["biostar-hardening.xml"]
    for part in ('target="CONTINUE"', 'priority="-100"', '<ingress-zone name="HOST"/>', '<egress-zone name="ANY"/>'):
        assert part in policy
    assert (
        "--zone=public"
        ' --add-rich-rule=rule family="ipv4" source address="10.99.0.0/16"'
        ' service name="biostar-hardening-tcp1480-0f4c360c" accept'
        ' --add-rich-rule=rule family="ipv4" source address="10.88.0.0/16"'
        ' service name="biostar-hardening-tcp1480-c4aba9f7" accept'
        ' --add-rich-rule=rule family="ipv6" source address="2001:db8::/64"'
        ' service name="biostar-hardening-tcp1480-c4aba9f7" accept'
    ) in commands
    assert "--policy=biostar-hardening --add-service=biostar-hardening-tcp1480" in commands
    assert (
        '--policy=biostar-hardening --add-rich-rule=rule family="ipv4" destination address="10.88.0.0/16"'
        ' service name="biostar-hardening-tcp1470-a1043a3b" accept'
    ) in commands
    assert '<port protocol="tcp" port="6000-6010"/>' in runner.files["biostar-hardening-tcp6000_6010.xml"]
    assert commands[-1] == "--reload"


def test_leaving_outbound_rules_out_removes_the_owned_policy():
    _session, runner, _outcome = replay("mixed-to-direct")
    commands = options_of(runner.commands)
    assert "--delete-policy=biostar-hardening" in commands
    assert "--reload" not in commands


def test_zone_option_is_used_for_every_zone_command():
    _session, runner, _outcome = replay("internal-server")
    zone_commands = [c for c in runner.commands if any(w.startswith("--zone=") for w in c)]
    assert zone_commands and all("--zone=internal" in c for c in zone_commands)
    assert not any(c[1:] == ["--list-all"] for c in runner.commands)


def test_a_definition_another_zone_uses_is_kept():
    _session, runner, _outcome = replay("shared-absent")
    assert options_of(runner.commands) == [
        "--zone=public --remove-service=biostar-hardening-tcp1480",
        "--zone=public --remove-service=biostar-hardening-tcp1480",
    ]


def test_a_failed_step_puts_the_previous_owned_entries_back():
    _session, runner, outcome = replay("fail-restore")
    assert outcome["stderr"] == "Error: INVALID_RULE: simulated failure"
    commands = options_of(runner.commands)
    failed = next(i for i, c in enumerate(commands) if "destination" in c and "--add-rich-rule" in c)
    undo = commands[failed + 1 :]
    assert undo[0].startswith("--zone=public --remove-rich-rule=")
    assert undo[1] == (
        "--zone=public --remove-service=biostar-hardening-tcp6000_6010 --remove-service=biostar-hardening-udp51110"
    )
    assert undo[2] == "--policy=biostar-hardening --remove-service=biostar-hardening-tcp1480"
    created = [c.split("--name=")[1] for c in commands[:failed] if "--new-service-from-file" in c]
    assert undo[3:-1] == ["--delete-service=%s" % name for name in created]
    assert undo[-1] == "--delete-policy=biostar-hardening"
    assert "biostar-hardening-tcp1480" not in created
    assert not any("--permanent" not in c for c in writes(runner.commands))


def test_a_restore_that_fails_too_is_reported_with_both_errors():
    session = load_session("firewalld", "fail-restore")
    calls = copy.deepcopy(session["calls"])
    delete = next(c for c in calls if "--delete-service=biostar-hardening-tcp6000_6010" in c["args"])
    delete.update(rc=101, stdout="", stderr="Error: INVALID_SERVICE: simulated")
    _session, runner, outcome = replay("fail-restore", calls)
    assert runner.finished
    assert "restoring the previous owned rules also failed" in outcome["failed"]
    assert "delete service biostar-hardening-tcp6000_6010: Error: INVALID_SERVICE: simulated" in outcome["failed"]


def test_offline_runs_write_the_permanent_configuration_with_the_offline_tool():
    for name in ("offline-mixed", "offline-direct"):
        _session, runner, outcome = replay(name)
        assert "failed" not in outcome
        for command in writes(runner.commands):
            assert command[0] == "/usr/bin/firewall-offline-cmd" and "--permanent" not in command
            assert "--reload" not in command
    commands = options_of(replay("offline-direct")[1].commands)
    assert any("--remove-service-from-zone=biostar-hardening-udp51110" in c for c in commands)
    assert "--policy=biostar-hardening --remove-service-from-policy=biostar-hardening-tcp1480" in commands
    with open(os.path.join(FIXTURES, "firewalld", "list-all-after-offline-direct.txt")) as handle:
        assert "services: biostar-hardening-tcp1480 dhcpv6-client ssh" in handle.read()


def test_a_warning_in_a_list_is_a_failure_but_already_enabled_is_not():
    session = load_session("firewalld", "direct")
    calls = copy.deepcopy(session["calls"][1:5])
    calls.append(
        {
            "args": [
                "/usr/bin/firewall-cmd",
                "--permanent",
                "--zone=public",
                "--add-service=biostar-hardening-tcp1480",
            ],
            "rc": 0,
            "stdout": "success\n",
            "stderr": "Warning: ALREADY_ENABLED: 'biostar-hardening-tcp1480' already in 'public'\n",
        }
    )
    calls.append(
        {
            "args": [
                "/usr/bin/firewall-cmd",
                "--permanent",
                "--zone=public",
                "--add-service=biostar-hardening-tcp1470",
            ],
            "rc": 0,
            "stdout": "success\n",
            "stderr": "Warning: INVALID_SERVICE: biostar-hardening-tcp1470\n",
        }
    )
    backend = FirewalldBackend(ReplayRunner(calls, DEFAULT_PROGRAMS), BackendOptions())
    backend.read_owned()
    layer = Layer()
    layer.services["inbound"] = {"biostar-hardening-tcp1480"}
    backend._write_layer("permanent", Layer(), layer)
    layer.services["inbound"] = {"biostar-hardening-tcp1470"}
    with pytest.raises(BackendError) as error:
        backend._write_layer("permanent", Layer(), layer)
    assert error.value.stderr == "Warning: INVALID_SERVICE: biostar-hardening-tcp1470"


def test_outbound_rules_need_an_owner_short_enough_for_a_policy_name():
    session = load_session("firewalld", "server-again")
    owner = "biostar-hardening-x"
    calls = copy.deepcopy(session["calls"][1:4])
    runner = ReplayRunner(calls, DEFAULT_PROGRAMS)
    backend = FirewalldBackend(runner, BackendOptions(owner=owner))
    current = backend.read_owned()
    desired = rules_from_dicts([{"protocol": "tcp", "port": 1480, "direction": "outbound", "peers": []}])
    with pytest.raises(BackendError, match="at most 18 characters"):
        backend.apply(diff(current, desired))
    assert runner.finished and writes(runner.commands) == []


def test_owner_must_be_a_valid_service_name_prefix():
    backend = FirewalldBackend(ReplayRunner([], DEFAULT_PROGRAMS), BackendOptions(owner="biostar.hardening"))
    with pytest.raises(BackendError, match="owner"):
        backend.read_owned()


def test_persist_false_is_reported_as_ignored():
    session = load_session("firewalld", "server-again")
    runner = ReplayRunner(session["calls"][1:6], DEFAULT_PROGRAMS)
    backend = FirewalldBackend(runner, BackendOptions(persist=False))
    backend.read_owned()
    assert backend.warnings == [
        "persist=false has no effect on firewalld: it defines services only in its permanent configuration"
    ]


# check mode


@pytest.mark.parametrize("name", ["server", "direct", "mixed-to-direct"])
def test_check_mode_predicts_the_run_and_writes_nothing(name):
    _session, runner, predicted = replay(name + "-check")
    assert writes(runner.commands) == []
    _session, _runner, real = replay(name)
    for key in ("changed", "added", "removed", "actions", "persisted"):
        assert predicted[key] == real[key], key


def test_owned_entries_only_the_runtime_has_are_removed_though_the_rules_match():
    _session, runner, outcome = replay("drift-runtime-only")
    assert (outcome["added"], outcome["removed"]) == ([], [])
    assert outcome["actions"] == ["runtime: remove service biostar-hardening-tcp1470 from zone public"]
    assert [c[1:] for c in writes(runner.commands)] == [["--zone=public", "--remove-service=biostar-hardening-tcp1470"]]
    assert outcome["persisted"] == []


def test_a_reload_is_reported_as_a_warning():
    assert replay("server")[2]["warnings"] == [
        "firewalld was reloaded to load new owned definitions; runtime-only changes made by other tools were dropped"
    ]
    assert replay("direct")[2]["warnings"] == []


def test_missing_zone_is_an_error_with_firewalld_words():
    calls = [
        {"args": ["/usr/bin/firewall-cmd", "--state"], "rc": 0, "stdout": "running\n", "stderr": ""},
        {
            "args": ["/usr/bin/firewall-cmd", "--zone=nosuch", "--list-all"],
            "rc": 112,
            "stdout": "",
            "stderr": "Error: INVALID_ZONE: nosuch\n",
        },
    ]
    backend = FirewalldBackend(ReplayRunner(calls, DEFAULT_PROGRAMS), BackendOptions(zone="nosuch"))
    with pytest.raises(BackendError) as error:
        backend.read_owned()
    assert error.value.stderr == "Error: INVALID_ZONE: nosuch"
