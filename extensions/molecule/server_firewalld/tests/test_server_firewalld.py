# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server mode on firewalld: running daemon, the offline path, then the module lifecycle."""

from biostar_harness.ansible_run import rule_keys, run_role
from biostar_harness.firewalls import BACKENDS, OWNED
from biostar_harness.lifecycle import ALWAYS_CLOSED, SERVER_OPEN, SERVER_SET, ModuleLifecycle
from biostar_harness.role_checks import RoleOnBackend
from biostar_harness.site import expect_reach

firewalld = BACKENDS["firewalld"]


class TestRole(RoleOnBackend):
    backend = "firewalld"
    target = "online"


class TestOffline:
    """Converge and idempotence ran while this host's daemon was stopped."""

    def test_offline_1_rules_written_to_permanent_config(self, site):
        offline = site["offline"]
        assert not firewalld.is_running(offline), "firewalld should still be stopped"
        config = firewalld.permanent_config(offline)
        assert [line for line in config.splitlines() if OWNED.search(line)], config
        # Nothing filters yet: the listeners answer on every port, 1999 included.
        expect_reach(site["peer"], offline, open=["tcp/1470", "tcp/1999"], why="daemon stopped")

    def test_offline_2_rerun_while_stopped_is_unchanged(self, site):
        offline = site["offline"]
        result = run_role(offline.name, {}).succeeded().module_result(offline.name)
        assert result["backend"] == "firewalld" and result["changed"] is False, result
        assert rule_keys(result["rules"]) == rule_keys(SERVER_SET), result
        assert not firewalld.is_running(offline)

    def test_offline_3_rules_effective_once_the_daemon_starts(self, site):
        offline = site["offline"]
        firewalld.start(offline)
        expect_reach(site["peer"], offline, open=SERVER_OPEN, closed=ALWAYS_CLOSED, why="daemon started")
        firewalld.assert_foreign_rule(offline)
        firewalld.assert_default_deny(offline)


class TestModuleLifecycle(ModuleLifecycle):
    backend = "firewalld"
    target = "online"
