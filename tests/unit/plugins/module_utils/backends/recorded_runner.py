"""Replay backend runs recorded in real containers (tests/unit/fixtures/<backend>/*.jsonl).

A session file is written by tests/unit/fixtures/record_backend.py: a header line with
the run's rules and outcome, then one line per command with its exit code and output. The
``ReplayRunner`` answers the backend's commands with those outputs, in order, and fails
the test as soon as the backend issues a command the real run did not.
"""

import copy
import importlib.util
import json
import os
import re
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import CommandResult, Runner

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures")
_SPEC = importlib.util.spec_from_file_location("record_backend", os.path.join(FIXTURES, "record_backend.py"))
RECORDER = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(RECORDER)
TEMP_FILE = re.compile(r"(from-file=)\S*/([^/\s]+\.xml)")


def normalise(args: Sequence[str]) -> List[str]:
    """Temporary file names differ on every run; keep only the file's own name."""
    return [TEMP_FILE.sub(r"\1<tmp>/\2", arg) for arg in args]


def session_names(backend: str) -> List[str]:
    folder = os.path.join(FIXTURES, backend)
    return sorted(name[: -len(".jsonl")] for name in os.listdir(folder) if name.endswith(".jsonl"))


def load_session(backend: str, name: str) -> Dict[str, Any]:
    with open(os.path.join(FIXTURES, backend, name + ".jsonl")) as handle:
        lines = [json.loads(line) for line in handle if line.strip()]
    session = dict(lines[0])
    session["calls"] = lines[1:]
    return session


def programs(calls: Sequence[Dict[str, Any]], defaults: Dict[str, str]) -> Dict[str, str]:
    """Where the recorded run found each program (what ``which`` answered there)."""
    found = dict(defaults)
    for call in calls:
        found[os.path.basename(call["args"][0])] = call["args"][0]
    return found


class ReplayRunner(Runner):
    def __init__(self, calls: Sequence[Dict[str, Any]], which: Dict[str, Optional[str]]):
        self.calls = [copy.deepcopy(call) for call in calls]
        self.position = 0
        self.commands: List[List[str]] = []
        self.files: Dict[str, str] = {}
        self.paths = which

    def run(self, args: Sequence[str], data: Optional[str] = None) -> CommandResult:
        args = list(args)
        for arg in args:
            # A definition handed over in a file must exist while the command runs; keep its text.
            match = re.search(r"from-file=(\S+)", arg)
            if match:
                with open(match.group(1)) as handle:
                    self.files[os.path.basename(match.group(1))] = handle.read()
        if self.position >= len(self.calls):
            raise AssertionError("command beyond the recording: %r" % (args,))
        expected = self.calls[self.position]
        if normalise(args) != normalise(expected["args"]):
            raise AssertionError(
                "command %d differs from the recording:\n  got      %r\n  recorded %r"
                % (self.position, normalise(args), normalise(expected["args"]))
            )
        self.position += 1
        self.commands.append(args)
        return CommandResult(expected["rc"], expected["stdout"], expected["stderr"])

    def which(self, name: str) -> Optional[str]:
        return self.paths.get(name)

    @property
    def finished(self) -> bool:
        return self.position == len(self.calls)


def drive(backend_class, runner: Runner, session: Dict[str, Any]) -> Dict[str, Any]:
    """Run the backend exactly as the recording did (the driver's own code, which follows the module)."""
    return RECORDER.run(
        backend_class, runner, session["action"], session["rules"], session.get("zone"), session.get("check", False)
    )


def recorded_outcome(session: Dict[str, Any]) -> Dict[str, Any]:
    outcome = dict(session["outcome"])
    outcome.pop("seconds", None)
    return outcome
