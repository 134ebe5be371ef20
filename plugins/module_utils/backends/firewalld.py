# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewalld backend: owned services, referenced from the zone and from an owned policy.

How a rule is kept
    Every owned rule refers to an owned *service definition* that holds its one port (or
    port range). The service name is the record of ownership and of the port:
    ``<owner>-<protocol><port>`` (a range is ``<low>_<high>``), for example
    ``biostar-hardening-tcp1480``. Rules limited to peers use their own service, named with
    a short hash of the peers appended (``biostar-hardening-tcp1480-3fa9c2d1``), so two rules
    for the same port with different peers stay two rules when they are read back.

    - inbound, no peers: the service is added to the zone (option ``zone``, default: the
      default zone). A zone service covers IPv4 and IPv6.
    - inbound with peers: one rich rule per peer,
      ``rule family="ipv4" source address="10.0.0.0/24" service name="<owned service>" accept``.
      A rich rule is recognised as owned only in exactly this form and only when it names an
      owned service, so rich rules of anyone else are never read as ours.
    - outbound: firewalld allows all output unless a policy says otherwise, and a zone cannot
      express an outbound port. Outbound rules go into an owned policy named after the owner
      (HOST -> ANY, target CONTINUE, priority -100, so it is consulted before policies of the
      default priority): services for rules without peers, rich rules with a ``destination``
      for rules with peers. firewalld limits policy names (``POLICY_NAME_MAX``), so outbound
      rules need an owner that short. The policy is not tied to a zone: runs for two zones
      with one owner share the outbound rules, so give rule sets that must stay apart
      different owners.

One process per step
    ``read`` and ``execute`` each run one helper program (``firewalld_helper``) in
    firewalld's Python: over D-Bus while the daemon runs, through firewalld's offline
    configuration code (what ``firewall-offline-cmd`` runs) while it is stopped. A zone or
    policy is written with one call per configuration. firewalld checks its whole
    configuration for every definition it adds, so when the daemon is stopped, or when many
    definitions are new, the backend writes the owned service files itself (through
    ``self.files``) and the helper only edits the zone and policy and, with the daemon
    running, reloads once to load them: the cost stays flat from 4 rules to 256.

Runtime and permanent
    Zone and policy changes go to the permanent and to the runtime configuration without a
    reload. A service or policy that the running daemon does not know yet can only come
    from the permanent configuration, and firewalld cannot load one definition alone: then
    the permanent configuration is written and firewalld reloads it. That reload also
    drops runtime-only changes of other tools, so it happens only when a new definition is
    needed, and the run warns about it. Removing rules never needs it, and the runtime
    keeps a definition it knew until the next reload, so adding a rule back later does not
    need one either. A rule counts as present only when both configurations have it; an
    owned entry that only one of them has is drift that the plan removes or completes.

Many runtime edits
    firewalld applies a runtime zone or policy edit item by item, one nftables transaction
    per service or rich rule: removing 256 rules spent 12 of its 14 s there. With more than
    ``BULK_RUNTIME`` runtime entries to change, the runtime edits become one step that the
    helper runs as a single reload, which rebuilds the runtime from the permanent
    configuration the earlier steps have just written, when the runtime and the permanent
    configuration differ in nothing but owned entries (zones, policies, ipsets, direct rules
    and the names of the services are compared, without the owned entries); then nothing of
    anyone else is dropped or loaded, and no warning is given. When another tool has a
    runtime-only change, or a permanent change not loaded yet, the helper edits the runtime
    item by item as before. The actions list the runtime edits either way. The check runs
    just before the first step; a change another tool makes in the fraction of a second
    between the check and the reload is not covered.

Failure, clean-up and persistence
    A failed step stops the helper; the engine then restores the snapshot through a new
    plan. (Service files written for a run that then failed before its reload are unknown
    to the running daemon until its next reload; they are owned and unused, so the next
    run deletes them.) Owned definitions that no rule needs and that nothing else refers to are deleted;
    the owned policy goes when no outbound rule is left and nobody else put rules in it.
    The permanent configuration is what persists, reported as the files it changes.
    firewalld defines services only in the permanent configuration, so ``persist=false``
    cannot be honoured; the backend says so in ``warnings``.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, replace
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.backends import firewalld_helper
from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    Backend,
    BackendError,
    BackendOptions,
    Changeset,
    Detection,
    Runner,
    Snapshot,
    Target,
    not_installed,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.firewalld_config import (
    Layer,
    config_path,
    desired_layer,
    owned_layer,
    parse_service_name,
    policy_fits,
    policy_settings,
    policy_too_long,
    purpose_of,
    service_name,
    service_settings,
    service_xml,
)
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import Rule, sort_rules

