# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a playbook and read what Ansible recorded (the site_kit_record callback).

A module's own result is found by its action name, so a reader works for a role
(whatever its task names) as well as for a direct module call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from .collection import RECORD_ENV, ansible_env


class Run:
    """One playbook run: its exit status, output and record (None if nothing was recorded)."""

    def __init__(
        self,
        record: Optional[Dict[str, Any]],
        command: Sequence[str] = (),
        rc: int = 0,
        stdout: str = "",
        stderr: str = "",
        seconds: float = 0.0,
    ):
        self.record = record
        self.command = list(command)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    @classmethod
    def load(cls, path: str) -> Run:
        with open(path, encoding="utf-8") as handle:
            return cls(json.load(handle))

    def describe(self) -> str:
        return "`%s` exited %d\nstdout (tail):\n%s\nstderr (tail):\n%s" % (
            " ".join(self.command), self.rc, self.stdout[-4000:], self.stderr[-3000:],
        )  # fmt: skip

    def _recorded(self) -> Dict[str, Any]:
        assert self.record is not None, "the run recorded nothing\n" + self.describe()
        return self.record

    def results(self, host: str) -> Iterable[Dict[str, Any]]:
        """Every task result on ``host``, with its action; a loop yields one per item."""
        for task in self._recorded()["tasks"]:
            if task["host"] != host:
                continue
            result = task["result"]
            items = result.get("results")
            if isinstance(items, list) and items and isinstance(items[0], dict):
                for item in items:
                    yield dict(item, action=task["action"])
            else:
                yield dict(result, action=task["action"])

    def module_results(self, host: str, action: str) -> List[Dict[str, Any]]:
        """Results of ``action`` (a short name or an FQCN) on ``host``, items included."""
        short = action.rsplit(".", maxsplit=1)[-1]
        return [r for r in self.results(host) if r["action"] in (action, short) or r["action"].endswith("." + short)]

    def module_results_exactly(self, host: str, count: int, action: str) -> List[Dict[str, Any]]:
        found = self.module_results(host, action)
        assert len(found) == count, "expected %d %s result(s) on %s, found %d\n%s" % (
            count, action, host, len(found), self.describe(),
        )  # fmt: skip
        return found

    def module_result(self, host: str, action: str) -> Dict[str, Any]:
        """The one result of ``action`` on ``host`` (the role must call it exactly once)."""
        return self.module_results_exactly(host, 1, action)[0]

    def hosts(self) -> List[str]:
        return sorted(self._recorded()["stats"])

    def stats(self, host: Optional[str] = None) -> Dict[str, Any]:
        """The play recap of ``host``, or of every host (host -> counters)."""
        stats = self._recorded()["stats"]
        return stats if host is None else stats.get(host, {})

    def counts(self) -> Dict[str, Dict[str, int]]:
        """Module invocations per host and action (loop items one each)."""
        return self._recorded()["counts"]

    def failure_messages(self, host: str) -> List[str]:
        return [str(r.get("msg", "")) for r in self.results(host) if r.get("failed")]

    def succeeded(self) -> Run:
        assert self.rc == 0, self.describe()
        return self


def run(
    playbook: str,
    inventory: str,
    limit: Optional[str] = None,
    extra_vars: Optional[Mapping[str, Any]] = None,
    options: Sequence[str] = (),
    env: Optional[Mapping[str, str]] = None,
    timeout: float = 600,
    cwd: Optional[str] = None,
    log: Optional[str] = None,
) -> Run:
    """ansible-playbook (the venv's, beside this Python) with a fresh record.

    ``options``: more command-line flags (``--check``, ``--diff``); ``env``: from
    collection.ansible_env (default: this process's, with the recording callback);
    ``log``: a file for stdout and stderr together (then both are in ``Run.stdout``).
    """
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    command = [binary if os.path.exists(binary) else "ansible-playbook", "-i", inventory, playbook, *options]
    if limit:
        command += ["--limit", limit]
    with tempfile.TemporaryDirectory(prefix="site-kit-run-") as tmp:
        record_path = os.path.join(tmp, "record.json")
        if extra_vars:
            with open(os.path.join(tmp, "vars.json"), "w", encoding="utf-8") as handle:
                json.dump(extra_vars, handle)
            command += ["-e", "@" + handle.name]
        run_env = dict(env) if env is not None else ansible_env()
        run_env[RECORD_ENV] = record_path
        began = time.monotonic()
        if log:
            with open(log, "w", encoding="utf-8") as out:
                proc = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=run_env, timeout=timeout,
                                      cwd=cwd, check=False)  # fmt: skip
            with open(log, encoding="utf-8") as out:
                proc.stdout, proc.stderr = out.read(), ""
        else:
            proc = subprocess.run(command, capture_output=True, text=True, env=run_env, timeout=timeout, cwd=cwd,
                                  check=False)  # fmt: skip
        seconds = time.monotonic() - began
        record = None
        if os.path.exists(record_path):
            with open(record_path, encoding="utf-8") as handle:
                record = json.load(handle)
    return Run(record, command, proc.returncode, proc.stdout, proc.stderr, seconds)
