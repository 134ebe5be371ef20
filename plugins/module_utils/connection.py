# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller can tell about a host from its connection: one place for it.

The platform test (Linux or Windows) and the management port (the TCP port the current
connection arrived on) are decided here, for the role's tasks, the verify playbook (through
the ``biostar.hardening`` filters) and the Windows action plugin alike. Nothing here knows
BioStar or a firewall.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Optional

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    PORT_MAX,
    PORT_MIN,
    invalid,
    parse_port,
)

SSH_TRANSPORTS = ("ssh", "paramiko_ssh", "paramiko", "libssh")
WINDOWS_TRANSPORTS = ("winrm", "psrp")
WINDOWS_SHELLS = ("powershell", "cmd")
PLATFORMS = ("linux", "windows")


def transport_name(connection: Any) -> str:
    """``ansible.builtin.ssh`` and ``ssh`` alike give ``ssh``; unset means Ansible's default, ssh."""
    return str(connection or "ssh").rsplit(".", 1)[-1]


def connection_kind(connection: Any) -> str:
    """``ssh``, ``windows`` (WinRM, PSRP), ``local``, or ``other`` (podman, docker, ...)."""
    name = transport_name(connection)
    if name in SSH_TRANSPORTS:
        return "ssh"
    if name in WINDOWS_TRANSPORTS:
        return "windows"
    return "local" if name == "local" else "other"


def platform(os_family: Any = None, connection: Any = None, shell_type: Any = None) -> str:
    """``windows`` or ``linux``: facts when gathered, otherwise the connection and shell say it."""
    if str(os_family or "") == "Windows":
        return "windows"
    if connection_kind(connection) == "windows" or str(shell_type or "") in WINDOWS_SHELLS:
        return "windows"
    return "linux"


def connection_port(
    transport: Any, port: Any = None, scheme: Optional[str] = None, plugin_defaults: bool = True
) -> Optional[int]:
    """The TCP port on the managed host that the current connection arrived on.

    ``transport`` is the connection plugin name, ``port`` its port (ansible_port,
    ansible_winrm_port, ansible_psrp_port, ansible_ssh_port), ``scheme`` winrm's ``scheme``
    or psrp's ``protocol``. With ``plugin_defaults`` the plugins' own default ports apply
    when the port is not set (22; 5985 for http, else 5986); without, an unset port is
    unknown. None means unknown, or no network connection at all.
    """
    kind = connection_kind(transport)
    if kind not in ("ssh", "windows"):
        return None
    if port not in (None, ""):
        low, high = parse_port(port, "ansible_port")
        if low != high:
            raise invalid("ansible_port", port, "a single port %d-%d" % (PORT_MIN, PORT_MAX))
        return low
    if not plugin_defaults:
        return None
    if kind == "windows":
        return 5985 if scheme == "http" else 5986
    return 22


def management_ports(
    configured: Optional[Iterable[Any]],
    transport: Any,
    port: Any = None,
    scheme: Optional[str] = None,
    plugin_defaults: bool = True,
    argument: str = "management_ports",
) -> List[int]:
    """The configured management ports plus the connection's own, sorted and unique.

    ``argument`` is the caller's name for ``configured``, so errors name what the user set.
    """
    ports = set()
    for item in configured or []:
        low, high = parse_port(item, argument)
        if low != high:
            raise invalid(argument, item, "single ports %d-%d, not ranges" % (PORT_MIN, PORT_MAX))
        ports.add(low)
    own = connection_port(transport, port, scheme, plugin_defaults)
    if own is not None:
        ports.add(own)
    return sorted(ports)
