# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one small interface every Linux firewall backend implements.

A backend only ever reads and writes the rules it owns (marked with ``owner``).
The module drives it: ``detect`` → ``read_owned`` → (plan, in owned_rules) →
``apply`` → ``persist``. Commands go through a ``Runner`` so unit tests can replay
output captured from real containers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import Plan, Rule


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


@dataclass(frozen=True)
class BackendOptions:
    owner: str = "biostar-hardening"
    zone: Optional[str] = None
    persist: bool = True


class Backend:
    """The interface. The hooks after ``persist`` have defaults for backends that need none."""

    name = ""
    # Only backends that can own a default-deny input policy (nftables, iptables) say True.
    supports_baseline = False

    def __init__(self, runner: Runner, options: BackendOptions):
        self.runner = runner
        self.options = options
        # Things the user should know that are not failures; the module passes them on.
        self.warnings: List[str] = []

    @classmethod
    def detect(cls, runner: Runner) -> Detection:
        raise NotImplementedError

    def read_owned(self) -> List[Rule]:
        """Every rule this owner has on the host, as Rules."""
        raise NotImplementedError

    def apply(self, plan: Plan) -> None:
        """Make the owned rules equal ``plan.result``; on failure leave the old set in place."""
        raise NotImplementedError

    def remove_all(self) -> None:
        """state=absent: remove every owned rule and any owned chain, jump or service."""
        raise NotImplementedError

    def persist(self) -> List[str]:
        """Save the owned rules so they survive a reboot; return what was written."""
        raise NotImplementedError

    def pending(self, plan: Plan, state: str = "present") -> List[str]:
        """Repairs needed although the owned rule set is equal (a missing jump, runtime drift)."""
        return []

    def persist_pending(self, plan: Plan, state: str = "present") -> List[str]:
        """The files or configs that ``persist`` would write now; check mode reports them."""
        return []

    def describe_state(self, after: bool) -> List[str]:
        """Extra lines for --diff beyond the rules (jumps, baseline policy), before or after."""
        return []

    def set_baseline(self, management_ports: Sequence[int]) -> None:
        """Ask ``apply`` for a default-deny input policy that keeps these TCP ports open."""
        raise NotImplementedError

    def baseline_state(self) -> Tuple[List[int], bool]:
        """The management ports an owned baseline keeps open, and whether input drops by default."""
        return [], False

    def run(self, args: Sequence[str], data: Optional[str] = None, check: bool = True) -> CommandResult:
        result = self.runner.run(args, data)
        if check and result.rc != 0:
            raise BackendError(
                "%s: command failed (rc=%d): %s" % (self.name, result.rc, " ".join(args)),
                stderr=result.stderr.strip() or result.stdout.strip(),
                command=args,
            )
        return result
