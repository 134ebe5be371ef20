# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scenario's containers, their listeners, and packets between them.

Containers are found in molecule's inventory, so a scenario names them once (in its
molecule.yml). Probes only ever go from one of these containers to another one: the
constructor refuses any host outside the scenario's ``mol-<scenario>-`` prefix.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from functools import cached_property
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import testinfra
import yaml

AGENTS = Path(__file__).resolve().parent.parent / "agents"

# Every container listens on all of these, the ports meant to stay closed included:
# a blocked port then reads as "filtered", never as "nobody was listening".
LISTEN_TCP = (1470, 1471, 1480, 1999, 2222)
LISTEN_UDP = (51110, 1999)
LISTENER_LOG = "/tmp/biostar-harness-listener.log"
LISTENER_PID = "/tmp/biostar-harness-listener.pid"
LISTENER_LIFETIME = 900
# A SYN-ACK across podman's bridge takes well under a millisecond and is answered by
# the kernel, so a busy CI box does not delay it: one second means "filtered".
PROBE_TIMEOUT = 1.0
# Datagrams are logged by the listener (a userspace process): read its log after this,
# and keep reading up to UDP_PATIENCE while a datagram expected to arrive is missing.
UDP_SETTLE = 0.3
UDP_PATIENCE = 2.0
REACHED = ("open", "arrived")


def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=check)


