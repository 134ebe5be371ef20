"""FirewalldBackend, replayed against helper runs captured from a real firewalld container.

Fixtures: tests/unit/fixtures/firewalld/*.jsonl, made by tests/unit/fixtures/firewalld/capture.sh
on a host running firewalld 1.3 (Debian 12) with a foreign port 2222/tcp in the public zone
and a foreign policy ``userout``; the offline-* runs had the daemon stopped. Each recorded
call is one run of the helper program (firewalld_helper) with its request and JSON answer.
"""

import ast
import copy
import json
import os
import re

import pytest
from recorded_runner import FIXTURES, ReplayRunner, drive, load_session, programs, recorded_outcome, session_names

from ansible_collections.biostar.hardening.plugins.module_utils.backends import firewalld_config, firewalld_helper
from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    BackendError,
    BackendOptions,
    CommandResult,
    HostFiles,
    Runner,
    Target,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.firewalld import FirewalldBackend
from ansible_collections.biostar.hardening.plugins.module_utils.backends.firewalld_config import (
    config_path,
    owned_layer,
    parse_service_name,
    rich_rule,
    service_name,
    service_settings,
    service_xml,
)
from ansible_collections.biostar.hardening.plugins.module_utils.engine import reconcile
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import Rule, rules_from_dicts

OWNER = "biostar-hardening"
DEFAULT_PROGRAMS = {
    "firewall-cmd": "/usr/bin/firewall-cmd",
    "firewall-offline-cmd": "/usr/bin/firewall-offline-cmd",
    "python3": "/usr/bin/python3",
}
RELOADED = "firewalld was reloaded to load new owned definitions; runtime-only changes made by other tools were dropped"


def request_of(data):
    """The request a helper run was given: the JSON in the last line, ``main('<json>')``."""
    call = data.rstrip().splitlines()[-1]
    return json.loads(ast.literal_eval(re.match(r"^main\((.*)\)$", call).group(1)))


class HelperReplay(ReplayRunner):
    """A ReplayRunner that also checks each helper request against the recording."""

    def __init__(self, calls, which, check=True):
        super().__init__(calls, which)
        self.requests = []
        self.check = check

    def run(self, args, data=None):
        recorded = self.calls[self.position]["data"] if self.position < len(self.calls) else None
        result = super().run(args, data)
        self.requests.append(request_of(data))
        if self.check:
            assert self.requests[-1] == request_of(recorded), "request %d differs" % (len(self.requests) - 1)
        return result


class MemoryFiles(HostFiles):
    def __init__(self):
        self.texts = {}

    def read(self, path):
        return self.texts.get(path)

    def write(self, path, text):
        self.texts[path] = text

    def remove(self, path):
        self.texts.pop(path, None)

    def isdir(self, path):
        return False


def with_files(files):
    """FirewalldBackend writing host files into ``files`` (the recorder builds it with runner and options)."""

    class Replayed(FirewalldBackend):
        def __init__(self, runner, options):
            super().__init__(runner, options, files)

    return Replayed


def replay(name, calls=None, files=None):
    session = load_session("firewalld", name)
    if calls is not None:
        session["calls"] = calls
    runner = HelperReplay(session["calls"], programs(session["calls"], DEFAULT_PROGRAMS))
    if files is None:
        files = MemoryFiles()
        files.texts.update(session.get("files", {}))
    runner.files = files
    return session, runner, drive(with_files(runner.files), runner, session)


def steps(runner, index=None):
    """The steps of the write requests (all of them, or only the index-th write)."""
    writes = [r["steps"] for r in runner.requests if r["action"] == "write"]
    if index is not None:
        return writes[index] if len(writes) > index else []
    return [step for group in writes for step in group]


def summary(step):
    """One line per step: 'define service X', 'permanent zone public +a -b', 'reload'."""
    if step["do"] in ("define", "delete"):
        return "%s %s %s" % (step["do"], step["kind"], step["name"])
    if step["do"] == "reload":
        return "reload"
    parts = ["+%s" % n for n in step["add"]] + ["+'%s'" % t for t in step["add_rules"]]
    parts += ["-'%s'" % t for t in step["remove_rules"]] + ["-%s" % n for n in step["remove"]]
    return "%s %s %s %s" % (step["layer"], step["kind"], step["name"], " ".join(parts))


def answer_of(session, action, index=0):
    """The recorded JSON answer of the index-th helper run with this action."""
    calls = [c for c in session["calls"] if request_of(c["data"])["action"] == action]
    return json.loads(calls[index]["stdout"])


def rule(port, protocol="tcp", direction="inbound", peers=(), purpose=""):
    low, _sep, high = str(port).partition("-")
    return Rule(protocol, int(low), int(high or low), direction, tuple(peers), purpose)


