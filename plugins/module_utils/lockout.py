# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lockout guard: never cut the SSH session the run arrives on.

The controller tells the module which management ports to keep (``management_ports``);
this module finds the real session on the target (SSH_CONNECTION, also through become)
and refuses a plan that would drop it.
"""

from __future__ import annotations

import ipaddress
import os
from typing import List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    PORT_MAX,
    PORT_MIN,
    Rule,
    RuleError,
)


class LockoutError(Exception):
    """The run would cut the SSH session it arrived on."""


class Session:
    """The SSH connection Ansible uses: SSH_CONNECTION is 'client cport server sport'."""

    def __init__(self, client: str, port: int):
        self.client = client
        self.port = port

    @classmethod
    def parse(cls, value: Optional[str]) -> Optional[Session]:
        parts = (value or "").split()
        if len(parts) != 4 or not parts[3].isdigit():
            return None
        return cls(parts[0].split("%", 1)[0], int(parts[3]))


def find_ssh_connection(proc: str = "/proc") -> Optional[str]:
    """SSH_CONNECTION from this process or, after become dropped it, from an ancestor.

    Reading another user's environment needs CAP_SYS_PTRACE, which root lacks in most
    containers: after ``become`` from an unprivileged user, the ancestors that still hold
    SSH_CONNECTION are unreadable. Then the session is found from sshd's sockets instead
    (:func:`session_from_sockets`), in the same ``client cport server sport`` form.
    """
    if os.environ.get("SSH_CONNECTION"):
        return os.environ["SSH_CONNECTION"]
    ancestors = []
    denied = False
    pid = os.getppid()
    for _level in range(32):
        if pid <= 1:
            break
        ancestors.append(pid)
        try:
            with open("%s/%d/environ" % (proc, pid), "rb") as handle:
                for item in handle.read().split(b"\0"):
                    if item.startswith(b"SSH_CONNECTION="):
                        return item.split(b"=", 1)[1].decode("ascii", "replace")
        except PermissionError:
            denied = True
        except OSError:
            return None
        try:
            pid = _parent(proc, pid)
        except (OSError, ValueError, IndexError):
            break
    return session_from_sockets(proc, ancestors) if denied else None


def _parent(proc: str, pid: int) -> int:
    with open("%s/%d/stat" % (proc, pid)) as handle:
        # The command name may hold spaces; the parent pid follows its closing paren.
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def _command(proc: str, pid: int) -> str:
    with open("%s/%d/stat" % (proc, pid)) as handle:
        text = handle.read()
    return text[text.index("(") + 1 : text.rindex(")")]


def _address(text: str) -> str:
    """/proc/net/tcp's hex address (32-bit words in host order, little-endian here)."""
    raw = bytes.fromhex(text)
    address = ipaddress.ip_address(b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)))
    # sshd listening on :: sees IPv4 clients as ::ffff:a.b.c.d; SSH_CONNECTION shows a.b.c.d.
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def _sockets(proc: str) -> List[Tuple[str, str, int, str, int, str]]:
    """(state, local address, local port, remote address, remote port, inode) of every TCP socket."""
    found = []
    for name in ("tcp", "tcp6"):
        try:
            with open("%s/net/%s" % (proc, name)) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local, remote = fields[1].split(":"), fields[2].split(":")
            found.append((fields[3], _address(local[0]), int(local[1], 16), _address(remote[0]), int(remote[1], 16),
                          fields[9]))  # fmt: skip
    return found


def session_from_sockets(proc: str, ancestors: Sequence[int]) -> Optional[str]:
    """The SSH session from sshd's sockets, when no ancestor's environment can be read.

    sshd's listening daemon is an ancestor of every session, runs as root and can be read:
    its listening sockets give sshd's ports. The established inbound connections to those
    ports are the SSH sessions. One: it is ours. Several on one port: the port is known, the
    client is not (``unknown``: any rule for that port then counts as carrying the session).
    Several ports, or sshd not among the ancestors: unknown (None).
    """
    inodes = set()
    for pid in ancestors:
        try:
            if _command(proc, pid) not in ("sshd", "sshd-session"):
                continue
            for fd in os.listdir("%s/%d/fd" % (proc, pid)):
                link = os.readlink("%s/%d/fd/%s" % (proc, pid, fd))
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except (OSError, ValueError):
            continue
    sockets = _sockets(proc)
    ports = {s[2] for s in sockets if s[0] == "0A" and s[5] in inodes}
    sessions = [s for s in sockets if s[0] == "01" and s[2] in ports]
    if len({s[2] for s in sessions}) != 1:
        return None
    _state, server, port, client, cport, _inode = sessions[0]
    if len(sessions) > 1:
        client, cport = "unknown", 0
    return "%s %d %s %d" % (client, cport, server, port)


def carries_session(rule: Rule, session: Session) -> bool:
    if rule.direction != "inbound" or rule.protocol != "tcp":
        return False
    if not rule.port_low <= session.port <= rule.port_high:
        return False
    if not rule.peers:
        return True
    try:
        client = ipaddress.ip_address(session.client)
    except ValueError:
        return True
    return any(client.version == net.version and client in net for net in map(ipaddress.ip_network, rule.peers))


def check_removals(removed: Sequence[Rule], session: Optional[Session]) -> None:
    if session is None:
        return
    for rule in removed:
        if carries_session(rule, session):
            raise LockoutError(
                "refusing to remove the owned rule '%s': it carries the SSH session this task runs over "
                "(client %s, port %d, from SSH_CONNECTION). Keep the rule in 'rules', or run this change "
                "over a connection that does not arrive on port %d (another port, a console): the guard "
                "refuses it on this session even when other rules open the port."
                % (rule.describe(), session.client, session.port, session.port)
            )


def check_absent(baseline_ports: Sequence[int], input_drops: bool, session: Optional[Session]) -> None:
    if session is not None and input_drops and session.port in baseline_ports:
        raise LockoutError(
            "refusing state=absent: the input policy drops by default and the owned baseline rule for "
            "tcp/%d keeps the SSH session this task runs over open (SSH_CONNECTION). Set the input "
            "policy to accept first, or keep the rules with state=present." % session.port
        )


def management_ports(requested: Optional[List[int]], session: Optional[Session]) -> List[int]:
    """The TCP ports a baseline keeps open: the ones asked for, else the session's."""
    if requested:
        bad = [p for p in requested if not PORT_MIN <= p <= PORT_MAX]
        if bad:
            raise RuleError(
                "management_ports: invalid value %r; valid values: integers %d-%d" % (bad[0], PORT_MIN, PORT_MAX)
            )
        ports = sorted(set(requested))
    else:
        ports = [session.port] if session else []
    if not ports:
        raise RuleError(
            "management_ports: no port known; baseline=true needs the ports to keep open and there is no "
            "SSH_CONNECTION on the target to take it from. Set management_ports, for example [22]."
        )
    if session and session.port not in ports:
        raise LockoutError(
            "management_ports %s do not include port %d, which the SSH session this task runs over uses; "
            "baseline would drop it" % (ports, session.port)
        )
    return ports