class Container:
    """One scenario container, reached through testinfra's ``podman://`` backend."""

    def __init__(self, name: str, short: str):
        self.name = name
        self.short = short
        self.host = testinfra.get_host("podman://" + name)

    def __repr__(self) -> str:
        return self.name

    @cached_property
    def ip(self) -> str:
        address = podman("inspect", "-f", "{{.NetworkSettings.IPAddress}}", self.name).stdout.strip()
        assert address, "%s has no address on podman's network" % self.name
        return address

    def sh(self, command: str, ok: bool = True):
        """Run a shell command in the container; by default it must succeed."""
        result = self.host.run(command)
        if ok and result.rc != 0:
            raise AssertionError(
                "%s: `%s` exited %d\nstdout:\n%s\nstderr:\n%s"
                % (self.name, command, result.rc, result.stdout, result.stderr)
            )
        return result

    def start_listener(self, tcp: Sequence[int] = LISTEN_TCP, udp: Sequence[int] = LISTEN_UDP) -> None:
        self.stop_listener()
        self.sh("rm -f %s" % LISTENER_LOG)
        podman(
            "exec",
            "-d",
            self.name,
            "python3",
            "-c",
            (AGENTS / "listener.py").read_text(),
            ",".join(str(p) for p in tcp),
            ",".join(str(p) for p in udp),
            LISTENER_LOG,
            str(LISTENER_LIFETIME),
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            first = self.sh("head -n 1 %s 2>/dev/null" % LISTENER_LOG, ok=False).stdout.split()
            if first[:1] == ["ready"]:
                self.sh("echo %s > %s" % (first[1], LISTENER_PID))
                return
            time.sleep(0.1)
        raise AssertionError("%s: the listener did not start within 10 s" % self.name)

    def stop_listener(self) -> None:
        """Stop the listener this harness started (by its recorded pid), if any."""
        pidfile = LISTENER_PID
        self.sh(f"if [ -f {pidfile} ]; then kill $(cat {pidfile}) 2>/dev/null; rm -f {pidfile}; fi; true")

    def listener_log(self) -> List[str]:
        return self.sh("cat %s" % LISTENER_LOG, ok=False).stdout.splitlines()


def probe(src: Container, dst: Container, checks: Iterable[str], expected: Iterable[str] = ()) -> Dict[str, str]:
    """Send each check ("tcp/1470", "udp/51110") from ``src`` to ``dst``'s address.

    TCP outcomes come from the sender (open/refused/timeout/error:ERRNO); a UDP check
    is "arrived" when ``dst``'s listener logged this probe's token, else "silent".
    ``expected`` names the UDP checks worth waiting a little longer for.
    """
    token = uuid.uuid4().hex[:12]
    parsed = []
    for check in checks:
        protocol, port = check.split("/")
        parsed.append([protocol, int(port)])
    result = podman(
        "exec",
        src.name,
        "python3",
        "-c",
        (AGENTS / "probe.py").read_text(),
        dst.ip,
        json.dumps(parsed),
        str(PROBE_TIMEOUT),
        token,
        timeout=PROBE_TIMEOUT + 20,
    )
    outcomes = json.loads(result.stdout)
    udp = [port for protocol, port in parsed if protocol == "udp"]
    sent = {"udp/%d" % port: "udp %d %s %s " % (port, src.ip, token) for port in udp}
    sent = {key: prefix for key, prefix in sent.items() if outcomes.get(key) == "sent"}
    if sent:
        time.sleep(UDP_SETTLE)
        deadline = time.monotonic() + UDP_PATIENCE
        while True:
            log = dst.listener_log()
            for key, prefix in sent.items():
                outcomes[key] = "arrived" if any(line.startswith(prefix) for line in log) else "silent"
            waiting = [k for k in expected if outcomes.get(k) == "silent"]
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    return outcomes


def expect_reach(
    src: Container,
    dst: Container,
    open: Iterable[str] = (),
    closed: Iterable[str] = (),
    why: str = "",
) -> Dict[str, str]:
    """Probe ``dst`` from ``src`` and assert each check is open (or closed) as expected."""
    open, closed = list(open), list(closed)
    outcomes = probe(src, dst, open + closed, expected=open)
    rows, wrong = [], []
    for check in open + closed:
        want = "open" if check in open else "closed"
        got = outcomes.get(check, "missing")
        good = (got in REACHED) == (want == "open")
        rows.append("  %-10s want %-6s got %-14s %s" % (check, want, got, "ok" if good else "WRONG"))
        if not good:
            wrong.append(check)
    table = "%s -> %s (%s)%s\n%s" % (src, dst, dst.ip, ": " + why if why else "", "\n".join(rows))
    print(table)
    assert not wrong, "unexpected reachability for %s\n%s" % (", ".join(wrong), table)
    return outcomes


class Site:
    """The scenario's containers, keyed by their short name (the part after the prefix)."""

    def __init__(self, scenario: str, groups: Dict[str, List[str]]):
        self.scenario = scenario
        self.prefix = "mol-%s-" % scenario
        self.groups = groups
        names = sorted({name for members in groups.values() for name in members})
        for name in names:
            # The network rule: only ever probe containers this scenario created.
            assert name.startswith(self.prefix), "%s is not one of scenario %s's containers" % (name, scenario)
        self.containers = {name[len(self.prefix) :]: Container(name, name[len(self.prefix) :]) for name in names}

    @classmethod
    def from_molecule(cls) -> Site:
        scenario = os.environ["MOLECULE_SCENARIO_NAME"]
        with open(os.environ["MOLECULE_INVENTORY_FILE"]) as stream:
            inventory = yaml.safe_load(stream) or {}
        groups: Dict[str, List[str]] = {}
        for group, body in inventory.items():
            if group in ("all", "ungrouped") or not isinstance(body, dict):
                continue
            groups[group] = sorted((body.get("hosts") or {}).keys())
        return cls(scenario, groups)

    def __getitem__(self, short: str) -> Container:
        return self.containers[short]

    def group(self, name: str) -> List[Container]:
        return [self.containers[n[len(self.prefix) :]] for n in self.groups.get(name, [])]

    def start_listeners(self, only: Optional[Iterable[str]] = None) -> None:
        for short, container in self.containers.items():
            if only is None or short in only:
                container.start_listener()

    def stop_listeners(self) -> None:
        for container in self.containers.values():
            container.stop_listener()
