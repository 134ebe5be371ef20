"""engine.reconcile: the order of the steps, check mode, and what a failure leaves behind."""

from typing import Dict, List, Optional, Sequence

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    Backend,
    BackendError,
    BackendOptions,
    Changeset,
    FileChange,
    HostFiles,
    Runner,
    Snapshot,
    Target,
)
from ansible_collections.biostar.hardening.plugins.module_utils.engine import ReconcileError, reconcile
from ansible_collections.biostar.hardening.plugins.module_utils.lockout import LockoutError, Session
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import rules_from_dicts

SSH = rules_from_dicts([{"protocol": "tcp", "port": 22}])
SERVER = rules_from_dicts([{"protocol": "tcp", "port": 1480}, {"protocol": "udp", "port": 51110}])
CONF = "/etc/fake/owned.conf"


class MemoryFiles(HostFiles):
    def __init__(self, files: Optional[Dict[str, str]] = None, broken: Sequence[str] = ()):
        self.files = dict(files or {})
        self.broken = set(broken)

    def read(self, path: str) -> Optional[str]:
        return self.files.get(path)

    def write(self, path: str, text: str) -> None:
        if path in self.broken:
            raise OSError(30, "Read-only file system", path)
        self.files[path] = text

    def remove(self, path: str) -> None:
        self.files.pop(path, None)

    def isdir(self, path: str) -> bool:
        return True


class SetBackend(Backend):
    """A firewall that is a set of rules in memory, with a config file for persistence."""

    name = "memory"

    def __init__(self, rules: Sequence, files: MemoryFiles, fail_execute: int = 0):
        super().__init__(Runner(), BackendOptions(), files)
        self.rules = set(rules)
        self.fail_execute = fail_execute
        self.calls: List[str] = []

    def read(self) -> Snapshot:
        self.calls.append("read")
        return Snapshot(tuple(sorted(self.rules, key=lambda r: r.sort_key())), ("structure before",))

    def plan(self, snapshot: Snapshot, target: Target) -> Changeset:
        self.calls.append("plan")
        wanted = set(target.rules)
        have = set(snapshot.owned)
        actions = tuple("add %s" % r.describe() for r in wanted - have) + tuple(
            "delete %s" % r.describe() for r in have - wanted
        )
        text = "".join(r.describe() + "\n" for r in sorted(wanted, key=lambda r: r.sort_key())) or None
        before = self.files.read(CONF)
        files = (FileChange(CONF, text, before),) if text != before else ()
        return Changeset(actions, files, structure=("structure after",), payload=frozenset(wanted))

    def execute(self, changes: Changeset) -> Sequence[str]:
        self.calls.append("execute")
        if self.fail_execute:
            self.fail_execute -= 1
            # Half done, as a backend with two address families can leave it.
            self.rules = set(list(changes.payload)[:1])
            raise BackendError("memory: command failed (rc=1): apply", stderr="no space left in table")
        self.rules = set(changes.payload)
        return ("learnt while executing",)


def test_a_run_reads_plans_executes_then_persists():
    files = MemoryFiles()
    backend = SetBackend([], files)
    outcome = reconcile(backend, Target(tuple(SERVER)), None, check_mode=False)
    assert backend.calls == ["read", "plan", "execute"]
    assert outcome.changed and [r.port for r in outcome.added] == [1480, 51110]
    assert outcome.persisted == (CONF,)
    assert files.files[CONF] == "inbound tcp/1480 from any\ninbound udp/51110 from any\n"
    assert outcome.warnings == ("learnt while executing",)
    diff = outcome.diff("memory rules")
    assert diff["before"] == "# structure before\n"
    assert diff["after"].endswith("# structure after\n")


def test_check_mode_reports_the_same_changeset_and_touches_nothing():
    files = MemoryFiles()
    backend = SetBackend([], files)
    outcome = reconcile(backend, Target(tuple(SERVER)), None, check_mode=True)
    assert backend.calls == ["read", "plan"]
    assert outcome.changed and outcome.persisted == (CONF,)
    assert backend.rules == set() and files.files == {}


def test_an_equal_state_changes_nothing():
    files = MemoryFiles({CONF: "inbound tcp/1480 from any\ninbound udp/51110 from any\n"})
    backend = SetBackend(SERVER, files)
    outcome = reconcile(backend, Target(tuple(SERVER)), None, check_mode=False)
    assert (outcome.changed, outcome.actions, outcome.persisted) == (False, (), ())
    assert backend.calls == ["read", "plan"]


def test_a_failed_execute_puts_the_snapshot_back_and_names_the_step():
    files = MemoryFiles({CONF: "inbound tcp/22 from any\n"})
    backend = SetBackend(SSH, files, fail_execute=1)
    with pytest.raises(ReconcileError) as caught:
        reconcile(backend, Target(tuple(SERVER)), None, check_mode=False)
    error = caught.value
    assert error.step == "execute" and error.restored
    assert str(error).startswith("memory: command failed (rc=1): apply (step execute;")
    assert "the previous owned rules were put back" in str(error)
    assert error.stderr == "no space left in table"
    assert backend.rules == set(SSH)
    assert files.files == {CONF: "inbound tcp/22 from any\n"}
    assert backend.calls == ["read", "plan", "execute", "read", "plan", "execute"]


def test_a_failed_restore_says_so():
    backend = SetBackend(SSH, MemoryFiles(), fail_execute=2)
    with pytest.raises(ReconcileError) as caught:
        reconcile(backend, Target(tuple(SERVER)), None, check_mode=False)
    assert not caught.value.restored
    assert "putting the previous owned rules back failed too" in str(caught.value)


def test_unwritable_persistence_restores_runtime_and_files():
    files = MemoryFiles({CONF: "inbound tcp/22 from any\n"}, broken=[CONF])
    backend = SetBackend(SSH, files)
    with pytest.raises(ReconcileError) as caught:
        reconcile(backend, Target(tuple(SERVER)), None, check_mode=False)
    assert caught.value.step == "persist" and caught.value.restored
    assert "Read-only file system" in str(caught.value)
    assert backend.rules == set(SSH)
    assert files.files == {CONF: "inbound tcp/22 from any\n"}


def test_removing_the_rule_that_carries_the_session_is_refused_before_any_change():
    backend = SetBackend(SSH, MemoryFiles())
    with pytest.raises(LockoutError, match="carries the SSH session"):
        reconcile(backend, Target(tuple(SERVER)), Session("10.0.0.5", 22), check_mode=False)
    assert backend.calls == ["read"]
    assert backend.rules == set(SSH)


def test_absent_is_refused_while_a_baseline_keeps_the_session_open():
    class Guarded(SetBackend):
        def read(self) -> Snapshot:
            self.calls.append("read")
            return Snapshot(tuple(self.rules), baseline_ports=(22,), input_drops=True)

    backend = Guarded([], MemoryFiles())
    with pytest.raises(LockoutError, match="refusing state=absent"):
        reconcile(backend, Target((), False), Session("10.0.0.5", 22), check_mode=False)
    assert backend.calls == ["read"]
