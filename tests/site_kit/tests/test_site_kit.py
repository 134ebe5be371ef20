# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site_kit without containers: seeds, the collection link, and recorded runs read back.

pytest tests/site_kit/tests
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

sys.path.append(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from site_kit import REPO, collection, firewall, playbook, podman, ssh

PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: One call
      ansible.builtin.debug:
        msg: one
    - name: A loop of three, one skipped
      ansible.builtin.debug:
        msg: "{{ item }}"
      loop: [1, 2, 3]
      when: item != 2
    - name: Skipped
      ansible.builtin.debug:
        msg: never
      when: false
    - name: Fails
      ansible.builtin.fail:
        msg: refused on purpose
"""


@pytest.mark.parametrize(
    "backend, options, message",
    [
        ("pf", {}, "backend: invalid value 'pf'; valid values: nftables, iptables, ufw, firewalld"),
        ("ufw", {"output_drop": True}, "output_drop: true is supported for nftables and iptables, not 'ufw'"),
        ("nftables", {"offline": True}, "offline: true is supported for firewalld only, not 'nftables'"),
    ],
)
def test_seed_refuses_what_it_cannot_do(backend, options, message):
    with pytest.raises(ValueError) as error:
        firewall.seed_script(backend, **options)
    assert str(error.value) == message


def test_nftables_seed_is_default_deny_and_persisted():
    plain = firewall.seed_script("nftables")
    assert "policy drop;" in plain and "user-rule" not in plain and "oif" not in plain
    assert "nft -f /etc/nftables.conf" in plain
    full = firewall.seed_script("nftables", foreign_rule=True, output_drop=True)
    assert 'tcp dport 2222 accept comment "user-rule"' in full
    assert "type filter hook output priority filter; policy drop;" in full


def test_iptables_seed_saves_what_it_set():
    script = firewall.seed_script("iptables", foreign_rule=True)
    assert script.index("-P INPUT DROP") < script.index("iptables-save >/etc/iptables/rules.v4")
    assert "--dport 2222 -m comment --comment user-rule -j ACCEPT" in script
    assert "OUTPUT" not in script


def test_link_points_at_this_checkout(tmp_path):
    root = collection.link(str(tmp_path))
    link = os.path.join(root, "ansible_collections", "biostar", "hardening")
    assert os.readlink(link) == REPO
    assert collection.link(str(tmp_path)) == root  # a second call keeps the link


def test_a_recorded_run_reads_back(tmp_path):
    book = tmp_path / "play.yml"
    book.write_text(PLAY)
    env = collection.ansible_env(ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    run = playbook.run(str(book), "localhost,", extra_vars={"ansible_connection": "local"}, env=env, timeout=120)
    assert run.rc == 2, run.describe()
    assert run.stats("localhost")["failures"] == 1
    debug = run.module_results("localhost", "debug")
    assert [r.get("msg") for r in debug if not r.get("skipped")] == ["one", 1, 3]
    assert run.module_results("localhost", "ansible.builtin.debug") == debug
    assert run.failure_messages("localhost") == ["refused on purpose"]
    # Loop items count one each, skipped ones and loop summaries not at all.
    assert run.counts() == {"localhost": {"ansible.builtin.debug": 3, "ansible.builtin.fail": 1}}


@pytest.mark.parametrize(
    "port, user, message",
    [
        (0, "root", "port: invalid value 0; valid values: integers 1-65535"),
        (65536, "root", "port: invalid value 65536; valid values: integers 1-65535"),
        ("2200", "root", "port: invalid value '2200'; valid values: integers 1-65535"),
        (2200, "Bad User", "user: invalid value 'Bad User'; valid values: a login name matching"),
    ],
)
def test_ssh_refuses_a_bad_port_or_user(port, user, message):
    with pytest.raises(ValueError) as caught:
        ssh.serve_script(port, user)
    assert message in str(caught.value)


def test_ssh_serve_script_listens_on_the_port_only_for_the_user():
    script = ssh.serve_script(2200, "relop", root_password="pw it's", systemd=False)
    lines = script.splitlines()
    assert lines[0] == "set -e"
    assert "printf 'Port 2200\\n' >/etc/ssh/sshd_config.d/site-kit.conf" in lines
    assert "Port 22\\n" not in script
    assert "id -u relop >/dev/null 2>&1 || useradd --create-home --shell /bin/sh relop" in lines
    assert 'chown -R relop: "$home/.ssh"' in lines
    # The password is quoted for the shell, quote included.
    assert "echo 'root:pw it'\"'\"'s' | chpasswd" in lines
    assert "/usr/sbin/sshd" in lines and "systemctl restart ssh" not in lines
    assert any("sport = :2200" in line for line in lines)
    booted = ssh.serve_script(2200, systemd=True)
    assert "systemctl restart ssh" in booted and "useradd" not in booted and "chpasswd" not in booted


def test_ssh_key_host_vars_and_new_connection(tmp_path):
    key = ssh.make_key(str(tmp_path))
    with open(key + ".pub", encoding="utf-8") as handle:
        assert handle.read().startswith("ssh-ed25519 ")
    before = os.stat(key).st_mtime_ns
    assert ssh.make_key(str(tmp_path)) == key and os.stat(key).st_mtime_ns == before  # made once
    hv = ssh.host_vars("10.88.0.5", 2200, "relop", key, "/k")
    assert hv["ansible_port"] == 2200 and hv["ansible_user"] == "relop"
    assert hv["ansible_ssh_common_args"] == "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/k"
    command = ssh.new_connection_command("10.88.0.5", 2200, "relop", key, "/k", timeout=3)
    assert command[:3] == ["ssh", "-p", "2200"] and "ControlPath=none" in command and "ConnectTimeout=3" in command
    assert command[-2] == "relop@10.88.0.5"
    settings = ssh.ansible_settings("/tmp/cp", persist=60, alive=2)
    assert "ControlPersist=60s" in settings["ANSIBLE_SSH_ARGS"]
    assert settings["ANSIBLE_SSH_CONTROL_PATH_DIR"] == "/tmp/cp"


def test_ssh_known_hosts_names_the_host_as_ssh_looks_it_up(tmp_path):
    """ssh looks a host key up as ``[ip]:port``, except on port 22: there by the bare address."""
    with open(ssh.make_key(str(tmp_path)) + ".pub", encoding="utf-8") as handle:
        public = handle.read()
    kind, blob = public.split()[:2]

    class Host:
        ip = "10.88.0.5"

        def sh(self, command):
            assert command == "cat /etc/ssh/ssh_host_ed25519_key.pub"
            return podman.Result(0, public, "")

    path = str(tmp_path / "known")
    assert ssh.known_hosts(Host(), 2200, path) == path
    ssh.known_hosts(Host(), 22, path)
    with open(path, encoding="utf-8") as handle:
        assert handle.read().splitlines() == ["[10.88.0.5]:2200 %s %s" % (kind, blob), "10.88.0.5 %s %s" % (kind, blob)]
    for name in ("[10.88.0.5]:2200", "10.88.0.5"):  # ssh's own lookup finds each under its name only
        found = subprocess.run(["ssh-keygen", "-F", name, "-f", path], capture_output=True, text=True, check=False)
        assert found.returncode == 0 and found.stdout.count(blob) == 1, (name, found.stdout)


def test_ssh_new_connection_reports_a_refused_port(tmp_path):
    # Loopback only: a port nothing listens on refuses at once; the login says so.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = ssh.make_key(str(tmp_path))
    login = ssh.new_connection("127.0.0.1", port, "relop", key, str(tmp_path / "known"), timeout=2)
    assert not login.ok and login.ssh_connection == ""
    assert "refused" in login.error.lower()


def test_start_host_boots_firewalld_with_systemd_and_others_on_the_base_image(monkeypatch):
    calls = []
    monkeypatch.setattr(podman, "podman", lambda *args, **kw: calls.append(args))
    assert podman.start_host("h-fwd", "firewalld").name == "h-fwd"
    assert podman.start_host("h-nft", "nftables").name == "h-nft"
    removed, booted, _removed, plain = calls
    assert removed[:2] == ("rm", "--force") and removed[-1] == "h-fwd"  # a leftover of that name goes first
    assert booted[-1] == podman.FIREWALLD_IMAGE and "--systemd" in booted and "--init" not in booted
    assert booted[booted.index("--systemd") + 1] == "always"
    assert plain[-3:] == (podman.BASE_IMAGE, "sleep", "infinity") and "--init" in plain and "--systemd" not in plain
    for args in (booted, plain):
        assert [args[i + 1] for i, arg in enumerate(args) if arg == "--cap-add"] == ["NET_ADMIN", "NET_RAW"]


def test_a_lean_record_keeps_failures_and_counts_only(tmp_path):
    book = tmp_path / "play.yml"
    book.write_text(PLAY)
    env = collection.ansible_env(ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    env[collection.RECORD_LEAN_ENV] = "1"
    run = playbook.run(str(book), "localhost,", extra_vars={"ansible_connection": "local"}, env=env, timeout=120)
    assert run.rc == 2, run.describe()
    # The three debug tasks are recorded, without their messages (or the loop's items).
    debug = run.module_results("localhost", "debug")
    assert len(debug) == 3 and not [r for r in debug if "msg" in r or "results" in r], debug
    assert run.failure_messages("localhost") == ["refused on purpose"]
    assert run.counts() == {"localhost": {"ansible.builtin.debug": 3, "ansible.builtin.fail": 1}}


class _Host:
    def get_name(self):
        return "h1"


class _Task:
    action = resolved_action = "biostar.hardening.biostar_firewall"

    def get_name(self):
        return "Reconcile"


class _Converting:
    """A 2.19 callback result whose converted ``result`` must not be asked for."""

    host, task = _Host(), _Task()

    def __init__(self, raw):
        self._return_data = raw

    @property
    def result(self):
        raise AssertionError("the lean recorder converted the whole result")


class _Old:
    """A 2.16-2.18 callback result: private attributes only."""

    def __init__(self, raw):
        self._result, self._host, self._task = raw, _Host(), _Task()


def test_lean_records_and_counts_read_flags_without_converting_the_result(monkeypatch):
    from site_kit.recorder import MODULE_KEY, Recorder

    monkeypatch.setenv(collection.RECORD_LEAN_ENV, "1")
    raw = {"changed": True, MODULE_KEY: "biostar.hardening.firewall_ports", "rules": [{"port": 1}] * 256}
    for result in (_Converting(raw), _Old(raw)):
        recorder = Recorder()
        recorder.v2_runner_on_ok(result)
        assert recorder.tasks == [
            {
                "host": "h1",
                "task": "Reconcile",
                "action": "biostar.hardening.firewall_ports",
                "status": "ok",
                "result": {"changed": True, MODULE_KEY: "biostar.hardening.firewall_ports"},
            }
        ]
        assert recorder.counts == {"h1": {"biostar.hardening.firewall_ports": 1}}
    # A failure keeps its whole (converted) result, lean or not.
    recorder = Recorder()
    with pytest.raises(AssertionError, match="converted the whole result"):
        recorder.v2_runner_on_failed(_Converting(dict(raw, failed=True, msg="no")))
