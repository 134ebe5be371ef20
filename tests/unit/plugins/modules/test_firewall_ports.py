"""The firewall_ports module end to end, with captured command output instead of a host."""

import os
import sys
from types import SimpleNamespace

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.biostar.hardening.plugins.doc_fragments.port_rules import ModuleDocFragment
from ansible_collections.biostar.hardening.plugins.module_utils import host_lock, lockout
from ansible_collections.biostar.hardening.plugins.module_utils.backends import base, detect
from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import Backend, Detection
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import rules_from_dicts
from ansible_collections.biostar.hardening.plugins.modules import firewall_ports

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "netfilter"))
from netfilter_fakes import (
    NFT_LIST,
    RESTORE4,
    RESTORE6,
    SAVE4,
    SAVE6,
    FakeFiles,
    FakeRunner,
    failed,
    fixture,
    ok,
    rules_fixture,
)

APPLY = ("nft", "-f", "-")
INCLUDE = "/etc/nftables.d/biostar-hardening.nft"
CONF = "/etc/nftables.conf"
SERVER = rules_fixture("rules_server.json")
DIRECT = rules_fixture("rules_direct.json")
SSH = rules_fixture("rules_ssh.json")


class Exited(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg", ""))
        self.result = result
        self.failed = failed


def stub(name, active=False):
    class Stub(Backend):
        pass

    Stub.name = name
    Stub.detect = classmethod(lambda cls, runner: Detection(name, True, active, "stub"))
    return Stub


@pytest.fixture
def host(monkeypatch, tmp_path):
    state = SimpleNamespace(runner=None, files=FakeFiles(), ssh=None, warnings=[])
    # The host lock is real (flock), but in the test's own directory, not /run/lock.
    monkeypatch.setattr(host_lock, "LOCK_DIRS", (str(tmp_path),))
    monkeypatch.setattr(firewall_ports, "ModuleRunner", lambda module: state.runner)
    # Every backend reaches host files through base.LocalFiles unless given others.
    monkeypatch.setattr(base, "LocalFiles", lambda: state.files)
    monkeypatch.setattr(firewall_ports, "find_ssh_connection", lambda: state.ssh)
    # The other firewalls are present but inactive, so auto detection reaches netfilter: the
    # stubs answer for themselves, as the fake host lists neither firewall-cmd nor ufw.
    monkeypatch.setattr(detect, "REGISTRY", dict(detect.REGISTRY, ufw=stub("ufw"), firewalld=stub("firewalld")))
    monkeypatch.setattr(detect, "not_installed", lambda runner, name: None)

    def exit_json(module, **result):
        raise Exited(result, False)

    def fail_json(module, msg, **result):
        raise Exited(dict(result, msg=msg), True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda module, text: state.warnings.append(text))
    return state


def nft_host(listing, apply=None):
    return FakeRunner(
        {
            NFT_LIST: ok(fixture(listing)),
            APPLY: apply or ok(),
            ("iptables", "--version"): ok(fixture("iptables_version_nft.txt")),
            SAVE4: ok(fixture("iptables_fresh_v4.txt")),
            SAVE6: ok(fixture("iptables_fresh_v4.txt")),
        }
    )


def ipt_host(v4, v6, nft="nft_iptables_compat.json"):
    return FakeRunner(
        {
            NFT_LIST: ok(fixture(nft)),
            ("iptables", "--version"): ok(fixture("iptables_version_nft.txt")),
            SAVE4: ok(fixture(v4)),
            SAVE6: ok(fixture(v6)),
            RESTORE4: ok(),
            RESTORE6: ok(),
        }
    )


def run(args, check=False, diff=False):
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), pytest.raises(Exited) as caught:
        firewall_ports.main()
    return caught.value


def short(rules):
    return ["%s/%s" % (r["protocol"], r["port"]) for r in rules]


# -- validation happens before the host is touched --------------------------------------
@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"protocol": "tcp", "port": 0}, "rules[1].port: invalid value 0"),
        ({"protocol": "tcp", "port": 70000}, "rules[1].port: invalid value 70000"),
        ({"protocol": "tcp", "port": "20-10"}, "rules[1].port: invalid range '20-10'"),
        ({"protocol": "icmp", "port": 1}, "rules[1].protocol: invalid value 'icmp'; valid values: tcp, udp"),
        ({"protocol": "tcp", "port": 1, "peers": ["10.0.0.300"]}, "rules[1].peers: invalid value '10.0.0.300'"),
        ({"protocol": "tcp", "port": 1, "peers": ["10.0.0.1/24"]}, "did you mean 10.0.0.0/24?"),
        ({"protocol": "tcp"}, "rules[1].port: missing"),
        ({"protocol": "tcp", "port": 1, "direction": "sideways"}, "rules[1].direction: invalid value 'sideways'"),
    ],
)
def test_bad_rules_fail_before_any_command(host, rule, message):
    host.runner = nft_host("nft_host_drop.json")
    result = run({"rules": [SERVER[0], rule]})
    assert result.failed
    assert message in result.result["msg"]
    assert host.runner.calls == []