class Answers(Runner):
    """Answers helper runs from a list of JSON answers, without checking requests."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def run(self, args, data=None):
        self.requests.append(request_of(data))
        return CommandResult(0, json.dumps(self.answers.pop(0)), "")

    def which(self, name):
        return DEFAULT_PROGRAMS.get(name)


# Every recorded run, replayed: same helper requests in the same order, same outcome.


@pytest.mark.parametrize("name", session_names("firewalld"))
def test_recorded_run_replays_exactly(name):
    session, runner, outcome = replay(name)
    assert outcome == recorded_outcome(session)
    assert runner.finished, "the backend stopped before the recorded run did"


def test_every_run_is_one_helper_process_per_step():
    for name in session_names("firewalld"):
        _session, runner, _outcome = replay(name)
        assert all(c[0] == "/usr/bin/python3" and c[1:] == ["-I", "-"] for c in runner.commands), name
        actions = [r["action"] for r in runner.requests]
        assert actions.count("read") <= 2 and actions.count("write") <= 2, (name, actions)


def test_no_run_touches_foreign_entries_zone_ports_or_global_settings():
    for name in session_names("firewalld"):
        _session, runner, _outcome = replay(name)
        for step in [item for planned in steps(runner) for item in [planned, *planned.get("otherwise", [])]]:
            text = json.dumps(step)
            assert "2222" not in text and "userout" not in text, step
            assert step["do"] in ("define", "edit", "delete", "reload"), step
            if "otherwise" in step:
                assert set(step) == {"do", "owner", "otherwise"} and step["owner"] == OWNER, step
                continue
            if step["do"] == "edit":
                assert set(step) == {"do", "layer", "kind", "name", "add", "remove", "add_rules", "remove_rules"}
                assert step["kind"] == "zone" or step["name"] == OWNER, step
                names = step["add"] + step["remove"]
                names += [
                    re.search(r'service name="([^"]+)"', t).group(1) for t in step["add_rules"] + step["remove_rules"]
                ]
            else:
                names = [step.get("name", OWNER)]
            assert names and all(n.startswith(OWNER) for n in names), step


def test_editing_changes_only_owned_services_and_rules_and_keeps_everything_else():
    class Fake:
        def __init__(self):
            self.settings = {
                "services": ["ssh", "biostar-hardening-tcp1470"],
                "rules_str": ['rule family="ipv4" source address="10.0.0.0/8" service name="ssh" accept'],
                "ports": [("2222", "tcp")],
                "target": "default",
            }

        def get(self, layer, kind, name):
            return self.settings

        def put(self, layer, kind, name, settings):
            self.settings = settings

    fake = Fake()
    change = {"add": ["biostar-hardening-tcp1470", "biostar-hardening-tcp1480"], "remove": [], "add_rules": []}
    firewalld_helper.edit(fake, "permanent", "zone", "public", dict(change, remove_rules=[]))
    # Adding what is there already is no failure and adds nothing twice.
    assert fake.settings["services"] == ["ssh", "biostar-hardening-tcp1470", "biostar-hardening-tcp1480"]
    firewalld_helper.edit(fake, "permanent", "zone", "public", {"remove": ["biostar-hardening-tcp1470"]})
    assert fake.settings["services"] == ["ssh", "biostar-hardening-tcp1480"]
    assert fake.settings["ports"] == [("2222", "tcp")] and fake.settings["target"] == "default"
    assert fake.settings["rules_str"] == ['rule family="ipv4" source address="10.0.0.0/8" service name="ssh" accept']


class Failing:
    """A running daemon that refuses the zone update."""

    running = True

    def __init__(self):
        self.defined = []

    def define(self, kind, name, settings):
        self.defined.append(name)

    def get(self, layer, kind, name):
        return {"services": []}

    def put(self, layer, kind, name, settings):
        raise ValueError("INVALID_SERVICE: biostar-hardening-tcp1470")


class Stopped(Failing):
    """A daemon that stopped after the plan was made against it."""

    running = False


DEFINE = {"do": "define", "kind": "service", "name": "x", "settings": {}}


@pytest.mark.parametrize(
    "fw, steps, answer, defined",
    [
        pytest.param(
            Failing,
            [
                DEFINE,
                {"do": "edit", "layer": "permanent", "kind": "zone", "name": "public", "add": ["x"]},
                {"do": "reload"},
            ],
            {"error": "INVALID_SERVICE: biostar-hardening-tcp1470", "step": 1},
            ["x"],
            id="a failing step stops the helper and names the step",
        ),
        # Runtime steps and a reload planned against the daemon must not reach the offline code.
        pytest.param(
            Stopped,
            [DEFINE, {"do": "edit", "layer": "runtime", "kind": "zone", "name": "public", "add": ["x"]}],
            {"error": "firewalld stopped while the change was prepared; nothing was changed", "step": None},
            [],
            id="a daemon that stopped after the plan changes nothing",
        ),
    ],
)
def test_the_helper_stops_at_a_failure_and_says_where(monkeypatch, capsys, fw, steps, answer, defined):
    fw = fw()
    monkeypatch.setattr(firewalld_helper, "connect", lambda offline: fw)
    with pytest.raises(SystemExit) as leaving:
        firewalld_helper.main(json.dumps({"action": "write", "offline": True, "steps": steps}))
    assert leaving.value.code == 1
    out, err = capsys.readouterr()
    assert json.loads(out) == answer
    assert err == "Error: %s\n" % answer["error"]
    assert fw.defined == defined


class DBusError(Exception):
    """What dbus-python raises: a D-Bus error name and the daemon's message."""

    def __init__(self, name, message):
        super().__init__(message)
        self.name, self.message = name, message

    def get_dbus_name(self):
        return self.name

    def get_dbus_message(self):
        return self.message


class Unwritable:
    """A running daemon whose file write fails after it took the change into its memory."""

    running = True

    def __init__(self, error):
        self.error = error
        self.reloads = 0

    def define(self, kind, name, settings):
        with open(firewalld_helper.DEFINITIONS[kind] % name, "w", encoding="utf-8"):
            pass  # firewalld opened the file, then the write failed
        raise self.error

    def get(self, layer, kind, name):
        return {"services": []}

    def put(self, layer, kind, name, settings):
        raise self.error

    def reload(self):
        self.reloads += 1


def write_through(monkeypatch, capsys, fw, steps):
    monkeypatch.setattr(firewalld_helper, "connect", lambda offline: fw)
    with pytest.raises(SystemExit):
        firewalld_helper.main(json.dumps({"action": "write", "offline": True, "steps": steps}))
    return json.loads(capsys.readouterr()[0])


def test_a_permanent_write_firewalld_could_not_finish_is_forgotten_by_a_reload(monkeypatch, capsys, tmp_path):
    """firewalld keeps an unwritten change in memory: later definitions fail until it reloads from disk."""
    monkeypatch.setitem(firewalld_helper.DEFINITIONS, "service", str(tmp_path / "%s.xml"))
    fw = Unwritable(DBusError("org.fedoraproject.FirewallD1.Exception", "[Errno 28] No space left on device"))
    step = {"do": "define", "kind": "service", "name": "biostar-hardening-tcp1490", "settings": {}}
    answer = write_through(monkeypatch, capsys, fw, [step])
    assert answer["step"] == 0
    assert answer["error"] == "[Errno 28] No space left on device" + firewalld_helper.FORGOTTEN
    assert fw.reloads == 1
    assert list(tmp_path.iterdir()) == []  # the empty file firewalld left would make the reload fail

    fw = Unwritable(DBusError("org.fedoraproject.FirewallD1.Exception", "[Errno 30] Read-only file system: 'x'"))
    edit = {"do": "edit", "layer": "permanent", "kind": "zone", "name": "public", "add": ["s"]}
    assert write_through(monkeypatch, capsys, fw, [edit])["error"].endswith(firewalld_helper.FORGOTTEN)
    assert fw.reloads == 1


@pytest.mark.parametrize(
    "layer, message", [("permanent", "INVALID_SERVICE: x"), ("runtime", "[Errno 28] No space left on device")]
)
def test_a_change_firewalld_refuses_or_a_runtime_failure_reloads_nothing(monkeypatch, capsys, layer, message):
    fw = Unwritable(DBusError("org.fedoraproject.FirewallD1.Exception", message))
    edit = {"do": "edit", "layer": layer, "kind": "zone", "name": "public", "add": ["x"]}
    assert write_through(monkeypatch, capsys, fw, [edit]) == {"error": message, "step": 0}
    assert fw.reloads == 0


