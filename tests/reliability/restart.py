"""Part 6 of the reliability suite: a restart keeps the rules, through the distribution's own boot path.

    flock /tmp/biostar-containers.lock python tests/reliability/restart.py [--backends nftables,iptables,ufw,firewalld]

Also run by ``tests/reliability/run.py --parts restart``. Each backend gets a container
booted with systemd (``--systemd=always``) from an image where the firewall's own boot
service is enabled: nftables.service (/etc/nftables.conf), netfilter-persistent
(/etc/iptables/rules.v4 and .v6), ufw.service (ENABLED=yes in /etc/ufw/ufw.conf) and
firewalld (its permanent configuration). The images are built by
tests/containers/build-images.sh. Per backend:

1. the host's own default-deny firewall with a foreign rule (tcp/2222 "user-rule"), seeded by
   tests/site_kit and persisted the distribution's way, as the rest of the suite does;
2. the collection converges its rules with ``persist: true``;
3. the control: a second owner converges other ports with ``persist: false``, and one port is
   opened by hand in the running firewall only (nft, iptables, firewall-cmd without
   ``--permanent``); packets from a peer show every one of them open;
4. ``podman restart``: systemd stops and boots again, and the firewall's service loads what
   was persisted; the test waits (bounded) until that service is active;
5. packets from the peer again: the owned ports and the foreign one answer, a closed port and
   the runtime-only port do not; on nftables and iptables the ``persist: false`` ports are
   closed too (ufw and firewalld keep their rules in their own files, so there
   ``persist: false`` has no effect, which the module says in a warning and the packets
   confirm);
6. the whole ruleset equals the one before the restart (nftables, iptables: as it was after
   the ``persist: true`` converge; ufw, firewalld: after both converges), PID 1 started
   again, and the module run once more reports no change.

The runtime-only port is the control that makes the test mean something: it proves the
restart threw away the kernel's ruleset, so whatever answers afterwards was loaded from disk.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # part, site_kit

import part  # noqa: E402
from site_kit import firewall, podman, traffic  # noqa: E402

PREFIX = "biostar-rst-"
BACKENDS = ("nftables", "iptables", "ufw", "firewalld")
NETFILTER_IMAGE = "localhost/biostar-hardening-netfilter-boot:latest"
IMAGE = {
    "nftables": NETFILTER_IMAGE,
    "iptables": NETFILTER_IMAGE,
    "ufw": "localhost/biostar-hardening-ufw-boot:latest",
    "firewalld": "localhost/biostar-hardening-firewalld:latest",
}
# The unit that loads the persisted firewall at boot.
SERVICE = {
    "nftables": "nftables.service",
    "iptables": "netfilter-persistent.service",
    "ufw": "ufw.service",
    "firewalld": "firewalld.service",
}
# The netfilter image has both loaders enabled; a host uses one, so the other is disabled
# (both would race at boot, and nftables.conf starts with "flush ruleset").
OTHER_LOADER = {"nftables": "netfilter-persistent.service", "iptables": "nftables.service"}
# Backends whose persist=false really leaves the rules out of the boot configuration.
HONOURS_PERSIST_FALSE = ("nftables", "iptables")
BOOT_LIMIT = 120.0  # seconds a boot may take until the firewall's service is active

KEPT = [{"protocol": "tcp", "port": 1480, "purpose": "kept"}, {"protocol": "udp", "port": 51110}]
VOLATILE_OWNER = "rel-volatile"
VOLATILE = [{"protocol": "tcp", "port": 1490, "purpose": "volatile"}, {"protocol": "udp", "port": 51120}]
RUNTIME_PORT = 1495
CLOSED_PORT = 1499
# The control's ports: opened before the restart by rules that were not persisted.
CONTROL_CHECKS = ("tcp/1490", "udp/51120", "tcp/%d" % RUNTIME_PORT)
CHECKS = ("tcp/1480", "udp/51110", "tcp/2222", "tcp/1490", "udp/51120", "tcp/%d" % RUNTIME_PORT,
          "tcp/%d" % CLOSED_PORT)  # fmt: skip
# Opened by hand in the running firewall only: gone after a real boot.
RUNTIME_ONLY = {
    "nftables": "nft insert rule inet filter input tcp dport %d accept" % RUNTIME_PORT,
    "iptables": "iptables -I INPUT 1 -p tcp --dport %d -j ACCEPT" % RUNTIME_PORT,
    "ufw": "iptables -I INPUT 1 -p tcp --dport %d -j ACCEPT" % RUNTIME_PORT,
    "firewalld": "firewall-cmd --add-port=%d/tcp >/dev/null" % RUNTIME_PORT,
}


def expected(backend: str, restarted: bool) -> Dict[str, str]:
    """What the peer must see: before the restart every opened port answers."""
    volatile_open = not restarted or backend not in HONOURS_PERSIST_FALSE
    tcp = {True: "open", False: "timeout"}
    udp = {True: "arrived", False: "silent"}
    return {
        "tcp/1480": "open",
        "udp/51110": "arrived",
        "tcp/2222": "open",
        "tcp/1490": tcp[volatile_open],
        "udp/51120": udp[volatile_open],
        "tcp/%d" % RUNTIME_PORT: tcp[not restarted],
        "tcp/%d" % CLOSED_PORT: "timeout",
    }


# ---------------------------------------------------------------------------------------
# What the host has
# ---------------------------------------------------------------------------------------
def ruleset(c: podman.Container, backend: str) -> str:
    """The whole kernel ruleset as text, counters zeroed, in the backend's own view.

    iptables and ufw: iptables-save and ip6tables-save. nft's view of iptables-nft is not
    compared: iptables-restore at boot declares every built-in chain, so an empty OUTPUT
    chain with policy accept appears that ``iptables -A INPUT`` never created; iptables-save
    prints the built-in chains either way.
    """
    if backend in ("iptables", "ufw"):
        text = ""
        for save in ("iptables-save", "ip6tables-save"):
            lines = c.sh(save).stdout.splitlines()
            text += "--- %s\n%s\n" % (save, "\n".join(line for line in lines if not line.startswith("#")))
    else:
        text = c.sh("nft list ruleset").stdout
    text = re.sub(r"packets \d+ bytes \d+", "packets 0 bytes 0", text)
    return re.sub(r"\[\d+:\d+\]", "[0:0]", text)


def init_started(c: podman.Container) -> int:
    """When PID 1 (systemd) started, in clock ticks since the machine booted (/proc/1/stat field 22)."""
    stat = c.sh("cat /proc/1/stat").stdout
    return int(stat.rsplit(")", 1)[1].split()[19])


def service_state(c: podman.Container, backend: str) -> str:
    """``active`` once the firewall's boot service has loaded its configuration."""
    state = c.sh("systemctl is-active %s" % SERVICE[backend], ok=False, timeout=30).stdout.strip() or "unknown"
    if state == "active" and backend == "firewalld":
        running = c.sh("firewall-cmd --state", ok=False, timeout=30).stdout.strip()
        return "active" if running == "running" else "firewalld " + (running or "not answering")
    return state


