"""Fleet converge cost on real containers: per backend and mixed, over podman and SSH.

``make bench`` runs a *plan*: the cells (connection, fleet, measurement, hosts, rules) to
measure and how many samples each gets. Two plans:

- ``targets`` (the default, about 45 minutes on a 2-core VM): exactly what issue 11's
  targets and the plot need. Per fleet (each backend alone, and mixed), on 10 hosts, over
  podman and SSH: ``ping``, the first converge with 4 rules, the idempotent rerun, the first
  converge with 256 rules and removing those 256 rules, 3 samples each; 50 hosts (ping,
  converge, rerun) on the mixed fleet, 3 samples; 1 host and 64 rules once each, for the plot;
  the module alone per backend (firewalld and nftables 3 samples, the others once).
- ``full`` (BENCH_PLAN=full, about 4 hours): the whole cross product, every fleet on 1, 10
  and 50 hosts with 4, 64 and 256 rules, every cell 3 samples.

A fleet's containers are started once, in parallel, and serve both connections and every
cell of the fleet. Samples are interleaved in rounds: each round runs ``ping``, converge,
rerun, then the larger rule counts and their removal, so machine noise hits both sides of a
ratio alike. Every group of plays starts and ends with an empty owned set (a removal play,
or the module's own payload run in each container for the 4-rule plays), so no container
is recreated between samples.

A failed play is recorded with its error, the owned rules are reset and the run goes on.
Every play has a timeout (BENCH_PLAY_TIMEOUT) and the run a time budget (BENCH_BUDGET):
what is not started within it is listed as not measured, never filled in. The estimate of
the plan's wall time (from per-play costs measured on this machine kind) is printed first.
Every sample goes to a JSON file; benchmarks/results.md gets the medians, the ratios the
targets of issue 11 are stated in, what failed and a PNG plot. It reports; it never gates
a test run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from site_kit import collection, firewall, playbook, podman, ssh

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SITE = os.path.join(REPO, "playbooks", "site.yml")
PING = os.path.join(HERE, "ping.yml")
PREFIX = "biostar-bench-"
BACKENDS = ("nftables", "iptables", "ufw", "firewalld")
CONNECTIONS = ("podman", "ssh")
PLANS = ("targets", "full")
# Resident memory of one container, measured with `podman stats` (a systemd container
# running firewalld and sshd: 45 MB; sleep infinity + sshd: 3 MB), with headroom.
MEMORY_MB = {"firewalld": 80, "other": 16}
FIREWALL_MODULES = {"biostar.hardening.firewall_ports", "biostar.hardening.win_firewall_ports"}
# sshd's port in every container, and a bench-owned (foreign to the collection) rule that
# keeps it reachable through the seeded default-deny; firewalld's public zone allows ssh already.
SSH_PORT = 22
SSH_ALLOW = {
    "nftables": 'nft insert rule inet filter input tcp dport 22 accept comment "bench-ssh"',
    "iptables": "iptables -I INPUT -p tcp --dport 22 -m comment --comment bench-ssh -j ACCEPT",
    "ufw": "ufw allow 22/tcp comment bench-ssh >/dev/null",
    "firewalld": "true",
}
# What each play is expected to report: a converge and a remove change every host, a
# rerun none; a sample whose recap says otherwise is recorded as failed.
EXPECT_CHANGED = {"ping": None, "converge": True, "rerun": False, "remove": True}

# Wall seconds of one play: fixed + per host + per host squared (50 forks on 2 cores cost
# more than 5 times 10) + per host and 100 rules. Fitted to plays measured on this machine
# kind (2 cores, ansible-core 2.19, lightly loaded) on 1, 5 and 50 hosts; with other jobs
# on the machine the same plays took up to 1.8 times as long. The estimate printed at the
# start of a run is built from them.
PLAY_COST = {
    ("podman", "ping"): (1.2, 0.345, 0.0086, 0.0),
    ("podman", "converge"): (1.9, 0.435, 0.0154, 0.09),
    ("podman", "rerun"): (1.9, 0.388, 0.0176, 0.0),
    ("podman", "remove"): (1.9, 0.435, 0.0154, 0.28),
    ("ssh", "ping"): (0.7, 0.16, 0.0, 0.0),
    ("ssh", "converge"): (1.4, 0.49, 0.0, 0.085),
    ("ssh", "rerun"): (0.8, 0.49, 0.0, 0.0),
    ("ssh", "remove"): (1.4, 0.49, 0.0, 0.24),
}
# Starting and seeding one container (firewalld boots systemd first), 8 at a time, and
# removing it at the end.
START_COST = {"fixed": 10.0, "firewalld": 25.0, "other": 5.0, "stop": 0.2}
CLEAR_PAYLOAD = "/root/bench-clear.py"
CLEAR_COST = {"prepare": 2.5, "copy": 0.3, "fixed": 0.5, "host": 0.1}  # Site.prepare_clear and Site.clear
PAYLOAD_COST = {"fixed": 5.0, "sample": 4.0}  # two kept payloads, then per sample: payload + ad-hoc call


class Cell(NamedTuple):
    """One measurement: every sample of it is one play (or one payload / ad-hoc call)."""

    connection: str
    fleet: str
    kind: str  # ping, converge, rerun, remove; payload, adhoc
    hosts: int
    rules: int

    def label(self) -> str:
        return "%s %s %s hosts=%d rules=%d" % self

    @classmethod
    def of(cls, sample: Dict[str, Any]) -> Cell:
        """The cell of a sample (an entry of results.json's ``samples``)."""
        return cls(*(sample[field] for field in cls._fields))


class Group(NamedTuple):
    """Plays on the first ``hosts`` hosts that start and end with an empty owned set.

    ``rules == 4``: ping, converge, rerun (the floor and the per-host ratios), then the
    owned rules are cleared without Ansible (Site.clear); more rules: converge, remove.
    One round runs each group once.
    """

    hosts: int
    rules: int
    samples: int
    judged: bool

    def plays(self) -> List[Tuple[str, int]]:
        if self.rules == 4:
            return [("ping", 0), ("converge", 4), ("rerun", 4)]
        return [("converge", self.rules), ("remove", self.rules)]


class Payload(NamedTuple):
    """The module alone on one host of ``backend``: the AnsiballZ payload and an ad-hoc call."""

    backend: str
    rules: int
    samples: int
    judged: bool


class SitePlan(NamedTuple):
    """One fleet's containers and everything measured on them."""

    fleet: str
    backends: Tuple[str, ...]  # one per container
    connections: Tuple[str, ...]
    groups: Tuple[Group, ...]
    payloads: Tuple[Payload, ...]

    def cells(self) -> Dict[Cell, int]:
        """Every cell of this site and its planned samples."""
        found: Dict[Cell, int] = {}
        for connection in self.connections:
            for group in self.groups:
                for kind, rules in group.plays():
                    cell = Cell(connection, self.fleet, kind, group.hosts, rules)
                    found[cell] = max(found.get(cell, 0), group.samples)
        for load in self.payloads:
            for kind in ("payload", "adhoc"):
                found[Cell("podman", load.backend, kind, 1, load.rules)] = load.samples
        return found

    def rounds(self) -> int:
        return max([g.samples for g in self.groups] + [p.samples for p in self.payloads] + [0])


def extra_rules(total: int, base: int = 4) -> List[Dict[str, Any]]:
    """Rules beyond server mode's 4, so a play with them manages ``total`` rules."""
    return [{"protocol": "tcp", "port": 20000 + i, "purpose": "bench"} for i in range(max(total - base, 0))]


def module_rules(total: int) -> List[Dict[str, Any]]:
    """``total`` rules for a direct module call (no port matrix)."""
    return [{"protocol": "tcp", "port": 20000 + i, "purpose": "bench"} for i in range(total)]


def fleet_backends(fleet: str, count: int, backends: Sequence[str]) -> List[str]:
    """The backend of each host: one backend everywhere, or ``mixed``: the backends in turn."""
    if fleet == "mixed":
        return [backends[i % len(backends)] for i in range(count)]
    return [fleet] * count


def memory_cap(backends: Sequence[str], available_mb: float) -> int:
    """How many hosts of this fleet fit in 80% of the available memory."""
    per_host = statistics.mean(MEMORY_MB["firewalld" if b == "firewalld" else "other"] for b in backends)
    return max(1, int(available_mb * 0.8 // per_host))


def available_mb() -> float:
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return 0.0


# --- the plan -------------------------------------------------------------------------
def ratio_hosts(args: argparse.Namespace) -> int:
    """The host count the per-fleet ratios are judged on: BENCH_RULE_HOSTS if measured."""
    return args.rule_hosts if args.rule_hosts in args.hosts else max(args.hosts)


def _fleet_groups(args: argparse.Namespace, counts: List[int]) -> List[Group]:
    base = ratio_hosts(args)
    top = max(args.rules)
    if args.plan == "full":
        groups = []
        for count in counts:
            groups.append(Group(count, 4, args.repeats, True))
            groups += [Group(count, r, args.repeats, True) for r in args.rules if r != 4]
        return groups
    # targets: the ratios on `base` hosts and above with repeats; the rest of the plot once.
    judged = [Group(base, 4, args.repeats, True)] if base in counts else []
    if top > 4 and base in counts:
        judged.append(Group(base, top, args.repeats, True))
    judged += [Group(c, 4, args.repeats, True) for c in counts if c > base]
    plot = [Group(base, r, args.plot_repeats, False) for r in args.rules if 4 < r < top and base in counts]
    plot += [Group(c, 4, args.plot_repeats, False) for c in counts if c < base]
    return judged + plot


def build_plan(args: argparse.Namespace, memory_mb: float) -> Tuple[List[SitePlan], List[str]]:
    """The sites to start and what to measure on each; and the cells left out, with why."""
    notes: List[str] = []
    base = ratio_hosts(args)
    sites: List[SitePlan] = []
    for fleet in args.fleets:
        counts = sorted(set(args.hosts))
        if args.plan == "targets" and fleet not in args.wide_fleets:
            wide = [c for c in counts if c > base]
            if wide:
                extra = sum(
                    play_seconds(connection, kind, c, r) * args.repeats
                    for c in wide
                    for connection in args.connections
                    for kind, r in Group(c, 4, 1, True).plays()
                )
                notes.append(
                    "%s fleet: %s hosts left out, for time: they would add about %.0f min to the run; the targets "
                    "plan measures them on %s only (BENCH_WIDE_FLEETS or BENCH_PLAN=full adds them)"
                    % (fleet, ",".join(map(str, wide)), extra / 60, ",".join(args.wide_fleets))
                )
            counts = [c for c in counts if c <= base]
        cap = memory_cap(fleet_backends(fleet, max(counts), args.backends), memory_mb)
        if max(counts) > cap:
            notes.append("%s fleet: %d hosts do not fit in memory; measured up to %d" % (fleet, max(counts), cap))
            counts = sorted({c for c in counts if c <= cap} | {cap})
        sites.append(
            SitePlan(
                fleet,
                tuple(fleet_backends(fleet, max(counts), args.backends)),
                tuple(args.connections),
                tuple(_fleet_groups(args, counts)),
                (),
            )
        )
    if args.payload:
        sites = _with_payloads(args, sites, notes)
    return sites, notes


def _with_payloads(args: argparse.Namespace, sites: List[SitePlan], notes: List[str]) -> List[SitePlan]:
    """Each backend's module-alone cells go to the mixed site if it has that backend, else its own."""
    loads: Dict[int, List[Payload]] = {}
    for backend in args.backends:
        where = [i for i, s in enumerate(sites) if backend in s.backends]
        where.sort(key=lambda i: sites[i].fleet != "mixed")
        if not where:
            notes.append("%s: module payload left out (no fleet in this run has a %s host)" % (backend, backend))
            continue
        for rules in args.payload_rules:
            judged = args.plan == "full" or backend == "firewalld" or (backend == "nftables" and rules == 4)
            samples = args.repeats if judged else args.plot_repeats
            loads.setdefault(where[0], []).append(Payload(backend, rules, samples, judged))
    return [s._replace(payloads=tuple(loads.get(i, ()))) for i, s in enumerate(sites)]


def play_seconds(connection: str, kind: str, hosts: int, rules: int) -> float:
    fixed, per_host, per_host_squared, per_rules = PLAY_COST[(connection, kind)]
    return fixed + per_host * hosts + per_host_squared * hosts * hosts + per_rules * hosts * rules / 100.0


def start_seconds(backends: Sequence[str]) -> float:
    costs = [START_COST["firewalld" if b == "firewalld" else "other"] for b in backends]
    return START_COST["fixed"] + sum(costs) / 8 + max(costs) + START_COST["stop"] * len(costs)


def estimate(plan: Sequence[SitePlan]) -> float:
    """Wall seconds the plan should take here, from the measured per-play costs."""
    total = 0.0
    for site in plan:
        total += start_seconds(site.backends)
        total += CLEAR_COST["prepare"] * len(set(site.backends)) + CLEAR_COST["copy"] * len(site.backends)
        for connection in site.connections:
            total += play_seconds(connection, "ping", len(site.backends), 0)  # warm-up
            for group in site.groups:
                rounds = sum(play_seconds(connection, kind, group.hosts, r) for kind, r in group.plays())
                if group.rules == 4:
                    rounds += CLEAR_COST["fixed"] + CLEAR_COST["host"] * group.hosts
                total += rounds * group.samples
        total += sum(PAYLOAD_COST["fixed"] + PAYLOAD_COST["sample"] * p.samples for p in site.payloads)
    return total


# --- running it -----------------------------------------------------------------------
class PlayFailed(Exception):
    """A play (or a command of the payload rows) failed; the message says how."""


class Site:
    """The containers of one fleet, reachable over podman and SSH, and the plays run against them."""

    def __init__(self, fleet: str, backends: Sequence[str], workdir: str, timeout: float):
        self.fleet = fleet
        self.names = ["%s%02d" % (PREFIX, i + 1) for i in range(len(backends))]
        self.backend = dict(zip(self.names, backends))
        self.workdir = workdir
        self.timeout = timeout
        self.inventory = {c: os.path.join(workdir, "inventory-%s.json" % c) for c in CONNECTIONS}
        self.key = ssh.make_key(workdir)
        self.known = os.path.join(workdir, "known_hosts")
        collections = collection.link(os.path.join(workdir, "collections"))
        self.env: Dict[str, Dict[str, str]] = {}
        for connection in CONNECTIONS:
            settings = {
                # Timed as a fleet runs: the default stdout callback, and the recording
                # callback keeps only what the figures need (counts, changed, failures).
                "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
                collection.RECORD_LEAN_ENV: "1",
                "ANSIBLE_FORKS": str(max(len(self.names), 5)),
                "ANSIBLE_HOST_KEY_CHECKING": "False",
                "ANSIBLE_LOCAL_TEMP": os.path.join(workdir, "tmp"),
                "ANSIBLE_PIPELINING": "True",
            }
            if connection == "ssh":
                control = os.path.join(workdir, "cp")
                os.makedirs(control, exist_ok=True)
                settings.update(ssh.ansible_settings(control, persist=300))
            env = collection.ansible_env(collections, **settings)
            env.pop("ANSIBLE_CONFIG", None)
            self.env[connection] = env

    def start(self) -> None:
        """Start and seed every container, 8 at a time; sshd runs in each of them."""
        self.stop()
        with ThreadPoolExecutor(max_workers=min(len(self.names), 8)) as pool:
            for future in [pool.submit(self._start, name) for name in self.names]:
                future.result()
        if os.path.exists(self.known):  # an earlier fleet's containers had these names and addresses
            os.unlink(self.known)
        containers = [podman.Container(name) for name in self.names]
        for container in containers:
            ssh.known_hosts(container, SSH_PORT, self.known)
        for connection in CONNECTIONS:
            hosts = {}
            for c in containers:
                host: Dict[str, Any] = {"biostar_firewall_backend": self.backend[c.name]}
                if connection == "ssh":
                    host.update(ssh.host_vars(c.ip, SSH_PORT, "root", self.key, self.known))
                else:
                    host.update(ansible_connection="containers.podman.podman")
                hosts[c.name] = host
            common = {"ansible_python_interpreter": "/usr/bin/python3"}
            inventory = {"all": {"vars": common, "children": {"biostar_servers": {"hosts": hosts}}}}
            with open(self.inventory[connection], "w", encoding="utf-8") as handle:
                json.dump(inventory, handle)

    def _start(self, name: str) -> None:
        backend = self.backend[name]
        container = podman.start_host(name, backend)
        firewall.seed(container, backend)
        with open(self.key + ".pub", encoding="utf-8") as handle:
            ssh.serve(container, handle.read(), SSH_PORT, systemd=backend == "firewalld")
        container.sh(SSH_ALLOW[backend])

    def stop(self) -> None:
        podman.remove(self.names)

    def play(self, connection: str, book: str, limit: int, extra: Dict[str, Any]) -> playbook.Run:
        """Run ``book`` on the first ``limit`` hosts; PlayFailed if it fails or times out."""
        try:
            run = playbook.run(
                book,
                self.inventory[connection],
                ",".join(self.names[:limit]),
                extra,
                env=self.env[connection],
                cwd=self.workdir,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired:
            raise PlayFailed(
                "%s timed out after %.0f s (BENCH_PLAY_TIMEOUT)" % (os.path.basename(book), self.timeout)
            ) from None
        if run.rc != 0:
            raise PlayFailed("%s exited %d: %s" % (os.path.basename(book), run.rc, first_error(run)))
        return run

    def adhoc(self, host: str, module_args: Dict[str, Any], keep: bool = False) -> float:
        """One ad-hoc call of firewall_ports on ``host`` over podman; its wall seconds."""
        env = dict(self.env["podman"], ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal")
        if keep:
            env.update(ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_PIPELINING="False")
        binary = os.path.join(os.path.dirname(sys.executable), "ansible")
        module = "biostar.hardening.firewall_ports"
        command = [binary, "-i", self.inventory["podman"], host, "-m", module, "-a", json.dumps(module_args)]
        began = time.monotonic()
        try:
            proc = subprocess.run(command, env=env, cwd=self.workdir, capture_output=True, text=True,
                                  timeout=self.timeout, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise PlayFailed("ad-hoc call timed out after %.0f s" % self.timeout) from None
        if proc.returncode != 0:
            raise PlayFailed("ad-hoc call exited %d: %s" % (proc.returncode, (proc.stdout + proc.stderr)[-800:]))
        return time.monotonic() - began

    def keep(self, host: str, module_args: Dict[str, Any], path: str) -> str:
        """Make the ad-hoc call once and keep its AnsiballZ payload at ``path`` in ``host``."""
        container = podman.Container(host)
        container.sh("rm -rf /root/.ansible/tmp")
        self.adhoc(host, module_args, keep=True)
        container.sh(
            "mv \"$(find /root/.ansible/tmp -name 'AnsiballZ_firewall_ports.py' | head -n 1)\" %s"
            " && rm -rf /root/.ansible/tmp" % path
        )
        return path

    def prepare_clear(self) -> None:
        """Put a payload of firewall_ports (state: absent, the host's backend) in every container."""
        for backend in sorted(set(self.backend.values())):
            hosts = [n for n in self.names if self.backend[n] == backend]
            self.keep(hosts[0], {"backend": backend, "state": "absent"}, CLEAR_PAYLOAD)
            text = podman.Container(hosts[0]).sh("cat %s" % CLEAR_PAYLOAD).stdout
            for name in hosts[1:]:
                podman.Container(name).sh("cat >%s" % CLEAR_PAYLOAD, stdin=text)

    def clear(self, limit: int) -> None:
        """Remove every owned rule on the first ``limit`` hosts, in parallel, without Ansible.

        The module itself (the payload kept by prepare_clear) runs in each container: the
        same owned-rule removal a remove play makes, at a fraction of a play's cost. Each
        host converged before, so each must report a change; PlayFailed otherwise.
        """

        def one(name: str) -> None:
            out = podman.Container(name).sh("python3 %s" % CLEAR_PAYLOAD, timeout=self.timeout).stdout
            try:
                changed = json.loads(out[out.index("{") :]).get("changed")
            except ValueError:
                changed = None
            if changed is not True:  # every host had its owned rules: removing them is a change
                raise PlayFailed("%s: the module removed nothing (changed=%s): %s" % (name, changed, out[-300:]))

        with ThreadPoolExecutor(max_workers=min(limit, 8)) as pool:
            futures = [pool.submit(one, name) for name in self.names[:limit]]
            errors = [str(f.exception()) for f in futures if f.exception() is not None]
        if errors:
            raise PlayFailed("clearing the owned rules failed: %s" % errors[0][:800])

    def reset(self, connection: str, limit: int) -> None:
        """Remove every owned rule (state: absent): the next group starts from an empty owned set."""
        self.play(connection, SITE, limit, {"biostar_mode": "server", "biostar_firewall_state": "absent"})


def first_error(run: playbook.Run) -> str:
    """The first failed task's message (from the record), else the tail of the output."""
    if run.record:
        for task in run.record.get("tasks", []):
            result = task.get("result", {})
            if result.get("failed") or result.get("unreachable"):
                return "%s on %s: %s" % (task.get("action"), task.get("host"), str(result.get("msg", ""))[:500])
    return (run.stderr.strip() or run.stdout.strip())[-800:]


class Bench:
    def __init__(self, args: argparse.Namespace, plan: List[SitePlan], notes: List[str]):
        self.args = args
        self.plan = plan
        self.notes = list(notes)
        self.began = time.monotonic()
        self.estimate = estimate(plan)
        self.cells: Dict[Cell, Dict[str, Any]] = {}
        for site in plan:
            for cell, planned in site.cells().items():
                self.cells[cell] = {"planned": planned, "seconds": [], "calls": [], "tasks": [], "errors": []}
        self.missing: List[str] = []

    @property
    def samples(self) -> List[Dict[str, Any]]:
        """Every cell that has a sample or an error, in plan order (results.json's ``samples``)."""
        found = []
        for cell, data in self.cells.items():
            if not data["seconds"] and not data["errors"]:
                continue
            sample = dict(cell._asdict(), seconds=data["seconds"], planned=data["planned"], errors=data["errors"])
            if cell.kind not in ("payload", "adhoc"):
                sample.update(firewall_calls_per_host=data["calls"], tasks_per_host=data["tasks"])
            found.append(sample)
        return found

    def left(self) -> float:
        return self.args.budget - (time.monotonic() - self.began)

    def fail(self, cell: Cell, error: str) -> None:
        self.cells[cell]["errors"].append(error)
        print("  %-58s FAILED: %s" % (cell.label(), error.splitlines()[0] if error else ""), flush=True)

    def measure(self, site: Site, connection: str, group: Group) -> None:
        """One round of ``group``; a failed play is recorded, then the owned rules are reset."""
        plays = group.plays()
        for index, (kind, rules) in enumerate(plays):
            cell = Cell(connection, site.fleet, kind, group.hosts, rules)
            extra: Dict[str, Any] = {}
            if kind != "ping":
                extra = {"biostar_mode": "server", "biostar_extra_rules": extra_rules(rules)}
                if kind == "remove":
                    extra["biostar_firewall_state"] = "absent"
            try:
                run = site.play(connection, PING if kind == "ping" else SITE, group.hosts, extra)
                stats = run.stats()
                changed = sum(bool(host.get("changed")) for host in stats.values())
                expected = EXPECT_CHANGED[kind]
                if len(stats) != group.hosts:
                    raise PlayFailed("the recap has %d host(s), the play ran on %d" % (len(stats), group.hosts))
                if expected is not None and changed != (group.hosts if expected else 0):
                    raise PlayFailed(
                        "expected %s host(s) changed, the recap says %d" % ("every" if expected else "no", changed)
                    )
                calls = statistics.mean(
                    sum(n for a, n in c.items() if a in FIREWALL_MODULES) for c in run.counts().values()
                )
                tasks = statistics.mean(len([t for t in run.record["tasks"] if t["host"] == h]) for h in run.hosts())
            except Exception as error:  # any failure of one play is recorded; the run goes on
                self.fail(cell, str(error) or type(error).__name__)
                for later_kind, later_rules in plays[index + 1 :]:
                    self.fail(
                        Cell(connection, site.fleet, later_kind, group.hosts, later_rules),
                        "not run in this round: the %s before it failed" % kind,
                    )
                site.reset(connection, group.hosts)  # PlayFailed here: the site is broken
                return
            data = self.cells[cell]
            data["seconds"].append(run.seconds)
            data["calls"].append(calls)
            data["tasks"].append(tasks)
            print(
                "  %-58s %7.2fs (%d of %d)" % (cell.label(), run.seconds, len(data["seconds"]), data["planned"]),
                flush=True,
            )
        if group.rules == 4:
            try:
                site.clear(group.hosts)
            except PlayFailed as error:
                print("  clearing the owned rules failed, resetting with a play: %s" % error, flush=True)
                site.reset(connection, group.hosts)  # PlayFailed here: the site is broken

    def site(self, plan: SitePlan, workdir: str) -> None:
        cells = plan.cells()
        if self.left() <= 0:
            self.missing += ["%s (every sample)" % c.label() for c in cells]
            return
        site = Site(plan.fleet, plan.backends, workdir, self.args.play_timeout)
        print("%s fleet: starting %d containers" % (plan.fleet, len(site.names)), flush=True)
        try:
            try:
                site.start()
                site.prepare_clear()
            except Exception as error:  # any start failure fails this site's cells, not the run
                for cell in cells:
                    self.fail(cell, "the site did not start (containers, seeds, sshd, clear payloads): %s" % error)
                return
            if plan.payloads:
                try:
                    self.payloads(site, plan.payloads)
                except Exception as error:  # recorded on the payload cells; the fleet's plays still run
                    for load in plan.payloads:
                        for kind in ("payload", "adhoc"):
                            self.fail(Cell("podman", load.backend, kind, 1, load.rules), "payload rows: %s" % error)
            for connection in plan.connections:
                self.connection(site, plan, connection)
        finally:
            if not self.args.keep:
                site.stop()

    def connection(self, site: Site, plan: SitePlan, connection: str) -> None:
        groups = plan.groups
        try:
            site.play(connection, PING, len(site.names), {})  # warm-up: caches, ControlPersist sockets
        except PlayFailed as error:
            for cell in plan.cells():
                if cell.connection == connection and cell.kind not in ("payload", "adhoc"):
                    self.fail(cell, "not run: the warm-up ping failed: %s" % error)
            return
        for round_ in range(max([g.samples for g in groups] + [0])):
            for group in groups:
                if group.samples <= round_:
                    continue
                if self.left() <= 0:
                    self.missing += [
                        "%s (sample %d of %d)" % (Cell(connection, site.fleet, k, group.hosts, r).label(),
                                                  round_ + 1, group.samples)
                        for k, r in group.plays()
                    ]  # fmt: skip
                    continue
                try:
                    self.measure(site, connection, group)
                except PlayFailed as error:
                    for later in groups:
                        for kind, rules in later.plays():
                            cell = Cell(connection, site.fleet, kind, later.hosts, rules)
                            data = self.cells[cell]
                            if len(data["seconds"]) + len(data["errors"]) < data["planned"]:
                                self.fail(cell, "not run: resetting the owned rules after a failure failed: %s" % error)
                    return

    def payloads(self, site: Site, loads: Sequence[Payload]) -> None:
        """Per backend: a one-host ad-hoc call, and its AnsiballZ payload timed inside the container.

        The backends are interleaved in each round, so the firewalld/nftables ratio sees the
        same machine noise on both sides.
        """
        kept: Dict[Payload, Tuple[str, str]] = {}
        for load in loads:
            if self.left() <= 0:
                self.missing.append("podman %s payload/adhoc rules=%d (every sample)" % (load.backend, load.rules))
                continue
            try:
                kept[load] = (self._keep(site, load, "present"), self._keep(site, load, "absent"))
            except (PlayFailed, AssertionError, OSError, ValueError) as error:
                for kind in ("payload", "adhoc"):
                    self.fail(Cell("podman", load.backend, kind, 1, load.rules), "keeping the payload: %s" % error)
        for round_ in range(max([p.samples for p in kept] + [0])):
            for load, (add, remove) in kept.items():
                if load.samples <= round_:
                    continue
                if self.left() <= 0:
                    row = "podman %s payload/adhoc rules=%d" % (load.backend, load.rules)
                    self.missing.append("%s (sample %d)" % (row, round_ + 1))
                    continue
                self._payload_sample(site, load, add, remove)
        for load, (_add, remove) in kept.items():
            podman.Container(self._host(site, load)).sh("python3 %s" % remove, ok=False)

    @staticmethod
    def _host(site: Site, load: Payload) -> str:
        return next(n for n in site.names if site.backend[n] == load.backend)

    def _adhoc(self, site: Site, load: Payload, state: str) -> float:
        args = {"rules": module_rules(load.rules), "backend": load.backend, "state": state}
        return site.adhoc(self._host(site, load), args)

    def _keep(self, site: Site, load: Payload, state: str) -> str:
        args = {"rules": module_rules(load.rules), "backend": load.backend, "state": state}
        return site.keep(self._host(site, load), args, "/root/bench-payload-%s-%d.py" % (state, load.rules))

    def _payload_sample(self, site: Site, load: Payload, add: str, remove: str) -> None:
        container = podman.Container(self._host(site, load))
        timer = (
            "import subprocess,sys,time; b=time.monotonic(); "
            "p=subprocess.run([sys.executable, sys.argv[1]], stdout=subprocess.DEVNULL); "
            "print(time.monotonic()-b); sys.exit(p.returncode)"
        )
        for kind in ("payload", "adhoc"):
            cell = Cell("podman", load.backend, kind, 1, load.rules)
            try:
                container.sh("python3 %s" % remove, timeout=self.args.play_timeout)
                if kind == "payload":
                    out = container.sh("python3 -c %s %s" % (shlex.quote(timer), add), timeout=self.args.play_timeout)
                    seconds = float(out.stdout.strip().splitlines()[-1])
                else:
                    seconds = self._adhoc(site, load, "present")
            except (PlayFailed, AssertionError, OSError, ValueError, IndexError, subprocess.TimeoutExpired) as error:
                self.fail(cell, str(error)[:1500])
                continue
            self.cells[cell]["seconds"].append(seconds)
            print("  %-58s %7.2fs" % (cell.label(), seconds), flush=True)

    def run(self) -> None:
        workdir = tempfile.mkdtemp(prefix="biostar-bench-")
        try:
            for site in self.plan:
                self.site(site, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


# --- reporting ------------------------------------------------------------------------
def find(samples: List[Dict[str, Any]], **match: Any) -> Optional[Dict[str, Any]]:
    for sample in samples:
        if all(sample.get(k) == v for k, v in match.items()):
            return sample
    return None


def median_of(samples: List[Dict[str, Any]], **match: Any) -> Optional[float]:
    """The median of the matching cell's samples; None if it was not measured or every sample failed."""
    sample = find(samples, **match)
    return statistics.median(sample["seconds"]) if sample and sample["seconds"] else None


def ratio(a: Optional[float], b: Optional[float]) -> str:
    return "%.2f" % (a / b) if a is not None and b else "n/a"


def _seconds(values: List[float]) -> Tuple[str, str, str]:
    if not values:
        return "failed", "", ""
    return "%.2f" % statistics.median(values), "%.2f" % min(values), "%.2f" % max(values)


def tables(samples: List[Dict[str, Any]]) -> str:
    lines = [
        "| connection | fleet | measurement | hosts | rules | median s | min s | max s | / ping | firewall calls/host"
        " | tasks/host | samples |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in samples:
        if s["kind"] in ("payload", "adhoc"):
            continue
        floor = median_of(samples, connection=s["connection"], fleet=s["fleet"], kind="ping", hosts=s["hosts"])
        calls = s.get("firewall_calls_per_host") or []
        tasks = s.get("tasks_per_host") or []
        median = statistics.median(s["seconds"]) if s["seconds"] else None
        lines.append(
            "| %s | %s | %s | %d | %d | %s | %s | %s | %s | %s | %s | %s |"
            % (
                *Cell.of(s),
                *_seconds(s["seconds"]),
                ratio(median, floor),
                "%.1f" % max(calls) if calls else "",
                "%.1f" % max(tasks) if tasks else "",
                counted(s),
            )
        )
    payload = [s for s in samples if s["kind"] == "payload"]
    if payload:
        lines += [
            "",
            "Module alone, one host (podman), per backend:",
            "",
            "| backend | rules | payload median s | payload min-max s | ad-hoc call median s | ad-hoc / nftables"
            " | samples |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for s in payload:
            adhoc = median_of(samples, kind="adhoc", fleet=s["fleet"], rules=s["rules"])
            nft = median_of(samples, kind="adhoc", fleet="nftables", rules=s["rules"])
            median, low, high = _seconds(s["seconds"])
            lines.append(
                "| %s | %d | %s | %s | %s | %s | %s |"
                % (
                    s["fleet"],
                    s["rules"],
                    median,
                    "%s-%s" % (low, high) if s["seconds"] else "",
                    "%.2f" % adhoc if adhoc is not None else "n/a",
                    ratio(adhoc, nft),
                    counted(s),
                )
            )
    return "\n".join(lines)


def counted(sample: Dict[str, Any]) -> str:
    """``3``, or ``2 of 3`` when samples failed or were not run."""
    done, planned = len(sample["seconds"]), sample.get("planned", len(sample["seconds"]))
    return "%d" % done if done == planned else "%d of %d" % (done, planned)


def targets(samples: List[Dict[str, Any]], rule_hosts: int) -> str:
    """Issue 11's "Done when" ratios, as far as the samples allow.

    A ratio is judged on medians; a cell that failed makes its rows say ``failed``, a
    cell with fewer samples than planned says how many it had (``n=2 of 3``).
    """
    lines = ["| target | connection | fleet | measured | met |", "|---|---|---|---:|---|"]

    def row(target: str, connection: str, fleet: str, cells: Sequence[Optional[Dict[str, Any]]], limit: float,
            value: Optional[float]) -> None:  # fmt: skip
        failed = [c for c in cells if c is not None and not c["seconds"]]
        short = ["n=%s" % counted(c) for c in cells if c is not None and c["seconds"] and " of " in counted(c)]
        if failed:
            measured, met = "failed", "**no** (see Failed cells)"
        elif value is None:
            measured, met = "not measured", ""
        else:
            measured = "%.2f" % value + (" (%s)" % ", ".join(short) if short else "")
            met = "yes" if value <= limit else "**no**"
        lines.append("| %s | %s | %s | %s | %s |" % (target, connection, fleet, measured, met))

    def divided(a: Optional[Dict[str, Any]], b: Optional[Dict[str, Any]]) -> Optional[float]:
        if a and b and a["seconds"] and b["seconds"]:
            return statistics.median(a["seconds"]) / statistics.median(b["seconds"])
        return None

    keys = []
    for s in samples:
        if s["kind"] not in ("payload", "adhoc") and (s["connection"], s["fleet"]) not in keys:
            keys.append((s["connection"], s["fleet"]))
    for connection, fleet in keys:
        m = {"connection": connection, "fleet": fleet}
        hosts = sorted({s["hosts"] for s in samples if s["kind"] == "ping" and s["connection"] == connection
                        and s["fleet"] == fleet})  # fmt: skip
        h = rule_hosts if rule_hosts in hosts or not hosts else max(hosts)
        most = max((s["rules"] for s in samples if s["kind"] == "remove" and s["fleet"] == fleet), default=256)
        four = find(samples, kind="converge", hosts=h, rules=4, **m)
        big = find(samples, kind="converge", hosts=h, rules=most, **m)
        gone = find(samples, kind="remove", hosts=h, rules=most, **m)
        if most > 4:
            row("%d hosts: %d rules / 4 rules <= 1.15" % (h, most), connection, fleet, [big, four], 1.15,
                divided(big, four))  # fmt: skip
            row("%d hosts: remove %d / add %d <= 1.0" % (h, most, most), connection, fleet, [gone, big], 1.0,
                divided(gone, big))  # fmt: skip
        for count in [c for c in hosts if c >= h]:
            ping = find(samples, kind="ping", hosts=count, **m)
            slack = 0.1 if count > rule_hosts else 0.0
            for kind, limit in (("converge", 1.2), ("rerun", 1.1)):
                value = find(samples, kind=kind, hosts=count, rules=4, **m)
                row("%d hosts: %s / ping <= %.1f" % (count, kind, limit + slack), connection, fleet, [value, ping],
                    limit + slack, divided(value, ping))  # fmt: skip
    for rules, limit in ((4, 1.0), (256, 1.5)):
        cell = find(samples, kind="payload", fleet="firewalld", rules=rules)
        value = statistics.median(cell["seconds"]) if cell and cell["seconds"] else None
        row("firewalld payload, %d rules <= %.1f s" % (rules, limit), "-", "firewalld", [cell], limit, value)
    a = find(samples, kind="adhoc", fleet="firewalld", rules=4)
    b = find(samples, kind="adhoc", fleet="nftables", rules=4)
    row("ad-hoc call firewalld / nftables <= 1.25", "podman", "firewalld", [a, b], 1.25, divided(a, b))
    calls = [max(s["firewall_calls_per_host"]) for s in samples
             if s["kind"] in ("converge", "rerun", "remove") and s.get("firewall_calls_per_host")]  # fmt: skip
    lines.append(
        "| exactly one firewall module call per host | all | all | %s | %s |"
        % (
            ", ".join("%.1f" % c for c in sorted(set(calls))) or "not measured",
            ("yes" if all(c == 1.0 for c in calls) else "**no**") if calls else "",
        )
    )
    return "\n".join(lines)


def plot(samples: List[Dict[str, Any]], rule_hosts: int, path: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (by_rules, by_hosts) = plt.subplots(1, 2, figsize=(12, 4.8))
    measured = [s for s in samples if s["kind"] == "converge" and s["seconds"]]
    keys = sorted({(s["connection"], s["fleet"]) for s in measured})
    for connection, fleet in keys:
        style = "-o" if connection == "podman" else "--s"
        mine = [s for s in measured if s["connection"] == connection and s["fleet"] == fleet]
        hosts = sorted({s["hosts"] for s in mine})
        h = rule_hosts if rule_hosts in hosts else max(hosts)
        points = sorted((s["rules"], statistics.median(s["seconds"])) for s in mine if s["hosts"] == h)
        if points:
            by_rules.plot(*zip(*points), style, label="%s, %s (%d hosts)" % (fleet, connection, h))
        points = sorted((s["hosts"], statistics.median(s["seconds"])) for s in mine if s["rules"] == 4)
        if points:
            by_hosts.plot(*zip(*points), style, label="%s, %s" % (fleet, connection))
    by_rules.set(title="First converge against rules", xlabel="rules per host", ylabel="wall seconds (median)")
    by_hosts.set(title="First converge against hosts (4 rules)", xlabel="hosts", ylabel="wall seconds (median)")
    for axis in (by_rules, by_hosts):
        axis.grid(True, alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def machine() -> str:
    version = subprocess.run(["podman", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    import ansible

    with open("/proc/meminfo", encoding="utf-8") as handle:
        mem_kb = int(handle.readline().split()[1])
    return "%s, %d cores, %.0f GiB RAM, Python %s, ansible-core %s, %s" % (
        platform.platform(),
        os.cpu_count() or 0,
        mem_kb / 2**20,
        platform.python_version(),
        ansible.__version__,
        version,
    )


def numbers(text: str, option: str) -> List[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit("%s: invalid value %r; give positive integers separated by commas" % (option, text)) from None
    if not values or min(values) < 1:
        raise SystemExit("%s: invalid value %r; give positive integers separated by commas" % (option, text))
    return values


def names(text: str, option: str, valid: Sequence[str]) -> List[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    for value in values:
        if value not in valid:
            raise SystemExit("%s: invalid value %r; valid values: %s" % (option, value, ", ".join(valid)))
    if not values:
        raise SystemExit("%s: empty; valid values: %s" % (option, ", ".join(valid)))
    return values


def positive(text: str, option: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise SystemExit("%s: invalid value %r; at least 1" % (option, text))
    return value


def parse(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--plan",
        default=env("BENCH_PLAN", "targets"),
        help="targets: what issue 11's targets and the plot need (about 45 min); full: every combination, every "
        "cell repeated (about 4 h) (BENCH_PLAN)",
    )
    parser.add_argument("--hosts", default=env("BENCH_HOSTS", "1,10,50"), help="host counts (BENCH_HOSTS)")
    parser.add_argument("--rules", default=env("BENCH_RULES", "4,64,256"), help="rule counts (BENCH_RULES)")
    parser.add_argument(
        "--rule-hosts",
        default=env("BENCH_RULE_HOSTS", "10"),
        help="hosts the per-fleet ratios (rules, removal, ping) are judged on (BENCH_RULE_HOSTS)",
    )
    parser.add_argument(
        "--wide-fleets",
        default=env("BENCH_WIDE_FLEETS", "mixed"),
        help="targets plan: fleets measured on more hosts than --rule-hosts (BENCH_WIDE_FLEETS)",
    )
    parser.add_argument("--backends", default=env("BENCH_BACKENDS", ",".join(BACKENDS)), help="BENCH_BACKENDS")
    parser.add_argument(
        "--fleets",
        default=env("BENCH_FLEETS", ""),
        help="fleets: backends and/or mixed (BENCH_FLEETS; default: each backend, then mixed)",
    )
    parser.add_argument("--connections", default=env("BENCH_CONNECTIONS", ",".join(CONNECTIONS)))
    parser.add_argument("--repeats", default=env("BENCH_REPEATS", "3"), help="samples of a judged cell")
    parser.add_argument(
        "--plot-repeats", default=env("BENCH_PLOT_REPEATS", "1"), help="targets plan: samples of a plot-only cell"
    )
    parser.add_argument("--payload", default=env("BENCH_PAYLOAD", "1"), help="1: measure the module payloads")
    parser.add_argument("--payload-rules", default=env("BENCH_PAYLOAD_RULES", "4,256"))
    parser.add_argument(
        "--budget",
        default=env("BENCH_BUDGET", ""),
        help="seconds (default 3600 for the targets plan, 14400 for full); groups not started by then are "
        "listed as not measured (BENCH_BUDGET)",
    )
    parser.add_argument("--play-timeout", default=env("BENCH_PLAY_TIMEOUT", "900"), help="BENCH_PLAY_TIMEOUT")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    parser.add_argument("--output", default=env("BENCH_OUTPUT", os.path.join(HERE, "results.md")))
    parser.add_argument("--dry-run", action="store_true", help="print the plan and its estimate, start nothing")
    args = parser.parse_args(argv)
    args.plan = names(args.plan, "BENCH_PLAN", PLANS)[0]
    args.hosts = sorted(set(numbers(args.hosts, "BENCH_HOSTS")))
    args.rules = sorted(set(numbers(args.rules, "BENCH_RULES")) | {4})
    args.rule_hosts = positive(args.rule_hosts, "BENCH_RULE_HOSTS")
    args.payload_rules = sorted(set(numbers(args.payload_rules, "BENCH_PAYLOAD_RULES")))
    args.backends = names(args.backends, "BENCH_BACKENDS", BACKENDS)
    args.fleets = names(args.fleets or ",".join([*args.backends, "mixed"]), "BENCH_FLEETS", [*BACKENDS, "mixed"])
    args.wide_fleets = names(args.wide_fleets, "BENCH_WIDE_FLEETS", [*BACKENDS, "mixed"])
    args.connections = names(args.connections, "BENCH_CONNECTIONS", CONNECTIONS)
    args.payload = args.payload not in ("0", "false", "no", "")
    args.repeats = positive(args.repeats, "BENCH_REPEATS")
    args.plot_repeats = args.repeats if args.plan == "full" else positive(args.plot_repeats, "BENCH_PLOT_REPEATS")
    args.budget = float(positive(args.budget or ("3600" if args.plan == "targets" else "14400"), "BENCH_BUDGET"))
    args.play_timeout = float(positive(args.play_timeout, "BENCH_PLAY_TIMEOUT"))
    return args


def describe(plan: Sequence[SitePlan], notes: Sequence[str], args: argparse.Namespace) -> str:
    """What the plan measures, with its estimated wall time (printed before anything starts)."""
    lines = []
    for site in plan:
        cells = site.cells()
        plays = len(site.connections) * sum(len(g.plays()) * g.samples for g in site.groups)
        lines.append(
            "  %s fleet, %d containers: %d cells, %d plays%s"
            % (
                site.fleet,
                len(site.backends),
                len(cells),
                plays,
                ", module payloads of %s" % ",".join(sorted({p.backend for p in site.payloads}))
                if site.payloads
                else "",
            )
        )
    lines += ["  left out: %s" % note for note in notes]
    seconds = estimate(plan)
    lines.append(
        "estimated wall time: %.0f min (budget %.0f min)%s"
        % (seconds / 60, args.budget / 60, "; the budget will cut it short" if seconds > args.budget else "")
    )
    return "plan %s:\n%s" % (args.plan, "\n".join(lines))


def write(bench: Bench, args: argparse.Namespace, seconds: float) -> None:
    base = os.path.splitext(args.output)[0]
    samples = bench.samples
    with open(base + ".json", "w", encoding="utf-8") as handle:
        json.dump(
            {
                "machine": machine(),
                "settings": {k: v for k, v in vars(args).items() if k != "output"},
                "estimate_seconds": round(bench.estimate),
                "seconds": round(seconds),
                "samples": samples,
                "missing": bench.missing,
                "notes": bench.notes,
            },
            handle,
            indent=1,
        )
    plotted = plot(samples, ratio_hosts(args), base + ".png")
    failed = [s for s in samples if s["errors"]]
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write("# Benchmark results\n\n")
        handle.write(
            "Run on %s (UTC) by `make bench` (plan `%s`) in %.0f s, estimated %.0f s: connections %s, fleets %s, "
            "hosts %s, rules %s, %d samples of every judged cell (medians below; every sample in `%s`).\n\n"
            % (
                datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                args.plan,
                seconds,
                bench.estimate,
                ",".join(args.connections),
                ",".join(args.fleets),
                ",".join(map(str, args.hosts)),
                ",".join(map(str, args.rules)),
                args.repeats,
                os.path.basename(base) + ".json",
            )
        )
        handle.write("Machine: %s.\n\n" % machine())
        if plotted:
            handle.write("![cost against rules and hosts](%s)\n\n" % (os.path.basename(base) + ".png"))
        handle.write("## Targets (issue 11)\n\n" + targets(samples, ratio_hosts(args)) + "\n\n")
        handle.write("## Measurements\n\n" + tables(samples) + "\n")
        if failed:
            handle.write("\n## Failed cells\n\n")
            for s in failed:
                handle.write(
                    "- %s: %d of %d samples failed: %s\n"
                    % (
                        Cell.of(s).label(),
                        len(s["errors"]),
                        s["planned"],
                        "; ".join(" ".join(e.split())[:400] for e in s["errors"][:3]),
                    )
                )
        if bench.notes:
            handle.write("\n## Left out of this plan\n\n" + "".join("- %s\n" % n for n in bench.notes))
        if bench.missing:
            handle.write("\n## Not measured (time budget spent)\n\n" + "".join("- %s\n" % m for m in bench.missing))


def interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("signal %d" % signum)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse(argv)
    plan, notes = build_plan(args, available_mb())
    print(describe(plan, notes, args), flush=True)
    if args.dry_run:
        return 0
    # A timeout or Ctrl-C still writes what was measured, and removes the containers.
    signal.signal(signal.SIGTERM, interrupted)
    bench = Bench(args, plan, notes)
    try:
        bench.run()
    finally:
        if bench.samples:
            write(bench, args, time.monotonic() - bench.began)
            print("\nwritten to %s" % os.path.relpath(args.output, REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
