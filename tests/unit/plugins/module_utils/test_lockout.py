"""The lockout guard finds the SSH session after become, also where root cannot read others' environments.

Root in a container usually lacks CAP_SYS_PTRACE, so after ``become`` from an unprivileged
user every ancestor that still holds SSH_CONNECTION is unreadable (EACCES). A fake /proc
here has the shape measured in the reliability suite's containers: python (root) <- sh
(root) <- su (setuid, unreadable) <- sshd session (user, unreadable) <- sshd [priv]
(unreadable) <- sshd listener (root, readable) <- init.
"""

from __future__ import annotations

import builtins
import os

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils import lockout
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import rules_from_dicts

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
# 10.88.0.5:2200 listening (inode 111), a session from 10.88.0.1:40000, a BioStar device
# connection on 1480 that sshd does not own.
TCP = {
    "listen": "   0: 00000000:0898 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 111 1\n",
    "session": "   1: 0500580A:0898 0100580A:9C40 01 00000000:00000000 00:00000000 00000000 0 0 222 1\n",
    "other": "   2: 0500580A:0898 0200580A:9C41 01 00000000:00000000 00:00000000 00000000 0 0 333 1\n",
    "device": "   3: 0500580A:05C8 0900580A:C350 01 00000000:00000000 00:00000000 00000000 0 0 444 1\n",
}
# The same session seen by sshd listening on :: (IPv4-mapped addresses).
TCP6_SESSION = (
    "   0: 00000000000000000000000000000000:0898 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000 0 0 111 1\n"
    "   1: 0000000000000000FFFF00000500580A:0898 0000000000000000FFFF00000100580A:9C40 01 "
    "00000000:00000000 00:00000000 00000000 0 0 222 1\n"
)
CHAIN = (  # pid, parent, command, environment readable
    (50, 40, "python3", True),
    (40, 30, "sh", True),
    (30, 20, "su", False),
    (20, 15, "sshd", False),
    (15, 10, "sshd", False),
    (10, 1, "sshd", True),
)


@pytest.fixture
def fake_proc(tmp_path, monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.setattr(os, "getppid", lambda: 50)
    denied = set()
    for pid, parent, command, readable in CHAIN:
        base = tmp_path / str(pid)
        (base / "fd").mkdir(parents=True)
        (base / "environ").write_bytes(b"PATH=/bin\0HOME=/root\0")
        (base / "stat").write_text("%d (%s) S %d 0 0" % (pid, command, parent))
        if not readable:
            denied.add(str(base / "environ"))
    os.symlink("socket:[111]", str(tmp_path / "10" / "fd" / "3"))
    os.symlink("/dev/null", str(tmp_path / "10" / "fd" / "0"))
    (tmp_path / "net").mkdir()
    real_open = builtins.open

    def guarded(path, *args, **kwargs):
        if str(path) in denied:  # the tests run as root, so file modes cannot deny it
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(lockout, "open", guarded, raising=False)

    def write(tcp: str, tcp6: str = "") -> str:
        (tmp_path / "net" / "tcp").write_text(HEADER + tcp)
        (tmp_path / "net" / "tcp6").write_text(HEADER + tcp6)
        return str(tmp_path)

    return write


def test_the_session_is_found_from_sshd_sockets_when_environments_are_unreadable(fake_proc):
    proc = fake_proc(TCP["listen"] + TCP["session"] + TCP["device"])
    assert lockout.find_ssh_connection(proc) == "10.88.0.1 40000 10.88.0.5 2200"
    session = lockout.Session.parse(lockout.find_ssh_connection(proc))
    assert (session.client, session.port) == ("10.88.0.1", 2200)
    # The guard now refuses what it used to let through: removing the rule for 2200.
    rule = rules_from_dicts([{"protocol": "tcp", "port": 2200}])[0]
    with pytest.raises(lockout.LockoutError, match="port 2200"):
        lockout.check_removals([rule], session)
    with pytest.raises(lockout.LockoutError, match="tcp/2200"):
        lockout.check_absent([2200], True, session)


def test_an_ipv4_session_on_an_ipv6_listener_reads_as_ipv4(fake_proc):
    proc = fake_proc("", TCP6_SESSION)
    assert lockout.find_ssh_connection(proc) == "10.88.0.1 40000 10.88.0.5 2200"


def test_several_sessions_on_the_port_protect_the_port_for_any_client(fake_proc):
    proc = fake_proc(TCP["listen"] + TCP["session"] + TCP["other"])
    value = lockout.find_ssh_connection(proc)
    assert value == "unknown 0 10.88.0.5 2200"
    session = lockout.Session.parse(value)
    only_elsewhere = rules_from_dicts([{"protocol": "tcp", "port": 2200, "peers": ["192.0.2.0/24"]}])[0]
    assert lockout.carries_session(only_elsewhere, session)  # the client is unknown: keep it


def test_no_sshd_session_means_no_session(fake_proc, monkeypatch):
    # Listening, but nobody connected: no session.
    assert lockout.find_ssh_connection(fake_proc(TCP["listen"] + TCP["device"])) is None
    # Nothing unreadable (a podman or local connection as root): nothing is guessed.
    proc = fake_proc(TCP["listen"] + TCP["session"])
    monkeypatch.setattr(lockout, "open", builtins.open, raising=False)
    assert lockout.find_ssh_connection(proc) is None


def test_without_sshd_among_the_ancestors_nothing_is_guessed(fake_proc, tmp_path):
    proc = fake_proc(TCP["listen"] + TCP["session"])
    for pid in (20, 15, 10):
        (tmp_path / str(pid) / "stat").write_text("%d (bash) S %d 0 0" % (pid, {20: 15, 15: 10, 10: 1}[pid]))
    assert lockout.find_ssh_connection(proc) is None


def test_the_refusal_names_the_ways_out_that_work():
    # Opening the port with another rule does not lift the refusal, so the message must
    # not suggest it: the way out is keeping the rule or another connection.
    session = lockout.Session("10.88.0.1", 2200)
    rule = rules_from_dicts([{"protocol": "tcp", "port": 2200}])[0]
    with pytest.raises(lockout.LockoutError) as raised:
        lockout.check_removals([rule], session)
    message = str(raised.value)
    assert "Keep the rule in 'rules'" in message
    assert "does not arrive on port 2200 (another port, a console)" in message
    assert "by other means" not in message
