# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The contract between the reconcile engine and each Linux firewall backend.

A backend answers four plain questions with plain values and keeps no state between
them (``engine.reconcile`` owns the order):

- ``read()``: what the host has now, as a ``Snapshot``;
- ``plan(snapshot, target)``: what would make the owned state equal the ``Target``, as a
  ``Changeset`` (the actions in words, what persistence would write, and the backend's
  private payload for ``execute``);
- ``execute(changeset)``: do it;
- ``restore(snapshot)``: put a snapshot's owned state back after a failed ``execute``.

A backend only ever reads and writes what it owns (marked with ``owner``). Commands go
through a ``Runner`` and files through a ``HostFiles``, so unit tests can replay output
captured from real containers.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import Rule


@dataclass(frozen=True)
class CommandResult:
    rc: int
    stdout: str
    stderr: str


class Runner:
    """Runs a command on the managed host. The module wraps AnsibleModule.run_command."""

    def run(self, args: Sequence[str], data: Optional[str] = None) -> CommandResult:
        raise NotImplementedError

    def which(self, name: str) -> Optional[str]:
        raise NotImplementedError


# Listings that only read the firewall, which detection and ``read`` both make.
LISTINGS = frozenset(
    {
        ("nft", "-j", "list", "ruleset"),
        ("iptables", "--version"),
        ("iptables-save", "-t", "filter"),
        ("ip6tables-save", "-t", "filter"),
    }
)


class ReusingRunner(Runner):
    """A runner that answers a repeated listing (``LISTINGS``) from its first answer.

    Detection lists the ruleset to see whether the firewall filters, and the backend's
    ``read`` lists it again. The module holds the host lock across both, and nothing
    runs between them, so the second listing would print what the first printed. Any
    other command (a write, or anything not in ``LISTINGS``) forgets every answer, so a
    listing after a change (``restore`` reads again after a failed write) always runs.
    A failed listing is never kept.
    """

    def __init__(self, inner: Runner, listings: FrozenSet[Tuple[str, ...]] = LISTINGS):
        self.inner = inner
        self.listings = listings
        self.answers: Dict[Tuple[str, ...], CommandResult] = {}

    def run(self, args: Sequence[str], data: Optional[str] = None) -> CommandResult:
        key = tuple(args)
        if data is not None or key not in self.listings:
            self.answers.clear()
            return self.inner.run(args, data)
        if key not in self.answers:
            result = self.inner.run(args, data)
            if result.rc != 0:
                return result
            self.answers[key] = result
        return self.answers[key]

    def which(self, name: str) -> Optional[str]:
        return self.inner.which(name)


class BackendError(Exception):
    """A backend command failed. ``stderr`` carries the backend's own words."""

    def __init__(self, message: str, stderr: str = "", command: Optional[Sequence[str]] = None):
        super().__init__(message)
        self.stderr = stderr
        self.command = list(command) if command else []


@dataclass(frozen=True)
class Detection:
    """Whether a backend is usable and whether it filters traffic now."""

    name: str
    available: bool
    active: bool
    detail: str


# The commands without which a backend is not installed (any one of them is enough), and
# what detection says then. detect.py asks this before it imports a backend's module, so
# auto detection on a host without firewalld or ufw does not import (and, inside the
# module's payload, compile) their code.
INSTALLED_BY: Dict[str, Tuple[Tuple[str, ...], str]] = {
    "firewalld": (("firewall-cmd", "firewall-offline-cmd"), "firewalld is not installed (no firewall-cmd)"),
    "ufw": (("ufw",), "ufw is not installed (no ufw command)"),
}


def not_installed(runner: Runner, name: str) -> Optional[Detection]:
    """The detection of backend ``name`` when none of its commands is on PATH, else None."""
    commands, detail = INSTALLED_BY.get(name, ((), ""))
    if commands and not any(runner.which(command) for command in commands):
        return Detection(name, False, False, detail)
    return None


@dataclass(frozen=True)
class BackendOptions:
    owner: str = "biostar-hardening"
    zone: Optional[str] = None
    persist: bool = True


class HostFiles:
    """File access on the managed host; tests replace it with an in-memory one."""

    def read(self, path: str) -> Optional[str]:
        raise NotImplementedError

    def write(self, path: str, text: str) -> None:
        raise NotImplementedError

    def remove(self, path: str) -> None:
        raise NotImplementedError

    def isdir(self, path: str) -> bool:
        raise NotImplementedError


class LocalFiles(HostFiles):
    """The module runs on the managed host, so its files are local files."""

    def read(self, path: str) -> Optional[str]:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write(self, path: str, text: str) -> None:
        directory = os.path.dirname(path)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        mode = 0o644
        with contextlib.suppress(FileNotFoundError):
            mode = os.stat(path).st_mode & 0o7777
        # Write beside the target and rename, so a crash never leaves half a file.
        temp = None
        try:
            handle, temp = tempfile.mkstemp(dir=directory, prefix=".biostar-")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(temp, mode)
            os.replace(temp, path)
        except BaseException as error:
            if temp and os.path.exists(temp):
                os.unlink(temp)
            if isinstance(error, OSError) and error.errno is not None:
                # Name the file the user knows: a full disk fails the write without a file
                # name, and a refused temporary file would name a random one.
                raise OSError(error.errno, error.strerror, path) from error
            raise

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)


