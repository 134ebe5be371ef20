"""make demo: a small BioStar site in podman containers, hardened and probed (see ../demo.sh).

Built on the test-site toolkit (tests/site_kit), as the molecule harness and the bench are.
Every step's record is kept in the results folder (BIOSTAR_DEMO_RESULTS, default
tests/output/demo): inventory.yml, <step>.log and <step>.json (the run record of the
collection's callback biostar.hardening.fleet_report: firewall results, the role's context
and rule facts, port_probe results, play stats). The same callback writes the fleet report
(report.html, report.json, report.junit.xml) into <results>/report after every step; a drill
at the end flushes the server's firewall and writes its own report into <results>/report/drill.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from typing import Dict, List

sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tests"))
import report
from site_kit import collection, firewall, playbook, podman, traffic

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# BIOSTAR_DEMO_PREFIX names another site (default biostar-demo-), e.g. beside a kept one.
PREFIX = os.environ.get("BIOSTAR_DEMO_PREFIX") or "biostar-demo-"
SERVER, CLIENT, DEVICE = PREFIX + "server", PREFIX + "client", PREFIX + "device"
NAMES = (SERVER, CLIENT, DEVICE)
# BioStar's server-mode ports, plus TCP 1490 and UDP 51111 that must stay closed.
LISTEN = {SERVER: ((1470, 1471, 1480, 1490), (51110, 51111)), CLIENT: ((), (51110, 51111))}
STEPS = ("server-site", "server-verify", "direct-check", "direct-site", "direct-verify", "direct-rerun")
INVENTORY = """\
all:
  vars:
    ansible_connection: containers.podman.podman
    ansible_python_interpreter: /usr/bin/python3
    biostar_allowed_sources: ["{subnet}"]
    biostar_verify_timeout: 1
    biostar_verify_retries: 1
    # Every probed UDP port has a responder, so silence can only mean dropped.
    biostar_verify_udp_no_answer_means: closed
  children:
    biostar_servers:
      hosts:
        {server}:
          biostar_probe_address: {server_ip}
          biostar_verify_extra_checks:
            - {{protocol: tcp, port: 1490, expect: closed}}
            - {{protocol: udp, port: 51111, expect: closed}}
    biostar_clients:
      hosts:
        {client}:
          biostar_probe_address: {client_ip}
          biostar_verify_extra_checks:
            - {{protocol: udp, port: 51111, expect: closed}}
    biostar_probes:
      hosts:
        {client}: {{}}
        {device}: {{}}
