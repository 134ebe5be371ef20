"""Part 2 of the reliability suite: a fault at every write step on every Linux backend.

    flock /tmp/biostar-containers.lock python tests/reliability/faults.py [--backends nftables,iptables,ufw]

Also run by ``tests/reliability/run.py --parts faults``. Real firewalls in real containers
(started and seeded with tests/site_kit), real faults, no mocks:

- a command fails: the module finds its tools with ``get_bin_path(name, opt_dirs=["/usr/sbin",
  "/sbin"])``, so /usr/sbin comes before anything on PATH. The tool itself is moved to
  /usr/lib/biostar-fault/ and a wrapper takes its place in /usr/sbin. Armed, the wrapper adds
  one line the firewall refuses (a rule into a chain that does not exist) to the transaction
  and hands it to the real tool: the kernel rejects the whole transaction, and the error is
  the firewall's own. Unarmed, or after firing once, it only execs the real tool.
- the module is killed: the armed wrapper sends SIGKILL to its parent (the module process),
  before or after running the real command.
- persistence cannot be written: a full tmpfs over the persistence directory, or a read-only
  bind mount (mounted with ``podman exec --privileged``; the module itself runs without it).
- firewalld runs on two hosts (image biostar-hardening-firewalld, booted with systemd): one with
  the daemon running (the D-Bus path) and one with it stopped (the offline code path; packets are
  checked by starting firewalld from what was persisted, then stopping it again). The backend
  starts its helper as ``python3 -I -`` and finds python3 like its tools, so a wrapper at
  /usr/sbin/python3 sees each request (Ansible itself runs /usr/bin/python3). Armed, on the
  helper's "write" it: changes one step so that firewalld refuses it in its own words (a port of
  65536 in the first new definition; an unknown service in the last step before the reload, after
  the others were made); runs ``systemctl stop firewalld`` before handing over; appends a hook that
  stops the daemon right after the helper's first permanent zone update over D-Bus returns (the
  next call finds no daemon); or kills the module before or after the helper. The host's
  administrator starts firewalld again before the judgement. Persistence: /etc/firewalld/zones
  read-only, /etc/firewalld/services a full tmpfs. firewalld's own ``*.old`` backups are left out
  of the file comparison. Offline the module writes new service files itself before the helper
  edits the zone, so a kill there leaves those owned files unused (allowed, and named in the row);
  the zone, and what firewalld loads from it, stay the previous ones.

After each fault: the previous owned ruleset is in place (packets from a peer container and
the whole ruleset compared as text), the host's own rules and files are byte-identical, the
error names the step and carries the firewall's words, and the next normal run converges
and the one after it changes nothing. A kill after a committed command cannot leave the
previous rules; there each family must hold exactly the previous or exactly the new set.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # part, site_kit

import part  # noqa: E402
from site_kit import podman, traffic  # noqa: E402

PREFIX = "biostar-flt-"
# firewalld runs twice: "firewalld" with the daemon running (the D-Bus path) and
# "firewalld-offline" with it stopped (the offline code path); --backends firewalld means both.
BACKENDS = ("nftables", "iptables", "ufw", "firewalld")
FIREWALLD_KEYS = ("firewalld", "firewalld-offline")
SHORT = {"firewalld": "fwd", "firewalld-offline": "fwo"}
FAULT_DIR = "/run/biostar-fault"
REAL_DIR = "/usr/lib/biostar-fault"
PREV = [{"protocol": "tcp", "port": 1480, "purpose": "prev"}, {"protocol": "udp", "port": 51110}]
NEW = [{"protocol": "tcp", "port": 1490, "purpose": "new"}, {"protocol": "udp", "port": 51120}]
OWNED_PORTS = ("1480", "1490", "51110", "51120")
OWNED_SERVICE = re.compile(r"\bbiostar-hardening-\S+")
CHECKS = ("tcp/1480", "tcp/1490", "tcp/2222", "udp/51110", "udp/51120")
EXPECT = {
    "prev": {"tcp/1480": "open", "tcp/1490": "timeout", "tcp/2222": "open", "udp/51110": "arrived",
             "udp/51120": "silent"},
    "new": {"tcp/1480": "timeout", "tcp/1490": "open", "tcp/2222": "open", "udp/51110": "silent",
            "udp/51120": "arrived"},
}  # fmt: skip

# The wrapper that takes a tool's place in /usr/sbin. /run/biostar-fault/TOOL.arm holds
# "PATTERN SKIP ACTION": the (SKIP+1)th call whose arguments include PATTERN fires ACTION once.
WRAPPER = r"""#!/bin/sh
# Fault wrapper (tests/reliability/faults.py): the real tool is @REAL@.
real=@REAL@
arm=@DIR@/@TOOL@.arm
if [ -f "$arm" ]; then
  read -r pattern skip action <"$arm"
  case " $* " in
    *" $pattern "*)
      if [ "$skip" -gt 0 ]; then
        echo "$pattern $((skip - 1)) $action" >"$arm"
      else
        rm -f "$arm"
        echo "@TOOL@ $action: $*" >>@DIR@/fired
        case "$action" in
          corrupt)
            # One rule into a chain that does not exist, before the last COMMIT (iptables-restore)
            # or at the end (nft): the firewall refuses the whole transaction in its own words.
            awk -v bad="$(cat @DIR@/@TOOL@.bad)" '
              { lines[NR] = $0 } $0 == "COMMIT" { last = NR }
              END { for (i = 1; i <= NR; i++) { if (i == last) print bad; print lines[i] } if (!last) print bad }
            ' | "$real" "$@"
            exit $? ;;
          kill-before) kill -9 "$PPID"; exit 137 ;;
          kill-after) "$real" "$@"; rc=$?; kill -9 "$PPID"; exit $rc ;;
          stop-firewalld) systemctl stop firewalld; exec "$real" "$@" ;;
        esac
      fi ;;
  esac
