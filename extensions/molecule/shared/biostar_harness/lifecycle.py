# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module lifecycle, the same on every backend (issue 3's integration test).

A backend scenario subclasses ``ModuleLifecycle`` in its test file, names the backend
and the target, and gets these steps, run in order after its own checks of the role:

 1. server set (tcp 1470, 1471, 1480, udp 51110) through the module; a rerun is unchanged
    (reruns are a second call in the same playbook run, to save a playbook start)
 2. restart the firewall from its persisted config: the rules are still there
 3. check mode, direct set: predicts removing 1470/1471/51110, changes nothing
 4. direct set (tcp 1480): exactly the predicted change; 1470/1471 stop answering;
    a rerun is unchanged
 5. check mode, state absent: predicts removing 1480, changes nothing
 6. state absent: exactly the predicted change; 1480 stops, 2222 (foreign) still
    answers, no owned rule is left; a rerun is unchanged
 7. restart again: the persisted config is clean too
 8. control: with the firewall opened, every listener answers, so "closed" above was
    the firewall and not a dead listener

Packets decide every step; the foreign rule and the default-deny policy are checked
after every change. Steps share state (the predictions), so the scenario runs pytest
with -x: once a step fails, the later ones would only repeat the failure.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Tuple

from .ansible_run import rule, rule_keys, run_module, show
from .firewalls import BACKENDS, FirewallOps
from .site import Container, Site, expect_reach

SERVER_SET = [rule("tcp", 1470), rule("tcp", 1471), rule("tcp", 1480), rule("udp", 51110)]
DIRECT_SET = [rule("tcp", 1480)]
SERVER_OPEN = ["tcp/1470", "tcp/1471", "tcp/1480", "udp/51110", "tcp/2222"]
DIRECT_OPEN = ["tcp/1480", "tcp/2222"]
DIRECT_CLOSED = ["tcp/1470", "tcp/1471", "udp/51110"]
ALWAYS_CLOSED = ["tcp/1999", "udp/1999"]
Reach = Tuple[List[str], List[str]]  # (must answer, must not answer)


