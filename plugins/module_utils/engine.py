# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one reconcile sequence every Linux backend runs through.

read → plan → lockout check → execute (restore the snapshot if it fails) → persist
(restore files and snapshot if that fails) → outcome. Check mode stops after the
plan: what it reports is the same changeset a real run executes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    Backend,
    BackendError,
    Changeset,
    FileChange,
    Snapshot,
    Target,
)
from ansible_collections.biostar.hardening.plugins.module_utils.lockout import (
    Session,
    check_absent,
    check_removals,
)
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import Rule, diff, render


@dataclass(frozen=True)
class Outcome:
    """What a run did (or, in check mode, would do)."""

    changed: bool
    before: Tuple[Rule, ...]
    after: Tuple[Rule, ...]
    added: Tuple[Rule, ...]
    removed: Tuple[Rule, ...]
    actions: Tuple[str, ...]
    persisted: Tuple[str, ...]
    structure_before: Tuple[str, ...] = ()
    structure_after: Tuple[str, ...] = ()
    warnings: Tuple[str, ...] = ()

    def diff(self, header: str) -> Dict[str, str]:
        return dict(
            before=render(self.before) + "".join("# %s\n" % line for line in self.structure_before),
            after=render(self.after) + "".join("# %s\n" % line for line in self.structure_after),
            before_header=header,
            after_header=header,
        )


class ReconcileError(Exception):
    """A step failed. ``restored`` says whether the previous owned state was put back."""

    def __init__(self, step: str, cause: Exception, restored: bool, rules_in_place: Sequence[Rule], note: str = ""):
        super().__init__("%s (step %s%s)" % (cause, step, "; " + note if note else ""))
        self.step = step
        self.cause = cause
        self.restored = restored
        self.rules_in_place = tuple(rules_in_place)
        self.stderr = getattr(cause, "stderr", "")
        self.command = getattr(cause, "command", [])


def reconcile(backend: Backend, target: Target, session: Optional[Session], check_mode: bool) -> Outcome:
    """Make the owned state equal ``target``; raise LockoutError, BackendError or ReconcileError."""
    snapshot = backend.read()
    plan = diff(snapshot.owned, target.rules)
    check_removals(plan.remove, session)
    if not target.present:
        check_absent(snapshot.baseline_ports, snapshot.input_drops, session)
    changes = backend.plan(snapshot, target)
    outcome = Outcome(
        changed=plan.changed or changes.changed,
        before=snapshot.owned,
        after=tuple(plan.result),
        added=plan.add,
        removed=plan.remove,
        actions=changes.actions,
        persisted=tuple(changes.persist_report()),
        structure_before=snapshot.structure,
        structure_after=changes.structure,
        warnings=_unique(snapshot.warnings + changes.warnings),
    )
    if check_mode or not outcome.changed:
        return outcome
    if changes.actions or changes.persisted:
        learnt = _execute(backend, snapshot, changes)
        outcome = replace(outcome, warnings=_unique(outcome.warnings + tuple(learnt)))
    _persist(backend, snapshot, changes.files)
    return outcome


def _execute(backend: Backend, snapshot: Snapshot, changes: Changeset) -> Sequence[str]:
    try:
        return backend.execute(changes)
    except BackendError as exc:
        raise _restored("execute", exc, backend, snapshot) from exc


def _persist(backend: Backend, snapshot: Snapshot, files: Sequence[FileChange]) -> None:
    written: List[FileChange] = []
    try:
        for change in files:
            _write(backend, change.path, change.text)
            written.append(change)
    except OSError as exc:
        notes = []
        for change in reversed(written):
            try:
                _write(backend, change.path, change.before)
            except OSError as again:
                notes.append("could not put %s back: %s" % (change.path, again))
        raise _restored("persist", exc, backend, snapshot, notes) from exc


def _write(backend: Backend, path: str, text: Optional[str]) -> None:
    if text is None:
        backend.files.remove(path)
    else:
        backend.files.write(path, text)


def _restored(
    step: str, cause: Exception, backend: Backend, snapshot: Snapshot, notes: Optional[List[str]] = None
) -> ReconcileError:
    notes = list(notes or [])
    try:
        backend.restore(snapshot)
        restored = not notes
        notes.insert(0, "the previous owned rules were put back")
    except BackendError as again:
        restored = False
        notes.insert(0, "putting the previous owned rules back failed too: %s %s" % (again, again.stderr))
    return ReconcileError(step, cause, restored, snapshot.owned, "; ".join(notes))


def _unique(items: Sequence[str]) -> Tuple[str, ...]:
    return tuple(dict.fromkeys(items))