def test_unknown_rule_keys_are_refused_with_the_valid_keys(host):
    host.runner = nft_host("nft_host_drop.json")
    result = run({"rules": [{"protocol": "tcp", "port": 1, "colour": "red"}]})
    assert result.failed
    assert result.result["msg"] == (
        "rules[0] key: invalid value 'colour'; valid values: protocol, port, direction, peers, purpose, provenance,"
        " reference"
    )
    assert host.runner.calls == []


@pytest.mark.parametrize(
    ("element", "shown"),
    [(8080, "8080"), ("tcp/8080", "'tcp/8080'"), (None, "None"), ([1480, 1470], "[1480, 1470]")],
)
def test_a_rule_that_is_not_a_dict_is_named_with_the_valid_keys(host, element, shown):
    # ansible-core's own check of dict elements would say "must be a list" here, naming
    # neither the rule nor its keys; the module checks raw elements itself.
    host.runner = nft_host("nft_host_drop.json")
    result = run({"rules": [SERVER[0], element]})
    assert result.failed
    assert result.result["msg"] == (
        "rules[1]: invalid value %s; valid values: a dict with the keys protocol, port, direction, peers, purpose,"
        " provenance, reference (protocol and port are required)" % shown
    )
    assert host.runner.calls == []


def test_rule_keys_set_to_null_take_their_defaults(host):
    host.runner = nft_host("nft_host_drop.json")
    result = run({"rules": [{"protocol": "tcp", "port": 1480, "direction": None, "peers": None}]}, check=True)
    assert not result.failed, result.result["msg"]
    assert result.result["added"] == [{"protocol": "tcp", "port": 1480, "direction": "inbound", "peers": []}]


def test_bad_owner_fails_before_any_command(host):
    host.runner = nft_host("nft_host_drop.json")
    result = run({"rules": SERVER, "owner": "two words"})
    assert result.failed and "owner: invalid value 'two words'" in result.result["msg"]
    assert host.runner.calls == []


# -- nftables, the whole cycle -----------------------------------------------------------
def test_first_run_opens_the_server_set(host):
    host.runner = nft_host("nft_host_drop.json")
    host.files.files[CONF] = fixture("nftables_conf_host.txt")
    result = run({"rules": SERVER})
    assert not result.failed
    out = result.result
    assert (out["changed"], out["backend"], out["filtering"]) == (True, "nftables", True)
    assert short(out["added"]) == ["tcp/1470", "tcp/1471", "tcp/1480", "udp/51110"]
    assert out["removed"] == []
    assert out["rules"] == [
        {"protocol": r["protocol"], "port": r["port"], "direction": "inbound", "peers": []} for r in SERVER
    ]
    assert out["persisted"] == [INCLUDE, CONF]
    assert out["actions"] and all(isinstance(a, str) for a in out["actions"])
    assert len(host.runner.writes()) == 1
    assert host.files.files[INCLUDE] == fixture("nft_include_server.nft")
    assert host.warnings == []


def test_a_run_waits_for_the_host_lock_and_fails_clearly_when_it_stays_taken(host, tmp_path):
    host.runner = nft_host("nft_host_drop.json")
    host.files.files[CONF] = fixture("nftables_conf_host.txt")
    with host_lock.host_lock(5, str(tmp_path / host_lock.LOCK_NAME)):
        result = run({"rules": SERVER, "lock_timeout": 0})
    assert result.failed
    assert "lock_timeout=0" in result.result["msg"]
    assert str(tmp_path / host_lock.LOCK_NAME) in result.result["msg"]
    # The lock comes before detection: what detection lists is what the run then reads.
    assert host.runner.calls == []
    assert host.files.written == []
    # Released: the same run now goes through.
    assert not run({"rules": SERVER, "lock_timeout": 0}).failed


