"""Run records shaped exactly like the ones the fleet_report callback writes, for tests.

The module results follow firewall_ports' and port_probe's RETURN docs; the matrix rules
are the port matrix's real output (port_matrix.select), so purpose and provenance are real.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.biostar.hardening.plugins.module_utils import port_matrix
from ansible_collections.biostar.hardening.plugins.plugin_utils import fleet_report

SUBNET = "10.20.0.0/16"


def plain(rule: Dict[str, Any]) -> Dict[str, Any]:
    return {"protocol": rule["protocol"], "port": rule["port"], "direction": rule["direction"], "peers": [SUBNET]}


def site_record(
    name: str,
    hosts: Dict[str, Dict[str, Any]],
    check_mode: bool = False,
    finished: str = "2026-12-01T10:00:00Z",
) -> Dict[str, Any]:
    """hosts: name -> {host_role, mode, filtering, before (rules), failed}."""
    record = fleet_report.new_record(name, "site.yml", ["inventory/fleet.yml"], check_mode)
    record["finished"] = finished
    for host, spec in hosts.items():
        rules = port_matrix.select(spec.get("mode", "server"), spec["host_role"], peers=[SUBNET], direction="inbound")
        record["context"][host] = {
            "platform": spec.get("platform", "linux"),
            "mode": spec.get("mode", "server"),
            "host_role": spec["host_role"],
            "version": "1",
            "direction": "inbound",
        }
        record["matrix_rules"][host] = rules
        if spec.get("failed"):
            record["firewall"][host] = {"failed": True, "msg": "nft: Operation not permitted", "check_mode": check_mode}
            continue
        wanted = [plain(rule) for rule in rules]
        before = spec.get("before", wanted)
        added = [rule for rule in wanted if rule not in before]
        removed = [rule for rule in before if rule not in wanted]
        record["firewall"][host] = {
            "changed": bool(added or removed),
            "backend": spec.get("backend", "nftables"),
            "filtering": spec.get("filtering", True),
            "added": added,
            "removed": removed,
            "rules": wanted,
            "persisted": ["/etc/nftables.d/biostar-hardening.nft"] if (added or removed) and not check_mode else [],
            "check_mode": check_mode,
        }
    return record


def check(protocol: str, port: int, expect: str, state: str, no_answer_means: str = "closed") -> Dict[str, Any]:
    effective = no_answer_means if state == "open|filtered" else state
    ok = effective == "open" if expect == "open" else effective in ("closed", "filtered")
    return {
        "protocol": protocol,
        "port": port,
        "expect": expect,
        "state": state,
        "detail": "stand-in detail for %s" % state,
        "ok": ok,
        "attempts": 1,
    }


def verify_record(
    name: str,
    probes: List[Dict[str, Any]],
    finished: str = "2026-12-01T10:01:00Z",
) -> Dict[str, Any]:
    """probes: [{probe, target, checks}] (checks from check())."""
    record = fleet_report.new_record(name, "verify.yml", ["inventory/fleet.yml"], False)
    record["finished"] = finished
    for item in probes:
        record["probes"].append(
            {
                "probe": item["probe"],
                "target": item["target"],
                "address": item.get("address", "192.0.2.1"),
                "checks": item.get("checks", []),
                "summary": "",
                "msg": item.get("msg", ""),
                "udp_no_answer_means": "closed",
            }
        )
    return record


def fleet(count: int, exposed_every: int = 0, blocked_every: int = 0) -> List[Dict[str, Any]]:
    """A site and a verify record for ``count`` hosts (one server per ten), probed from
    two probe hosts; every ``exposed_every``-th host has an internal port that answered and
    every ``blocked_every``-th a BioStar port that did not."""
    hosts = {}
    probes = []
    for index in range(count):
        name = "host-%03d" % index
        role = "server" if index % 10 == 0 else "client"
        mode = "direct" if index % 7 == 0 else "server"
        hosts[name] = {"host_role": role, "mode": mode, "backend": ("nftables", "iptables", "ufw")[index % 3]}
        for probe in ("probe-a", "probe-b"):
            checks = []
            for rule in port_matrix.select(mode, role, direction="inbound"):
                blocked = blocked_every and index % blocked_every == 1 and probe == "probe-a"
                checks.append(check(rule["protocol"], int(rule["port"]), "open", "filtered" if blocked else "open"))
            exposed = exposed_every and index % exposed_every == 0
            checks.append(check("tcp", 3312, "closed", "open" if exposed else "filtered"))
            probes.append({"probe": probe, "target": name, "checks": checks})
    return [site_record("site", hosts), verify_record("verify", probes)]


def by_name(report: Dict[str, Any], name: str) -> Optional[Dict[str, Any]]:
    return next((host for host in report["hosts"] if host["name"] == name), None)