fi
exec "$real" "$@"
"""
BAD_LINE = {
    "nft": "add rule inet biostar_fault_absent input accept",
    "iptables-restore": "-A BIOSTAR-FAULT-ABSENT -j ACCEPT",
    "ip6tables-restore": "-A BIOSTAR-FAULT-ABSENT -j ACCEPT",
}
# The firewall's own words for a refused transaction (nft, iptables-nft-restore).
REFUSED = {
    "nft": r"Error: .*(No such file or directory|does not exist)",
    "iptables-restore": r"iptables-restore: line \d+ failed",
    "ip6tables-restore": r"ip6tables-restore: line \d+ failed",
}

# The wrapper that takes python3's place in /usr/sbin on a firewalld host (the backend finds
# python3 like its other tools, /usr/sbin first; Ansible runs the module with /usr/bin/python3).
# /run/biostar-fault/python3.arm holds "ACTION SKIP": the (SKIP+1)th helper "write" fires it.
PYTHON_WRAPPER = r'''#!/usr/bin/python3
# Fault wrapper (tests/reliability/faults.py) in front of python3 on a firewalld host. The
# firewalld backend starts its helper as "python3 -I -": the helper's source on stdin, one
# main('<request>') line last. Anything else, or nothing armed: exec the real interpreter.
import ast
import json
import os
import subprocess
import sys

REAL = "/usr/bin/python3"
DIR = "@DIR@"
ARM = DIR + "/python3.arm"
# Stops the daemon right after the first D-Bus call of one name returns; the calls
# themselves are untouched, so the next one finds no firewalld.
HOOK = """
import subprocess as _fault_subprocess
import dbus.proxies as _fault_proxies
_fault_call = _fault_proxies._ProxyMethod.__call__
def _fault_stop_after(self, *args, **kwargs):
    answer = _fault_call(self, *args, **kwargs)
    if self._method_name == "@METHOD@" and not getattr(_fault_proxies, "_fault_done", False):
        _fault_proxies._fault_done = True
        _fault_subprocess.run(["systemctl", "stop", "firewalld"], check=False)
    return answer