def test_second_run_changes_and_writes_nothing(host):
    host.runner = nft_host("nft_host_drop_server.json")
    host.files.files.update(
        {CONF: fixture("nftables_conf_with_include.txt"), INCLUDE: fixture("nft_include_server.nft")}
    )
    out = run({"rules": SERVER}).result
    assert (out["changed"], out["added"], out["removed"], out["persisted"]) == (False, [], [], [])
    assert out["actions"] == []
    assert short(out["rules"]) == ["tcp/1470", "tcp/1471", "tcp/1480", "udp/51110"]
    assert host.runner.writes() == []
    assert host.files.written == []
    # Detection's listing serves the read too: one nft process for the whole run.
    assert [command for command, _data in host.runner.calls] == [NFT_LIST]


def test_check_mode_predicts_the_real_run_and_touches_nothing(host):
    files = {CONF: fixture("nftables_conf_with_include.txt"), INCLUDE: fixture("nft_include_server.nft")}
    host.runner = nft_host("nft_host_drop_server.json")
    host.files.files.update(files)
    predicted = run({"rules": DIRECT}, check=True).result
    assert host.runner.writes() == []
    assert host.files.written == []
    assert predicted["changed"] is True
    assert short(predicted["removed"]) == ["tcp/1470", "tcp/1471", "udp/51110"]

    host.runner = nft_host("nft_host_drop_server.json")
    host.files = FakeFiles(files)
    real = run({"rules": DIRECT}).result
    assert len(host.runner.writes()) == 1
    for key in ("changed", "backend", "filtering", "added", "removed", "rules", "persisted"):
        assert predicted[key] == real[key], key


def test_diff_shows_owned_rules_and_structure_before_and_after(host):
    host.runner = nft_host("nft_host_drop_server.json")
    out = run({"rules": DIRECT}, check=True, diff=True).result
    assert out["diff"]["before"] == (
        "inbound tcp/1470 from any\n"
        "inbound tcp/1471 from any\n"
        "inbound tcp/1480 from any\n"
        "inbound udp/51110 from any\n"
        "# jump inet filter input -> biostar_hardening_in\n"
        "# policy inet filter input drop\n"
    )
    assert out["diff"]["after"] == (
        "inbound tcp/1480 from any\n# jump inet filter input -> biostar_hardening_in\n# policy inet filter input drop\n"
    )


def test_state_absent_removes_everything_owned(host):
    host.runner = nft_host("nft_host_drop_server.json")
    host.files.files.update(
        {CONF: fixture("nftables_conf_with_include.txt"), INCLUDE: fixture("nft_include_server.nft")}
    )
    out = run({"state": "absent", "rules": SERVER}).result
    assert (out["changed"], out["rules"], out["added"]) == (True, [], [])
    assert short(out["removed"]) == ["tcp/1470", "tcp/1471", "tcp/1480", "udp/51110"]
    assert out["persisted"] == [INCLUDE + " (removed)", CONF]
    [(_cmd, script)] = host.runner.writes()
    assert "delete chain inet filter biostar_hardening_in" in script
    assert host.files.files[CONF] == fixture("nftables_conf_host.txt")


def test_state_absent_when_nothing_is_owned_is_a_no_op(host):
    host.runner = nft_host("nft_host_drop.json")
    host.files.files[CONF] = fixture("nftables_conf_host.txt")
    out = run({"state": "absent"}).result
    assert (out["changed"], out["removed"], out["persisted"]) == (False, [], [])
    assert host.runner.writes() == []


def test_backend_failure_reports_stderr_and_persists_nothing(host):
    host.runner = nft_host("nft_host_drop_server.json", apply=failed(fixture("nft_apply_error.txt")))
    host.files.files.update(
        {CONF: fixture("nftables_conf_with_include.txt"), INCLUDE: fixture("nft_include_server.nft")}
    )
    result = run({"rules": DIRECT})
    assert result.failed
    assert result.result["msg"].startswith("nftables: command failed (rc=1): nft -f -")
    assert "Could not process rule" in result.result["stderr"]
    assert result.result["cmd"] == ["nft", "-f", "-"]
    assert result.result["changed"] is False
    assert short(result.result["rules"]) == ["tcp/1470", "tcp/1471", "tcp/1480", "udp/51110"]
    assert host.files.written == []
    # The restore after the failed write lists the ruleset again rather than reusing the listing.
    # (The fake still lists the state before the write, so the restore finds nothing to put back.)
    assert [command for command, _data in host.runner.calls] == [NFT_LIST, APPLY, NFT_LIST]


