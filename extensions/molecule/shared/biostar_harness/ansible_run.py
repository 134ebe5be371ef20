# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the scenario's playbooks from a verify step and read what the module reported.

molecule hands the verifier the same environment as its own ansible runs (ANSIBLE_CONFIG,
ANSIBLE_COLLECTIONS_PATH, MOLECULE_INVENTORY_FILE), so these runs hit the same
containers with the same inventory variables as converge did. The json stdout callback gives
every task's result; the module's own result is found by its action name, so this
works for the role (whatever its task names) as well as for a direct module call.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

SHARED = Path(__file__).resolve().parent.parent
CONVERGE = SHARED / "converge.yml"
FIREWALL_PORTS = SHARED / "firewall_ports.yml"
MODULE = "firewall_ports"


class PlaybookRun:
    def __init__(self, command: List[str], proc: subprocess.CompletedProcess):
        self.command = command
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            self.data = json.loads(proc.stdout)
        except ValueError:
            self.data = None

    def describe(self) -> str:
        return "`%s` exited %d\nstdout (tail):\n%s\nstderr (tail):\n%s" % (
            " ".join(self.command),
            self.rc,
            self.stdout[-4000:],
            self.stderr[-3000:],
        )

    def _results(self, host: str) -> Iterable[Dict[str, Any]]:
        """Every task result on ``host``; a looped task yields one result per item."""
        assert self.data is not None, "no json output\n" + self.describe()
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                result = task.get("hosts", {}).get(host)
                if result is None:
                    continue
                items = result.get("results")
                if isinstance(items, list) and items and isinstance(items[0], dict):
                    for item in items:
                        yield dict(item, action=result.get("action"))
                else:
                    yield result

    def module_results(self, host: str, action: str = MODULE) -> List[Dict[str, Any]]:
        return [r for r in self._results(host) if str(r.get("action", "")).rsplit(".", maxsplit=1)[-1] == action]

    def module_result(self, host: str, action: str = MODULE) -> Dict[str, Any]:
        """The one result of ``action`` on ``host`` (the role must call it exactly once)."""
        return self.module_results_exactly(host, 1, action)[0]

    def module_results_exactly(self, host: str, count: int, action: str = MODULE) -> List[Dict[str, Any]]:
        found = self.module_results(host, action)
        assert len(found) == count, "expected %d %s result(s) on %s, found %d\n%s" % (
            count,
            action,
            host,
            len(found),
            self.describe(),
        )
        return found

    def stats(self, host: str) -> Dict[str, int]:
        assert self.data is not None, "no json output\n" + self.describe()
        return self.data.get("stats", {}).get(host, {})

    def failure_messages(self, host: str) -> List[str]:
        return [str(r.get("msg", "")) for r in self._results(host) if r.get("failed")]

    def succeeded(self) -> PlaybookRun:
        assert self.rc == 0, self.describe()
        return self


def run_playbook(
    playbook: Path,
    limit: str,
    extra_vars: Optional[Dict[str, Any]] = None,
    check: bool = False,
    diff: bool = False,
    timeout: float = 300,
) -> PlaybookRun:
    env = dict(os.environ)
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    env["ANSIBLE_NOCOLOR"] = "1"
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="biostar-harness-vars-") as varfile:
        json.dump(extra_vars or {}, varfile)
        varfile.flush()
        # molecule passes its inventory directory (hosts plus the scenario's group_vars
        # and host_vars) on the command line, not in ansible.cfg: do the same.
        inventory = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
        command = ["ansible-playbook", "-i", inventory, str(playbook), "--limit", limit, "-e", "@" + varfile.name]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    return PlaybookRun(command, proc)


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