def test_a_daemon_that_leaves_the_bus_during_the_write_is_named(monkeypatch, capsys):
    words = "The name :1.41 was not provided by any .service files"
    gone = DBusError("org.freedesktop.DBus.Error.ServiceUnknown", words)
    edit = {"do": "edit", "layer": "runtime", "kind": "zone", "name": "public", "add": ["x"]}
    answer = write_through(monkeypatch, capsys, Unwritable(gone), [edit, {"do": "reload"}])
    assert answer == {
        "error": "firewalld stopped during the change (D-Bus: %s)" % words,
        "step": 0,
    }


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
    which = programs(session["calls"], DEFAULT_PROGRAMS)
    del which["firewall-offline-cmd"]
    detection = FirewalldBackend.detect(HelperReplay(session["calls"], which))
    assert (detection.available, detection.active) == (False, False)
    assert "firewall-offline-cmd is not installed" in detection.detail


class Scripted(Runner):
    """Answers helper runs in order from (rc, JSON answer) pairs and keeps each request."""

    def __init__(self, *answers, which=None):
        self.answers = list(answers)
        self.requests = []
        self.paths = DEFAULT_PROGRAMS if which is None else which

    def run(self, args, data=None):
        self.requests.append(request_of(data))
        rc, answer = self.answers.pop(0)
        return CommandResult(rc, json.dumps(answer), "" if rc == 0 else answer.get("error", ""))

    def which(self, name):
        return self.paths.get(name)


def test_probe_reads_in_the_detection_process_and_the_first_read_uses_it():
    """A run with the daemon running starts one helper for detection and read together."""
    session = load_session("firewalld", "server-again")
    answer = answer_of(session, "read")
    runner = Scripted((0, answer), (0, answer))
    detection, seen = FirewalldBackend.probe(runner, BackendOptions())
    assert (detection.available, detection.active, detection.detail) == (True, True, "firewalld is running")
    # The read request as read() makes it, but without the offline fallback: a stopped daemon says so.
    assert runner.requests == [
        {"action": "read", "offline": False, "owner": OWNER, "policy": OWNER, "zone": None},
    ]
    backend = FirewalldBackend(runner, BackendOptions(), MemoryFiles())
    backend.seen = seen
    outcome = reconcile(backend, Target(tuple(rules_from_dicts(session["rules"]))), None, False)
    assert outcome.changed is False
    assert [rule.port for rule in outcome.before] == [1470, 1471, 1480, 51110]
    assert len(runner.requests) == 1  # the read came from the probe
    # Any later read (a restore after a failed write) asks the helper again.
    assert [rule.port for rule in backend.read().owned] == [1470, 1471, 1480, 51110]
    assert runner.requests[1] == {"action": "read", "offline": True, "owner": OWNER, "policy": OWNER, "zone": None}


def test_probe_of_a_stopped_daemon_costs_one_helper_run_and_keeps_nothing():
    runner = Scripted((0, {"running": False}))
    detection, seen = FirewalldBackend.probe(runner, BackendOptions(zone="internal"))
    assert (detection.available, detection.active, seen) == (True, False, None)
    assert "firewall-offline-cmd" in detection.detail
    assert [r["action"] for r in runner.requests] == ["read"] and runner.requests[0]["zone"] == "internal"
    which = {k: v for k, v in DEFAULT_PROGRAMS.items() if k != "firewall-offline-cmd"}
    detection, seen = FirewalldBackend.probe(Scripted((0, {"running": False}), which=which), BackendOptions())
    assert (detection.available, detection.active, seen) == (False, False, None)
    assert FirewalldBackend.detect(Scripted((0, {"running": False}), which=which)) == detection


def test_probe_whose_read_fails_still_selects_firewalld_and_read_reports_the_failure():
    """As before the probe: detection says running, and the read fails in firewalld's own words."""
    failure = {"error": "INVALID_ZONE: nosuchzone", "step": None}
    runner = Scripted((1, failure), (0, {"running": True}), (1, failure))
    options = BackendOptions(zone="nosuchzone")
    detection, seen = FirewalldBackend.probe(runner, options)
    assert (detection.available, detection.active, seen) == (True, True, None)
    assert [r["action"] for r in runner.requests] == ["read", "state"]
    backend = FirewalldBackend(runner, options, MemoryFiles())
    backend.seen = seen
    with pytest.raises(BackendError, match="firewalld: read failed: INVALID_ZONE: nosuchzone"):
        backend.read()


# reading


def test_read_answer_gives_services_and_rich_rules_of_both_configurations():
    answer = answer_of(load_session("firewalld", "mixed-again"), "read")
    assert answer["zone"] == "public" and sorted(answer["layers"]) == ["permanent", "runtime"]
    zone = answer["layers"]["runtime"]["zone"]
    assert zone["services"] == ["biostar-hardening-tcp6000_6010", "biostar-hardening-udp51110", "dhcpv6-client", "ssh"]
    assert zone["rules"] == [
        'rule family="ipv4" source address="10.88.0.0/16" service name="biostar-hardening-tcp1480-c4aba9f7" accept',
        'rule family="ipv4" source address="10.99.0.0/16" service name="biostar-hardening-tcp1480-0f4c360c" accept',
        'rule family="ipv6" source address="2001:db8::/64" service name="biostar-hardening-tcp1480-c4aba9f7" accept',
    ]
    assert answer["layers"]["permanent"]["zone"] == zone


def test_read_answer_gives_every_reference_from_other_zones():
    answer = answer_of(load_session("firewalld", "shared-absent"), "read")
    # The zone internal refers to the owned definition, so it must survive the absent run in public.
    assert "biostar-hardening-tcp1480" in answer["referenced"]
    assert "ssh" in answer["referenced"]


def firewalld_dirs(tmp_path, monkeypatch, files):
    """Vendor and local firewalld folders under tmp_path holding ``files`` ({relative path: text})."""
    vendor, local = tmp_path / "usr-lib", tmp_path / "etc"
    for base in (vendor, local):
        for folder in ("zones", "policies"):
            (base / folder).mkdir(parents=True)
    for relative, text in files.items():
        (tmp_path / relative).write_text(text, encoding="utf-8")
    monkeypatch.setattr(firewalld_helper, "CONFIG_DIRS", (str(vendor), str(local)))


ZONE_XML = """<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>%s</short>
  %s
</zone>
"""


def test_references_are_read_from_the_files_local_ones_replacing_the_vendor_defaults(tmp_path, monkeypatch):
    firewalld_dirs(
        tmp_path,
        monkeypatch,
        {
            # The vendor's internal zone is replaced by the local one: its mdns no longer counts.
            "usr-lib/zones/internal.xml": ZONE_XML % ("Internal", '<service name="mdns"/>'),
            "etc/zones/internal.xml": ZONE_XML % ("Internal", "<service name = 'biostar-hardening-tcp1480' />"),
            "usr-lib/zones/work.xml": ZONE_XML % ("Work", '<service name="ssh"/>'),
            "etc/zones/dmz.xml": ZONE_XML
            % (
                "DMZ",
                '<rule family="ipv4"><source address="10.0.0.0/8"/>'
                '<service name="biostar-hardening-tcp1470"/><accept/></rule>'
                '<!-- <service name="commented-out"/> -->',
            ),
            "etc/zones/public.xml": ZONE_XML % ("Public", '<service name="biostar-hardening-udp51110"/>'),
            "etc/zones/public.xml.old": ZONE_XML % ("Old", '<service name="stale"/>'),
            "etc/policies/userout.xml": '<policy target="REJECT"><service name="http"/></policy>',
            "etc/policies/biostar-hardening.xml": '<policy target="CONTINUE"><service name="own"/></policy>',
        },
    )
    mine = {("zone", "public"), ("policy", "biostar-hardening")}
    found = firewalld_helper.references_on_disk(mine)
    assert found == {"biostar-hardening-tcp1480", "ssh", "biostar-hardening-tcp1470", "http"}