def wait_active(c: podman.Container, backend: str, began: float) -> float:
    """Seconds from ``began`` until the firewall's service is active; bounded by BOOT_LIMIT."""
    state = "not started"
    while time.monotonic() - began < BOOT_LIMIT:
        try:
            state = service_state(c, backend)
        except podman.CommandFailed as exc:  # podman exec before the container runs again
            state = "exec failed: %s" % str(exc).splitlines()[0]
        if state == "active":
            return time.monotonic() - began
        if state == "failed":
            break
        time.sleep(0.25)
    journal = c.sh("journalctl -b --no-pager -n 30 -u %s" % SERVICE[backend], ok=False, timeout=30)
    raise podman.CommandFailed(
        "%s: %s is %s after %.0f s\n%s" % (c.name, SERVICE[backend], state, time.monotonic() - began, journal.stdout)
    )


# ---------------------------------------------------------------------------------------
# The site
# ---------------------------------------------------------------------------------------
class Site(part.Site):
    """One systemd-booted container per backend and an unfiltered peer that probes them."""

    def __init__(self, workdir: str):
        super().__init__(workdir, "restart", ("rules", "backend", "owner", "persist"))
        self.peer = podman.Container(PREFIX + "peer")

    def boot(self, backends: Sequence[str]) -> None:
        self.start(self.peer.name)
        for backend in backends:
            self.start(PREFIX + backend[:3], backend, image=IMAGE[backend], command=("/sbin/init",), systemd="always",
                       extra=())  # fmt: skip

    def each(self, work: Callable[[str, podman.Container], Any]) -> Dict[str, Any]:
        """``work(backend, container)`` on every host at once; backend -> its return value."""
        with ThreadPoolExecutor(max_workers=len(self.hosts)) as pool:
            futures = {b: pool.submit(work, b, c) for b, c in self.hosts.items()}
            return {b: f.result() for b, f in futures.items()}

    def converge_all(self, rules: List[Dict[str, Any]], owner: str, persist: bool) -> Dict[str, Dict[str, Any]]:
        """One playbook run over every host; backend -> the module's result."""
        args = {"rules": rules, "owner": owner, "persist": persist}
        return self.converge({b: dict(args, backend=b) for b in self.hosts})

    def restart(self, backend: str, c: podman.Container) -> Tuple[float, float]:
        """``podman restart``: systemd shuts down and boots again. (seconds to restart, to the service active)."""
        began = time.monotonic()
        init = init_started(c)
        podman.podman("restart", "--time", "20", c.name, timeout=90)
        restarted = time.monotonic() - began
        fresh = podman.Container(c.name)  # the address is looked up again
        self.hosts[backend] = fresh
        active = wait_active(fresh, backend, began)
        if init_started(fresh) <= init:
            raise podman.CommandFailed("%s: PID 1 (systemd) did not start again on podman restart" % c.name)
        return restarted, active