def test_nothing_filtering_still_installs_and_says_so(host):
    host.runner = nft_host("nft_empty.json")
    out = run({"rules": DIRECT, "persist": False}).result
    assert (out["changed"], out["backend"], out["filtering"], out["persisted"]) == (True, "nftables", False, [])
    assert any("no firewall filters traffic" in w for w in host.warnings)
    [(_cmd, script)] = host.runner.writes()
    assert (
        "add chain inet biostar_hardening input { type filter hook input priority filter ; policy accept ; }" in script
    )


def test_missing_backend_names_what_was_detected(host):
    host.runner = FakeRunner(
        {
            ("iptables", "--version"): ok(fixture("iptables_version_nft.txt")),
            SAVE4: ok(fixture("iptables_host_drop_v4.txt")),
            SAVE6: ok(fixture("iptables_host_drop_v6.txt")),
        },
        binaries=("iptables", "iptables-save", "iptables-restore", "ip6tables-save"),
    )
    result = run({"rules": SERVER, "backend": "nftables"})
    assert result.failed
    message = result.result["msg"]
    assert message.startswith("backend nftables is not usable on this host: nft not found. Detected: ")
    assert "iptables: active (iptables v1.8.9 (nf_tables)" in message
    assert host.runner.writes() == []


# -- iptables through the module ---------------------------------------------------------
def test_iptables_cycle_first_and_second_run(host):
    host.runner = ipt_host("iptables_host_drop_v4.txt", "iptables_host_drop_v6.txt")
    out = run({"rules": SERVER}).result
    assert (out["changed"], out["backend"], out["filtering"]) == (True, "iptables", True)
    assert [cmd for cmd, _data in host.runner.writes()] == [RESTORE4, RESTORE6]
    assert any("not persisted" in w for w in host.warnings)

    host.runner = ipt_host("iptables_server_v4.txt", "iptables_server_v6.txt")
    out = run({"rules": SERVER, "backend": "iptables"}).result
    assert (out["changed"], out["persisted"]) == (False, [])
    assert host.runner.writes() == []
    # Detection's listings serve the read too: one iptables-save per family.
    assert [command for command, _data in host.runner.calls] == [("iptables", "--version"), SAVE4, SAVE6]


# -- lockout guard -------------------------------------------------------------------------
def test_an_owned_rule_carrying_the_ssh_session_is_never_removed(host):
    host.runner = nft_host("nft_host_drop_ssh.json")
    host.ssh = "10.88.0.5 51234 10.88.0.9 22"
    result = run({"rules": DIRECT})
    assert result.failed
    assert "refusing to remove the owned rule 'inbound tcp/22 from 10.88.0.0/16'" in result.result["msg"]
    assert host.runner.writes() == []
    result = run({"state": "absent"})
    assert result.failed and "refusing to remove" in result.result["msg"]


@pytest.mark.parametrize("ssh", ["192.0.2.1 51234 10.88.0.9 22", "10.88.0.5 51234 10.88.0.9 2200", None])
def test_rules_that_do_not_carry_the_session_can_go(host, ssh):
    host.runner = nft_host("nft_host_drop_ssh.json")
    host.ssh = ssh
    out = run({"rules": DIRECT, "persist": False}).result
    assert out["changed"] and short(out["removed"]) == ["tcp/22"]


def test_absent_refuses_to_drop_the_baseline_rule_for_the_ssh_port(host):
    host.runner = nft_host("nft_owned_baseline.json")
    host.ssh = "10.88.0.5 51234 10.88.0.9 22"
    result = run({"state": "absent"})
    assert result.failed
    assert "refusing state=absent" in result.result["msg"]
    assert host.runner.writes() == []


def test_baseline_takes_the_management_port_from_the_ssh_session(host):
    host.runner = nft_host("nft_empty.json")
    host.ssh = "10.88.0.5 51234 10.88.0.9 2200"
    out = run({"rules": DIRECT, "baseline": True, "persist": False}).result
    assert out["changed"]
    [(_cmd, script)] = host.runner.writes()
    assert "tcp dport 2200 accept" in script
    assert "policy drop" in script


def test_baseline_without_a_known_port_fails_clearly(host):
    host.runner = nft_host("nft_empty.json")
    result = run({"rules": DIRECT, "baseline": True})
    assert result.failed
    assert "management_ports: no port known" in result.result["msg"]
    assert host.runner.calls == []


