# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server mode on firewalld: running daemon, the offline path, then the module lifecycle."""

from biostar_harness.ansible_run import rule, rule_keys, run_module, run_role
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


class TestSharedDefinition:
    """An owned service that another zone names is kept when its rules go, and deleted once
    nothing names it. The firewalld backend reads who names what from firewalld's own files."""

    SHARED = "biostar-hardening-tcp1480"

    def defined(self, host):
        return host.sh("firewall-cmd --permanent --get-services").stdout.split()

    def test_shared_1_absent_keeps_the_definition_another_zone_uses(self, site):
        offline = site["offline"]  # running since TestOffline started its daemon
        offline.sh("firewall-cmd -q --permanent --zone=internal --add-service=%s" % self.SHARED)
        run = run_module(offline.name, [], "firewalld", state="absent").succeeded()
        result = run.module_result(offline.name)
        assert rule_keys(result["removed"]) == rule_keys(SERVER_SET), result
        assert self.SHARED in self.defined(offline)
        assert "biostar-hardening-tcp1470" not in self.defined(offline)
        internal = offline.sh("firewall-cmd --permanent --zone=internal --list-services").stdout.split()
        assert self.SHARED in internal, internal
        expect_reach(site["peer"], offline, open=["tcp/2222"], closed=SERVER_OPEN[:4], why="owned rules removed")
        firewalld.assert_foreign_rule(offline)

    def test_shared_2_the_definition_goes_once_nothing_names_it(self, site):
        offline = site["offline"]
        offline.sh("firewall-cmd -q --permanent --zone=internal --remove-service=%s" % self.SHARED)
        result = run_module(offline.name, [rule("tcp", 1471)], "firewalld").succeeded().module_result(offline.name)
        assert rule_keys(result["added"]) == rule_keys([rule("tcp", 1471)]), result
        assert self.SHARED not in self.defined(offline)
        assert "biostar-hardening-tcp1471" in self.defined(offline)


class TestModuleLifecycle(ModuleLifecycle):
    backend = "firewalld"
    target = "online"