PERMANENT = "permanent"
RUNTIME = "runtime"
WHERE = (("inbound", "zone"), ("outbound", "policy"))
EDITS = ("add", "add_rules", "remove_rules", "remove")
HELPER_CALL = "\nmain(%r)\n"
NO_PYTHON = "python3 not found: the firewalld backend talks to firewalld through python3 and its bindings"
RELOADED = "firewalld was reloaded to load new owned definitions; runtime-only changes made by other tools were dropped"
# More new permanent definitions than this: write them as files and reload once, rather than one
# D-Bus call each (about 17 ms apiece: firewalld checks its whole configuration on each, and its
# file watcher, 5 s behind, races a long run of them).
BULK_DEFINITIONS = 8
# More runtime zone/policy entries to change than this: one reload instead, when it changes nothing
# but owned entries (firewalld applies runtime edits item by item; see firewalld_helper.bulk_runtime).
BULK_RUNTIME = 8
PERSIST_IGNORED = "persist=false has no effect on firewalld: it defines services only in its permanent configuration"


def call_helper(runner: Runner, python: str, request: Mapping[str, Any]) -> Dict[str, Any]:
    """Run firewalld_helper once with ``request``; its JSON answer, or BackendError in its words."""
    args = [python, "-I", "-"]
    text = json.dumps(request, sort_keys=True)
    result = runner.run(args, inspect.getsource(firewalld_helper) + HELPER_CALL % text)
    try:
        answer = json.loads(result.stdout)
    except ValueError:
        answer = {"error": result.stderr.strip() or result.stdout.strip() or "no answer (rc=%d)" % result.rc}
    if result.rc == 0 and "error" not in answer:
        return answer
    what = "%s failed" % request["action"]
    if answer.get("step") is not None:
        what = "step '%s' failed" % describe(request["steps"][answer["step"]])
    raise BackendError(
        "firewalld: %s: %s" % (what, answer["error"]),
        stderr=result.stderr.strip() or answer["error"],
        command=[*args, "<firewalld_helper %s>" % request["action"]],
    )


def describe(step: Mapping[str, Any]) -> str:
    if "otherwise" in step:
        return "runtime edits (one reload, or item by item when other runtime changes exist)"
    words = [step["do"], step.get("layer", PERMANENT), step["kind"], step["name"]] if "kind" in step else ["reload"]
    return " ".join(words)


@dataclass(frozen=True)
class View:
    """What ``read`` found, for ``plan``: the owned Layers and which definitions exist."""

    running: bool
    zone: str
    layers: Mapping[str, Layer]
    defined: Mapping[str, FrozenSet[str]]
    referenced: FrozenSet[str]


@dataclass
class Steps:
    """The helper steps of a change, its words and the permanent files it touches, built in order."""

    steps: List[Dict[str, Any]]
    words: List[str]
    files: Dict[str, bool]

    def add(self, words: str, path: Optional[str] = None, kept: bool = True, **step: Any) -> None:
        self.steps.append(step)
        self.words.append(words)
        if path:
            self.files[path] = kept

    def edit(self, layer: str, current: Layer, wanted: Layer, names: Mapping[str, str]) -> None:
        """Bring the owned entries of one configuration from ``current`` to ``wanted``."""
        for direction, kind in WHERE:
            (have, have_rich), (want, want_rich) = current.part(direction), wanted.part(direction)
            change = {
                "add": [n for n in want if n not in have],
                "add_rules": [text for key, text in want_rich if key not in current.rich],
                "remove_rules": [text for key, text in have_rich if key not in wanted.rich],
                "remove": [n for n in have if n not in want],
            }
            if not any(change.values()):
                continue
            where = "%s %s" % (kind, names[kind])
            self.words.extend(
                "%s: %s %s %s %s"
                % (
                    layer,
                    verb,
                    "rich rule" if "rules" in key else "service",
                    quote(key, item),
                    preposition(verb, where),
                )
                for key, verb in (
                    ("add", "add"),
                    ("add_rules", "add"),
                    ("remove_rules", "remove"),
                    ("remove", "remove"),
                )
                for item in change[key]
            )
            self.steps.append(dict(change, do="edit", layer=layer, kind=kind, name=names[kind]))
            if layer == PERMANENT:
                self.files[config_path(kind, names[kind])] = True


