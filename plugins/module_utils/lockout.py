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
from typing import List, Optional, Sequence

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
    """SSH_CONNECTION from this process or, after become dropped it, from an ancestor."""
    if os.environ.get("SSH_CONNECTION"):
        return os.environ["SSH_CONNECTION"]
    pid = os.getppid()
    for _level in range(16):
        if pid <= 1:
            return None
        try:
            with open("%s/%d/environ" % (proc, pid), "rb") as handle:
                for item in handle.read().split(b"\0"):
                    if item.startswith(b"SSH_CONNECTION="):
                        return item.split(b"=", 1)[1].decode("ascii", "replace")
            with open("%s/%d/stat" % (proc, pid)) as handle:
                # The command name may hold spaces; the parent pid follows its closing paren.
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
    return None


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
                "(client %s, port %d, from SSH_CONNECTION). Keep the rule in 'rules', or open port %d by "
                "other means first." % (rule.describe(), session.client, session.port, session.port)
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
