"""Fleet converge cost on real containers: per backend and mixed, over podman and SSH.

For each connection (podman, ssh) and each fleet (one backend on every host, or the
backends mixed), starts the containers (tests/site_kit seeds each firewall default-deny,
as the molecule harness and the demo do), then measures with playbooks/site.yml:

- Ansible's floor: a ``ping`` play on the same hosts and connection;
- the first converge (from an empty owned set) and the idempotent rerun, per host count;
- the first converge per rule count (4, 64, 256), and removing the largest rule count
  (``biostar_firewall_state: absent``) against adding it;

and, per backend, the module alone: the AnsiballZ payload Ansible sends, run inside the
container and timed there (no controller, no connection), next to a one-host ad-hoc call.

Every sample goes to a JSON file; benchmarks/results.md gets the medians, the ratios the
targets of issue 11 are stated in, and a PNG plot. Every play has a timeout and the whole
run a time budget (BENCH_BUDGET): what the budget leaves out is listed as missing, never
filled in. It reports; it never gates a test run.
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
from typing import Any, Callable, Dict, List, Optional, Sequence

sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from site_kit import collection, firewall, playbook, podman

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SITE = os.path.join(REPO, "playbooks", "site.yml")
PING = os.path.join(HERE, "ping.yml")
PREFIX = "biostar-bench-"
BACKENDS = ("nftables", "iptables", "ufw", "firewalld")
CONNECTIONS = ("podman", "ssh")
FIREWALLD_IMAGE = "localhost/biostar-hardening-firewalld:latest"
# Resident memory of one container, measured with `podman stats` (a systemd container
# running firewalld and sshd: 45 MB; sleep infinity + sshd: 3 MB), with headroom.
MEMORY_MB = {"firewalld": 80, "other": 16}
FIREWALL_MODULES = {"biostar.hardening.firewall_ports", "biostar.hardening.win_firewall_ports"}
# Bench-owned (foreign to the collection) rule that keeps sshd reachable through the
# seeded default-deny; firewalld's public zone allows ssh already.
SSH_ALLOW = {
    "nftables": 'nft insert rule inet filter input tcp dport 22 accept comment "bench-ssh"',
    "iptables": "iptables -I INPUT -p tcp --dport 22 -m comment --comment bench-ssh -j ACCEPT",
    "ufw": "ufw allow 22/tcp comment bench-ssh >/dev/null",
    "firewalld": "true",
}


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


class OutOfTime(Exception):
    """The run's time budget is spent."""


