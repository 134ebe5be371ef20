# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot-time persistence of the netfilter backends, as FileChanges the engine writes.

nftables: an include file with the owned objects, loaded by a line in the main config.
iptables: the whole ruleset in iptables-save form where netfilter-persistent (Debian,
Ubuntu: /etc/iptables when that directory exists) or iptables-services (RHEL:
/etc/sysconfig/iptables when it exists) loads it at boot.
"""

from __future__ import annotations

import fnmatch
import shlex
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import FileChange, HostFiles
from ansible_collections.biostar.hardening.plugins.module_utils.backends.netfilter import State, Step
from ansible_collections.biostar.hardening.plugins.module_utils.backends.tags import parse_comment

INCLUDE_DIR = "/etc/nftables.d"
MAIN_CONFIGS = ("/etc/nftables.conf", "/etc/sysconfig/nftables.conf")
PERSISTENT_DIR = "/etc/iptables"
PERSISTENT_FILES = {"ipv4": "/etc/iptables/rules.v4", "ipv6": "/etc/iptables/rules.v6"}
SERVICES_FILES = {"ipv4": "/etc/sysconfig/iptables", "ipv6": "/etc/sysconfig/ip6tables"}
NOT_PERSISTED = "iptables rules are not persisted: neither %s nor %s exists (install netfilter-persistent)" % (
    PERSISTENT_DIR,
    SERVICES_FILES["ipv4"],
)


def marker(owner: str) -> str:
    return "# biostar.hardening: owned port rules (owner %s)" % owner


def include_path(owner: str) -> str:
    return "%s/%s.nft" % (INCLUDE_DIR, owner)


def read_nft(files: HostFiles, owner: str) -> Dict[str, Optional[str]]:
    """The texts persistence compares against: the include file and the main configs."""
    return {path: files.read(path) for path in (include_path(owner), *MAIN_CONFIGS)}


def _includes(line: str, path: str) -> bool:
    """Whether an nftables.conf line includes ``path``, also through a glob."""
    text = line.strip()
    if not text.startswith("include"):
        return False
    return fnmatch.fnmatchcase(path, text[len("include") :].strip().strip('"'))


def nft_changes(
    texts: Mapping[str, Optional[str]], owner: str, wanted: Optional[str]
) -> Tuple[List[FileChange], List[str]]:
    """The include file with ``wanted`` (None: no owned objects) and the main config's include line."""
    path = include_path(owner)
    changes = [FileChange(path, wanted, texts.get(path))] if wanted != texts.get(path) else []
    main = next(((p, texts[p]) for p in MAIN_CONFIGS if texts.get(p) is not None), None)
    if main is None:
        if wanted is None:
            return changes, []
        return changes, ["no %s found: nothing loads %s at boot" % (" or ".join(MAIN_CONFIGS), path)]
    config, text = main[0], main[1] or ""
    lines = text.splitlines()
    line = 'include "%s"' % path
    if wanted is not None and not any(_includes(each, path) for each in lines):
        new = text + ("" if text.endswith("\n") or not text else "\n")
        changes.append(FileChange(config, new + "%s\n%s\n" % (marker(owner), line), text))
    elif wanted is None and line in (each.strip() for each in lines):
        kept = [each for each in lines if each.strip() not in (line, marker(owner))]
        changes.append(FileChange(config, "\n".join(kept) + "\n", text))
    return changes, []


def nft_include(
    owner: str, table: str, state: State, chains: Mapping[Any, Any], lines: Callable[[Step], List[str]]
) -> str:
    """The include file: the owned table (``table``) and chains, and the host chains they hang in.

    ``chains``: the host's base chains by key (for type, hook and priority); ``lines``: the
    dialect's rendering of one step.
    """
    out = [
        "#!/usr/sbin/nft -f",
        "# Written by biostar.hardening for owner %s; the next run rewrites it." % owner,
        "# Recreates the owned chains and the jumps into them after the host's own ruleset.",
    ]
    for family in state.families():
        # add + delete + add: reloading twice never doubles the owned table.
        out.extend("%s table %s %s" % (verb, family, table) for verb in ("add", "delete", "add"))
        bases = sorted((hook, policy) for (f, hook), policy in state.bases.items() if f == family)
        out.extend(lines(Step("base", (family, table, hook), policy))[0] for hook, policy in bases)
    for key in dict.fromkeys(jump[:3] for jump in state.jumps if jump[1] != table):
        out.append("add table %s %s" % key[:2])
        chain, policy = chains.get(key), state.policies.get(key)
        if policy and chain is not None:
            out.append(
                "add chain %s %s %s { type %s hook %s priority %d ; policy %s ; }"
                % (*key, chain.type, chain.hook, chain.prio, policy)
            )
        else:
            # Never fails: a missing chain becomes a harmless regular chain.
            out.append("add chain %s %s %s" % key)
    for key, content in sorted(state.chains.items()):
        out.extend(lines(Step("fill", key, content)))
    out.extend(lines(Step("jump", jump))[0] for jump in state.jumps)
    return "\n".join(out) + "\n"


def iptables_layout(files: HostFiles, families: Sequence[str]) -> Dict[str, str]:
    """family -> the file that loads it at boot; empty when neither layout is there."""
    if files.isdir(PERSISTENT_DIR):
        return {f: p for f, p in PERSISTENT_FILES.items() if f in families}
    return {f: p for f, p in SERVICES_FILES.items() if f in families and files.read(p) is not None}


def splice(
    dump: str,
    owner: str,
    names: Sequence[str],
    chains: Mapping[str, List[str]],
    jumps: Mapping[str, List[str]],
    policies: Mapping[str, str],
) -> str:
    """``dump`` (iptables-save output) with its owned part replaced, in iptables-save's order.

    ``names``: every owned chain name; ``chains``: owned chain -> its '-A' lines;
    ``jumps``: built-in chain -> the jump lines at its top; ``policies``: built-in chain -> policy.
    """
    out: List[str] = []
    declared: List[List[str]] = []
    rules: Dict[str, List[str]] = {}
    inside = False
    for raw in dump.splitlines():
        line = raw.strip()
        if line == "*filter":
            inside = True
        elif inside and line == "COMMIT":
            inside = False
            out.extend(_section(declared, rules, chains, jumps))
            continue
        elif inside and line.startswith(":"):
            words = line[1:].split()
            if words[0] not in names:
                declared.append(words if words[0] not in policies else [words[0], policies[words[0]], *words[2:]])
            continue
        elif inside and line.startswith("-A "):
            try:
                tokens = shlex.split(line)
            except ValueError:
                tokens = line.split()
            comment = tokens[tokens.index("--comment") + 1] if "--comment" in tokens[:-1] else None
            if tokens[1] not in names and parse_comment(owner, comment) is None:
                rules.setdefault(tokens[1], []).append(line)
            continue
        out.append(raw)
    return "\n".join(out) + "\n"


def _section(
    declared: List[List[str]],
    rules: Dict[str, List[str]],
    chains: Mapping[str, List[str]],
    jumps: Mapping[str, List[str]],
) -> List[str]:
    names = [words[0] for words in declared]
    added = [name for name in chains if name not in names]
    lines = [":" + " ".join(words) for words in declared] + [":%s - [0:0]" % name for name in added]
    for name in names + added:
        lines.extend(list(jumps.get(name, [])) + rules.get(name, []) + list(chains.get(name, [])))
    return [*lines, "COMMIT"]