"""


def say(text: str) -> None:
    print("\n==> %s" % text, flush=True)


class Demo:
    def __init__(self, work: str, results: str):
        self.work = work
        self.results = results
        self.status = 0
        self.site_mode = "server"
        self.inventory = os.path.join(results, "inventory.yml")
        self.hosts: Dict[str, podman.Container] = {}
        self.report_dir = os.path.join(results, "report")
        # The collection's recorder: one run record per step in results, the fleet report in report_dir.
        self.env = collection.ansible_env(
            collection.link(os.path.join(work, "collections")),
            callback="biostar.hardening.fleet_report",
            ANSIBLE_LOCAL_TEMP=os.path.join(work, "ansible-tmp"),
            BIOSTAR_REPORT_DIR=self.report_dir,
            BIOSTAR_REPORT_RECORDS=results,
        )

    def start_site(self) -> None:
        say("Starting the site: %s" % " ".join(NAMES))
        hosts = self.hosts = {name: podman.start(name) for name in NAMES}
        ips = {name: c.ip for name, c in hosts.items()}
        subnet = podman.subnet()
        print("    server %s, client %s, device %s, network %s" % (ips[SERVER], ips[CLIENT], ips[DEVICE], subnet))
        for name, (tcp, udp) in LISTEN.items():
            firewall.seed(hosts[name], "nftables")
            traffic.start_listener(hosts[name], tcp, udp, lifetime=0)
        for name in LISTEN:
            chain = hosts[name].sh("nft list chain inet filter input").stdout
            policy = next(line.split()[-1].rstrip(";") for line in chain.splitlines() if "policy" in line)
            print("    %s: input policy %s; listening on %s" % (name, policy, " ".join(traffic.listening(hosts[name]))))
        with open(self.inventory, "w", encoding="utf-8") as handle:
            handle.write(
                INVENTORY.format(
                    subnet=subnet, server=SERVER, client=CLIENT, device=DEVICE,
                    server_ip=ips[SERVER], client_ip=ips[CLIENT],
                )
            )  # fmt: skip

    def record(self, step: str) -> str:
        return os.path.join(self.results, step + ".json")

    def playbook(self, step: str, book: str, *options: str) -> None:
        log = os.path.join(self.results, step + ".log")
        env = dict(self.env, BIOSTAR_REPORT_RECORD_NAME=step)
        run = playbook.run("biostar.hardening." + book, self.inventory, options=options, env=env, log=log)
        lines = run.stdout.splitlines()
        if run.rc != 0:
            self.status = 1
            print("    %s failed; the end of its log (%s):" % (step, log))
            print("\n".join("    | " + line for line in lines[-40:]))
        if not (os.path.exists(self.record(step)) and os.path.getsize(self.record(step))):
            raise SystemExit("demo: %s recorded nothing; see %s" % (step, log))
        print("".join("    %s\n" % line for line in lines if line.startswith("[WARNING]")), end="")
        recap = next((i for i, line in enumerate(lines) if line.startswith("PLAY RECAP")), len(lines))
        print("\n".join("    " + line for line in lines[recap:] if line), flush=True)

    def report(self, command: str, *steps: str, **options: str) -> None:
        files = [report.load(self.record(step)) for step in steps]
        if command == "change":
            predicted = report.load(self.record(options["predicted"]))
            code = report.change(*files, predicted=predicted)
        else:
            code = getattr(report, command)(*files, **options)
        self.status = self.status or code
        sys.stdout.flush()

    def run(self) -> None:
        self.start_site()
        say("site.yml in server mode (Suprema's recommended mode)")
        self.playbook("server-site", "site", "-e", "biostar_mode=server")
        say("verify.yml: probes from the client and from the device")
        self.playbook("server-verify", "verify", "-e", "biostar_mode=server")
        self.report("state", "server-site", "server-verify", title="Server mode")

        say("Switching the site to direct mode: check mode first (nothing is changed)")
        self.playbook("direct-check", "site", "-e", "biostar_mode=direct", "--check", "--diff")
        say("site.yml in direct mode")
        self.site_mode = "direct"
        self.playbook("direct-site", "site", "-e", "biostar_mode=direct", "--diff")
        say("verify.yml in direct mode")
        self.playbook("direct-verify", "verify", "-e", "biostar_mode=direct")
        self.report("state", "direct-site", "direct-verify", title="Direct mode")
        self.report("change", "server-site", "server-verify", "direct-site", "direct-verify", predicted="direct-check")

        say("site.yml in direct mode again: nothing may change")
        self.playbook("direct-rerun", "site", "-e", "biostar_mode=direct")
        self.report("rerun", "direct-rerun")
        self.drill()

    def drill(self) -> None:
        """Flush the server's firewall by hand; verify and a --check run must show it in a
        report of their own (report/drill). The ruleset is put back afterwards."""
        say("Drill: someone flushes the server's firewall; a verify and a --check run must show it")
        server = self.hosts[SERVER]
        saved = server.sh("nft list ruleset").stdout
        server.sh("nft flush ruleset")
        folder = os.path.join(self.report_dir, "drill")
        env = dict(self.env, BIOSTAR_REPORT_DIR=folder, BIOSTAR_REPORT_RECORDS=os.path.join(folder, "records"))
        try:
            for step, book, options, must_fail in (
                ("drill-verify", "verify", ("-e", "biostar_mode=direct"), True),
                ("drill-check", "site", ("-e", "biostar_mode=direct", "--check"), False),
            ):
                log = os.path.join(self.results, step + ".log")
                run = playbook.run(
                    "biostar.hardening." + book,
                    self.inventory,
                    options=options,
                    env=dict(env, BIOSTAR_REPORT_RECORD_NAME=step),
                    log=log,
                )
                if (run.rc != 0) != must_fail:
                    self.status = 1
                    print("    %s %s; see %s" % (step, "passed" if must_fail else "failed", log))
        finally:
            server.sh("nft -f -", stdin=saved)

    def keep_message(self, venv: str) -> List[str]:
        conf = os.environ.get("CONTAINERS_CONF", "")
        return [
            "\nKEEP=1: the site is still running (%s)." % " ".join(NAMES),
            "Inventory: %s (logs and records in %s)" % (self.inventory, self.results),
            "site.yml last ran in %s mode. Probe the site again with:" % self.site_mode,
            "  CONTAINERS_CONF=%s ANSIBLE_COLLECTIONS_PATH=%s/collections \\" % (conf, self.work),
            "    %s/bin/ansible-playbook -i %s biostar.hardening.verify -e biostar_mode=%s"
            % (venv, self.inventory, self.site_mode),
            "Remove with:  podman rm -f -t 0 %s; rm -rf %s" % (" ".join(NAMES), self.work),
        ]


def after_the_run(results: str) -> int:
    """The fleet report over the whole run, and the drill's: say where they are, and check
    that the drill's report shows the flushed server as exposed and drifted."""
    folder = os.path.join(results, "report")
    with open(os.path.join(folder, "drill", "report.json"), encoding="utf-8") as handle:
        drill = json.load(handle)
    host = next((h for h in drill["hosts"] if h["name"] == SERVER), None)
    kinds = sorted({issue["kind"] for issue in host["issues"]}) if host else []
    print("    drill report: %s is %s (%s)" % (SERVER, host["status"] if host else "missing", ", ".join(kinds)))
    print("\nFleet report (page, JSON and JUnit side by side): %s" % os.path.join(folder, "report.html"))
    print("The drill (exposures, drift):                      %s" % os.path.join(folder, "drill", "report.html"))
    wanted = {"not_filtering", "drift", "closed_port_answered"}
    return 0 if host and host["status"] == "exposed" and wanted <= set(kinds) else 1


def main() -> int:
    started = time.monotonic()
    keep = os.environ.get("KEEP", "0") == "1"
    results = os.environ.get("BIOSTAR_DEMO_RESULTS") or os.path.join(REPO, "tests", "output", "demo")
    shutil.rmtree(results, ignore_errors=True)
    os.makedirs(results)
    work = tempfile.mkdtemp(prefix="biostar-demo.")
    demo = Demo(work, results)
    try:
        demo.run()
        demo.status = demo.status or after_the_run(results)
    finally:
        if keep:
            print("\n".join(demo.keep_message(os.environ.get("VENV", os.path.join(REPO, ".venv")))))
        else:
            podman.remove(NAMES)
            shutil.rmtree(work, ignore_errors=True)
    verdict = "all as expected" if demo.status == 0 else "SOMETHING WAS NOT AS EXPECTED (see above)"
    print("\nDemo finished in %ds: %s" % (time.monotonic() - started, verdict))
    return demo.status


if __name__ == "__main__":
    sys.exit(main())
