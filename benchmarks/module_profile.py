"""Where one firewall_ports run spends its time on the target, per backend.

For each backend (one container each, seeded as the benchmark seeds them) and each rule
count, this keeps the AnsiballZ payload of an ad-hoc call (``state: present``) and runs
it in the container, without Ansible in between:

- the payload: its size as sent (bytes of the AnsiballZ file) and the collection files
  in it;
- the Python imports: ``python3 -X importtime``, the total and the collection's share;
- a rerun that changes nothing, several samples: its wall time and every command the
  module starts, with its own wall time (``subprocess.Popen`` wrapped in the container);
- a converge from an empty owned set, for comparison.

It prints a Markdown report (``--output`` writes it to a file too). It starts containers:
run it under the container lock (see the README's developer section).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Sequence, Tuple

sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from site_kit import collection, firewall, podman

BACKENDS = ("nftables", "iptables", "ufw", "firewalld")
PREFIX = "biostar-profile-"
FIREWALLD_IMAGE = "localhost/biostar-hardening-firewalld:latest"
MODULE = "biostar.hardening.firewall_ports"
COLLECTION = "ansible_collections.biostar.hardening."

# Runs the payload in the container with subprocess.Popen wrapped: each command's
# arguments, start (seconds after the payload began) and wall time go to stderr as one
# JSON line after the marker, with the total.
TRACER = r"""
import json, runpy, subprocess, sys, time
began = time.monotonic()
log = []
init, handle = subprocess.Popen.__init__, subprocess.Popen._handle_exitstatus
def traced_init(self, args, *rest, **named):
    self._traced = [time.monotonic(), args]
    init(self, args, *rest, **named)
def traced_exit(self, *rest, **named):
    handle(self, *rest, **named)
    traced = getattr(self, "_traced", None)
    if traced is not None:
        self._traced = None
        words = [a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in traced[1]]
        log.append([traced[0] - began, time.monotonic() - traced[0], words])
subprocess.Popen.__init__, subprocess.Popen._handle_exitstatus = traced_init, traced_exit
sys.argv = [sys.argv[1]]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    sys.stderr.write("\n@@PROFILE@@" + json.dumps({"total": time.monotonic() - began, "commands": log}) + "\n")
"""
# The whole process, as the benchmark's payload rows time it.
TIMER = (
    "import subprocess,sys,time; b=time.monotonic(); "
    "p=subprocess.run([sys.executable, sys.argv[1]], stdout=subprocess.DEVNULL); "
    "print(time.monotonic()-b); sys.exit(p.returncode)"
)
# The payload's zip: how many files, how many bytes, and the collection's files.
CONTENTS = r"""
import base64, json, re, sys, zipfile, io
text = open(sys.argv[1]).read()
data = max(re.findall(r"'([A-Za-z0-9+/=]{1000,})'", text) + re.findall(r'"([A-Za-z0-9+/=]{1000,})"', text), key=len)
z = zipfile.ZipFile(io.BytesIO(base64.b64decode(data)))
names = [i.filename for i in z.infolist()]
print(json.dumps({"size": len(text), "zip": len(base64.b64decode(data)), "files": len(names),
                  "collection": sorted(n for n in names if n.startswith("ansible_collections/"))}))
