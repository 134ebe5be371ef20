# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which firewall backend to use on a host, and the registry of backends by name.

With ``auto`` the first active one wins: firewalld running, ufw active, an nftables
ruleset with a base chain on hook input, iptables filtering input. When nothing filters,
the rules still go in (nftables if ``nft`` exists, else iptables) and the selection says
so, because opening ports on a host that blocks nothing changes nothing today.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Type

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    Backend,
    BackendError,
    BackendOptions,
    Detection,
    Runner,
    not_installed,
)

BackendClass = Type[Backend]
# The backends' classes, imported on first use: a run pays the import (and, inside the
# module's payload, the compilation) of the backends it looks at only, not of all four.
REGISTRY: Dict[str, BackendClass] = {}
MISSING: Dict[str, str] = {}


def _import(name: str) -> BackendClass:
    # Plain import statements (not importlib with a computed name): Ansible finds the
    # module_utils a module needs by reading its imports, so every backend still travels
    # in the payload.
    if name == "nftables":
        from ansible_collections.biostar.hardening.plugins.module_utils.backends.nftables import NftablesBackend

        return NftablesBackend
    if name == "iptables":
        from ansible_collections.biostar.hardening.plugins.module_utils.backends.iptables import IptablesBackend

        return IptablesBackend
    if name == "ufw":
        from ansible_collections.biostar.hardening.plugins.module_utils.backends.ufw import UfwBackend

        return UfwBackend
    from ansible_collections.biostar.hardening.plugins.module_utils.backends.firewalld import FirewalldBackend

    return FirewalldBackend


def backend_class(name: str) -> Optional[BackendClass]:
    """The class of backend ``name``, imported now if it was not yet; None when it cannot be."""
    if name not in REGISTRY and name not in MISSING and name in BACKENDS:
        try:
            REGISTRY[name] = _import(name)
        except ImportError as exc:  # pragma: no cover - only when the collection is incomplete
            MISSING[name] = str(exc)
    return REGISTRY.get(name)


BACKENDS = ("nftables", "iptables", "ufw", "firewalld")
AUTO_ORDER = ("firewalld", "ufw", "nftables", "iptables")
FALLBACK_ORDER = ("nftables", "iptables")


class DetectionError(Exception):
    """No usable backend; the message names what was detected."""


@dataclass(frozen=True)
class Selection:
    backend: BackendClass
    name: str
    filtering: bool
    detections: Tuple[Detection, ...]
    warnings: Tuple[str, ...] = ()
    seen: Any = None  # what the selected backend's probe read (Backend.probe)

    def build(self, runner: Runner, options: BackendOptions) -> Backend:
        """The selected backend for this run, given what its probe read for its first ``read``."""
        backend = self.backend(runner, options)
        backend.seen = self.seen
        return backend


def detect_one(runner: Runner, name: str) -> Detection:
    return _probe(runner, name, None)[0]


def _probe(runner: Runner, name: str, options: Optional[BackendOptions]) -> Tuple[Detection, Any]:
    uninstalled = not_installed(runner, name)
    if uninstalled:
        return uninstalled, None
    backend = backend_class(name)
    if backend is None:
        missing = "backend not available in this collection (%s)" % MISSING.get(name, "?")
        return Detection(name, False, False, missing), None
    try:
        return (backend.detect(runner), None) if options is None else backend.probe(runner, options)
    except BackendError as exc:
        return Detection(name, False, False, ("%s: %s" % (exc, exc.stderr) if exc.stderr else str(exc))), None


def describe(detections: Tuple[Detection, ...]) -> str:
    parts = []
    for found in detections:
        status = "active" if found.active else ("inactive" if found.available else "unusable")
        parts.append("%s: %s (%s)" % (found.name, status, found.detail))
    return "; ".join(parts)


def select_backend(runner: Runner, requested: str = "auto", options: Optional[BackendOptions] = None) -> Selection:
    """The backend to use. With ``options`` (the run's), backends probe for that run: the
    selection then carries what the chosen one read on the way (``seen``)."""
    if requested != "auto":
        if requested not in BACKENDS:
            raise DetectionError("backend: invalid value %r; valid values: auto, %s" % (requested, ", ".join(BACKENDS)))
        found, seen = _probe(runner, requested, options)
        if not found.available:
            others = tuple(detect_one(runner, name) for name in AUTO_ORDER if name != requested)
            raise DetectionError(
                "backend %s is not usable on this host: %s. Detected: %s" % (requested, found.detail, describe(others))
            )
        warnings: Tuple[str, ...] = ()
        if not found.active:
            warnings = ("backend %s does not filter traffic here (%s)" % (requested, found.detail),)
        return Selection(REGISTRY[requested], requested, found.active, (found,), warnings, seen)

    detections: List[Detection] = []
    for name in AUTO_ORDER:
        found, seen = _probe(runner, name, options)
        detections.append(found)
        if found.available and found.active:
            return Selection(REGISTRY[name], name, True, tuple(detections), (), seen)
    usable: Optional[Detection] = next(
        (d for name in FALLBACK_ORDER for d in detections if d.name == name and d.available), None
    )
    if usable is None:
        raise DetectionError("no usable firewall backend on this host. Detected: %s" % describe(tuple(detections)))
    warning = (
        "no firewall filters traffic on this host (detected: %s); the owned rules go into %s and only "
        "matter once something drops by default" % (describe(tuple(detections)), usable.name)
    )
    return Selection(REGISTRY[usable.name], usable.name, False, tuple(detections), (warning,))
