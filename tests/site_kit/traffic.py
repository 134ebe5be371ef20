# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listeners in the site's containers and bounded probes from one container to another.

Traffic only ever goes between containers the caller started (the network rule in
TESTBED.md); every probe is bounded in count and time.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Dict, Iterable, List, Sequence

from . import KIT
from .podman import CommandFailed, Container, podman

AGENTS = os.path.join(KIT, "agents")
LISTENER_LOG = "/tmp/site-kit-listener.log"
LISTENER_PID = "/tmp/site-kit-listener.pid"
# A SYN-ACK across podman's bridge takes well under a millisecond and is answered by
# the kernel, so a busy CI box does not delay it: one second means "filtered".
PROBE_TIMEOUT = 1.0
# Datagrams are logged by the listener (a userspace process): read its log after this,
# and keep reading up to UDP_PATIENCE while a datagram expected to arrive is missing.
UDP_SETTLE = 0.3
UDP_PATIENCE = 2.0


def _agent(name: str) -> str:
    with open(os.path.join(AGENTS, name), encoding="utf-8") as handle:
        return handle.read()


def start_listener(c: Container, tcp: Sequence[int], udp: Sequence[int], lifetime: float = 900) -> None:
    """Listen on these ports in ``c`` (replacing an earlier listener); wait until ready.

    ``lifetime``: seconds until the listener exits by itself (0: until killed).
    """
    stop_listener(c)
    c.sh("rm -f %s" % LISTENER_LOG)
    ports = (",".join(str(p) for p in tcp), ",".join(str(p) for p in udp))
    podman("exec", "-d", c.name, "python3", "-c", _agent("listener.py"), *ports, LISTENER_LOG, str(lifetime))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        first = c.sh("head -n 1 %s 2>/dev/null" % LISTENER_LOG, ok=False).stdout.split()
        if first[:1] == ["ready"]:
            c.sh("echo %s > %s" % (first[1], LISTENER_PID))
            return
        time.sleep(0.1)
    raise CommandFailed("%s: the listener did not start within 10 s" % c.name)


def stop_listener(c: Container) -> None:
    """Stop the listener started here (by its recorded pid), if any."""
    pidfile = LISTENER_PID
    c.sh(f"if [ -f {pidfile} ]; then kill $(cat {pidfile}) 2>/dev/null; rm -f {pidfile}; fi; true")


def listener_log(c: Container) -> List[str]:
    return c.sh("cat %s" % LISTENER_LOG, ok=False).stdout.splitlines()


def listening(c: Container) -> List[str]:
    """What ``c`` listens on, as "tcp/1470" (sorted, from ss)."""
    found = set()
    for line in c.sh("ss -H -lntu").stdout.splitlines():
        fields = line.split()
        found.add("%s/%s" % (fields[0], fields[4].rsplit(":", 1)[-1]))
    return sorted(found)


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
        "exec", src.name, "python3", "-c", _agent("probe.py"), dst.ip, json.dumps(parsed), str(PROBE_TIMEOUT), token,
        timeout=PROBE_TIMEOUT + 20,
    )  # fmt: skip
    outcomes = json.loads(result.stdout)
    udp = [port for protocol, port in parsed if protocol == "udp"]
    sent = {"udp/%d" % port: "udp %d %s %s " % (port, src.ip, token) for port in udp}
    sent = {key: prefix for key, prefix in sent.items() if outcomes.get(key) == "sent"}
    if sent:
        time.sleep(UDP_SETTLE)
        deadline = time.monotonic() + UDP_PATIENCE
        while True:
            log = listener_log(dst)
            for key, prefix in sent.items():
                outcomes[key] = "arrived" if any(line.startswith(prefix) for line in log) else "silent"
            waiting = [k for k in expected if outcomes.get(k) == "silent"]
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    return outcomes