class Daemon:
    """firewalld's permanent configuration as the helper asks for it (stopped: no runtime layer)."""

    running = False

    def default_zone(self):
        return "public"

    def names(self, layer, kind):
        return {"zone": ["public", "internal"], "policy": ["userout"], "service": ["ssh"]}[kind]

    def get(self, layer, kind, name):
        rules = ['rule family="ipv4" service name="biostar-hardening-tcp1470" accept'] if name == "userout" else []
        return {"services": ["ssh"] if name == "internal" else ["biostar-hardening-tcp1480"], "rich_rules": rules}


@pytest.mark.parametrize(
    "files, local, expected",
    [
        ({"etc/zones/internal.xml": ZONE_XML % ("Internal", '<service name="http"/>')}, "etc", ["http"]),
        # A file firewalld would skip: only the daemon knows what it loaded.
        ({"etc/zones/broken.xml": "<zone><service name='x'></zone>"}, "etc", None),
        # No local folder: firewalld keeps its files elsewhere.
        ({}, "missing", None),
    ],
)
def test_read_takes_references_from_the_files_or_else_from_the_daemon(tmp_path, monkeypatch, files, local, expected):
    firewalld_dirs(tmp_path, monkeypatch, files)
    monkeypatch.setattr(firewalld_helper, "CONFIG_DIRS", (str(tmp_path / "usr-lib"), str(tmp_path / local)))
    monkeypatch.setattr(firewalld_helper, "connect", lambda offline_allowed=True: Daemon())
    answer = firewalld_helper.read({"owner": OWNER, "zone": None, "policy": OWNER, "offline": True})
    from_daemon = ["biostar-hardening-tcp1470", "biostar-hardening-tcp1480", "ssh"]
    assert answer["referenced"] == (expected or from_daemon)


def test_read_owned_rebuilds_rules_from_services_rich_rules_and_the_policy():
    """The purposes come back from the owned definitions' descriptions, as the recording read them."""
    _session, _runner, outcome = replay("mixed-again")
    assert outcome["changed"] is False
    inbound, outbound = {"direction": "inbound"}, {"direction": "outbound"}
    assert outcome["before"] == [
        dict(inbound, protocol="tcp", port=1480, peers=["10.88.0.0/16", "2001:db8::/64"], purpose="from clients"),
        dict(inbound, protocol="tcp", port=1480, peers=["10.99.0.0/16"], purpose="other clients"),
        dict(inbound, protocol="tcp", port="6000-6010", peers=[], purpose="a range"),
        dict(inbound, protocol="udp", port=51110, peers=[], purpose="BioStar device search"),
        dict(outbound, protocol="tcp", port=1470, peers=["10.88.0.0/16"], purpose="to devices"),
        dict(outbound, protocol="tcp", port=1480, peers=[], purpose="to the server"),
    ]


def test_a_rule_counts_only_when_runtime_and_permanent_both_have_it():
    answer = answer_of(load_session("firewalld", "server-again"), "read")
    answer["layers"]["runtime"]["zone"]["services"].remove("biostar-hardening-tcp1471")
    snapshot = FirewalldBackend(Answers(answer), BackendOptions()).read()
    assert [r.port for r in snapshot.owned] == [1470, 1480, 51110]


def test_read_gives_each_rule_the_purpose_its_definition_was_written_with():
    """A restore that must define a deleted service again writes it back with the same description."""
    answer = answer_of(load_session("firewalld", "server-again"), "read")
    files = MemoryFiles()
    name = "biostar-hardening-tcp1480"
    files.write(config_path("service", name), service_xml(service_settings(OWNER, name, "BioStar <server> & co")))
    files.write(config_path("service", "biostar-hardening-tcp1470"), "<service><description>mine</description>")
    snapshot = FirewalldBackend(Answers(answer), BackendOptions(), files).read()
    assert {r.port: r.purpose for r in snapshot.owned} == {1470: "", 1471: "", 1480: "BioStar <server> & co", 51110: ""}
    changes = FirewalldBackend(Answers(), BackendOptions(), files).plan(snapshot, Target(snapshot.owned))
    assert changes.payload is None


def test_service_files_are_written_and_read_as_xml_sax_would():
    """The backend's own XML escaping (it no longer imports xml.sax) writes what saxutils writes,
    and a real XML parser reads the description and port back."""
    from xml.dom import minidom
    from xml.sax import saxutils

    for text in ("BioStar <server> & co", "a&amp;b", "x > y < z", "plain", "", "&lt;&", "quote\"'"):
        assert firewalld_config.escape(text) == saxutils.escape(text)
        assert firewalld_config.unescape(saxutils.escape(text)) == text
        assert firewalld_config.unescape(text) == saxutils.unescape(text)
    for value in ("tcp", "udp", "1480", "1470-1471", "a<b&c>"):
        assert firewalld_config.quoteattr(value) == saxutils.quoteattr(value)
    name = "biostar-hardening-tcp1470_1471"
    settings = service_settings(OWNER, name, 'BioStar <server> & "co"')
    parsed = minidom.parseString(service_xml(settings))
    description = parsed.getElementsByTagName("description")[0].firstChild.data
    assert description == settings["description"]
    port = parsed.getElementsByTagName("port")[0]
    assert (port.getAttribute("protocol"), port.getAttribute("port")) == ("tcp", "1470-1471")
    assert firewalld_config.purpose_of(OWNER, name, service_xml(settings)) == 'BioStar <server> & "co"'


