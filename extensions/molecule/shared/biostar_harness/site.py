# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scenario's containers, their listeners, and what packets between them must do.

Containers are found in molecule's inventory, so a scenario names them once (in its
molecule.yml). Probes only ever go from one of these containers to another one: the
constructor refuses any host outside the scenario's ``mol-<scenario>-`` prefix. The
containers, listeners and probes themselves are site_kit's (tests/site_kit).
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional

import yaml
from site_kit.podman import Container
from site_kit.traffic import probe, start_listener, stop_listener

# Every container listens on all of these, the ports meant to stay closed included:
# a blocked port then reads as "filtered", never as "nobody was listening".
LISTEN_TCP = (1470, 1471, 1480, 1999, 2222)
LISTEN_UDP = (51110, 1999)
LISTENER_LIFETIME = 900
REACHED = ("open", "arrived")


def expect_reach(
    src: Container,
    dst: Container,
    open: Iterable[str] = (),
    closed: Iterable[str] = (),
    why: str = "",
) -> Dict[str, str]:
    """Probe ``dst`` from ``src`` and assert each check is open (or closed) as expected."""
    open, closed = list(open), list(closed)
    outcomes = probe(src, dst, open + closed, expected=open)
    rows, wrong = [], []
    for check in open + closed:
        want = "open" if check in open else "closed"
        got = outcomes.get(check, "missing")
        good = (got in REACHED) == (want == "open")
        rows.append("  %-10s want %-6s got %-14s %s" % (check, want, got, "ok" if good else "WRONG"))
        if not good:
            wrong.append(check)
    table = "%s -> %s (%s)%s\n%s" % (src, dst, dst.ip, ": " + why if why else "", "\n".join(rows))
    print(table)
    assert not wrong, "unexpected reachability for %s\n%s" % (", ".join(wrong), table)
    return outcomes


class Site:
    """The scenario's containers, keyed by their short name (the part after the prefix)."""

    def __init__(self, scenario: str, groups: Dict[str, List[str]]):
        self.scenario = scenario
        self.prefix = "mol-%s-" % scenario
        self.groups = groups
        names = sorted({name for members in groups.values() for name in members})
        for name in names:
            # The network rule: only ever probe containers this scenario created.
            assert name.startswith(self.prefix), "%s is not one of scenario %s's containers" % (name, scenario)
        self.containers = {name[len(self.prefix) :]: Container(name, name[len(self.prefix) :]) for name in names}

    @classmethod
    def from_molecule(cls) -> Site:
        scenario = os.environ["MOLECULE_SCENARIO_NAME"]
        with open(os.environ["MOLECULE_INVENTORY_FILE"]) as stream:
            inventory = yaml.safe_load(stream) or {}
        groups: Dict[str, List[str]] = {}
        for group, body in inventory.items():
            if group in ("all", "ungrouped") or not isinstance(body, dict):
                continue
            groups[group] = sorted((body.get("hosts") or {}).keys())
        return cls(scenario, groups)

    def __getitem__(self, short: str) -> Container:
        return self.containers[short]

    def group(self, name: str) -> List[Container]:
        return [self.containers[n[len(self.prefix) :]] for n in self.groups.get(name, [])]

    def start_listeners(self, only: Optional[Iterable[str]] = None) -> None:
        for short, container in self.containers.items():
            if only is None or short in only:
                start_listener(container, LISTEN_TCP, LISTEN_UDP, LISTENER_LIFETIME)

    def stop_listeners(self) -> None:
        for container in self.containers.values():
            stop_listener(container)