class Site:
    """The containers of one fleet over one connection, and the plays run against them."""

    def __init__(self, fleet: str, backends: List[str], connection: str, workdir: str, timeout: float):
        self.fleet = fleet
        self.connection = connection
        self.names = ["%s%s-%02d" % (PREFIX, connection, i + 1) for i in range(len(backends))]
        self.backend = dict(zip(self.names, backends))
        self.workdir = workdir
        self.timeout = timeout
        self.inventory = os.path.join(workdir, "inventory-%s.json" % connection)
        settings = {
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_FORKS": str(max(len(self.names), 5)),
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_LOCAL_TEMP": os.path.join(workdir, "tmp"),
            "ANSIBLE_PIPELINING": "True",
        }
        if connection == "ssh":
            control = os.path.join(workdir, "cp")
            os.makedirs(control, exist_ok=True)
            settings["ANSIBLE_SSH_ARGS"] = "-o ControlMaster=auto -o ControlPersist=300s"
            settings["ANSIBLE_SSH_CONTROL_PATH_DIR"] = control
        self.env = collection.ansible_env(collection.link(os.path.join(workdir, "collections")), **settings)
        self.env.pop("ANSIBLE_CONFIG", None)

    def start(self) -> None:
        self.stop()
        for name in self.names:
            if self.backend[name] == "firewalld":
                podman.start(name, image=FIREWALLD_IMAGE, command=(), systemd="always", extra=())
            else:
                podman.start(name)
        with ThreadPoolExecutor(max_workers=min(len(self.names), 8)) as pool:
            for future in [pool.submit(self._prepare, name) for name in self.names]:
                future.result()
        hosts = {}
        for name in self.names:
            host: Dict[str, Any] = {"biostar_firewall_backend": self.backend[name]}
            if self.connection == "ssh":
                host.update(ansible_host=podman.Container(name).ip, ansible_user="root")
            else:
                host.update(ansible_connection="containers.podman.podman")
            hosts[name] = host
        common = {"ansible_python_interpreter": "/usr/bin/python3"}
        if self.connection == "ssh":
            common.update(
                ansible_connection="ansible.builtin.ssh",
                ansible_ssh_private_key_file=os.path.join(self.workdir, "id_ed25519"),
                ansible_ssh_common_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            )
        inventory = {"all": {"vars": common, "children": {"biostar_servers": {"hosts": hosts}}}}
        with open(self.inventory, "w", encoding="utf-8") as handle:
            json.dump(inventory, handle)
        self.play(PING, len(self.names), {})  # warm-up: opens the ControlPersist sockets

    def _prepare(self, name: str) -> None:
        container = podman.Container(name)
        firewall.seed(container, self.backend[name])
        if self.connection == "ssh":
            with open(os.path.join(self.workdir, "id_ed25519.pub"), encoding="utf-8") as handle:
                key = handle.read()
            container.sh(
                "set -e; mkdir -p -m 0700 /root/.ssh; cat >/root/.ssh/authorized_keys; chmod 0600 "
                "/root/.ssh/authorized_keys; ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || ssh-keygen -A; "
                "mkdir -p /run/sshd; /usr/sbin/sshd; %s" % SSH_ALLOW[self.backend[name]],
                stdin=key,
            )

    def stop(self) -> None:
        podman.remove(self.names)

    def play(self, book: str, limit: int, extra: Dict[str, Any]) -> playbook.Run:
        run = playbook.run(
            book,
            self.inventory,
            ",".join(self.names[:limit]),
            extra,
            env=self.env,
            cwd=self.workdir,
            timeout=self.timeout,
        )
        if run.rc != 0:
            raise SystemExit(
                "%s failed on %s/%s:\n%s" % (os.path.basename(book), self.connection, self.fleet, run.describe())
            )
        return run

    def clear(self, limit: int) -> None:
        """Remove every owned rule (state: absent): the next converge starts from an empty owned set."""
        self.play(SITE, limit, {"biostar_mode": "server", "biostar_firewall_state": "absent"})