def test_only_owned_names_and_the_owned_rich_rule_form_are_read_as_owned():
    rules = [
        'rule family="ipv4" source address="10.0.0.0/8" service name="ssh" accept',
        'rule family="ipv4" source address="10.0.0.0/8" service name="biostar-hardening-tcp1480-aaaaaaaa" log accept',
        'rule family="ipv4" source address="10.0.0.5" service name="biostar-hardening-tcp1480-bbbbbbbb" accept',
        'rule family="ipv6" source address="2001:0db8::/64" service name="biostar-hardening-tcp1480-bbbbbbbb" accept',
    ]
    services = ["ssh", "biostar-hardening-tcp1470", "biostar-hardening-other", "biostar-hardening-tcp70000"]
    layer, foreign = owned_layer(OWNER, {"zone": {"services": services, "rules": rules}, "policy": None})
    assert layer.services["inbound"] == {"biostar-hardening-tcp1470"}
    # The spelling firewalld keeps is what a later removal must name.
    assert layer.rich == {
        ("inbound", "biostar-hardening-tcp1480-bbbbbbbb", "10.0.0.5/32"): rules[2],
        ("inbound", "biostar-hardening-tcp1480-bbbbbbbb", "2001:db8::/64"): rules[3],
    }
    # What the five foreign entries refer to keeps those definitions alive.
    assert foreign == {
        "ssh",
        "biostar-hardening-other",
        "biostar-hardening-tcp70000",
        "biostar-hardening-tcp1480-aaaaaaaa",
    }
    assert layer.rules(OWNER) == {rule(1470), rule(1480, peers=("10.0.0.5/32", "2001:db8::/64"))}


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
    assert [summary(s) for s in steps(runner)] == [
        "define service biostar-hardening-tcp1470",
        "define service biostar-hardening-tcp1471",
        "define service biostar-hardening-tcp1480",
        "define service biostar-hardening-udp51110",
        "permanent zone public +biostar-hardening-tcp1470 +biostar-hardening-tcp1471"
        " +biostar-hardening-tcp1480 +biostar-hardening-udp51110",
        "reload",
    ]
    assert all(s.get("layer", "permanent") == "permanent" for s in steps(runner)[:-1])
    definition = steps(runner)[3]["settings"]
    assert definition["ports"] == [["51110", "udp"]]
    assert "Owned by biostar-hardening" in definition["description"]
    assert "BioStar device search" in definition["description"]
    assert outcome["persisted"][-1] == "/etc/firewalld/zones/public.xml"


def test_second_identical_run_writes_nothing():
    _session, runner, outcome = replay("server-again")
    assert (outcome["changed"], steps(runner), outcome["persisted"]) == (False, [], [])
    assert [r["action"] for r in runner.requests] == ["state", "read"]


def test_apply_of_an_unchanged_set_writes_nothing():
    session = load_session("firewalld", "server-again")
    runner = Answers(answer_of(session, "read"))
    backend = FirewalldBackend(runner, BackendOptions())
    snapshot = backend.read()
    changes = backend.plan(snapshot, Target(snapshot.owned))
    assert backend.execute(changes) == []
    assert (changes.actions, changes.payload, changes.persisted) == ((), None, ())
    assert [r["action"] for r in runner.requests] == ["read"]


def test_direct_set_removes_without_reload_and_deletes_unused_definitions():
    _session, runner, _outcome = replay("direct")
    removal = " -biostar-hardening-tcp1470 -biostar-hardening-tcp1471 -biostar-hardening-udp51110"
    assert [summary(s) for s in steps(runner)] == [
        "permanent zone public" + removal,
        "delete service biostar-hardening-tcp1470",
        "delete service biostar-hardening-tcp1471",
        "delete service biostar-hardening-udp51110",
        "runtime zone public" + removal,
    ]


def test_adding_back_what_the_runtime_still_knows_needs_no_reload():
    _session, runner, _outcome = replay("server-readd")
    assert "reload" not in [s["do"] for s in steps(runner)]
    runtime = [summary(s) for s in steps(runner) if s.get("layer") == "runtime"]
    assert runtime == [
        "runtime zone public +biostar-hardening-tcp1470 +biostar-hardening-tcp1471 +biostar-hardening-udp51110"
    ]


def test_absent_removes_every_owned_entry_and_definition():
    _session, runner, outcome = replay("absent")
    assert outcome["changed"] is True
    assert [(s["do"], s.get("layer")) for s in steps(runner)] == [
        ("edit", "permanent"),
        ("delete", None),
        ("delete", None),
        ("delete", None),
        ("delete", None),
        ("edit", "runtime"),
    ]
    _session, runner, outcome = replay("absent-again")
    assert (outcome["changed"], steps(runner)) == (False, [])


def test_peers_become_rich_rules_and_outbound_rules_an_owned_policy():
    _session, runner, _outcome = replay("mixed")
    done = steps(runner)
    policy = next(s for s in done if s["do"] == "define" and s["kind"] == "policy")
    assert policy["name"] == OWNER
    assert (policy["settings"]["target"], policy["settings"]["priority"]) == ("CONTINUE", -100)
    assert (policy["settings"]["ingress_zones"], policy["settings"]["egress_zones"]) == (["HOST"], ["ANY"])
    zone = next(s for s in done if s["do"] == "edit" and s["kind"] == "zone")
    assert zone["add_rules"] == [
        'rule family="ipv4" source address="10.99.0.0/16" service name="biostar-hardening-tcp1480-0f4c360c" accept',
        'rule family="ipv4" source address="10.88.0.0/16" service name="biostar-hardening-tcp1480-c4aba9f7" accept',
        'rule family="ipv6" source address="2001:db8::/64" service name="biostar-hardening-tcp1480-c4aba9f7" accept',
    ]
    outbound = next(s for s in done if s["do"] == "edit" and s["kind"] == "policy")
    assert outbound["add"] == ["biostar-hardening-tcp1480"]
    assert outbound["add_rules"] == [
        'rule family="ipv4" destination address="10.88.0.0/16" service name="biostar-hardening-tcp1470-a1043a3b" accept'
    ]
    # The policy is defined before its entries are added.
    assert done.index(policy) < done.index(outbound)
    ranged = next(s for s in done if s.get("name") == "biostar-hardening-tcp6000_6010" and s["do"] == "define")
    assert ranged["settings"]["ports"] == [["6000-6010", "tcp"]]
    assert done[-1] == {"do": "reload"}


def test_leaving_outbound_rules_out_removes_the_owned_policy():
    _session, runner, _outcome = replay("mixed-to-direct")
    done = [summary(s) for s in steps(runner)]
    assert "delete policy biostar-hardening" in done
    assert "reload" not in done


def test_zone_option_is_used_for_every_zone_step():
    _session, runner, _outcome = replay("internal-server")
    zone_steps = [s for s in steps(runner) if s.get("kind") == "zone"]
    assert zone_steps and all(s["name"] == "internal" for s in zone_steps)
    assert all(r["zone"] == "internal" for r in runner.requests if r["action"] == "read")


def test_a_definition_another_zone_uses_is_kept():
    _session, runner, _outcome = replay("shared-absent")
    assert [summary(s) for s in steps(runner)] == [
        "permanent zone public -biostar-hardening-tcp1480",
        "runtime zone public -biostar-hardening-tcp1480",
    ]


