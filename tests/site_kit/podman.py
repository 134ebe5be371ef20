# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site's containers: started, reached and removed by exact name only."""

from __future__ import annotations

import subprocess
from functools import cached_property
from typing import Dict, Iterable, NamedTuple, Optional, Sequence

BASE_IMAGE = "localhost/biostar-hardening-base:latest"
# firewalld needs systemd and D-Bus: its own image, booted (tests/containers/build-images.sh).
FIREWALLD_IMAGE = "localhost/biostar-hardening-firewalld:latest"
# What firewall work in a container needs (TESTBED.md); never --privileged.
CAPABILITIES = ("NET_ADMIN", "NET_RAW")


class CommandFailed(AssertionError):
    """A command that had to succeed did not (an AssertionError, so pytest shows it as one)."""


def podman(*args: str, timeout: float = 120, check: bool = True, stdin: Optional[str] = None):
    proc = subprocess.run(["podman", *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise CommandFailed("`podman %s` exited %d: %s" % (" ".join(args[:4]), proc.returncode, proc.stderr.strip()))
    return proc


class Result(NamedTuple):
    rc: int
    stdout: str
    stderr: str


def start(
    name: str,
    image: str = BASE_IMAGE,
    hostname: Optional[str] = None,
    command: Sequence[str] = ("sleep", "infinity"),
    systemd: Optional[str] = None,
    capabilities: Sequence[str] = CAPABILITIES,
    labels: Optional[Dict[str, str]] = None,
    extra: Sequence[str] = ("--init",),
) -> Container:
    """Start one container (detached); a leftover of the same name is removed first."""
    remove([name])
    args = ["run", "--detach", "--name", name, "--hostname", hostname or name, *extra]
    for capability in capabilities:
        args += ["--cap-add", capability]
    if systemd:
        args += ["--systemd", systemd]
    for key, value in (labels or {}).items():
        args += ["--label", "%s=%s" % (key, value)]
    podman(*args, image, *command)
    return Container(name)


def start_host(name: str, backend: str) -> Container:
    """A managed host for ``backend``: for firewalld its image booted with systemd (the daemon
    starts as on a real host), for any other backend the base image."""
    if backend == "firewalld":
        return start(name, image=FIREWALLD_IMAGE, command=(), systemd="always", extra=())
    return start(name)


def remove(names: Iterable[str]) -> None:
    """Remove these containers, by exact name; never anyone else's."""
    names = list(names)
    if names:
        podman("rm", "--force", "--time", "0", "--ignore", *names, check=False)


def subnet(network: str = "podman") -> str:
    """The first subnet of a podman network (the site's probes come from it)."""
    found = podman("network", "inspect", network, "--format", "{{range .Subnets}}{{.Subnet}} {{end}}").stdout.split()
    if not found:
        raise CommandFailed("podman network %s has no subnet" % network)
    return found[0]


class Container:
    """One container of the site, reached with ``podman exec``."""

    def __init__(self, name: str, short: str = ""):
        self.name = name
        self.short = short or name

    def __repr__(self) -> str:
        return self.name

    @cached_property
    def ip(self) -> str:
        address = podman("inspect", "-f", "{{.NetworkSettings.IPAddress}}", self.name).stdout.strip()
        if not address:
            raise CommandFailed("%s has no address on podman's network" % self.name)
        return address

    def sh(self, command: str, ok: bool = True, stdin: Optional[str] = None, timeout: float = 120) -> Result:
        """Run a shell command in the container; by default it must succeed."""
        proc = podman("exec", "-i", self.name, "/bin/sh", "-c", command, stdin=stdin, timeout=timeout, check=False)
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if ok and result.rc != 0:
            raise CommandFailed(
                "%s: `%s` exited %d\nstdout:\n%s\nstderr:\n%s"
                % (self.name, command, result.rc, result.stdout, result.stderr)
            )
        return result