"""


def rules(total: int) -> List[Dict[str, Any]]:
    return [{"protocol": "tcp", "port": 20000 + i, "purpose": "bench"} for i in range(total)]


class Host:
    def __init__(self, backend: str, workdir: str, env: Dict[str, str]):
        self.backend = backend
        self.name = PREFIX + backend
        self.container = podman.Container(self.name)
        self.workdir = workdir
        self.env = env
        self.inventory = os.path.join(workdir, "inventory-%s.json" % backend)

    def start(self) -> None:
        if self.backend == "firewalld":
            podman.start(self.name, image=FIREWALLD_IMAGE, command=(), systemd="always", extra=())
        else:
            podman.start(self.name)
        firewall.seed(self.container, self.backend)

    def write_inventory(self) -> None:
        host = {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"}
        with open(self.inventory, "w", encoding="utf-8") as handle:
            json.dump({"all": {"hosts": {self.name: host}}}, handle)

    def keep(self, module_args: Dict[str, Any], path: str) -> str:
        """One ad-hoc call with the payload kept; the payload ends up at ``path`` in the container."""
        self.container.sh("rm -rf /root/.ansible/tmp")
        env = dict(self.env, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_PIPELINING="False")
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.minimal"
        binary = os.path.join(os.path.dirname(sys.executable), "ansible")
        command = [binary, "-i", self.inventory, self.name, "-m", MODULE, "-a", json.dumps(module_args)]
        proc = subprocess.run(
            command, env=env, cwd=self.workdir, capture_output=True, text=True, timeout=600, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError("ad-hoc call failed: %s" % (proc.stdout + proc.stderr)[-1500:])
        self.container.sh(
            "mv \"$(find /root/.ansible/tmp -name 'AnsiballZ_firewall_ports.py' | head -n 1)\" %s"
            " && rm -rf /root/.ansible/tmp" % path
        )
        return path

    def python(self, code: str, *args: str) -> podman.Result:
        quoted = " ".join(shlex.quote(a) for a in args)
        return self.container.sh("python3 -c %s %s" % (shlex.quote(code), quoted), timeout=600)

    def traced(self, payload: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        out = self.python(TRACER, payload)
        result = json.loads(out.stdout[out.stdout.index("{") :])
        profile = json.loads(out.stderr.split("@@PROFILE@@")[-1])
        return result, profile

    def timed(self, payload: str) -> float:
        return float(self.python(TIMER, payload).stdout.strip().splitlines()[-1])

    def importtime(self, payload: str) -> Tuple[float, float, List[Tuple[float, str]]]:
        err = self.container.sh("python3 -X importtime %s >/dev/null" % payload, ok=False).stderr
        return parse_importtime(err)


def parse_importtime(text: str) -> Tuple[float, float, List[Tuple[float, str]]]:
    """From ``python3 -X importtime`` output: the total import time (top-level imports), the
    collection's share (its outermost modules with everything they import that was not
    loaded yet), and the slowest collection modules (cumulative), in seconds."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _own, cumulative, name = line[len("import time:") :].split("|")
        if cumulative.strip().isdigit():
            rows.append(((len(name) - len(name.lstrip())) // 2, int(cumulative) / 1e6, name.strip()))
    total = sum(seconds for depth, seconds, _name in rows if depth == 0)
    mine = 0.0
    own: List[Tuple[float, str]] = []
    stack: List[Tuple[int, bool]] = []  # ancestors, parents first: (depth, is the collection's)
    for depth, seconds, name in reversed(rows):  # importtime prints children before their parent
        while stack and stack[-1][0] >= depth:
            stack.pop()
        ours = name.startswith(COLLECTION)
        if ours:
            own.append((seconds, name[len(COLLECTION) :]))
            if not any(flag for _depth, flag in stack):
                mine += seconds
        stack.append((depth, ours))
    return total, mine, sorted(own, reverse=True)[:10]


def command_name(args: Sequence[str]) -> str:
    words = [os.path.basename(a) for a in args[:4]]
    if len(args) >= 3 and args[1:3] == ["-I", "-"]:
        return "python3 -I - (firewalld helper)"
    return " ".join(words)


def profile_host(host: Host, counts: Sequence[int], samples: int) -> List[str]:
    lines = ["", "## %s" % host.backend, ""]
    for count in counts:
        args = {"rules": rules(count), "backend": host.backend}
        add = host.keep(dict(args, state="present"), "/root/profile-present-%d.py" % count)
        remove = host.keep(dict(args, state="absent"), "/root/profile-absent-%d.py" % count)
        contents = json.loads(host.python(CONTENTS, add).stdout)
        host.python(TIMER, remove)
        converge = host.timed(add)
        walls, traces = [], []
        for _sample in range(samples):
            result, profile = host.traced(add)
            if result.get("changed") or result.get("failed"):
                raise RuntimeError("%s: the rerun changed something or failed: %s" % (host.backend, result))
            walls.append(host.timed(add))
            traces.append(profile)
        total, mine, slowest = host.importtime(add)
        lines.append("### %d rules" % count)
        lines.append("")
        lines.append(
            "- payload: %d bytes sent (zip %d bytes, %d files; %d collection files: %s)"
            % (
                contents["size"],
                contents["zip"],
                contents["files"],
                len(contents["collection"]),
                " ".join(n.rsplit("/", 1)[-1][:-3] for n in contents["collection"] if not n.endswith("__init__.py")),
            )
        )
        lines.append("- converge from empty: %.3f s; rerun (process wall, median of %d): %.3f s (min %.3f)"
                     % (converge, samples, statistics.median(walls), min(walls)))  # fmt: skip
        lines.append(
            "- imports: %.3f s in all; the collection's (with what only it imports): %.3f s; slowest:" % (total, mine)
        )
        for seconds, name in slowest:
            lines.append("  - %.3f s %s" % (seconds, name))
        lines.append("- in the module (median of %d): %.3f s; commands:" % (samples, statistics.median(
            t["total"] for t in traces)))  # fmt: skip
        for index, (start, _wall, command) in enumerate(traces[0]["commands"]):
            wall = statistics.median(t["commands"][index][1] for t in traces if len(t["commands"]) > index)
            lines.append("  - at %.3f s, %.3f s: %s" % (start, wall, command_name(command)))
        lines.append("- commands in all: %d, %.3f s" % (len(traces[0]["commands"]), statistics.median(
            sum(c[1] for c in t["commands"]) for t in traces)))  # fmt: skip
        firsts = [t["commands"][0][0] for t in traces if t["commands"]]
        if firsts:
            lines.append("- before the first command (imports, argument checks): %.3f s" % statistics.median(firsts))
        host.python(TIMER, remove)
        lines.append("")
    return lines


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--rules", default="4,256")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    parser.add_argument("--reuse", action="store_true", help="use running containers of an earlier --keep")
    parser.add_argument("--output", default="")
    args = parser.parse_args(list(argv) or None)
    backends = [b for b in args.backends.split(",") if b]
    counts = [int(c) for c in args.rules.split(",") if c]
    workdir = tempfile.mkdtemp(prefix="biostar-profile-")
    env = collection.ansible_env(collection.link(os.path.join(workdir, "collections")))
    env.update(ANSIBLE_LOCAL_TEMP=os.path.join(workdir, "tmp"))
    env.pop("ANSIBLE_CONFIG", None)
    hosts = [Host(b, workdir, env) for b in backends]
    began = time.monotonic()
    report = ["# firewall_ports on the target, per backend", ""]
    try:
        for host in hosts:
            if not args.reuse:
                host.start()
            host.write_inventory()
        for host in hosts:
            section = profile_host(host, counts, args.samples)
            print("\n".join(section), flush=True)
            report.extend(section)
    finally:
        if not args.keep:
            podman.remove(h.name for h in hosts)
    report.append("(%.0f s in all)" % (time.monotonic() - began))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write("\n".join(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