def prepare(backend: str, c: podman.Container) -> float:
    """First boot, then the host's own firewall, persisted the distribution's way."""
    booted = wait_active(c, backend, time.monotonic())
    if backend in OTHER_LOADER:
        c.sh("systemctl disable %s >/dev/null 2>&1" % OTHER_LOADER[backend])
    firewall.seed(c, backend, foreign_rule=True)
    if backend == "ufw":  # ufw --force enable is what makes ufw.service load it at boot
        c.sh("grep -qx 'ENABLED=yes' /etc/ufw/ufw.conf")
    return booted


def listen(c: podman.Container) -> None:
    tcp = [int(k[4:]) for k in CHECKS if k.startswith("tcp/")]
    udp = [int(k[4:]) for k in CHECKS if k.startswith("udp/")]
    traffic.start_listener(c, tcp=tcp, udp=udp, lifetime=900)


def probe(peer: podman.Container, c: podman.Container, want: Dict[str, str]) -> Tuple[List[str], Dict[str, str]]:
    """(the checks that did not come out as wanted, every outcome)."""
    got = traffic.probe(peer, c, CHECKS, expected=[k for k, v in want.items() if v == "arrived"])
    return ["%s %s (expected %s)" % (k, got.get(k), v) for k, v in want.items() if got.get(k) != v], got


def warned(result: Dict[str, Any]) -> bool:
    return any("persist=false has no effect" in str(w) for w in result.get("warnings", []))


def failed(results: Dict[str, Dict[str, Any]], what: str) -> None:
    bad = {b: r.get("msg") for b, r in results.items() if r.get("failed")}
    if bad:
        raise RuntimeError("%s failed: %s" % (what, bad))


def diff(before: str, after: str) -> str:
    delta = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return " | ".join(list(delta)[2:12])


