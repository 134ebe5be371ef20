"""One converge, rerun, mode-switch sequence against a real nftables host, on the
ansible-core of the interpreter that runs this script (a tests/compat venv).

    python converge_sequence.py TARBALL NAME

It installs the collection TARBALL with this ansible-core's ansible-galaxy, starts one
container NAME from localhost/biostar-hardening-base (default-deny nftables input, sshd
for the controller) and runs the playbook biostar.hardening.site over SSH:

1. server mode: the play changes the host; TCP 1470, 1471 and 1480 answer from here,
   TCP 2000 (a listener the matrix never opens) stays filtered;
2. the same again: changed=0 and the ruleset is byte for byte the same;
3. direct mode: the play changes the host; TCP 1480 answers, 1470 and 1471 no longer do.

Probes go only to the container this script started, with a bounded timeout each.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

import yaml

IMAGE = "localhost/biostar-hardening-base:latest"
BIN = os.path.dirname(sys.executable)
HOST_RULESET = """\
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif lo accept
    tcp dport 22 accept
  }
}
"""
# A listener on every port probed, so "closed" can only mean the firewall dropped it.
LISTENER = """
import selectors, socket, sys, time
deadline = time.monotonic() + float(sys.argv[2])
sel = selectors.DefaultSelector()
for port in sys.argv[1].split(","):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(port))); s.listen(16); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
while time.monotonic() < deadline:
    for key, _ in sel.select(timeout=1):
        conn, _ = key.fileobj.accept(); conn.close()
"""
PROBED = (1470, 1471, 1480, 2000)
SSH_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"


def run(args: List[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        detail = (result.returncode, " ".join(args), result.stdout, result.stderr)
        raise SystemExit("command failed (%d): %s\n%s\n%s" % detail)
    return result


def podman(*args: str) -> str:
    return run(["podman", *args]).stdout


def tcp_answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1.5):
            return True
    except OSError:
        return False


def expect_ports(address: str, expected_open: List[int], step: str) -> None:
    seen = {port: tcp_answers(address, port) for port in PROBED}
    want = {port: port in expected_open for port in PROBED}
    if seen != want:
        raise SystemExit("%s: TCP ports answering %s, expected %s" % (step, seen, want))
    print("  %s: answering %s, filtered %s" % (step, expected_open, [p for p in PROBED if p not in expected_open]))


def playbook(work: str, env: Dict[str, str], mode: str) -> Dict[str, int]:
    command = [os.path.join(BIN, "ansible-playbook"), "-i", "inventory.yml", "biostar.hardening.site"]
    result = run([*command, "-e", "biostar_mode=" + mode], cwd=work, env=env)
    recap = re.search(r"^compat-target\s*:\s*(.*)$", result.stdout, re.M)
    if not recap:
        raise SystemExit("no PLAY RECAP line for compat-target:\n" + result.stdout)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))}


def main() -> None:
    tarball, name = os.path.abspath(sys.argv[1]), sys.argv[2]
    version = run([os.path.join(BIN, "ansible"), "--version"]).stdout.splitlines()[0]
    print("%s (python %d.%d)" % (version, *sys.version_info[:2]))
    work = tempfile.mkdtemp(prefix="biostar-compat.")
    subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False)
    try:
        run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-p", work, tarball])
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(work, "id_ed25519")])
        capabilities = ["--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW"]
        podman("run", "-d", "--name", name, "--init", *capabilities, IMAGE, "sleep", "600")
        podman("exec", name, "mkdir", "-m", "0700", "-p", "/root/.ssh")
        podman("cp", os.path.join(work, "id_ed25519.pub"), name + ":/root/.ssh/authorized_keys")
        podman("exec", name, "chown", "root:root", "/root/.ssh/authorized_keys")
        run(["podman", "exec", "-i", name, "nft", "-f", "-"], input=HOST_RULESET)
        podman("exec", name, "/usr/sbin/sshd")
        podman("exec", "-d", name, "python3", "-c", LISTENER, ",".join(map(str, PROBED)), "300")
        address = podman("inspect", "--format", "{{.NetworkSettings.IPAddress}}", name).strip()
        with open(os.path.join(work, "inventory.yml"), "w") as handle:
            yaml.safe_dump(
                {
                    "biostar_servers": {
                        "hosts": {
                            "compat-target": {
                                "ansible_host": address,
                                "ansible_user": "root",
                                "ansible_ssh_private_key_file": os.path.join(work, "id_ed25519"),
                                "ansible_ssh_common_args": SSH_ARGS,
                                "ansible_python_interpreter": "/usr/bin/python3",
                                "biostar_firewall_backend": "nftables",
                            }
                        }
                    }
                },
                handle,
            )
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=work, ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="False")
        for variable in ("ANSIBLE_CONFIG", "ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_CALLBACKS_ENABLED"):
            env.pop(variable, None)
        # Wait (bounded) for the listener to bind, seen from inside the container.
        for _attempt in range(20):
            if "1470" in podman("exec", name, "ss", "-Hltn"):
                break
            time.sleep(0.25)
        expect_ports(address, [], "before converge (the host drops everything but SSH)")

        stats = playbook(work, env, "server")
        if stats.get("failed") or not stats.get("changed"):
            raise SystemExit("converge in server mode: expected changes and no failure, got %s" % stats)
        print("  converge, server mode: %s" % stats)
        expect_ports(address, [1470, 1471, 1480], "server mode")
        ruleset = podman("exec", name, "nft", "list", "ruleset")

        stats = playbook(work, env, "server")
        if stats.get("failed") or stats.get("changed") != 0:
            raise SystemExit("rerun in server mode: expected changed=0, got %s" % stats)
        if podman("exec", name, "nft", "list", "ruleset") != ruleset:
            raise SystemExit("rerun in server mode changed the ruleset")
        print("  rerun, server mode: %s, ruleset unchanged" % stats)

        stats = playbook(work, env, "direct")
        if stats.get("failed") or not stats.get("changed"):
            raise SystemExit("switch to direct mode: expected changes and no failure, got %s" % stats)
        print("  switch to direct mode: %s" % stats)
        expect_ports(address, [1480], "direct mode")
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)
    print("compat: %s passed converge, rerun and switch" % version)


if __name__ == "__main__":
    main()
