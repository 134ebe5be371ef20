"""benchmarks/bench.py: its settings, fleets and the report it writes, without containers."""

from __future__ import annotations

import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
_spec = importlib.util.spec_from_file_location("bench", os.path.join(REPO, "benchmarks", "bench.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def sample(kind, seconds, fleet="nftables", connection="podman", hosts=10, rules=4, calls=1.0):
    return {"connection": connection, "fleet": fleet, "kind": kind, "hosts": hosts, "rules": rules,
            "seconds": seconds, "firewall_calls_per_host": [calls], "tasks_per_host": [6.0]}  # fmt: skip


def test_defaults_cover_the_issue_matrix(monkeypatch):
    for key in list(os.environ):
        if key.startswith("BENCH_"):
            monkeypatch.delenv(key)
    args = bench.parse([])
    assert args.hosts == [1, 10, 50]
    assert args.rules == [4, 64, 256]
    assert args.backends == ["nftables", "iptables", "ufw", "firewalld"]
    assert args.fleets == ["nftables", "iptables", "ufw", "firewalld", "mixed"]
    assert args.connections == ["podman", "ssh"]
    assert args.payload_rules == [4, 256] and args.payload is True


def test_environment_knobs_make_a_quick_run(monkeypatch):
    monkeypatch.setenv("BENCH_HOSTS", "2")
    monkeypatch.setenv("BENCH_RULES", "64")
    monkeypatch.setenv("BENCH_BACKENDS", "nftables,ufw")
    monkeypatch.setenv("BENCH_CONNECTIONS", "ssh")
    monkeypatch.setenv("BENCH_PAYLOAD", "0")
    args = bench.parse([])
    assert args.hosts == [2]
    assert args.rules == [4, 64]  # 4 rules is always measured: the ratios are against it
    assert args.fleets == ["nftables", "ufw", "mixed"]
    assert args.connections == ["ssh"] and args.payload is False


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--backends", "pf"], "BENCH_BACKENDS: invalid value 'pf'; valid values: nftables, iptables, ufw, firewalld"),
        (["--connections", "winrm"], "BENCH_CONNECTIONS: invalid value 'winrm'; valid values: podman, ssh"),
        (["--hosts", "0"], "BENCH_HOSTS: invalid value '0'"),
        (["--rules", "many"], "BENCH_RULES: invalid value 'many'"),
        (["--repeats", "0"], "BENCH_REPEATS: invalid value 0"),
    ],
)
def test_bad_settings_are_named(argv, message):
    with pytest.raises(SystemExit) as error:
        bench.parse(argv)
    assert message in str(error.value)


def test_fleets_and_rules():
    assert bench.fleet_backends("ufw", 3, ["nftables", "ufw"]) == ["ufw", "ufw", "ufw"]
    assert bench.fleet_backends("mixed", 5, ["nftables", "ufw"]) == ["nftables", "ufw", "nftables", "ufw", "nftables"]
    assert len(bench.extra_rules(256)) == 252 and len(bench.extra_rules(4)) == 0
    assert len({r["port"] for r in bench.module_rules(256)}) == 256


def test_memory_cap_counts_firewalld_hosts_as_larger():
    assert bench.memory_cap(["firewalld"] * 50, 1000) == 10  # 80% of 1000 MB at 80 MB a host
    assert bench.memory_cap(["nftables"] * 50, 1000) == 50
    assert bench.memory_cap(["firewalld"] * 50, 24000) == 240


def test_targets_report_met_and_missed_honestly():
    samples = [
        sample("ping", [10.0]),
        sample("converge", [11.0]),
        sample("rerun", [12.0]),
        sample("converge", [13.0], rules=256),
        sample("remove", [12.0], rules=256),
        {"connection": "podman", "fleet": "firewalld", "kind": "payload", "hosts": 1, "rules": 4, "seconds": [2.0]},
    ]
    text = bench.targets(samples, 10)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()}
    assert "| 1.18 | **no** |" in rows["10 hosts: 256 rules / 4 rules <= 1.15"]
    assert "| 0.92 | yes |" in rows["10 hosts: remove 256 / add 256 <= 1.0"]
    assert "| 1.10 | yes |" in rows["10 hosts: converge / ping <= 1.2"]
    assert "| 1.20 | **no** |" in rows["10 hosts: rerun / ping <= 1.1"]
    assert "| 2.00 | **no** |" in rows["firewalld payload, 4 rules <= 1.0 s"]
    assert "not measured" in rows["firewalld payload, 256 rules <= 1.5 s"]
    assert "| 1.0 | yes |" in rows["exactly one firewall module call per host"]


def test_two_firewall_calls_on_a_host_miss_the_target():
    text = bench.targets([sample("ping", [1.0]), sample("converge", [1.0], calls=2.0)], 10)
    assert "exactly one firewall module call per host | all | all | 2.0 | **no** |" in text


def test_write_produces_markdown_json_and_plot(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "machine", lambda: "test machine")
    args = bench.parse(["--output", str(tmp_path / "results.md"), "--hosts", "1,10"])
    runner = bench.Bench(args)
    runner.samples = [sample("ping", [1.0], hosts=h) for h in (1, 10)] + [
        sample("converge", [2.0], hosts=1),
        sample("converge", [3.0]),
        sample("converge", [4.0], rules=256),
    ]
    runner.missing = ["ssh mixed: every row"]
    bench.write(runner, args, 12.0)
    text = (tmp_path / "results.md").read_text()
    assert "| podman | nftables | converge | 10 | 256 | 4.00 | 4.00 | 4.00 | 4.00 | 1.0 | 6.0 |" in text
    assert "- ssh mixed: every row" in text
    data = __import__("json").loads((tmp_path / "results.json").read_text())
    assert len(data["samples"]) == 5 and data["missing"] == ["ssh mixed: every row"]
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