@dataclass(frozen=True)
class Target:
    """The owned state the run asks for.

    ``rules`` is empty with ``present=False`` (state=absent: remove every owned object).
    ``baseline`` holds the management TCP ports to keep open when a default-deny input
    policy is asked for, and is None when the baseline is not asked for (an owned
    baseline already on the host is then left as it is, unless ``present`` is False).
    """

    rules: Tuple[Rule, ...] = ()
    present: bool = True
    baseline: Optional[Tuple[int, ...]] = None


@dataclass(frozen=True)
class Snapshot:
    """What the host has now, as far as the owner is concerned.

    ``structure``: readable lines for --diff beyond the rules (jumps, policies, baseline).
    ``baseline_ports``/``input_drops``: what the lockout check needs for state=absent.
    ``detail``: the backend's own parsed view, which only that backend reads.
    """

    owned: Tuple[Rule, ...]
    structure: Tuple[str, ...] = ()
    baseline_ports: Tuple[int, ...] = ()
    input_drops: bool = False
    warnings: Tuple[str, ...] = ()
    detail: Any = None


@dataclass(frozen=True)
class FileChange:
    """One file persistence writes: the new text, or None to remove it, and the text before."""

    path: str
    text: Optional[str]
    before: Optional[str] = None

    def describe(self) -> str:
        return self.path if self.text is not None else "%s (removed)" % self.path


@dataclass(frozen=True)
class Changeset:
    """What reconciling would do.

    ``actions``: every change ``execute`` makes, in words; empty when the runtime state
    already equals the target (owned rules, jumps, policies, permanent config).
    ``files``: host files the engine writes afterwards for persistence (empty when
    persistence is off or nothing differs). ``persisted``: persistence that ``execute``
    itself carries out (ufw's rule files, firewalld's permanent config), as labels.
    ``structure``: the --diff lines after the change. ``payload``: for ``execute`` only.
    """

    actions: Tuple[str, ...] = ()
    files: Tuple[FileChange, ...] = ()
    persisted: Tuple[str, ...] = ()
    structure: Tuple[str, ...] = ()
    warnings: Tuple[str, ...] = ()
    payload: Any = None

    @property
    def changed(self) -> bool:
        return bool(self.actions or self.files)

    def persist_report(self) -> List[str]:
        return list(self.persisted) + [change.describe() for change in self.files]


class Backend:
    """The interface. See the module docstring for the contract."""

    name = ""
    # Only backends that can own a default-deny input policy (nftables, iptables) say True.
    supports_baseline = False
    # What ``probe`` read on the way, for the first ``read`` of this run (see ``probe``).
    seen: Any = None

    def __init__(self, runner: Runner, options: BackendOptions, files: Optional[HostFiles] = None):
        self.runner = runner
        self.options = options
        self.files = files or LocalFiles()

    @classmethod
    def detect(cls, runner: Runner) -> Detection:
        raise NotImplementedError

    @classmethod
    def probe(cls, runner: Runner, options: BackendOptions) -> Tuple[Detection, Any]:
        """Detection for a run with ``options``, and what it read that ``read`` can use (or None).

        The module probes under the host lock; ``Selection.build`` hands ``seen`` to the backend; a
        backend that uses it does so for its first ``read`` only (a restore reads again).
        """
        return cls.detect(runner), None

    def read(self) -> Snapshot:
        raise NotImplementedError

    def plan(self, snapshot: Snapshot, target: Target) -> Changeset:
        raise NotImplementedError

    def execute(self, changes: Changeset) -> Sequence[str]:
        """Carry out ``changes``; return warnings learnt on the way (e.g. a reload happened).

        Raise BackendError with the firewall's own words when a step fails.
        """
        raise NotImplementedError

    def restore(self, snapshot: Snapshot) -> None:
        """Put the owned state of ``snapshot`` back: plan from what the host has now to it."""
        self.execute(self.plan(self.read(), self.target_of(snapshot)))

    def target_of(self, snapshot: Snapshot) -> Target:
        """The Target that reproduces a snapshot's owned state."""
        baseline = snapshot.baseline_ports if snapshot.input_drops and snapshot.baseline_ports else None
        return Target(snapshot.owned, True, baseline)

    def run(self, args: Sequence[str], data: Optional[str] = None, check: bool = True) -> CommandResult:
        return run_checked(self.runner, self.name, args, data, check)


def run_checked(
    runner: Runner, name: str, args: Sequence[str], data: Optional[str] = None, check: bool = True
) -> CommandResult:
    """Run a command; with ``check``, a non-zero exit becomes a BackendError with its output."""
    result = runner.run(args, data)
    if check and result.rc != 0:
        raise BackendError(
            "%s: command failed (rc=%d): %s" % (name, result.rc, " ".join(args)),
            stderr=result.stderr.strip() or result.stdout.strip(),
            command=args,
        )
    return result