def quote(key: str, item: str) -> str:
    return "'%s'" % item if "rules" in key else item


def preposition(verb: str, where: str) -> str:
    return ("to " if verb == "add" else "from ") + where


class FirewalldBackend(Backend):
    name = "firewalld"

    @classmethod
    def detect(cls, runner: Runner) -> Detection:
        return cls._detect(runner, None)[0]

    @classmethod
    def probe(cls, runner: Runner, options: BackendOptions) -> Tuple[Detection, Any]:
        """Detection and, while the daemon runs, the run's read in the same helper process.

        The read request without ``offline`` answers ``{"running": false}`` when the daemon is
        not running, exactly as the state request does; when it runs, the answer is the read
        that ``read`` would make next (the module holds the host lock across both). When that
        read fails, the state is asked alone, so a failing read still selects firewalld and
        ``read`` reports the failure in its own words, as before.
        """
        return cls._detect(runner, options)

    @classmethod
    def _detect(cls, runner: Runner, options: Optional[BackendOptions]) -> Tuple[Detection, Any]:
        missing = not_installed(runner, cls.name)
        if missing:
            return missing, None
        offline_cmd = runner.which("firewall-offline-cmd")
        python = runner.which("python3")
        if not python:
            return Detection(cls.name, False, False, NO_PYTHON), None
        answer: Optional[Dict[str, Any]] = None
        if options is not None:
            try:
                answer = call_helper(runner, python, dict(read_request(options), offline=False))
            except BackendError:
                answer = None  # asked again below for the state alone; read() then reports the failure
        try:
            answer = answer or call_helper(runner, python, {"action": "state"})
        except BackendError as error:
            return Detection(cls.name, False, False, "%s (%s)" % (error, error.stderr)), None
        if answer["running"]:
            return Detection(cls.name, True, True, "firewalld is running"), answer if "zone" in answer else None
        if not offline_cmd:
            return Detection(
                cls.name, False, False, "firewalld is not running and firewall-offline-cmd is not installed"
            ), None
        return Detection(
            cls.name,
            True,
            False,
            "firewalld is installed but not running; rules go to its permanent configuration with"
            " firewall-offline-cmd and apply when it starts",
        ), None

    def _helper(self, request: Mapping[str, Any]) -> Dict[str, Any]:
        python = self.runner.which("python3")
        if not python:
            raise BackendError("firewalld: " + NO_PYTHON)
        offline = self.runner.which("firewall-offline-cmd") is not None
        return call_helper(self.runner, python, dict(request, offline=offline))

    def read(self) -> Snapshot:
        owner = self.options.owner
        # The probe's answer serves the first read of a run; any later read (a restore) asks again.
        answer, self.seen = (self.seen, None) if self.seen else (self._helper(read_request(self.options)), None)
        if "zone" not in answer:
            raise BackendError(
                "firewalld: the daemon is not running and firewall-offline-cmd is not installed, so neither the"
                " runtime nor the permanent configuration can be changed"
            )
        layers: Dict[str, Layer] = {}
        defined: Dict[str, FrozenSet[str]] = {}
        referenced: Set[str] = set(answer["referenced"])
        for layer, parts in answer["layers"].items():
            layers[layer], foreign = owned_layer(owner, parts)
            defined[layer] = frozenset(n for n in parts["defined"] if parse_service_name(owner, n))
            if layer == PERMANENT:
                referenced |= foreign
        present = set.intersection(*(layer.rules(owner) for layer in layers.values()))
        # The purpose is only in the definition's description: read back, a restore writes it unchanged.
        present = {replace(rule, purpose=self._purpose(rule)) for rule in present}
        view = View(answer["running"], answer["zone"], layers, defined, frozenset(referenced))
        warnings = () if self.options.persist else (PERSIST_IGNORED,)
        return Snapshot(tuple(sort_rules(present)), warnings=warnings, detail=view)

    def _purpose(self, rule: Rule) -> str:
        name = service_name(self.options.owner, rule)
        return purpose_of(self.options.owner, name, self.files.read(config_path("service", name)))

    def plan(self, snapshot: Snapshot, target: Target) -> Changeset:
        view: View = snapshot.detail
        owner = self.options.owner
        wanted, purposes = desired_layer(owner, target.rules if target.present else ())
        if wanted.policy and not policy_fits(owner):
            raise BackendError(policy_too_long(owner))
        names = {"zone": view.zone, "policy": owner}
        permanent = view.layers[PERMANENT]
        needed = wanted.service_names()
        change = Steps([], [], {})
        create = sorted(needed - view.defined[PERMANENT])
        for name in create:
            settings = service_settings(owner, name, purposes.get(name, ""))
            path = config_path("service", name)
            change.add("permanent: define service %s" % name, path, **define("service", name, settings))
        change.edit(PERMANENT, only(permanent, "inbound"), only(wanted, "inbound"), names)
        if wanted.policy and not permanent.policy:
            words = "permanent: define policy %s (HOST -> ANY)" % owner
            change.add(words, config_path("policy", owner), **define("policy", owner, policy_settings(owner)))
        change.edit(PERMANENT, only(permanent, "outbound"), only(wanted, "outbound"), names)
        for name in sorted(view.defined[PERMANENT] - needed - view.referenced):
            path = config_path("service", name)
            change.add("permanent: delete service %s" % name, path, False, **delete("service", name))
        if permanent.policy and not permanent.policy_foreign and not wanted.policy:
            path = config_path("policy", owner)
            change.add("permanent: delete policy %s" % owner, path, False, **delete("policy", owner))
        bulk = len(create) > BULK_DEFINITIONS
        if view.running:
            self._runtime(view, wanted, names, change, bulk)
        return Changeset(
            actions=tuple(change.words),
            persisted=tuple(path if kept else "%s (removed)" % path for path, kept in change.files.items()),
            warnings=snapshot.warnings,
            payload={"steps": change.steps, "files": bulk or not view.running} if change.steps else None,
        )

    @staticmethod
    def _runtime(view: View, wanted: Layer, names: Mapping[str, str], change: Steps, bulk: bool) -> None:
        runtime = view.layers[RUNTIME]
        # A definition the runtime does not know yet, or a policy it lacks, comes only with a reload;
        # so do many new permanent definitions, which are written as files (see BULK_DEFINITIONS).
        unknown = wanted.service_names() - view.defined[RUNTIME]
        reload = bulk or bool(unknown) or (wanted.policy and not runtime.policy)
        steps = Steps([], change.words, {})
        steps.edit(RUNTIME, runtime, wanted, names)
        if reload:
            change.add("runtime: reload firewalld to load new owned definitions", do="reload")
        elif sum(len(step[key]) for step in steps.steps for key in EDITS) > BULK_RUNTIME:
            change.steps.append({"do": "reload", "owner": names["policy"], "otherwise": steps.steps})
        else:
            change.steps.extend(steps.steps)

    def execute(self, changes: Changeset) -> Sequence[str]:
        if not changes.payload:
            return []
        request = dict(changes.payload, action="write")
        reloaded = request["steps"][-1]["do"] == "reload" and "otherwise" not in request["steps"][-1]
        if request["files"]:
            written = [s for s in request["steps"] if s["do"] == "define" and s["kind"] == "service"]
            try:
                for step in written:
                    self.files.write(config_path("service", step["name"]), service_xml(step["settings"]))
            except OSError as error:
                raise BackendError("firewalld: cannot write a service definition: %s" % error) from error
            request["steps"] = [s for s in request["steps"] if s not in written]
        if request["steps"]:
            self._helper(request)
        return [RELOADED] if reloaded else []


def read_request(options: BackendOptions) -> Dict[str, Any]:
    """The helper's read request for a run with ``options`` (without ``offline``)."""
    owner = options.owner
    return {"action": "read", "owner": owner, "zone": options.zone, "policy": owner if policy_fits(owner) else None}


def define(kind: str, name: str, settings: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    return {"do": "define", "kind": kind, "name": name, "settings": dict(settings or {})}


def delete(kind: str, name: str) -> Dict[str, Any]:
    return {"do": "delete", "kind": kind, "name": name}


def only(layer: Layer, direction: str) -> Layer:
    """The part of ``layer`` in one direction (the zone or the policy)."""
    services = {d: (names if d == direction else frozenset()) for d, names in layer.services.items()}
    rich = {key: text for key, text in layer.rich.items() if key[0] == direction}
    return Layer(services, rich, layer.policy, layer.policy_foreign)


__all__ = ["FirewalldBackend", "call_helper"]