def test_a_failed_step_puts_the_previous_owned_entries_back():
    session, runner, outcome = replay("fail-restore")
    assert outcome["stderr"] == "Error: NAME_CONFLICT: Policy 'biostar-hardening': Can't have the same name as a zone."
    assert "the previous owned rules were put back" in outcome["failed"]
    failed, undo = steps(runner, 0), steps(runner, 1)
    stopped = answer_of(session, "write")["step"]
    assert summary(failed[stopped]) == "define policy biostar-hardening"
    # The zone was changed before the failure; the restore writes the previous owned entries back.
    changed = failed[stopped - 1]
    assert (changed["layer"], changed["kind"], changed["remove"]) == (
        "permanent",
        "zone",
        ["biostar-hardening-tcp1480"],
    )
    assert undo[0]["add"] == ["biostar-hardening-tcp1480"]
    assert sorted(undo[0]["remove"]) == sorted(changed["add"])
    assert sorted(undo[0]["remove_rules"]) == sorted(changed["add_rules"])
    # ... and deletes exactly the definitions the failed run created.
    created = [s["name"] for s in failed[:stopped] if s["do"] == "define"]
    assert [summary(s) for s in undo[1:]] == ["delete service %s" % name for name in created]
    assert "biostar-hardening-tcp1480" not in created
    # The runtime was never touched: the failure came first, and the restore needs nothing there.
    assert not any(s.get("layer") == "runtime" or s["do"] == "reload" for s in failed[: stopped + 1] + undo)


def test_a_restore_that_fails_too_is_reported_with_both_errors():
    session = load_session("firewalld", "fail-restore")
    calls = copy.deepcopy(session["calls"])
    restore = [c for c in calls if request_of(c["data"])["action"] == "write"][1]
    restore.update(
        rc=1,
        stdout=json.dumps({"error": "INVALID_SERVICE: simulated", "step": 1}),
        stderr="Error: INVALID_SERVICE: simulated\n",
    )
    _session, runner, outcome = replay("fail-restore", calls)
    assert runner.finished
    assert "putting the previous owned rules back failed too" in outcome["failed"]
    assert "NAME_CONFLICT" in outcome["failed"]
    assert "step 'delete permanent service biostar-hardening-" in outcome["failed"]
    assert "Error: INVALID_SERVICE: simulated" in outcome["failed"]


def test_offline_runs_write_the_permanent_configuration_without_the_daemon():
    for name in ("offline-mixed", "offline-direct"):
        session, runner, outcome = replay(name)
        assert "failed" not in outcome
        assert all(r["offline"] for r in runner.requests if r["action"] != "state")
        assert answer_of(session, "read")["running"] is False
        assert all(s["do"] != "reload" and s.get("layer", "permanent") == "permanent" for s in steps(runner))
    # Offline, definitions are written as files (through HostFiles) before the helper loads the configuration.
    _session, runner, _outcome = replay("offline-mixed")
    assert runner.requests[-1]["files"] is True
    assert not any(s["do"] == "define" and s["kind"] == "service" for s in steps(runner))
    xml = runner.files.texts["/etc/firewalld/services/biostar-hardening-udp51110.xml"]
    assert '<port protocol="udp" port="51110"/>' in xml
    assert "Owned by biostar-hardening" in xml and "BioStar device search" in xml
    assert (
        '<port protocol="tcp" port="6000-6010"/>'
        in runner.files.texts["/etc/firewalld/services/biostar-hardening-tcp6000_6010.xml"]
    )
    done = [summary(s) for s in steps(replay("offline-direct")[1])]
    assert any(s.startswith("permanent zone public") and "-biostar-hardening-udp51110" in s for s in done)
    assert any(s.startswith("permanent policy biostar-hardening") and "-biostar-hardening-tcp1480" in s for s in done)
    with open(os.path.join(FIXTURES, "firewalld", "list-all-after-offline-direct.txt")) as handle:
        assert "services: biostar-hardening-tcp1480 dhcpv6-client ssh" in handle.read()


def test_outbound_rules_need_an_owner_short_enough_for_a_policy_name():
    answer = answer_of(load_session("firewalld", "server-again"), "read")
    runner = Answers(answer)
    backend = FirewalldBackend(runner, BackendOptions(owner="biostar-hardening-x"))
    snapshot = backend.read()
    # The policy of a name firewalld cannot hold is not even asked for.
    assert runner.requests[0]["policy"] is None
    desired = rules_from_dicts([{"protocol": "tcp", "port": 1480, "direction": "outbound", "peers": []}])
    with pytest.raises(BackendError, match="at most 18 characters"):
        backend.plan(snapshot, Target(tuple(desired)))
    assert [r["action"] for r in runner.requests] == ["read"]


def test_persist_false_is_reported_as_ignored():
    answer = answer_of(load_session("firewalld", "server-again"), "read")
    snapshot = FirewalldBackend(Answers(answer), BackendOptions(persist=False)).read()
    assert snapshot.warnings == (
        "persist=false has no effect on firewalld: it defines services only in its permanent configuration",
    )


def test_cost_in_processes_is_flat_in_the_number_of_rules():
    empty = answer_of(load_session("firewalld", "absent-again"), "read")
    counts = []
    for count in (4, 256):
        rules = [{"protocol": "tcp", "port": 20000 + i, "direction": "inbound", "peers": []} for i in range(count)]
        runner, files = Answers(empty, {"done": 1}), MemoryFiles()
        backend = with_files(files)(runner, BackendOptions())
        reconcile(backend, Target(tuple(rules_from_dicts(rules))), None, False)
        counts.append([r["action"] for r in runner.requests])
        written = runner.requests[1]
        if count == 4:
            # A few definitions go over D-Bus, one call each; no file is written by the backend.
            assert (written["files"], len(written["steps"]), files.texts) == (False, 4 + 2, {})
        else:
            # Many: the definitions are files, then one zone edit and the reload they need anyway.
            assert written["files"] is True and [s["do"] for s in written["steps"]] == ["edit", "reload"]
            assert len(files.texts) == 256
    assert counts == [["read", "write"], ["read", "write"]]


# check mode


@pytest.mark.parametrize("name", ["server", "direct", "mixed-to-direct", "bulk-absent"])
def test_check_mode_predicts_the_run_and_writes_nothing(name):
    _session, runner, predicted = replay(name + "-check")
    assert steps(runner) == []
    _session, _runner, real = replay(name)
    for key in ("changed", "added", "removed", "actions", "persisted"):
        assert predicted[key] == real[key], key


def test_owned_entries_only_the_runtime_has_are_removed_though_the_rules_match():
    _session, runner, outcome = replay("drift-runtime-only")
    assert (outcome["added"], outcome["removed"]) == ([], [])
    assert outcome["actions"] == ["runtime: remove service biostar-hardening-tcp1470 from zone public"]
    assert [summary(s) for s in steps(runner)] == ["runtime zone public -biostar-hardening-tcp1470"]
    assert outcome["persisted"] == []


def test_a_reload_is_reported_as_a_warning():
    assert replay("server")[2]["warnings"] == [RELOADED]
    assert replay("direct")[2]["warnings"] == []