def ssh_key(workdir: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(workdir, "id_ed25519")], check=True
    )


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.began = time.monotonic()
        self.samples: List[Dict[str, Any]] = []
        self.missing: List[str] = []
        self.notes: List[str] = []

    def left(self) -> float:
        return self.args.budget - (time.monotonic() - self.began)

    def record(
        self,
        site: Site,
        kind: str,
        hosts: int,
        rules: int,
        book: str,
        extra: Dict[str, Any],
        before: Optional[Callable[[], None]] = None,
        expect_changed: Optional[bool] = None,
    ) -> None:
        row = "%s %s %s hosts=%d rules=%d" % (site.connection, site.fleet, kind, hosts, rules)
        if self.left() <= 0:
            self.missing.append(row)
            return
        seconds, firewall_calls, tasks = [], [], []
        for _repeat in range(self.args.repeats):
            if before:
                before()
            run = site.play(book, hosts, extra)
            changed = sum(host["changed"] for host in run.stats().values())
            if expect_changed is not None and bool(changed) != expect_changed:
                raise SystemExit("%s: expected changed=%s, the recap says %d changed" % (row, expect_changed, changed))
            seconds.append(run.seconds)
            counts = list(run.counts().values())
            firewall_calls.append(
                statistics.mean(sum(n for a, n in c.items() if a in FIREWALL_MODULES) for c in counts)
            )
            tasks.append(statistics.mean(len([t for t in run.record["tasks"] if t["host"] == h]) for h in run.hosts()))
        sample = {
            "connection": site.connection,
            "fleet": site.fleet,
            "kind": kind,
            "hosts": hosts,
            "rules": rules,
            "seconds": seconds,
            "firewall_calls_per_host": firewall_calls,
            "tasks_per_host": tasks,
        }
        self.samples.append(sample)
        print(
            "  %-58s %7.2fs median of %s" % (row, statistics.median(seconds), ", ".join("%.2f" % s for s in seconds)),
            flush=True,
        )

    def fleet(self, connection: str, fleet: str, workdir: str) -> None:
        backends = self.args.backends
        hosts = sorted(set(self.args.hosts))
        wanted = max(hosts)
        cap = memory_cap(fleet_backends(fleet, wanted, backends), available_mb())
        if wanted > cap:
            self.notes.append("%s fleet: %d hosts do not fit in memory; measured up to %d" % (fleet, wanted, cap))
            hosts = sorted({h for h in hosts if h <= cap} | {cap})
        if self.left() <= 0:
            self.missing.append("%s %s: every row" % (connection, fleet))
            return
        site = Site(fleet, fleet_backends(fleet, max(hosts), backends), connection, workdir, self.args.play_timeout)
        print("%s, %s fleet: starting %d containers" % (connection, fleet, len(site.names)), flush=True)
        server = {"biostar_mode": "server"}
        try:
            site.start()
            for count in hosts:
                self.record(site, "ping", count, 0, PING, {})
                self.record(site, "converge", count, 4, SITE, server, lambda c=count: site.clear(c), True)
                self.record(site, "rerun", count, 4, SITE, server, None, False)
            count = self.args.rule_hosts if self.args.rule_hosts in hosts else max(hosts)
            for rules in self.args.rules:
                if rules == 4:
                    continue  # measured above
                extra = dict(server, biostar_extra_rules=extra_rules(rules))
                self.record(site, "converge", count, rules, SITE, extra, lambda: site.clear(count), True)
            most = max(self.args.rules)
            extra = dict(server, biostar_extra_rules=extra_rules(most))

            def converged() -> None:
                site.clear(count)
                site.play(SITE, count, extra)

            self.record(
                site, "remove", count, most, SITE, dict(extra, biostar_firewall_state="absent"), converged, True
            )
        finally:
            if not self.args.keep:
                site.stop()

    def payloads(self, connection: str, workdir: str) -> None:
        """Per backend: a one-host ad-hoc call, and its AnsiballZ payload timed inside the container."""
        backends = list(self.args.backends)
        site = Site("payload", backends, connection, workdir, self.args.play_timeout)
        print("%s, module payloads: starting %d containers" % (connection, len(backends)), flush=True)
        adhoc = os.path.join(os.path.dirname(sys.executable), "ansible")
        try:
            site.start()
            for name in site.names:
                backend = site.backend[name]
                container = podman.Container(name)
                for rules in self.args.payload_rules:
                    row = "%s %s payload rules=%d" % (connection, backend, rules)
                    if self.left() <= 0:
                        self.missing.append(row)
                        continue

                    def call(state: str, keep: bool = False, name=name, backend=backend, rules=rules) -> float:
                        args = {"rules": module_rules(rules), "backend": backend, "state": state}
                        env = dict(site.env, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal")
                        if keep:
                            env.update(ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_PIPELINING="False")
                        began = time.monotonic()
                        proc = subprocess.run(
                            [
                                adhoc,
                                "-i",
                                site.inventory,
                                name,
                                "-m",
                                "biostar.hardening.firewall_ports",
                                "-a",
                                json.dumps(args),
                            ],
                            env=env,
                            cwd=workdir,
                            capture_output=True,
                            text=True,
                            timeout=self.args.play_timeout,
                            check=False,
                        )
                        if proc.returncode != 0:
                            raise SystemExit(
                                "ad-hoc call failed on %s:\n%s%s" % (name, proc.stdout[-3000:], proc.stderr[-2000:])
                            )
                        return time.monotonic() - began

                    def keep_payload(state: str, container=container, rules=rules, call=call) -> str:
                        container.sh("rm -rf /root/.ansible/tmp")
                        call(state, keep=True)
                        path = "/root/bench-payload-%s-%d.py" % (state, rules)
                        container.sh(
                            "mv \"$(find /root/.ansible/tmp -name 'AnsiballZ_firewall_ports.py' | head -n 1)\""
                            " %s"
                            " && rm -rf /root/.ansible/tmp" % path
                        )
                        return path

                    add, remove = keep_payload("present"), keep_payload("absent")
                    timer = (
                        "import subprocess,sys,time; b=time.monotonic(); "
                        "p=subprocess.run([sys.executable, sys.argv[1]], stdout=subprocess.DEVNULL); "
                        "print(time.monotonic()-b); sys.exit(p.returncode)"
                    )
                    payload, adhoc_seconds = [], []
                    for _repeat in range(self.args.repeats):
                        container.sh("python3 %s" % remove)
                        out = container.sh(
                            "python3 -c %s %s" % (shlex.quote(timer), add), timeout=self.args.play_timeout
                        )
                        payload.append(float(out.stdout.strip().splitlines()[-1]))
                        container.sh("python3 %s" % remove)
                        adhoc_seconds.append(call("present"))
                    container.sh("python3 %s" % remove)
                    for kind, seconds in (("payload", payload), ("adhoc", adhoc_seconds)):
                        self.samples.append(
                            {
                                "connection": connection,
                                "fleet": backend,
                                "kind": kind,
                                "hosts": 1,
                                "rules": rules,
                                "seconds": seconds,
                            }
                        )
                    print(
                        "  %-58s payload %.2fs, ad-hoc %.2fs (medians)"
                        % (row, statistics.median(payload), statistics.median(adhoc_seconds)),
                        flush=True,
                    )
        finally:
            if not self.args.keep:
                site.stop()

    def run(self) -> None:
        workdir = tempfile.mkdtemp(prefix="biostar-bench-")
        try:
            ssh_key(workdir)
            if self.args.payload:
                self.payloads("podman", workdir)
            for connection in self.args.connections:
                for fleet in self.args.fleets:
                    self.fleet(connection, fleet, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


# --- reporting ------------------------------------------------------------------------
def median_of(samples: List[Dict[str, Any]], **match: Any) -> Optional[float]:
    for sample in samples:
        if all(sample.get(k) == v for k, v in match.items()):
            return statistics.median(sample["seconds"])
    return None


def ratio(a: Optional[float], b: Optional[float]) -> str:
    return "%.2f" % (a / b) if a is not None and b else "n/a"


def tables(samples: List[Dict[str, Any]]) -> str:
    lines = [
        "| connection | fleet | measurement | hosts | rules | median s | min s | max s | / ping | firewall calls/host"
        " | tasks/host |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in samples:
        if s["kind"] in ("payload", "adhoc"):
            continue
        floor = median_of(samples, connection=s["connection"], fleet=s["fleet"], kind="ping", hosts=s["hosts"])
        calls = s.get("firewall_calls_per_host") or []
        tasks = s.get("tasks_per_host") or []
        lines.append(
            "| %s | %s | %s | %d | %d | %.2f | %.2f | %.2f | %s | %s | %s |"
            % (
                s["connection"],
                s["fleet"],
                s["kind"],
                s["hosts"],
                s["rules"],
                statistics.median(s["seconds"]),
                min(s["seconds"]),
                max(s["seconds"]),
                ratio(statistics.median(s["seconds"]), floor),
                "%.1f" % max(calls) if calls else "",
                "%.1f" % max(tasks) if tasks else "",
            )
        )
    payload = [s for s in samples if s["kind"] in ("payload", "adhoc")]
    if payload:
        lines += [
            "",
            "Module alone, one host (podman), per backend:",
            "",
            "| backend | rules | payload median s | payload min-max s | ad-hoc call median s | ad-hoc / nftables |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for s in payload:
            if s["kind"] != "payload":
                continue
            adhoc = median_of(samples, kind="adhoc", fleet=s["fleet"], rules=s["rules"])
            nft = median_of(samples, kind="adhoc", fleet="nftables", rules=s["rules"])
            lines.append(
                "| %s | %d | %.2f | %.2f-%.2f | %s | %s |"
                % (
                    s["fleet"],
                    s["rules"],
                    statistics.median(s["seconds"]),
                    min(s["seconds"]),
                    max(s["seconds"]),
                    "%.2f" % adhoc if adhoc is not None else "n/a",
                    ratio(adhoc, nft),
                )
            )
    return "\n".join(lines)


def targets(samples: List[Dict[str, Any]], rule_hosts: int) -> str:
    """Issue 11's "Done when" ratios, as far as the samples allow."""
    lines = ["| target | connection | fleet | measured | met |", "|---|---|---|---:|---|"]

    def row(target: str, connection: str, fleet: str, value: Optional[float], limit: float) -> None:
        lines.append(
            "| %s | %s | %s | %s | %s |"
            % (
                target,
                connection,
                fleet,
                "%.2f" % value if value is not None else "not measured",
                "" if value is None else ("yes" if value <= limit else "**no**"),
            )
        )

    keys = sorted({(s["connection"], s["fleet"]) for s in samples if s["kind"] not in ("payload", "adhoc")})
    for connection, fleet in keys:
        m = {"connection": connection, "fleet": fleet}
        hosts = sorted({s["hosts"] for s in samples if s.get("connection") == connection and s["fleet"] == fleet})
        h = rule_hosts if rule_hosts in hosts else max(hosts)
        most = max((s["rules"] for s in samples if s["kind"] == "remove" and s["fleet"] == fleet), default=256)
        four = median_of(samples, kind="converge", hosts=h, rules=4, **m)
        big = median_of(samples, kind="converge", hosts=h, rules=most, **m)
        gone = median_of(samples, kind="remove", hosts=h, rules=most, **m)
        row(
            "%d hosts: %d rules / 4 rules <= 1.15" % (h, most),
            connection,
            fleet,
            big / four if big and four else None,
            1.15,
        )
        row(
            "%d hosts: remove %d / add %d <= 1.0" % (h, most, most),
            connection,
            fleet,
            gone / big if gone and big else None,
            1.0,
        )
        for count in hosts:
            ping = median_of(samples, kind="ping", hosts=count, **m)
            slack = 0.1 if count > 10 else 0.0
            for kind, limit in (("converge", 1.2), ("rerun", 1.1)):
                value = median_of(samples, kind=kind, hosts=count, rules=4, **m)
                row(
                    "%d hosts: %s / ping <= %.1f" % (count, kind, limit + slack),
                    connection,
                    fleet,
                    value / ping if value and ping else None,
                    limit + slack,
                )
    fw4 = median_of(samples, kind="payload", fleet="firewalld", rules=4)
    fw256 = median_of(samples, kind="payload", fleet="firewalld", rules=256)
    row("firewalld payload, 4 rules <= 1.0 s", "-", "firewalld", fw4, 1.0)
    row("firewalld payload, 256 rules <= 1.5 s", "-", "firewalld", fw256, 1.5)
    a = median_of(samples, kind="adhoc", fleet="firewalld", rules=4)
    b = median_of(samples, kind="adhoc", fleet="nftables", rules=4)
    row("ad-hoc call firewalld / nftables <= 1.25", "podman", "firewalld", a / b if a and b else None, 1.25)
    calls = [max(s["firewall_calls_per_host"]) for s in samples if s["kind"] in ("converge", "rerun", "remove")]
    lines.append(
        "| exactly one firewall module call per host | all | all | %s | %s |"
        % (
            ", ".join("%.1f" % c for c in sorted(set(calls))) or "not measured",
            ("yes" if calls and all(c == 1.0 for c in calls) else "**no**") if calls else "",
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
    keys = sorted({(s["connection"], s["fleet"]) for s in samples if s["kind"] == "converge"})
    for connection, fleet in keys:
        style = "-o" if connection == "podman" else "--s"
        mine = [s for s in samples if s["kind"] == "converge" and s["connection"] == connection and s["fleet"] == fleet]
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


def parse(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default=env("BENCH_HOSTS", "1,10,50"), help="host counts (BENCH_HOSTS)")
    parser.add_argument("--rules", default=env("BENCH_RULES", "4,64,256"), help="rule counts (BENCH_RULES)")
    parser.add_argument(
        "--rule-hosts",
        type=int,
        default=int(env("BENCH_RULE_HOSTS", "10")),
        help="hosts for the rule scaling and removal rows (BENCH_RULE_HOSTS)",
    )
    parser.add_argument("--backends", default=env("BENCH_BACKENDS", ",".join(BACKENDS)), help="BENCH_BACKENDS")
    parser.add_argument(
        "--fleets",
        default=env("BENCH_FLEETS", ""),
        help="fleets: backends and/or mixed (BENCH_FLEETS; default: each backend, then mixed)",
    )
    parser.add_argument("--connections", default=env("BENCH_CONNECTIONS", ",".join(CONNECTIONS)))
    parser.add_argument("--repeats", type=int, default=int(env("BENCH_REPEATS", "3")))
    parser.add_argument("--payload", default=env("BENCH_PAYLOAD", "1"), help="1: measure the module payloads")
    parser.add_argument("--payload-rules", default=env("BENCH_PAYLOAD_RULES", "4,256"))
    parser.add_argument(
        "--budget",
        type=float,
        default=float(env("BENCH_BUDGET", "14400")),
        help="seconds; rows not started by then are listed as missing (BENCH_BUDGET)",
    )
    parser.add_argument("--play-timeout", type=float, default=float(env("BENCH_PLAY_TIMEOUT", "900")))
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    parser.add_argument("--output", default=env("BENCH_OUTPUT", os.path.join(HERE, "results.md")))
    args = parser.parse_args(argv)
    args.hosts = numbers(args.hosts, "BENCH_HOSTS")
    args.rules = sorted(set(numbers(args.rules, "BENCH_RULES")) | {4})
    args.payload_rules = numbers(args.payload_rules, "BENCH_PAYLOAD_RULES")
    args.backends = names(args.backends, "BENCH_BACKENDS", BACKENDS)
    args.fleets = names(args.fleets or ",".join([*args.backends, "mixed"]), "BENCH_FLEETS", [*BACKENDS, "mixed"])
    args.connections = names(args.connections, "BENCH_CONNECTIONS", CONNECTIONS)
    args.payload = args.payload not in ("0", "false", "no", "")
    if args.repeats < 1:
        raise SystemExit("BENCH_REPEATS: invalid value %d; at least 1" % args.repeats)
    return args


def write(bench: Bench, args: argparse.Namespace, seconds: float) -> None:
    base = os.path.splitext(args.output)[0]
    with open(base + ".json", "w", encoding="utf-8") as handle:
        json.dump(
            {
                "machine": machine(),
                "settings": {k: v for k, v in vars(args).items() if k != "output"},
                "samples": bench.samples,
                "missing": bench.missing,
                "notes": bench.notes,
            },
            handle,
            indent=1,
        )
    plotted = plot(bench.samples, args.rule_hosts, base + ".png")
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write("# Benchmark results\n\n")
        handle.write(
            "Run on %s (UTC) by `make bench` in %.0f s: connections %s, fleets %s, hosts %s, rules %s, "
            "%d repeats (medians below; every sample in `%s`).\n\n"
            % (
                datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                seconds,
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
        handle.write("## Targets (issue 11)\n\n" + targets(bench.samples, args.rule_hosts) + "\n\n")
        handle.write("## Measurements\n\n" + tables(bench.samples) + "\n")
        if bench.notes:
            handle.write("\n## Notes\n\n" + "".join("- %s\n" % n for n in bench.notes))
        if bench.missing:
            handle.write("\n## Not measured (time budget spent)\n\n" + "".join("- %s\n" % m for m in bench.missing))


def interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("signal %d" % signum)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse(argv)
    # A timeout or Ctrl-C still writes what was measured, and removes the containers.
    signal.signal(signal.SIGTERM, interrupted)
    bench = Bench(args)
    began = time.monotonic()
    try:
        bench.run()
    finally:
        if bench.samples:
            write(bench, args, time.monotonic() - began)
            print("\nwritten to %s" % os.path.relpath(args.output, REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