_fault_proxies._ProxyMethod.__call__ = _fault_stop_after
"""
args = sys.argv[1:]
if args != ["-I", "-"] or not os.path.exists(ARM):
    os.execv(REAL, [REAL] + args)
source = sys.stdin.read()
body, _, call = source.rstrip("\n").rpartition("\n")
request = json.loads(ast.literal_eval(call[len("main(") : -1]))
with open(ARM, encoding="utf-8") as handle:
    action, skip = handle.read().split()
fire = None
if request.get("action") == "write" and int(skip) > 0:
    with open(ARM, "w", encoding="utf-8") as handle:
        handle.write("%s %d\n" % (action, int(skip) - 1))
elif request.get("action") == "write":
    fire = action
    os.remove(ARM)
    steps = request["steps"]
    with open(DIR + "/fired", "a", encoding="utf-8") as handle:
        handle.write("python3 %s: %s\n" % (action, " ".join(step["do"] for step in steps)))
    if action.startswith("refuse-"):
        # One change firewalld refuses in its own words: a port out of range in a new
        # definition, an unknown service in a zone edit or in a deletion.
        index = 0 if action == "refuse-first" else max(i for i, s in enumerate(steps) if s["do"] != "reload")
        step = steps[index]
        if step["do"] == "define":
            step["settings"]["ports"] = [["65536", "tcp"]]
        elif step["do"] == "edit":
            step["add"] = list(step.get("add", [])) + ["biostar-fault-absent"]
        else:
            step["name"] = "biostar-fault-absent"
    elif action == "stop-before":
        subprocess.run(["systemctl", "stop", "firewalld"], check=False)
    elif action.startswith("stop-after-"):
        body += HOOK.replace("@METHOD@", action[len("stop-after-") :])
    elif action == "kill-before":
        os.kill(os.getppid(), 9)
        sys.exit(137)
    call = "main(%r)" % json.dumps(request, sort_keys=True)
proc = subprocess.run([REAL, "-I", "-"], input=body + "\n" + call + "\n", text=True, capture_output=True, check=False)
sys.stdout.write(proc.stdout)
sys.stderr.write(proc.stderr)
sys.stdout.flush()
if fire == "kill-after":
    os.kill(os.getppid(), 9)
sys.exit(proc.returncode)
'''
KILLED = "MODULE FAILURE|killed|Killed|-9|137"


@dataclass(frozen=True)
class Fault:
    """One fault: what it breaks, how, and what must come out."""

    backend: str
    name: str
    arm: Callable[[podman.Container], None]
    clear: Callable[[podman.Container], None]
    step: Optional[str]  # the step the error must name; None when the module is killed
    words: str  # a regex the error (msg or stderr) must match
    committed: bool = False  # a kill after a committed command: previous or new per family
    settle: Optional[Callable[[podman.Container], None]] = None  # run before judging (firewalld restarted)
    leftover: Tuple[str, ...] = ()  # new owned files the fault may leave unused (the next run takes them over)


def arm_tool(tool: str, pattern: str, action: str, skip: int = 0) -> Callable[[podman.Container], None]:
    def arm(c: podman.Container) -> None:
        c.sh("printf '%%s\\n' '%s' >%s/%s.bad; echo '%s %d %s' >%s/%s.arm" % (
            BAD_LINE.get(tool, ""), FAULT_DIR, tool, pattern, skip, action, FAULT_DIR, tool))  # fmt: skip

    return arm


def disarm(c: podman.Container) -> None:
    c.sh("rm -f %s/*.arm" % FAULT_DIR)


def privileged(c: podman.Container, script: str) -> None:
    """Mounts need CAP_SYS_ADMIN: only this exec gets it, never the module."""
    podman.podman("exec", "--privileged", c.name, "/bin/sh", "-ec", script)


def full_tmpfs(directory: str) -> Callable[[podman.Container], None]:
    """A small tmpfs over ``directory`` with its files copied in, then filled to the last byte."""

    def arm(c: podman.Container) -> None:
        privileged(c, "d=%s; rm -rf /tmp/flt-copy; mkdir -p $d; cp -a $d /tmp/flt-copy;"
                      " mount -t tmpfs -o size=64k,mode=0755 biostar-fault $d; cp -a /tmp/flt-copy/. $d/;"
                      " dd if=/dev/zero of=$d/.biostar-fault-fill bs=1k 2>/dev/null || true;"
                      " dd if=/dev/zero of=$d/.biostar-fault-fill2 bs=1 2>/dev/null || true" % directory)  # fmt: skip

    return arm


def read_only(path: str) -> Callable[[podman.Container], None]:
    def arm(c: podman.Container) -> None:
        privileged(c, "mount --bind %s %s; mount -o remount,bind,ro %s" % (path, path, path))

    return arm


def unmount(path: str) -> Callable[[podman.Container], None]:
    def clear(c: podman.Container) -> None:
        privileged(c, "umount %s" % path)
        disarm(c)

    return clear


def arm_python(action: str, skip: int = 0) -> Callable[[podman.Container], None]:
    def arm(c: podman.Container) -> None:
        c.sh("echo '%s %d' >%s/python3.arm" % (action, skip, FAULT_DIR))

    return arm


def firewalld_start(c: podman.Container) -> None:
    """Start firewalld (as its administrator would after it stopped) and wait until it runs, bounded."""
    c.sh(
        "systemctl start firewalld; i=0; until firewall-cmd --state >/dev/null 2>&1; do i=$((i + 1));"
        " [ $i -le 60 ] || { echo 'firewalld not running after 30 s' >&2; exit 1; }; sleep 0.5; done",
        timeout=90,
    )


def started_again(c: podman.Container) -> None:
    disarm(c)
    firewalld_start(c)


def firewalld_faults(key: str) -> List[Fault]:
    """firewalld, daemon running (the D-Bus path) or stopped (the offline code path)."""
    zones, services = "/etc/firewalld/zones", "/etc/firewalld/services"
    persistence = [
        Fault(key, "persistence: %s read-only" % zones, read_only(zones), unmount(zones), "execute",
              "Read-only file system"),
        Fault(key, "persistence: %s is a full tmpfs" % services, full_tmpfs(services), unmount(services),
              "execute", "No space left on device"),
    ]  # fmt: skip
    kill_after = Fault(key, "module killed after the write", arm_python("kill-after"), disarm, None, KILLED,
                       committed=True)  # fmt: skip
    if key == "firewalld-offline":
        # Offline, the module writes the new service files itself, then starts the helper for the zone:
        # killed there, the files stay, owned and unused; the zone and what firewalld loads are the previous.
        new_files = tuple("%s/biostar-hardening-%s%s.xml" % (services, r["protocol"], r["port"]) for r in NEW)
        return [
            *persistence,
            Fault(key, "module killed after writing the new definitions, before the zone edit",
                  arm_python("kill-before"), disarm, None, KILLED, leftover=new_files),
            kill_after,
        ]  # fmt: skip
    kills = [Fault(key, "module killed before the write", arm_python("kill-before"), disarm, None, KILLED), kill_after]
    return [
        Fault(key, "firewalld refuses the first change", arm_python("refuse-first"), disarm, "execute",
              "INVALID_PORT"),
        Fault(key, "firewalld refuses a change after others were made", arm_python("refuse-last"), disarm,
              "execute", "INVALID_SERVICE"),
        Fault(key, "firewalld stops between plan and write", arm_python("stop-before"), started_again,
              "execute", "firewalld stopped", settle=firewalld_start),
        Fault(key, "firewalld stops during the write (after the permanent zone edit)",
              arm_python("stop-after-update2"), started_again, "execute",
              "firewalld stopped during the change", settle=firewalld_start),
        *persistence,
        *kills,
    ]  # fmt: skip


def faults_for(backend: str) -> List[Fault]:
    if backend in FIREWALLD_KEYS:
        return firewalld_faults(backend)
    corrupt = "corrupt"
    found: List[Fault] = []
    if backend == "nftables":
        found += [
            Fault(backend, "apply command (nft -f) fails", arm_tool("nft", "-f", corrupt), disarm, "execute",
                  REFUSED["nft"]),
            Fault(backend, "persistence: /etc/nftables.d is a full tmpfs", full_tmpfs("/etc/nftables.d"),
                  unmount("/etc/nftables.d"), "persist", r"No space left on device: '/etc/nftables\.d/[^'.]"),
            Fault(backend, "module killed before the apply", arm_tool("nft", "-f", "kill-before"), disarm, None,
                  KILLED),
            Fault(backend, "module killed after the apply, before persistence", arm_tool("nft", "-f", "kill-after"),
                  disarm, None, "MODULE FAILURE|killed|Killed|-9|137", committed=True),
        ]  # fmt: skip
    elif backend in ("iptables", "ufw"):
        flag = "--noflush" if backend == "iptables" else "-n"
        found += [
            Fault(backend, "apply command (iptables-restore %s, IPv4) fails" % flag,
                  arm_tool("iptables-restore", flag, corrupt), disarm, "execute", REFUSED["iptables-restore"]),
            Fault(backend, "IPv6 apply (ip6tables-restore) fails after IPv4 succeeded",
                  arm_tool("ip6tables-restore", flag, corrupt), disarm, "execute", REFUSED["ip6tables-restore"]),
            Fault(backend, "module killed before the apply", arm_tool("iptables-restore", flag, "kill-before"),
                  disarm, None, "MODULE FAILURE|killed|Killed|-9|137"),
            Fault(backend, "module killed after IPv4 was applied, before IPv6",
                  arm_tool("iptables-restore", flag, "kill-after"), disarm, None,
                  KILLED, committed=True),
        ]  # fmt: skip
        if backend == "iptables":
            found += [
                Fault(backend, "persistence: /etc/iptables is a full tmpfs", full_tmpfs("/etc/iptables"),
                      unmount("/etc/iptables"), "persist", r"No space left on device: '/etc/iptables/rules\.v[46]'"),
                Fault(backend, "persistence: rules.v6 read-only after rules.v4 was written",
                      read_only("/etc/iptables/rules.v6"), unmount("/etc/iptables/rules.v6"), "persist",
                      r"(Device or resource busy|Read-only file system): '/etc/iptables/rules\.v6'"),
            ]  # fmt: skip
        else:
            found += [
                Fault(backend, "ufw rule files read-only (/etc/ufw)", read_only("/etc/ufw"), unmount("/etc/ufw"),
                      "persist", r"Read-only file system: '/etc/ufw/user6?\.rules'"),
            ]  # fmt: skip
    return found


# ---------------------------------------------------------------------------------------
# What the host has
# ---------------------------------------------------------------------------------------
def ruleset(c: podman.Container, backend: str) -> Dict[str, str]:
    """The whole ruleset per part (nftables: one; iptables, ufw: IPv4 and IPv6), counters removed.

    firewalld: its runtime and permanent view of every zone and policy and the kernel's nftables
    ruleset (lines sorted: a restored service may come back in another place); offline, the
    permanent view through firewall-offline-cmd.
    """
    if backend == "firewalld-offline":
        text = c.sh("firewall-offline-cmd --list-all-zones; firewall-offline-cmd --list-all-policies").stdout
        return {"permanent": sorted_words(text)}
    if backend == "firewalld":
        listing = "firewall-cmd %s--list-all-zones; firewall-cmd %s--list-all-policies; echo '@@'"
        text = c.sh(listing % ("", "") + ";" + listing % (("--permanent ",) * 2) + "; nft list ruleset").stdout
        runtime, permanent, nft = text.split("@@\n")
        return {"runtime": sorted_words(runtime), "permanent": sorted_words(permanent), "nft": sorted_lines(nft)}
    if backend == "nftables":
        return {"nft": c.sh("nft list ruleset").stdout}
    parts = {}
    for family, save in (("ipv4", "iptables-save"), ("ipv6", "ip6tables-save")):
        text = c.sh(save).stdout
        parts[family] = "\n".join(
            re.sub(r"\[\d+:\d+\]", "[0:0]", line) for line in text.splitlines() if not line.startswith("#")
        )
    return parts


def files(c: podman.Container) -> Dict[str, str]:
    """sha256 of every persisted firewall file (fault fillers and firewalld's *.old backups left out)."""
    out = c.sh(
        "find /etc/nftables.conf /etc/nftables.d /etc/iptables /etc/ufw /etc/firewalld -type f"
        " ! -name '.biostar-fault-fill*' ! -name '*.old' 2>/dev/null | sort | xargs -r sha256sum; true"
    ).stdout
    return {path: digest for digest, path in (line.split() for line in out.splitlines())}


def foreign(parts: Dict[str, str]) -> str:
    """The host's own rules: every line that is not an owned rule, chain or jump of this test."""
    lines = []
    for key, text in sorted(parts.items()):
        for line in text.splitlines():
            line = OWNED_SERVICE.sub("", line)  # firewalld: a zone's services share one line
            if "biostar" in line.lower() or any(re.search(r"\b%s\b" % p, line) for p in OWNED_PORTS):
                continue
            lines.append("%s: %s" % (key, line))
    return "\n".join(lines)


def sorted_words(text: str) -> str:
    """firewalld's listing with each "key: a b c" line's words sorted (the order carries no meaning)."""
    out = []
    for line in text.splitlines():
        key, colon, words = line.partition(":")
        out.append("%s%s %s" % (key, colon, " ".join(sorted(words.split()))) if colon else line)
    return "\n".join(out)


def sorted_lines(text: str) -> str:
    return "\n".join(sorted(text.splitlines()))


def which_state(parts: Dict[str, str], prev: Dict[str, str], new: Dict[str, str]) -> Dict[str, str]:
    return {k: "prev" if v == prev.get(k) else "new" if v == new.get(k) else "neither" for k, v in parts.items()}


# ---------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------
class Site(part.Site):
    """A host per backend key (firewalld twice: running and offline) and a peer that probes them."""

    def __init__(self, workdir: str):
        super().__init__(workdir, "faults", ("rules", "backend"))
        self.peer = podman.Container(PREFIX + "peer")

    def boot(self, keys: Sequence[str]) -> None:
        self.start(self.peer.name)
        for key in keys:
            c = self.start_host(key, PREFIX + SHORT.get(key, key[:3]), key.split("-")[0], foreign_rule=True,
                                offline=key == "firewalld-offline")  # fmt: skip
            traffic.start_listener(c, tcp=[1480, 1490, 2222], udp=[51110, 51120], lifetime=1800)
            install_wrappers(c, key)

    def converge_rules(self, rules: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Dict[str, Any]]:
        """One playbook run, the backends in parallel; backend key -> the module's result."""
        return self.converge({key: {"rules": r, "backend": key.split("-")[0]} for key, r in rules.items()})


def install_wrappers(c: podman.Container, backend: str) -> None:
    """Put a fault wrapper in place of each write tool in /usr/sbin (the first place the module looks)."""
    script = ["mkdir -p %s %s" % (REAL_DIR, FAULT_DIR)]
    if backend in FIREWALLD_KEYS:
        body = PYTHON_WRAPPER.replace("@DIR@", FAULT_DIR)
        c.sh("%s; cat >/usr/sbin/python3 <<'FLT_EOF'\n%sFLT_EOF\nchmod 0755 /usr/sbin/python3" % (script[0], body))
        return
    for tool in ("nft", "iptables-restore", "ip6tables-restore"):
        body = WRAPPER.replace("@REAL@", "%s/%s" % (REAL_DIR, tool)).replace("@DIR@", FAULT_DIR)
        body = body.replace("@TOOL@", tool)
        script.append(
            "[ -e %(real)s/%(tool)s ] || mv /usr/sbin/%(tool)s %(real)s/%(tool)s;"
            " cat >/usr/sbin/%(tool)s <<'FLT_EOF'\n%(body)sFLT_EOF\nchmod 0755 /usr/sbin/%(tool)s"
            % {"real": REAL_DIR, "tool": tool, "body": body}
        )
    c.sh("\n".join(script))


def fired(c: podman.Container) -> List[str]:
    out = c.sh("cat %s/fired 2>/dev/null; rm -f %s/fired; true" % (FAULT_DIR, FAULT_DIR)).stdout
    return out.splitlines()


def probe_state(
    peer: podman.Container, c: podman.Container, expected: str, backend: str = ""
) -> Tuple[bool, Dict[str, str]]:
    """Packets from the peer. firewalld offline: started for the probes (it loads what was
    persisted, as at boot), then stopped again."""
    want = EXPECT[expected]
    arrived = [k for k, v in want.items() if v == "arrived"]
    offline = backend == "firewalld-offline"
    if offline:
        firewalld_start(c)
    try:
        got = traffic.probe(peer, c, CHECKS, expected=arrived)
    finally:
        if offline:
            c.sh("systemctl stop firewalld")
    return all(got.get(k) == v for k, v in want.items()), got


def error_text(result: Dict[str, Any]) -> str:
    return "%s\n%s\n%s" % (result.get("msg", ""), result.get("stderr", ""), result.get("module_stderr", ""))


def judge_fault(
    fault: Fault, result: Dict[str, Any], ctx: Dict[str, Any], c: podman.Container, peer: podman.Container
) -> List[str]:
    """Everything that must hold right after the fault; the problems found."""
    problems = []
    if fault.settle:
        fault.settle(c)
    shots = fired(c)
    if fault.clear in (disarm, started_again) and not shots:  # a wrapper fault leaves a record when it fires
        problems.append("the fault never fired")
    if not result.get("failed"):
        problems.append("the run did not fail")
    text = error_text(result)
    if fault.step is not None:
        if result.get("step") != fault.step:
            problems.append("step %r, expected %r" % (result.get("step"), fault.step))
        if not re.search(fault.words, text):
            problems.append("the error lacks the firewall's words /%s/: %s" % (fault.words, text.strip()[:300]))
        in_place = sorted((r["protocol"], r["port"]) for r in result.get("rules", []))
        if in_place != sorted((r["protocol"], r["port"]) for r in PREV):
            problems.append("result rules %s, expected the previous set" % in_place)
    elif not re.search(fault.words, text):
        problems.append("the killed run did not fail as killed: %s" % text.strip()[:200])
    parts = ruleset(c, fault.backend)
    if foreign(parts) != ctx["foreign"]:
        problems.append("the host's own rules changed")
    ctx["parts"] = parts
    if not fault.committed:
        if parts != ctx["prev"]:
            problems.append("the ruleset is not the previous one: %s" % which_state(parts, ctx["prev"], {}))
        now = files(c)
        left = ctx["left"] = [k for k in fault.leftover if k in now and k not in ctx["files"]]
        now = {k: v for k, v in now.items() if k not in left}
        if now != ctx["files"]:
            changed = sorted(k for k in set(now) | set(ctx["files"]) if now.get(k) != ctx["files"].get(k))
            problems.append("persisted files changed: %s" % changed)
        if fault.leftover and not left:
            problems.append("the fault left none of %s: it did not hit between the files and the zone" % (
                fault.leftover,))  # fmt: skip
        ok, got = probe_state(peer, c, "prev", fault.backend)
        if not ok:
            problems.append("packets do not match the previous rules: %s" % got)
    return problems


def part_faults(backends: Sequence[str], row: part.Row, workdir: str) -> Tuple[int, int]:
    """Run every fault on every backend; report rows through ``row``; (survived, total)."""
    backends = [k for b in backends for k in (FIREWALLD_KEYS if b == "firewalld" else (b,))]
    site = Site(workdir)
    survived = total = 0
    try:
        site.boot(backends)
        prev = {b: PREV for b in backends}
        seeded = site.converge_rules(prev)
        bad = {b: r.get("msg") for b, r in seeded.items() if r.get("failed")}
        if bad:
            raise RuntimeError("the first converge failed: %s" % bad)
        plans = {b: faults_for(b) for b in backends}
        for index in range(max(len(p) for p in plans.values())):
            now = {b: p[index] for b, p in plans.items() if index < len(p)}
            ctx = {}
            for b, fault in now.items():
                c = site.hosts[b]
                parts = ruleset(c, b)
                ctx[b] = {"prev": parts, "foreign": foreign(parts), "files": files(c)}
                fired(c)
                fault.arm(c)
            results = site.converge_rules({b: NEW for b in now})
            problems = {b: judge_fault(f, results[b], ctx[b], site.hosts[b], site.peer) for b, f in now.items()}
            for b, fault in now.items():
                fault.clear(site.hosts[b])
            recovered = site.converge_rules({b: NEW for b in now})
            again = site.converge_rules({b: NEW for b in now})
            for b, fault in now.items():
                c = site.hosts[b]
                r, a = recovered[b], again[b]
                if r.get("failed"):
                    problems[b].append("the next run failed: %s" % r.get("msg"))
                if a.get("failed") or a.get("changed"):
                    problems[b].append("the run after it was not a no-op: %s" % a.get("actions"))
                parts = ruleset(c, b)
                if fault.committed:
                    seen = which_state(ctx[b]["parts"], ctx[b]["prev"], parts)
                    if "neither" in seen.values():
                        problems[b].append("a family was left half changed after the kill: %s" % seen)
                if foreign(parts) != ctx[b]["foreign"]:
                    problems[b].append("the next run changed the host's own rules")
                ok, got = probe_state(site.peer, c, "new", b)
                if not ok:
                    problems[b].append("after the next run, packets do not match the new rules: %s" % got)
                total += 1
                survived += not problems[b]
                words = results[b].get("stderr") or str(results[b].get("msg", "")).split(" (step", maxsplit=1)[0]
                figure = "step %s: %s" % (results[b].get("step"), words[:70])
                if fault.step is None:
                    figure = "killed; left %s" % which_state(ctx[b].get("parts", {}), ctx[b]["prev"], parts)
                    if ctx[b].get("left"):
                        figure += " and %d unused new definition files" % len(ctx[b]["left"])
                row("%s: %s" % (b, fault.name), not problems[b], figure.replace("\n", " ").replace("|", "/"),
                    "; ".join(problems[b]))  # fmt: skip
            back = site.converge_rules({b: PREV for b in now})
            if any(r.get("failed") for r in back.values()):
                raise RuntimeError("resetting to the previous rules failed: %s" % back)
    finally:
        site.remove()
    return survived, total


def main(argv: Optional[Sequence[str]] = None) -> int:
    return part.standalone(__doc__, part_faults, BACKENDS, PREFIX, argv)


if __name__ == "__main__":
    sys.exit(main())