def test_missing_zone_is_an_error_with_firewalld_words():
    _session, runner, outcome = replay("missing-zone")
    assert outcome["stderr"] == "Error: INVALID_ZONE: nosuch"
    assert steps(runner) == []


def test_many_new_definitions_are_files_and_one_reload_even_when_the_runtime_knows_them():
    # After state=absent the runtime keeps the definitions until a reload; adding 256 back must
    # still not define them one D-Bus call at a time.
    answer = answer_of(load_session("firewalld", "absent-again"), "read")
    names = ["biostar-hardening-tcp%d" % (20000 + i) for i in range(256)]
    answer["layers"]["runtime"]["defined"] = names
    rules = [{"protocol": "tcp", "port": 20000 + i, "direction": "inbound", "peers": []} for i in range(256)]
    runner, files = Answers(answer, {"done": 1}), MemoryFiles()
    outcome = reconcile(
        with_files(files)(runner, BackendOptions()), Target(tuple(rules_from_dicts(rules))), None, False
    )
    written = runner.requests[1]
    assert written["files"] is True and [s["do"] for s in written["steps"]] == ["edit", "reload"]
    assert sorted(files.texts) == sorted("/etc/firewalld/services/%s.xml" % n for n in names)
    assert outcome.warnings == (RELOADED,)


# Many runtime edits: one reload when it changes nothing but owned entries (firewalld applies a
# runtime zone edit item by item, one nftables transaction each).

BULK_NAMES = ["biostar-hardening-tcp%d" % (20000 + i) for i in range(12)]


def test_many_removals_are_one_reload_when_nothing_else_differs_from_the_permanent_config():
    session, runner, outcome = replay("bulk-absent")
    assert [summary(s) for s in steps(runner)] == [
        "permanent zone public " + " ".join("-" + n for n in BULK_NAMES),
        *("delete service " + n for n in BULK_NAMES),
        "reload",
    ]
    bulk = steps(runner)[-1]
    assert bulk["owner"] == OWNER
    assert [summary(s) for s in bulk["otherwise"]] == ["runtime zone public " + " ".join("-" + n for n in BULK_NAMES)]
    # The helper found nothing foreign that a reload would drop, so it reloaded.
    assert answer_of(session, "write") == {"done": 14, "reload_blocked_by": []}
    # The result reads as before: every runtime removal is an action, and no reload warning.
    assert ["runtime: remove service %s from zone public" % n for n in BULK_NAMES] == [
        a for a in outcome["actions"] if a.startswith("runtime:")
    ]
    assert outcome["warnings"] == [] and len(outcome["removed"]) == 12


def test_a_foreign_runtime_only_change_keeps_the_runtime_edits_item_by_item():
    session, runner, outcome = replay("bulk-absent-foreign-runtime")
    assert [s["do"] for s in steps(runner)] == ["edit", *["delete"] * 12, "reload"]
    assert answer_of(session, "write") == {"done": 14, "reload_blocked_by": ["zone public"]}
    assert outcome["warnings"] == [] and len(outcome["removed"]) == 12


def test_a_few_runtime_edits_stay_item_by_item():
    _session, runner, _outcome = replay("direct")
    assert not any("otherwise" in s for s in steps(runner))
    assert any(s.get("layer") == "runtime" for s in steps(runner))


def test_removing_256_rules_is_one_helper_write_with_one_conditional_reload():
    answer = answer_of(load_session("firewalld", "bulk-present"), "read")
    names = ["biostar-hardening-tcp%d" % (20000 + i) for i in range(256)]
    for layer in ("permanent", "runtime"):
        answer["layers"][layer]["zone"]["services"] = sorted(["ssh", *names])
        answer["layers"][layer]["defined"] = names
    runner = Answers(answer, {"done": 258, "reload_blocked_by": []})
    outcome = reconcile(with_files(MemoryFiles())(runner, BackendOptions()), Target((), False), None, False)
    assert [r["action"] for r in runner.requests] == ["read", "write"]
    written = runner.requests[1]["steps"]
    assert [s["do"] for s in written] == ["edit", *["delete"] * 256, "reload"]
    assert written[-1]["otherwise"][0]["remove"] == names
    assert len(outcome.removed) == 256 and outcome.warnings == ()


class FakeBus:
    """Online's D-Bus side for one runtime and one permanent configuration (plain dicts)."""

    def __init__(self, runtime, permanent):
        self.layers = {"runtime": runtime, "permanent": permanent}
        self.calls = []

    def online(self):
        fake = self

        class Interface:
            def __init__(self, layer, suffix):
                self.layer, self.suffix = layer, suffix

            def __getattr__(self, method):
                config = fake.layers[self.layer]

                def call(*args):
                    fake.calls.append(method)
                    if method in ("getZones", "getZoneNames"):
                        return list(config["zones"])
                    if method in ("getPolicies", "getPolicyNames"):
                        return list(config["policies"])
                    if method in ("getIPSets", "getIPSetNames"):
                        return list(config["ipsets"])
                    if method in ("getIPSetSettings", "getSettings") and self.suffix.endswith("ipset"):
                        return config["ipsets"][args[0] if args else self.name.split("/")[-1]]
                    if method in ("listServices", "getServiceNames"):
                        return list(config["services"])
                    if method in ("getAllChains", "getAllRules", "getAllPassthroughs"):
                        return config["direct"].get(method, [])
                    if method in ("getZoneByName", "getPolicyByName", "getIPSetByName"):
                        return "%s/%s" % (method, args[0])
                    if method in ("getZoneSettings2", "getPolicySettings"):
                        kind = "zones" if "Zone" in method else "policies"
                        return config[kind][args[0]]
                    if method in ("getSettings2", "getSettings"):
                        kind = "zones" if "Zone" in self.name else "policies"
                        return config[kind][self.name.split("/")[-1]]
                    raise AssertionError("unexpected D-Bus call %s" % method)

                return call

        online = firewalld_helper.Online.__new__(firewalld_helper.Online)

        def iface(path, suffix):
            layer = "permanent" if path != firewalld_helper.BUS_PATH or suffix.startswith(".config") else "runtime"
            interface = Interface(layer, suffix)
            interface.name = path
            return interface

        online.iface = iface
        online.main = iface(firewalld_helper.BUS_PATH, "")
        online.config = iface(firewalld_helper.BUS_PATH + "/config", ".config")
        return online


def configuration(**changes):
    base = {
        "zones": {
            "public": {"services": ["ssh"], "ports": [("2222", "tcp")], "rules_str": [], "target": "default"},
            "internal": {"services": ["ssh", "mdns"], "ports": [], "rules_str": [], "target": "default"},
        },
        "policies": {"userout": {"services": [], "rich_rules": [], "target": "REJECT"}},
        "ipsets": {"blocked": ("1", "", "", "hash:ip", {}, ["192.0.2.1"])},
        "services": ["ssh", "mdns"],
        "direct": {},
    }
    result = copy.deepcopy(base)
    for key, value in changes.items():
        result[key] = value
    return result


