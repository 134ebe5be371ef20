# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real SSH to a site container: sshd on a chosen port, a login user, the controller's side.

- ``make_key``: the controller's key pair (ed25519, no passphrase) in a work directory.
- ``serve_script`` / ``serve``: sshd listening ONLY on the given port, the user's
  authorized key, optionally a root password (for ``become_method: su``), and a bounded
  wait until sshd listens. Works in a plain container and in one booted with systemd.
- ``known_hosts``: the container's own host key, so the controller checks it strictly.
- ``host_vars`` / ``ansible_settings``: inventory variables and ansible-playbook settings
  for one ControlPersist connection per host.
- ``new_connection``: one fresh TCP connection (no control master), bounded in time:
  what a colleague's next login would see.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from typing import Dict, NamedTuple, Optional

from .podman import Container

KEY_NAME = "id_ed25519"
USER_PATTERN = r"^[a-z_][a-z0-9_-]{0,30}$"
CONFIG = "/etc/ssh/sshd_config.d/site-kit.conf"


def _check(port: int, user: str) -> None:
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ValueError("port: invalid value %r; valid values: integers 1-65535" % (port,))
    if not re.match(USER_PATTERN, user):
        raise ValueError("user: invalid value %r; valid values: a login name matching %s" % (user, USER_PATTERN))


def make_key(workdir: str) -> str:
    """The private key's path; generated once per work directory."""
    path = os.path.join(workdir, KEY_NAME)
    if not os.path.exists(path):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "site-kit", "-f", path], check=True)
    return path


def serve_script(port: int, user: str = "root", root_password: Optional[str] = None, systemd: bool = False) -> str:
    """The shell script (``set -e``, authorized key on stdin) that makes sshd serve ``port`` only."""
    _check(port, user)
    lines = [
        "set -e",
        # Debian's sshd_config includes sshd_config.d first and sets no Port of its own.
        "mkdir -p /etc/ssh/sshd_config.d",
        "printf 'Port %d\\n' >%s" % (port, CONFIG),
        "ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || ssh-keygen -A",
        "mkdir -p /run/sshd",
    ]
    if user != "root":
        lines.append("id -u %s >/dev/null 2>&1 || useradd --create-home --shell /bin/sh %s" % (user, user))
    lines += [
        "home=$(getent passwd %s | cut -d: -f6)" % user,
        'mkdir -p -m 0700 "$home/.ssh"',
        'cat >"$home/.ssh/authorized_keys"',
        'chmod 0600 "$home/.ssh/authorized_keys"',
        'chown -R %s: "$home/.ssh"' % user,
    ]
    if root_password is not None:
        lines.append("echo %s | chpasswd" % shlex.quote("root:" + root_password))
    if systemd:
        lines.append("systemctl restart ssh")
    else:
        lines.append("/usr/sbin/sshd")
    # Bounded: sshd listens within milliseconds; 10 s means it will not.
    lines += [
        "i=0; until ss -Hltn 'sport = :%d' | grep -q LISTEN; do" % port,
        "  i=$((i + 1)); [ $i -le 50 ] || { echo 'sshd not listening on %d after 10 s' >&2; exit 1; }" % port,
        "  sleep 0.2",
        "done",
    ]
    return "\n".join(lines) + "\n"


def serve(
    container: Container,
    public_key: str,
    port: int,
    user: str = "root",
    root_password: Optional[str] = None,
    systemd: bool = False,
) -> None:
    """Make ``container``'s sshd serve ``port`` only, for ``user`` with this key."""
    container.sh(serve_script(port, user, root_password, systemd), stdin=public_key, timeout=60)


def known_host_name(ip: str, port: int) -> str:
    """The name ssh looks a host key up by: ``[ip]:port``, or the bare address on port 22."""
    return ip if port == 22 else "[%s]:%d" % (ip, port)


def known_hosts(container: Container, port: int, path: str) -> str:
    """Append the container's ed25519 host key for ``ip`` on ``port`` to ``path``; return ``path``."""
    key = container.sh("cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("%s %s %s\n" % (known_host_name(container.ip, port), key[0], key[1]))
    return path


def host_vars(ip: str, port: int, user: str, key: str, known: str) -> Dict[str, object]:
    """Inventory variables for one host reached over SSH, host key checked against ``known``."""
    _check(port, user)
    return {
        "ansible_connection": "ansible.builtin.ssh",
        "ansible_host": ip,
        "ansible_port": port,
        "ansible_user": user,
        "ansible_ssh_private_key_file": key,
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s" % known,
        "ansible_python_interpreter": "/usr/bin/python3",
    }


def ansible_settings(control_dir: str, persist: int = 120, alive: int = 2) -> Dict[str, str]:
    """One ControlPersist master per host; a dead peer is noticed within about 3 x ``alive`` s."""
    return {
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=%ds -o ServerAliveInterval=%d "
        "-o ServerAliveCountMax=3 -o ConnectTimeout=5" % (persist, alive),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": control_dir,
        "ANSIBLE_SSH_RETRIES": "0",
    }


class Login(NamedTuple):
    ok: bool
    ssh_connection: str
    error: str


def new_connection_command(ip: str, port: int, user: str, key: str, known: str, timeout: int = 4) -> list:
    _check(port, user)
    return [
        "ssh", "-p", str(port), "-i", key, "-o", "BatchMode=yes", "-o", "ControlPath=none",
        "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=%s" % known,
        "-o", "ConnectTimeout=%d" % timeout, "%s@%s" % (user, ip), 'echo "$SSH_CONNECTION"',
    ]  # fmt: skip


def new_connection(ip: str, port: int, user: str, key: str, known: str, timeout: int = 4) -> Login:
    """Log in once over a new TCP connection; bounded by ``timeout`` (connect) and 3 x it overall."""
    command = new_connection_command(ip, port, user, key, known, timeout)
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=3 * timeout, check=False)
    except subprocess.TimeoutExpired:
        return Login(False, "", "no answer in %d s" % (3 * timeout))
    return Login(proc.returncode == 0, proc.stdout.strip(), proc.stderr.strip())
