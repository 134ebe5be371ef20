"""What the parts of the reliability suite share: their rows, running one standalone or in
the suite (tests/reliability/run.py), and a site whose hosts converge through one task.

A part is a function ``part(backends, row, workdir)`` that starts its own containers, calls
``row(what, passed, figure, detail)`` once per result and removes its containers again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from site_kit import collection, firewall, playbook, podman  # noqa: E402

Row = Callable[[str, bool, str, str], None]
Part = Callable[[Sequence[str], Row, str], Any]


def print_row(what: str, passed: bool, figure: str, detail: str = "") -> None:
    tail = " - " + detail if detail else ""
    print("  [%s] %s: %s%s" % ("PASS" if passed else "FAIL", what, figure, tail), flush=True)


def run_part(part: Part, backends: Sequence[str], row: Row, prefix: str) -> Any:
    """``part`` in a fresh work directory, removed afterwards; the part's own return value.

    The directory is in /tmp, with a short name: ssh's control sockets may live in it.
    """
    workdir = tempfile.mkdtemp(prefix=prefix)
    try:
        return part(backends, row, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def standalone(doc: str, part: Part, backends: Sequence[str], prefix: str, argv: Optional[Sequence[str]]) -> int:
    """A part's ``main()``: ``--backends``, its rows printed, exit status 0 when every row passed."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--backends", default=",".join(backends))
    options = parser.parse_args(argv)
    began = time.monotonic()
    passed: List[bool] = []

    def row(what: str, ok: bool, figure: str, detail: str) -> None:
        passed.append(ok)
        print_row(what, ok, figure, detail)

    run_part(part, options.backends.split(","), row, prefix)
    print("%d of %d rows pass (%.0fs)" % (sum(passed), len(passed), time.monotonic() - began))
    return 0 if passed and all(passed) else 1


class Site:
    """A part's containers and the one playbook task, ``firewall_ports``, they converge with.

    The task's options are the host variables ``rel_<option>``, so each host has its own.
    ``hosts``: the managed hosts by key (a backend, or a variant of one); ``names``: every
    container of the site (a peer that probes too), removed together.
    """

    def __init__(self, workdir: str, name: str, options: Sequence[str]):
        self.workdir = workdir
        self.env = collection.ansible_env(collection.link(workdir), ANSIBLE_FORKS="10", ANSIBLE_HOST_KEY_CHECKING="0")
        self.env.pop("ANSIBLE_CONFIG", None)
        self.book = os.path.join(workdir, name + ".yml")
        task = {"name": "converge", "biostar.hardening.firewall_ports": {o: "{{ rel_%s }}" % o for o in options}}
        with open(self.book, "w", encoding="utf-8") as handle:
            json.dump([{"name": name, "hosts": "all", "gather_facts": False, "tasks": [task]}], handle)
        self.hosts: Dict[str, podman.Container] = {}
        self.names: List[str] = []

    def start(self, name: str, key: Optional[str] = None, **start: Any) -> podman.Container:
        """A container of the site (``podman.start``'s options); with ``key``, a managed host."""
        self.names.append(name)  # removed with the site, even if it fails to start
        c = podman.start(name, **start)
        if key is not None:
            self.hosts[key] = c
        return c

    def start_host(self, key: str, name: str, backend: str, **seed: bool) -> podman.Container:
        """A managed host for ``backend`` (site_kit's image for it), its firewall seeded with ``seed``."""
        self.names.append(name)
        c = self.hosts[key] = podman.start_host(name, backend)
        firewall.seed(c, backend, **seed)
        return c

    def converge(self, args: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
        """One playbook run over the hosts in ``args`` (key -> the task's options), all at once;
        key -> the module's result (a failure that names the run when there is none)."""
        inventory = os.path.join(self.workdir, "inventory.json")
        hosts = {
            self.hosts[key].name: dict(
                {"rel_%s" % option: value for option, value in options.items()},
                ansible_connection="containers.podman.podman",
                ansible_python_interpreter="/usr/bin/python3",
            )
            for key, options in args.items()
        }
        with open(inventory, "w", encoding="utf-8") as handle:
            json.dump({"all": {"hosts": hosts}}, handle)
        run = playbook.run(self.book, inventory, env=self.env, timeout=300)
        out = {}
        for key in args:
            found = run.module_results(self.hosts[key].name, "firewall_ports")
            out[key] = found[0] if found else {"failed": True, "msg": "no result\n" + run.describe()}
        return out

    def remove(self) -> None:
        podman.remove(self.names)