def with_owned(config, policy=True):
    config = copy.deepcopy(config)
    owned = ["biostar-hardening-tcp1470", "biostar-hardening-udp51110"]
    config["zones"]["public"]["services"] += owned
    config["zones"]["public"]["rules_str"].append(
        'rule family="ipv4" source address="10.0.0.0/8" service name="biostar-hardening-tcp1480-3fa9c2d1" accept'
    )
    config["services"] += owned
    if policy:
        config["policies"]["biostar-hardening"] = {"services": ["biostar-hardening-tcp1480"], "rich_rules": []}
    return config


def test_a_reload_is_safe_when_the_configurations_differ_only_in_owned_entries():
    runtime = with_owned(configuration())
    # The permanent side has already lost the owned entries, the owned services and the owned policy.
    assert FakeBus(runtime, configuration()).online().reload_drops(OWNER, OWNER) == []
    assert FakeBus(configuration(), runtime).online().reload_drops(OWNER, OWNER) == []


@pytest.mark.parametrize(
    "change, found",
    [
        (lambda c: c["zones"]["public"]["ports"].append(("3333", "tcp")), ["zone public"]),
        (lambda c: c["zones"]["internal"]["services"].remove("mdns"), ["zone internal"]),
        (lambda c: c["zones"]["public"].update(interfaces=["eth0"]), ["zone public"]),
        (lambda c: c["zones"].update(extra={"services": [], "rules_str": []}), ["zone extra"]),
        (lambda c: c["policies"]["userout"]["rich_rules"].append('rule family="ipv4" drop'), ["policy userout"]),
        (lambda c: c["ipsets"]["blocked"][5].append("192.0.2.2"), ["ipset blocked"]),
        (lambda c: c["direct"].update(getAllRules=[("ipv4", "filter", "INPUT", 0, ["-j", "ACCEPT"])]), ["direct"]),
        (lambda c: c["services"].append("custom"), ["services"]),
        # A foreign rich rule in the owned policy is not the policy's owned part.
        (lambda c: c["policies"]["biostar-hardening"]["rich_rules"].append('rule family="ipv4" drop'), None),
    ],
)
def test_a_reload_is_not_safe_when_anything_foreign_differs(change, found):
    permanent = with_owned(configuration())
    runtime = copy.deepcopy(permanent)
    change(runtime)
    if found is None:
        found = ["policy biostar-hardening"]
    assert FakeBus(runtime, permanent).online().reload_drops(OWNER, OWNER) == found


class Recorder:
    """An Online stand-in for write(): records the calls and answers reload_drops."""

    running = True

    def __init__(self, drops):
        self.drops = drops
        self.calls = []
        self.settings = {"services": ["ssh", "biostar-hardening-tcp1470"], "rules_str": []}

    def reload_drops(self, owner, policy):
        self.calls.append(("reload_drops", owner, policy))
        return self.drops

    def get(self, layer, kind, name):
        return dict(self.settings)

    def put(self, layer, kind, name, settings):
        self.calls.append(("put", layer, kind, name, list(settings["services"])))

    def delete(self, kind, name):
        self.calls.append(("delete", kind, name))

    def unlink(self, kind, name):
        self.calls.append(("unlink", kind, name))

    def reload(self):
        self.calls.append(("reload",))


def bulk_request():
    change = {"add": [], "add_rules": [], "remove_rules": [], "remove": ["biostar-hardening-tcp1470"]}
    return {
        "action": "write",
        "offline": True,
        "steps": [
            dict(change, do="edit", layer="permanent", kind="zone", name="public"),
            {"do": "delete", "kind": "service", "name": "biostar-hardening-tcp1470"},
            {"do": "delete", "kind": "policy", "name": OWNER},
            {"do": "reload", "owner": OWNER, "otherwise": [dict(change, layer="runtime", kind="zone", name="public")]},
        ],
    }


def test_write_reloads_once_and_unlinks_service_files_when_the_reload_is_safe(monkeypatch):
    fake = Recorder([])
    monkeypatch.setattr(firewalld_helper, "connect", lambda offline: fake)
    assert firewalld_helper.write(bulk_request()) == {"done": 4, "reload_blocked_by": []}
    assert fake.calls == [
        ("reload_drops", OWNER, OWNER),
        ("put", "permanent", "zone", "public", ["ssh"]),
        ("unlink", "service", "biostar-hardening-tcp1470"),
        ("delete", "policy", OWNER),
        ("reload",),
    ]


def test_write_edits_the_runtime_item_by_item_when_a_reload_would_drop_something(monkeypatch):
    fake = Recorder(["zone public"])
    monkeypatch.setattr(firewalld_helper, "connect", lambda offline: fake)
    assert firewalld_helper.write(bulk_request()) == {"done": 4, "reload_blocked_by": ["zone public"]}
    assert fake.calls == [
        ("reload_drops", OWNER, OWNER),
        ("put", "permanent", "zone", "public", ["ssh"]),
        ("delete", "service", "biostar-hardening-tcp1470"),
        ("delete", "policy", OWNER),
        ("put", "runtime", "zone", "public", ["ssh"]),
    ]


def fake_firewall_config(monkeypatch, folder):
    import sys
    import types

    config = types.SimpleNamespace(ETC_FIREWALLD_SERVICES=str(folder))
    monkeypatch.setitem(sys.modules, "firewall", types.SimpleNamespace(config=config))
    monkeypatch.setitem(sys.modules, "firewall.config", config)
    (folder / "biostar-hardening-tcp1470.xml").write_text("<service/>")


def test_unlink_renames_the_service_file_as_firewalld_does(monkeypatch, tmp_path):
    fake_firewall_config(monkeypatch, tmp_path)
    firewalld_helper.Online.unlink(None, "service", "biostar-hardening-tcp1470")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["biostar-hardening-tcp1470.xml.old"]


def test_a_failed_reload_puts_the_unlinked_service_files_back(monkeypatch, tmp_path, capsys):
    fake_firewall_config(monkeypatch, tmp_path)

    class FailingReload(Recorder):
        def unlink(self, kind, name):
            return firewalld_helper.Online.unlink(None, kind, name)

        def reload(self):
            assert sorted(p.name for p in tmp_path.iterdir()) == ["biostar-hardening-tcp1470.xml.old"]
            raise ValueError("COMMAND_FAILED: broken foreign zone file")

    monkeypatch.setattr(firewalld_helper, "connect", lambda offline: FailingReload([]))
    with pytest.raises(SystemExit):
        firewalld_helper.main(json.dumps(bulk_request()))
    out, _err = capsys.readouterr()
    assert json.loads(out) == {"error": "COMMAND_FAILED: broken foreign zone file", "step": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["biostar-hardening-tcp1470.xml"]