# ---------------------------------------------------------------------------------------
# The part
# ---------------------------------------------------------------------------------------
def judge(
    b: str,
    seen: Dict[str, Any],
    rulesets: Tuple[str, str],
    volatile: Dict[str, Any],
    rerun: Dict[str, Any],
    row: part.Row,
) -> bool:
    """Three rows for backend ``b``: the rules kept, the rerun a no-op, the control; all passed?"""
    problems = []
    if seen["before"]:
        problems.append("before the restart: %s" % ", ".join(seen["before"]))
    control = [p for p in seen["after"] if p.split()[0] in CONTROL_CHECKS]
    wrong = [p for p in seen["after"] if p not in control]
    if wrong:
        problems.append("after the restart: %s" % ", ".join(wrong))
    if rulesets[0] != rulesets[1]:
        problems.append("the ruleset differs from before the restart: %s" % diff(*rulesets))
    if b in HONOURS_PERSIST_FALSE and not seen["persisted"]:
        problems.append("the converge with persist: true reported nothing persisted")
    figure = "podman restart %.1f s, %s active %.1f s after the start; %d ports checked before and after" % (
        seen["booted"][0], SERVICE[b], seen["booted"][1], len(CHECKS))  # fmt: skip
    row("%s: restart keeps the owned and the host's own rules (%s)" % (b, SERVICE[b]), not problems,
        figure + ("; ruleset as before" if not problems else ""), "; ".join(problems))  # fmt: skip

    quiet = not rerun.get("failed") and not rerun.get("changed")
    row("%s: the run after the restart reports no change" % b, quiet, "changed=%s" % rerun.get("changed"),
        "" if quiet else "%s %s" % (rerun.get("msg", ""), rerun.get("actions")))  # fmt: skip

    if seen["before"]:
        control.append("the control ports were not open before the restart")
    if b in HONOURS_PERSIST_FALSE:
        what = "control: rules not persisted (persist: false, a runtime-only port) are gone after the restart"
        figure = "%s open before, closed after" % ", ".join(CONTROL_CHECKS)
    else:
        what = "control: a runtime-only port is gone after the restart; persist: false is warned about, ignored"
        figure = "tcp/%d open before, closed after; persist: false ports kept" % RUNTIME_PORT
        if not warned(volatile):
            control.append("no warning that persist=false has no effect: %s" % volatile.get("warnings"))
    row("%s: %s" % (b, what), not control, figure, "; ".join(control))
    return not problems and quiet and not control


def part_restart(backends: Sequence[str], row: part.Row, workdir: str) -> Tuple[int, int]:
    """Restart every backend's host; report rows through ``row``; (backends kept, backends)."""
    site = Site(workdir)
    kept = 0
    try:
        site.boot(backends)
        site.each(prepare)
        first = site.converge_all(KEPT, "biostar-hardening", True)
        failed(first, "the converge with persist: true")
        persisted = {b: list(r.get("persisted", [])) for b, r in first.items()}
        snap_kept = site.each(lambda b, c: ruleset(c, b))
        volatile = site.converge_all(VOLATILE, VOLATILE_OWNER, False)
        failed(volatile, "the converge with persist: false")
        snap_all = site.each(lambda b, c: ruleset(c, b))
        site.each(lambda b, c: c.sh(RUNTIME_ONLY[b]))
        site.each(lambda b, c: listen(c))
        before = site.each(lambda b, c: probe(site.peer, c, expected(b, False)))

        booted = site.each(site.restart)
        site.each(lambda b, c: listen(c))
        after = site.each(lambda b, c: probe(site.peer, c, expected(b, True)))
        snap_after = site.each(lambda b, c: ruleset(c, b))
        again = site.converge_all(KEPT, "biostar-hardening", True)

        for b in backends:
            seen = {"before": before[b][0], "after": after[b][0], "booted": booted[b], "persisted": persisted[b]}
            # ufw and firewalld keep the persist: false owner's rules in their own files.
            reference = snap_kept[b] if b in HONOURS_PERSIST_FALSE else snap_all[b]
            kept += judge(b, seen, (reference, snap_after[b]), volatile[b], again[b], row)
    finally:
        site.remove()
    return kept, len(backends)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return part.standalone(__doc__, part_restart, BACKENDS, PREFIX, argv)


if __name__ == "__main__":
    sys.exit(main())
