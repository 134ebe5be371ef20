"""Fleet converge cost: ours against Ansible's floor and per-port loops, on real containers.

Starts N podman containers (each with a default-deny firewall of one backend, seeded by
tests/site_kit as the molecule harness and the demo seed theirs), runs each
measurement several times and reports the median, min and max wall time, the ratios, and
the module invocations per host as counted by a callback plugin. Prints a table and
writes benchmarks/results.md. It reports; it never gates a test run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional

sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from site_kit import collection, firewall, playbook, podman

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PREFIX = "biostar-bench-"
BACKENDS = ("nftables", "iptables", "ufw")
FIREWALL_MODULES = {
    "biostar.hardening.firewall_ports",
    "ansible.builtin.iptables",
    "community.general.ufw",
    "ansible.posix.firewalld",
}


@dataclass
class Measurement:
    name: str
    hosts: int
    rules: int
    seconds: List[float] = field(default_factory=list)
    firewall_calls: Optional[float] = None
    all_calls: Optional[float] = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


class Bench:
    def __init__(self, hosts: int, repeats: int, backends: List[str], workdir: str):
        self.count = hosts
        self.repeats = repeats
        self.names = ["%s%02d" % (PREFIX, i + 1) for i in range(hosts)]
        self.backend = {name: backends[i % len(backends)] for i, name in enumerate(self.names)}
        self.workdir = workdir
        self.env = collection.ansible_env(
            collection.link(os.path.join(workdir, "collections")),
            ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
            ANSIBLE_FORKS=str(max(self.count, 5)),
            ANSIBLE_HOST_KEY_CHECKING="False",
            ANSIBLE_LOCAL_TEMP=os.path.join(workdir, "tmp"),
        )
        self.env.pop("ANSIBLE_CONFIG", None)
        self.inventory = os.path.join(workdir, "inventory.yml")

    # --- containers -------------------------------------------------------------------
    def start(self) -> None:
        self.stop()
        for name in self.names:
            podman.start(name)
        hosts = {name: {"biostar_firewall_backend": self.backend[name]} for name in self.names}
        inventory = {
            "all": {
                "vars": {
                    "ansible_connection": "containers.podman.podman",
                    "ansible_python_interpreter": "/usr/bin/python3",
                },
                "children": {"biostar_servers": {"hosts": hosts}},
            }
        }
        with open(self.inventory, "w", encoding="utf-8") as handle:
            json.dump(inventory, handle)
        self.reset()

    def stop(self) -> None:
        podman.remove(self.names)

    def reset(self) -> None:
        """Every host back to its default-deny firewall with no BioStar rules (not timed)."""
        with ThreadPoolExecutor(max_workers=len(self.names)) as pool:
            done = [pool.submit(firewall.seed, podman.Container(n), self.backend[n]) for n in self.names]
        for future in done:
            future.result()

    # --- ansible ----------------------------------------------------------------------
    def play(self, book: str, limit: int, extra: Dict) -> playbook.Run:
        """Run one playbook: its wall seconds, recap and invocation counts, as recorded."""
        run = playbook.run(book, self.inventory, ",".join(self.names[:limit]), extra, env=self.env, cwd=self.workdir)
        if run.rc != 0:
            sys.stderr.write(run.stdout[-4000:] + run.stderr[-4000:])
            raise SystemExit("%s failed (rc=%d)" % (os.path.basename(book), run.rc))
        return run

    def measure(self, name: str, book: str, limit: int, rules: int, extra: Dict, before=None,
                expect_changed: Optional[bool] = None) -> Measurement:  # fmt: skip
        result = Measurement(name, limit, rules)
        for _repeat in range(self.repeats):
            if before:
                before()
            run = self.play(book, limit, extra)
            changed = sum(host["changed"] for host in run.stats().values())
            if expect_changed is not None and bool(changed) != expect_changed:
                raise SystemExit("%s: expected changed=%s, the recap says %d changed" % (name, expect_changed, changed))
            result.seconds.append(run.seconds)
            per_host = list(run.counts().values())
            result.firewall_calls = statistics.mean(
                sum(n for action, n in calls.items() if action in FIREWALL_MODULES) for calls in per_host
            )
            result.all_calls = statistics.mean(sum(calls.values()) for calls in per_host)
        print("  %-34s %6.2fs median of %s" % (name, result.median, ", ".join("%.2f" % s for s in result.seconds)))
        return result


def extra_rules(total: int, base: int = 4) -> List[Dict]:
    return [{"protocol": "tcp", "port": 20000 + i, "purpose": "bench"} for i in range(max(total - base, 0))]


def run(args) -> List[Measurement]:
    site = os.path.join(REPO, "playbooks", "site.yml")
    workdir = tempfile.mkdtemp(prefix="biostar-bench-")
    bench = Bench(args.hosts, args.repeats, args.backends.split(","), workdir)
    n = args.hosts
    server = {"biostar_mode": "server"}
    results = []
    try:
        print("starting %d containers (%s)" % (n, ", ".join(sorted(set(bench.backend.values())))))
        bench.start()
        results.append(bench.measure("floor: ansible.builtin.ping", os.path.join(HERE, "ping.yml"), n, 0, {}))
        results.append(bench.measure("ours: first converge (server mode)", site, n, 4, server, bench.reset, True))
        results.append(bench.measure("ours: idempotent rerun", site, n, 4, server, None, False))

        def converged_server():
            bench.reset()
            bench.play(site, n, server)

        results.append(
            bench.measure(
                "ours: mode switch server->direct", site, n, 1, {"biostar_mode": "direct"}, converged_server, True
            )
        )
        results.append(
            bench.measure(
                "baseline: per-port loop", os.path.join(HERE, "baseline.yml"), n, 4, server, bench.reset, True
            )
        )
        for total in (4, 64, 256):
            extra = dict(server, biostar_extra_rules=extra_rules(total))
            results.append(bench.measure("scaling: ours, %d rules" % total, site, n, total, extra, bench.reset, True))
        for hosts in sorted({1, min(5, n), n}):  # never more hosts than were started
            results.append(bench.measure("scaling: ours, %d hosts" % hosts, site, hosts, 4, server, bench.reset, True))
    finally:
        if not args.keep:
            bench.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def table(results: List[Measurement]) -> str:
    floor = results[0].median
    baseline = next(r for r in results if r.name.startswith("baseline")).median
    lines = [
        "| measurement | hosts | rules | median s | min s | max s | / floor | / baseline | firewall calls/host "
        "| module calls/host |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            "| %s | %d | %d | %.2f | %.2f | %.2f | %.2f | %s | %s | %s |"
            % (
                r.name, r.hosts, r.rules, r.median, min(r.seconds), max(r.seconds), r.median / floor,
                "%.2f" % (r.median / baseline) if r.name.startswith("ours") else "",
                "%.1f" % r.firewall_calls if r.firewall_calls is not None else "",
                "%.1f" % r.all_calls if r.all_calls is not None else "",
            )
        )  # fmt: skip
    return "\n".join(lines)


def machine() -> str:
    podman = subprocess.run(["podman", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    import ansible

    with open("/proc/meminfo", encoding="utf-8") as handle:
        mem_kb = int(handle.readline().split()[1])
    return "%s, %s, %d cores, %.0f GiB RAM, Python %s, ansible-core %s, %s" % (
        platform.node(), platform.platform(), os.cpu_count() or 0, mem_kb / 2**20,
        platform.python_version(), ansible.__version__, podman,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=int(os.environ.get("BENCH_HOSTS", "10")))
    parser.add_argument("--repeats", type=int, default=int(os.environ.get("BENCH_REPEATS", "3")))
    parser.add_argument("--backends", default=os.environ.get("BENCH_BACKENDS", "nftables,iptables,ufw"))
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    parser.add_argument("--output", default=os.path.join(HERE, "results.md"))
    args = parser.parse_args()
    if args.hosts < 1 or args.repeats < 1:
        parser.error("--hosts and --repeats must be at least 1")
    for backend in args.backends.split(","):
        if backend not in BACKENDS:
            parser.error("--backends: invalid value %r; valid values: %s" % (backend, ", ".join(BACKENDS)))
    began = time.monotonic()
    results = run(args)
    text = table(results)
    print()
    print(text)
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write("# Benchmark results\n\n")
        handle.write("Run on %s (UTC) by `make bench` (%d hosts, %d repeats, backends %s), in %.0f s.\n\n"
                     % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), args.hosts,
                        args.repeats, args.backends, time.monotonic() - began))  # fmt: skip
        handle.write("Machine: %s.\n\n" % machine())
        handle.write(text + "\n")
    print("\nwritten to %s" % os.path.relpath(args.output, REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