class ModuleLifecycle:
    backend: ClassVar[str] = ""
    target: ClassVar[str] = "target"
    peer: ClassVar[str] = "peer"
    predictions: ClassVar[Dict[str, Tuple[list, list]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.predictions = {}

    # helpers -----------------------------------------------------------------------
    def ops(self) -> FirewallOps:
        return BACKENDS[self.backend]

    def hosts(self, site: Site) -> Tuple[Container, Container]:
        return site[self.target], site[self.peer]

    def module(
        self, site: Site, rules: List[Dict[str, Any]], state: str = "present", check: bool = False, runs: int = 1
    ) -> List[Dict[str, Any]]:
        """Call the module ``runs`` times in one playbook run; one result per call."""
        target = site[self.target]
        run = run_module(target.name, rules, self.backend, state=state, check=check, diff=True, runs=runs)
        results = run.succeeded().module_results_exactly(target.name, runs)
        for result in results:
            assert result.get("backend") == self.backend, result
        return results

    def assert_unchanged(self, result: Dict[str, Any]) -> None:
        assert result["changed"] is False, result
        assert result["added"] == [] and result["removed"] == [], result

    def intact(self, site: Site) -> None:
        target = site[self.target]
        self.ops().assert_foreign_rule(target)
        self.ops().assert_default_deny(target)

    def check_predicts(self, site: Site, state: str, key: str, removed: List[Dict[str, Any]], reach: Reach) -> None:
        """Check mode with DIRECT_SET: predicts removing ``removed`` only, changes nothing
        (live firewall, files under /etc, and packets: ``reach`` still holds)."""
        target, peer = self.hosts(site)
        before = self.ops().snapshot(target)
        self.ops().mark_etc(target)
        (result,) = self.module(site, DIRECT_SET, state=state, check=True)
        assert self.ops().etc_changes(target) == [], "check mode wrote files"
        assert self.ops().snapshot(target) == before, "check mode changed the live firewall"
        self.predictions[key] = (rule_keys(result["added"]), rule_keys(result["removed"]))
        assert result["changed"] is True, result
        assert rule_keys(result["added"]) == [], result
        assert rule_keys(result["removed"]) == rule_keys(removed), result
        expect_reach(peer, target, open=reach[0], closed=reach[1], why="after check mode")

    # steps -------------------------------------------------------------------------
    def test_lifecycle_1_server_set_then_rerun_unchanged(self, site: Site) -> None:
        target, peer = self.hosts(site)
        first, second = self.module(site, SERVER_SET, runs=2)
        assert rule_keys(first["rules"]) == rule_keys(SERVER_SET), show(rule_keys(first["rules"]))
        self.assert_unchanged(second)
        expect_reach(peer, target, open=SERVER_OPEN, closed=ALWAYS_CLOSED, why="server set")
        self.intact(site)

    def test_lifecycle_2_restart_from_persisted_config_keeps_rules(self, site: Site) -> None:
        target, peer = self.hosts(site)
        self.ops().restart(target)
        expect_reach(peer, target, open=SERVER_OPEN, closed=ALWAYS_CLOSED, why="after restart")
        self.intact(site)

    def test_lifecycle_3_check_direct_predicts_and_changes_nothing(self, site: Site) -> None:
        removed = [r for r in SERVER_SET if r not in DIRECT_SET]
        self.check_predicts(site, "present", "direct", removed, (SERVER_OPEN, ALWAYS_CLOSED))

    def test_lifecycle_4_direct_set_does_what_check_mode_said(self, site: Site) -> None:
        target, peer = self.hosts(site)
        result, rerun = self.module(site, DIRECT_SET, runs=2)
        assert (rule_keys(result["added"]), rule_keys(result["removed"])) == self.predictions["direct"]
        assert rule_keys(result["rules"]) == rule_keys(DIRECT_SET), result
        self.assert_unchanged(rerun)
        expect_reach(peer, target, open=DIRECT_OPEN, closed=DIRECT_CLOSED + ALWAYS_CLOSED, why="direct set")
        self.intact(site)

    def test_lifecycle_5_check_absent_predicts_and_changes_nothing(self, site: Site) -> None:
        self.check_predicts(site, "absent", "absent", DIRECT_SET, (DIRECT_OPEN, DIRECT_CLOSED + ALWAYS_CLOSED))

    def test_lifecycle_6_absent_does_what_check_mode_said(self, site: Site) -> None:
        target, peer = self.hosts(site)
        result, rerun = self.module(site, DIRECT_SET, state="absent", runs=2)
        assert (rule_keys(result["added"]), rule_keys(result["removed"])) == self.predictions["absent"]
        assert result["rules"] == [], result
        self.assert_unchanged(rerun)
        expect_reach(peer, target, open=["tcp/2222"], closed=["tcp/1480", *DIRECT_CLOSED, *ALWAYS_CLOSED], why="absent")
        assert self.ops().owned_traces(target) == [], "owned rules left behind"
        self.intact(site)

    def test_lifecycle_7_restart_after_absent_stays_clean(self, site: Site) -> None:
        target, peer = self.hosts(site)
        self.ops().restart(target)
        expect_reach(peer, target, open=["tcp/2222"], closed=["tcp/1480", *ALWAYS_CLOSED], why="restart after absent")
        assert self.ops().owned_traces(target) == [], "the persisted config brought owned rules back"
        self.intact(site)

    def test_lifecycle_8_control_open_firewall_answers_everywhere(self, site: Site) -> None:
        target, peer = self.hosts(site)
        self.ops().open_everything(target)
        expect_reach(peer, target, open=["tcp/1470", "tcp/1480", "tcp/1999", "udp/1999", "udp/51110"], why="control")