def test_baseline_must_keep_the_port_of_the_current_session(host):
    host.runner = nft_host("nft_empty.json")
    host.ssh = "10.88.0.5 51234 10.88.0.9 22"
    result = run({"rules": DIRECT, "baseline": True, "management_ports": [2200]})
    assert result.failed
    assert "do not include port 22" in result.result["msg"]


def test_baseline_is_refused_by_backends_without_it(host, monkeypatch):
    monkeypatch.setitem(detect.REGISTRY, "ufw", stub("ufw", active=True))
    host.runner = nft_host("nft_empty.json")
    result = run({"rules": DIRECT, "baseline": True, "management_ports": [22]})
    assert result.failed
    assert result.result["msg"].startswith("baseline: not supported with backend ufw")


# -- helpers ---------------------------------------------------------------------------------
def test_session_parsing_and_matching():
    session = lockout.Session.parse("fe80::1%eth0 5000 fe80::2 22")
    assert (session.client, session.port) == ("fe80::1", 22)
    assert lockout.Session.parse("") is None
    assert lockout.Session.parse("1.2.3.4 5 6.7.8.9 ssh") is None
    ssh = rules_from_dicts(SSH)[0]
    v4 = lockout.Session("10.88.1.2", 22)
    assert lockout.carries_session(ssh, v4)
    assert not lockout.carries_session(ssh, lockout.Session("2001:db8::1", 22))
    wide = rules_from_dicts([{"protocol": "tcp", "port": "20-30"}])[0]
    assert lockout.carries_session(wide, v4)
    udp = rules_from_dicts([{"protocol": "udp", "port": 22}])[0]
    assert not lockout.carries_session(udp, v4)


def test_ssh_connection_is_found_in_an_ancestor_after_become(tmp_path, monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    for pid, ppid, env in (
        (40, 30, b"PATH=/bin\0"),
        (30, 20, b"SUDO_USER=me\0"),
        (20, 1, b"SSH_CONNECTION=1 2 3 22\0"),
    ):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "environ").write_bytes(env)
        (tmp_path / str(pid) / "stat").write_text("%d (sudo -u (x)) S %d 0 0" % (pid, ppid))
    monkeypatch.setattr(os, "getppid", lambda: 40)
    assert lockout.find_ssh_connection(str(tmp_path)) == "1 2 3 22"
    monkeypatch.setenv("SSH_CONNECTION", "9 8 7 2200")
    assert lockout.find_ssh_connection(str(tmp_path)) == "9 8 7 2200"


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(firewall_ports.DOCUMENTATION)
    shared = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    options = dict(shared, **doc["options"])
    assert doc["extends_documentation_fragment"] == ["biostar.hardening.port_rules"]
    assert set(options) == set(firewall_ports.ARGUMENT_SPEC)
    for name, spec in firewall_ports.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
        assert options[name].get("choices") == spec.get("choices"), name
        assert options[name]["description"], name
    suboptions = options["rules"]["suboptions"]
    assert set(suboptions) == set(firewall_ports.RULE_OPTIONS)
    for name, spec in firewall_ports.RULE_OPTIONS.items():
        assert suboptions[name]["type"] == spec["type"], name
        assert suboptions[name].get("default") == spec.get("default"), name
    returned = yaml.safe_load(firewall_ports.RETURN)
    assert set(returned) == {
        "changed",
        "backend",
        "filtering",
        "added",
        "removed",
        "rules",
        "persisted",
        "actions",
        "diff",
    }
    assert yaml.safe_load(firewall_ports.EXAMPLES)


def test_every_backend_travels_in_the_payload():
    """detect imports a backend only when a run asks for it, yet Ansible still packs all four:
    its dependency finder reads the import statements inside functions too."""
    import datetime
    import io
    import zipfile

    from ansible._internal._ansiballz import _builder
    from ansible.executor import module_common

    with open(firewall_ports.__file__, "rb") as handle:
        data = handle.read()
    packed = zipfile.ZipFile(io.BytesIO(), "w")
    module_common.recursive_finder(
        "firewall_ports", firewall_ports.__name__, data, packed, datetime.datetime.now(), _builder.ExtensionManager()
    )
    folder = "ansible_collections/biostar/hardening/plugins/module_utils/backends/"
    packed_backends = {name[len(folder) : -3] for name in packed.namelist() if name.startswith(folder)}
    for name in detect.BACKENDS:
        assert name in packed_backends
    assert {"firewalld_helper", "firewalld_config", "ufw_rules", "netfilter"} <= packed_backends
