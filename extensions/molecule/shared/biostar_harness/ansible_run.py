# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the scenario's playbooks from a verify step and read what the module reported.

molecule hands the verifier the same environment as its own ansible runs (ANSIBLE_CONFIG,
ANSIBLE_COLLECTIONS_PATH, MOLECULE_INVENTORY_FILE), so these runs hit the same
containers with the same inventory variables as converge did. site_kit runs them and
records every task's result; the module's own result is found by its action name, so
this works for the role (whatever its task names) as well as for a direct module call.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from site_kit import playbook

SHARED = Path(__file__).resolve().parent.parent
CONVERGE = SHARED / "converge.yml"
FIREWALL_PORTS = SHARED / "firewall_ports.yml"
MODULE = "firewall_ports"


class PlaybookRun(playbook.Run):
    """site_kit's Run, asking for the firewall_ports module unless told otherwise."""

    def module_results(self, host: str, action: str = MODULE) -> List[Dict[str, Any]]:
        return super().module_results(host, action)

    def module_result(self, host: str, action: str = MODULE) -> Dict[str, Any]:
        return super().module_result(host, action)

    def module_results_exactly(self, host: str, count: int, action: str = MODULE) -> List[Dict[str, Any]]:
        return super().module_results_exactly(host, count, action)


def run_playbook(
    book: Path,
    limit: str,
    extra_vars: Optional[Dict[str, Any]] = None,
    check: bool = False,
    diff: bool = False,
    timeout: float = 300,
) -> PlaybookRun:
    # molecule passes its inventory directory (hosts plus the scenario's group_vars
    # and host_vars) on the command line, not in ansible.cfg: do the same.
    inventory = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
    options = ["--check"] * check + ["--diff"] * diff
    run = playbook.run(str(book), inventory, limit, extra_vars or {}, options, timeout=timeout)
    return PlaybookRun(run.record, run.command, run.rc, run.stdout, run.stderr, run.seconds)


def run_role(hosts: str, role_vars: Dict[str, Any], check: bool = False, diff: bool = False) -> PlaybookRun:
    """The shared converge playbook on ``hosts`` (a pattern), role variables overridden."""
    return run_playbook(CONVERGE, hosts, dict(role_vars, harness_hosts=hosts), check=check, diff=diff)


def run_module(
    host: str,
    rules: Sequence[Dict[str, Any]],
    backend: str,
    state: str = "present",
    check: bool = False,
    diff: bool = False,
    runs: int = 1,
    **options: Any,
) -> PlaybookRun:
    """biostar.hardening.firewall_ports called directly on one host, ``runs`` times in a row.

    ``options`` become harness_<name> variables (baseline, management_ports).
    """
    extra = {
        "harness_hosts": host,
        "harness_rules": list(rules),
        "harness_state": state,
        "harness_backend": backend,
        "harness_runs": runs,
    }
    extra.update(("harness_" + name, value) for name, value in options.items())
    return run_playbook(FIREWALL_PORTS, host, extra, check=check, diff=diff)


def rule(protocol: str, port: Any, direction: str = "inbound", peers: Sequence[str] = ()) -> Dict[str, Any]:
    return {"protocol": protocol, "port": port, "direction": direction, "peers": list(peers)}


RuleKey = Tuple[str, str, str, Tuple[str, ...]]


def rule_keys(rules: Iterable[Dict[str, Any]]) -> List[RuleKey]:
    """Comparable form of rule dicts: purpose and other labels ignored, like the module."""
    keys = {
        (
            str(r["protocol"]),
            str(r["port"]),
            str(r.get("direction", "inbound")),
            tuple(sorted(r.get("peers") or [])),
        )
        for r in rules
    }
    return sorted(keys)


def show(keys: Iterable[RuleKey]) -> List[str]:
    return ["%s %s/%s%s" % (d, p, port, " from " + ",".join(peers) if peers else "") for p, port, d, peers in keys]
