"""Part 5 of the reliability suite: the management connection is never cut (issue 12, item 5).

    flock /tmp/biostar-containers.lock python tests/reliability/lockout.py [--backends nftables,ufw]

Also run by ``tests/reliability/run.py --parts lockout``. Real sshd, real SSH, real firewalls:

- each host (nftables, iptables, ufw, firewalld) runs sshd on port 2200 ONLY, for an
  unprivileged user; ``become`` is ``su -l`` (the image has no sudo; ``-l`` clears the
  environment as sudo does, so the module must find the session through its ancestors);
- ONE playbook, over ONE ControlPersist SSH connection per host, first seeds the host's
  firewall default-deny with NO allow for 2200 (the session lives on through the host's
  established rule; a new login from the controller is now refused: the control that the
  host really blocks SSH), then runs the role: a converge (nftables, iptables: with
  ``biostar_firewall_baseline: true``; ufw, firewalld, which have no baseline: with tcp/2200
  as an owned extra rule), a mode switch (BioStar 1 server -> direct), ``state: absent``;
- after every step a task without become prints SSH_CONNECTION (same client address and
  port every time: the same TCP connection, never re-established) and a task with become
  lists the firewall; new logins from the controller prove that only the collection's
  rules open 2200;
- negative controls: the protection refuses (a baseline told to keep only port 22 while
  the session is on 2200; a mode switch that would drop the owned tcp/2200 rule); and on
  nftables and iptables, an input policy set to drop by hand with no rule for 2200 (what a
  baseline without the protection would do) does cut the session: the next task is
  unreachable and a new login fails. That shows the checks here can fail.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # part, site_kit

import part  # noqa: E402
from site_kit import collection, firewall, playbook, podman, ssh  # noqa: E402

PREFIX = "biostar-lko-"
BACKENDS = ("nftables", "iptables", "ufw", "firewalld")
# 22 is the default and 2222 the suite's foreign rule; nothing in the images uses 2200.
SSH_PORT = 2200
USER = "relop"
ROOT_PASSWORD = "lockout-test-root"
BASELINE_BACKENDS = ("nftables", "iptables")

# The firewall as root sees it, after every step.
LISTING = {
    "nftables": "nft list ruleset",
    "iptables": "iptables-save; ip6tables-save",
    "ufw": "ufw status verbose; iptables-save | grep -i biostar || true",
    "firewalld": "firewall-cmd --list-all",
}

# What a baseline without the protection would do: input drops, nothing keeps 2200 or the
# established session. Started detached, a second later, so this task's own result still
# gets back; the next task then runs into the cut.
CUT = {
    "nftables": "nft flush ruleset; nft -f - <<'EOF'\ntable inet cut {\n chain input {\n"
    '  type filter hook input priority filter; policy drop;\n  iif "lo" accept\n }\n}\nEOF',
    "iptables": "nft flush ruleset; iptables -A INPUT -i lo -j ACCEPT; iptables -P INPUT DROP",
}
POLICY_ACCEPT = {
    "nftables": "nft chain inet filter input '{ policy accept; }'",
    "iptables": "iptables -P INPUT ACCEPT; ip6tables -P INPUT ACCEPT",
}
MODULE_OPTIONS = ("backend", "baseline", "management_ports", "rules")
MANAGEMENT_RULE = {"protocol": "tcp", "port": SSH_PORT, "purpose": "management (SSH)"}


def steps(backend: str) -> List[Dict[str, Any]]:
    """The converge steps for this backend, in order: the role's variables (``vars``) or the
    module's own options (``module``), and what must happen (``expect``: ok or refused)."""
    server = {"biostar_host_role": "server", "biostar_mode": "server", "biostar_firewall_backend": backend}
    if backend in BASELINE_BACKENDS:
        keep = dict(server, biostar_firewall_baseline=True)
        return [
            {"name": "converge", "vars": keep, "expect": "ok"},
            # The role always adds the connection's own port; the module's option alone can
            # leave it out, so this is where the module itself must refuse.
            {
                "name": "baseline keeping port 22 only",
                "module": {"backend": backend, "baseline": True, "management_ports": [22], "rules": []},
                "expect": "refused",
            },
            {"name": "mode switch", "vars": dict(keep, biostar_mode="direct"), "expect": "ok"},
            {"name": "absent", "vars": dict(keep, biostar_firewall_state="absent"), "expect": "refused"},
        ]
    keep = dict(server, biostar_extra_rules=[MANAGEMENT_RULE])
    return [
        {"name": "converge", "vars": keep, "expect": "ok"},
        {"name": "baseline (not supported)", "vars": dict(keep, biostar_firewall_baseline=True), "expect": "refused"},
        {"name": "mode switch dropping tcp/2200", "vars": dict(server, biostar_mode="direct"), "expect": "refused"},
        {"name": "mode switch", "vars": dict(keep, biostar_mode="direct"), "expect": "ok"},
        {"name": "absent", "vars": dict(keep, biostar_firewall_state="absent"), "expect": "refused"},
    ]


# ---------------------------------------------------------------------------------------
# The playbook: the same task list for every host; per-host data in its variables.
# ---------------------------------------------------------------------------------------
def record(step: str, **fields: str) -> Dict[str, Any]:
    entry = ", ".join("'%s': %s" % (k, v) for k, v in dict(fields, step="'%s'" % step).items())
    return {"name": "record %s" % step, "ansible.builtin.set_fact": {"lko_log": "{{ lko_log + [{%s}] }}" % entry}}


def session_tasks(step: str) -> List[Dict[str, Any]]:
    """The next tasks on the same session: SSH_CONNECTION (no become), the firewall (become)."""
    return [
        {
            "name": "session after %s" % step,
            "ansible.builtin.command": {"argv": ["sh", "-c", 'echo "$SSH_CONNECTION"']},
            "register": "lko_session",
            "changed_when": False,
            "ignore_unreachable": True,
            "ignore_errors": True,
            "timeout": 40,
        },
        {
            "name": "firewall after %s" % step,
            "ansible.builtin.command": {"argv": ["sh", "-c", "{{ lko_listing }}"]},
            "become": True,
            "register": "lko_listed",
            "changed_when": False,
            "ignore_errors": True,
            "when": "not (lko_session.unreachable | default(false))",
            "timeout": 40,
        },
        record(
            "session after " + step,
            ssh_connection="lko_session.stdout | default('')",
            unreachable="lko_session.unreachable | default(false)",
            listing="lko_listed.stdout | default('')",
        ),
    ]


def login_task(step: str) -> List[Dict[str, Any]]:
    """A new login from the controller (a fresh TCP connection, no master)."""
    return [
        {
            "name": "new login after %s" % step,
            "ansible.builtin.command": {"argv": "{{ lko_login }}"},
            "delegate_to": "localhost",
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "register": "lko_login_result",
            "changed_when": False,
            "failed_when": False,
        },
        record("login after " + step, rc="lko_login_result.rc", ssh_connection="lko_login_result.stdout"),
    ]


ROLE_VARS = (
    "biostar_host_role",
    "biostar_mode",
    "biostar_firewall_backend",
    "biostar_firewall_baseline",
    "biostar_firewall_management_ports",
    "biostar_firewall_state",
    "biostar_extra_rules",
)
DEFAULTS = {
    "biostar_firewall_baseline": False,
    "biostar_firewall_management_ports": [],
    "biostar_firewall_state": "present",
    "biostar_extra_rules": [],
}


def role_step(index: int) -> Dict[str, Any]:
    """Step ``index`` of this host's list: the role, its outcome recorded either way."""
    here = "lko_steps[%d]" % index
    role_vars = {
        name: "{{ (%s.vars | default({})).%s | default(%s) }}" % (here, name, json.dumps(DEFAULTS.get(name)))
        if name in DEFAULTS
        else "{{ (%s.vars | default({})).%s | default(omit) }}" % (here, name)
        for name in ROLE_VARS
    }
    return {
        "name": "step %d" % index,
        "when": "lko_steps | length > %d" % index,
        "block": [
            {
                "name": "role, step %d" % index,
                "ansible.builtin.include_role": {"name": "biostar.hardening.firewall", "apply": {"become": True}},
                "vars": role_vars,
                "when": "%s.vars is defined" % here,
            },
            {
                "name": "module, step %d" % index,
                "biostar.hardening.firewall_ports": {
                    key: "{{ %s.module.%s }}" % (here, key)
                    for key in ("backend", "baseline", "management_ports", "rules")
                },
                "become": True,
                "when": "%s.module is defined" % here,
            },
            record("step %d" % index, name="%s.name" % here, failed="false", msg="''"),
        ],
        "rescue": [
            record(
                "step %d" % index,
                name="%s.name" % here,
                failed="true",
                msg="ansible_failed_result.msg | default('') | string",
            )
        ],
    }


def plays(results: str, max_steps: int) -> List[Dict[str, Any]]:
    tasks: List[Dict[str, Any]] = [
        {"name": "start", "ansible.builtin.set_fact": {"lko_log": []}},
        *session_tasks("connect"),
        {
            "name": "seed the host firewall default-deny, no allow for the SSH port",
            "ansible.builtin.command": {"argv": ["sh", "-c", "{{ lko_seed }}"]},
            "become": True,
            "changed_when": True,
            "timeout": 120,
        },
        *session_tasks("seed"),
        *login_task("seed"),
    ]
    for index in range(max_steps):
        tasks.append(role_step(index))
        tasks.extend(session_tasks("step %d" % index))
        tasks.extend(login_task("step %d" % index))
    # nftables, iptables: the way out the absent refusal names (input policy accept first),
    # then absent removes every owned rule and the baseline, and the session stays.
    baseline = "lko_backend in %s" % list(BASELINE_BACKENDS)
    tasks += [
        {
            "name": "policy accept by hand",
            "ansible.builtin.command": {"argv": ["sh", "-c", "{{ lko_policy_accept }}"]},
            "become": True,
            "changed_when": True,
            "when": baseline,
        },
        {
            "name": "absent after policy accept",
            "when": baseline,
            "block": [
                {
                    "name": "role, absent",
                    "ansible.builtin.include_role": {"name": "biostar.hardening.firewall", "apply": {"become": True}},
                    "vars": {
                        "biostar_host_role": "server",
                        "biostar_firewall_backend": "{{ lko_backend }}",
                        "biostar_firewall_state": "absent",
                    },
                },
                record("absent after policy accept", failed="false", msg="''"),
            ],
            "rescue": [
                record(
                    "absent after policy accept", failed="true", msg="ansible_failed_result.msg | default('') | string"
                )
            ],
        },
    ]
    for task in session_tasks("absent after policy accept") + login_task("absent after policy accept"):
        tasks.append(dict(task, when=baseline) if "when" not in task else dict(task, when=[baseline, task["when"]]))
    # The negative control: the cut, then the same checks, which must now see it.
    tasks += [
        {
            "name": "cut: input drops, nothing keeps the session",
            "ansible.builtin.shell": "printf '%s\\n' {{ lko_cut | quote }} >/run/lko-cut.sh; "
            "setsid sh -c 'sleep 1; sh /run/lko-cut.sh' </dev/null >/dev/null 2>&1 &",
            "become": True,
            "changed_when": True,
            "when": baseline,
        },
        {"name": "let the cut happen", "ansible.builtin.pause": {"seconds": 3}, "when": baseline},
    ]
    for task in session_tasks("cut") + login_task("cut"):
        tasks.append(dict(task, when=baseline) if "when" not in task else dict(task, when=[baseline, task["when"]]))
    save = {
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "tasks": [
            {
                "name": "save the log",
                "ansible.builtin.copy": {
                    "content": "{{ dict(groups['targets'] | zip(groups['targets'] | map('extract', hostvars, "
                    "'lko_log') | list)) | to_json }}",
                    "dest": results,
                    "mode": "0600",
                },
            }
        ],
    }
    return [{"hosts": "targets", "gather_facts": False, "tasks": tasks}, save]


# ---------------------------------------------------------------------------------------
# The site
# ---------------------------------------------------------------------------------------
class Site:
    def __init__(self, backends: Sequence[str], workdir: str):
        self.workdir = workdir
        self.backends = list(backends)
        self.key = ssh.make_key(workdir)
        self.known = os.path.join(workdir, "known_hosts")
        control = os.path.join(workdir, "cp")
        os.makedirs(control, exist_ok=True)
        self.env = collection.ansible_env(
            collection.link(workdir),
            ANSIBLE_FORKS="8",
            ANSIBLE_LOCAL_TEMP=os.path.join(workdir, "tmp"),
            ANSIBLE_TIMEOUT="10",
            **ssh.ansible_settings(control, persist=60, alive=2),
        )
        self.env.pop("ANSIBLE_CONFIG", None)
        self.hosts: Dict[str, podman.Container] = {}

    def start(self) -> None:
        with open(self.key + ".pub", encoding="utf-8") as handle:
            public = handle.read()
        for backend in self.backends:
            c = self.hosts[backend] = podman.start_host(PREFIX + backend[:3], backend)
            if backend == "firewalld":
                # firewalld starts at boot and would refuse the first login on 2200: stop it
                # (bounded wait for it first); the seed starts it over the session.
                c.sh(
                    "i=0; until firewall-cmd --state >/dev/null 2>&1; do i=$((i + 1)); [ $i -le 30 ] || exit 1;"
                    " sleep 1; done; systemctl stop firewalld",
                    timeout=60,
                )
            ssh.serve(c, public, SSH_PORT, USER, ROOT_PASSWORD, systemd=backend == "firewalld")
            ssh.known_hosts(c, SSH_PORT, self.known)

    def login(self, backend: str) -> ssh.Login:
        return ssh.new_connection(self.hosts[backend].ip, SSH_PORT, USER, self.key, self.known)

    def inventory(self) -> str:
        hosts = {}
        for backend, c in self.hosts.items():
            hosts[c.name] = dict(
                ssh.host_vars(c.ip, SSH_PORT, USER, self.key, self.known),
                ansible_become_method="ansible.builtin.su",
                ansible_become_flags="-l",
                ansible_become_password=ROOT_PASSWORD,
                lko_backend=backend,
                lko_steps=steps(backend),
                lko_seed=("systemctl start firewalld\n" if backend == "firewalld" else "")
                + firewall.seed_script(backend),
                lko_listing=LISTING[backend],
                lko_policy_accept=POLICY_ACCEPT.get(backend, "true"),
                lko_cut=CUT.get(backend, "true"),
                lko_login=ssh.new_connection_command(c.ip, SSH_PORT, USER, self.key, self.known),
            )
        path = os.path.join(self.workdir, "inventory.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"all": {"children": {"targets": {"hosts": hosts}}}}, handle)
        return path

    def run(self) -> Tuple[Dict[str, List[Dict[str, Any]]], playbook.Run]:
        results = os.path.join(self.workdir, "log.json")
        book = os.path.join(self.workdir, "lockout.yml")
        with open(book, "w", encoding="utf-8") as handle:
            json.dump(plays(results, max(len(steps(b)) for b in self.backends)), handle)
        run = playbook.run(book, self.inventory(), env=self.env, cwd=self.workdir, timeout=900)
        if not os.path.exists(results):
            raise RuntimeError("the lockout playbook saved no log:\n" + run.describe())
        with open(results, encoding="utf-8") as handle:
            return json.load(handle), run

    def stop(self) -> None:
        podman.remove(PREFIX + backend[:3] for backend in self.backends)


# ---------------------------------------------------------------------------------------
# Judging
# ---------------------------------------------------------------------------------------
def owned_ports(backend: str, listing: str) -> List[int]:
    """The TCP/UDP ports in the owned rules, as the firewall lists them."""
    import re

    if backend == "nftables":
        block = re.search(r"chain biostar_hardening_in \{(.*?)\n\t\}", listing, re.S)
        text = block.group(1) if block else ""
        return sorted({int(p) for p in re.findall(r"dport (\d+)", text)})
    if backend == "iptables":
        return sorted({int(p) for p in re.findall(r"^-A BIOSTAR-INPUT .*--dport (\d+)", listing, re.M)})
    if backend == "ufw":
        return sorted({int(p) for p in re.findall(r"^(\d+)/(?:tcp|udp)\s.*# biostar", listing, re.M)})
    # firewalld: one owned service per port, named biostar-hardening-tcp1480 (and so on).
    return sorted({int(p) for p in re.findall(r"biostar-hardening-(?:tcp|udp)(\d+)", listing)})


def judge(backend: str, log: List[Dict[str, Any]]) -> List[Tuple[str, bool, str, str]]:
    """Rows (what, passed, figure, detail) for one host's log."""
    by = {entry["step"]: entry for entry in log}
    plan = steps(backend)
    first = by.get("session after connect", {}).get("ssh_connection", "")
    problems: List[str] = []
    if len(first.split()) != 4 or first.split()[3] != str(SSH_PORT):
        problems.append("first SSH_CONNECTION %r is not a session on port %d" % (first, SSH_PORT))

    def session(label: str) -> None:
        entry = by.get("session after " + label)
        if entry is None:
            problems.append("no task ran after %s" % label)
        elif entry["unreachable"] or entry["ssh_connection"] != first:
            problems.append("after %s: session %r (unreachable %s), expected %r"
                            % (label, entry["ssh_connection"], entry["unreachable"], first))  # fmt: skip

    def login(label: str, want: bool) -> None:
        entry = by.get("login after " + label)
        if entry is None or (entry["rc"] == 0) != want:
            problems.append("new login after %s: %s, expected %s"
                            % (label, entry and entry["rc"], "success" if want else "refused"))  # fmt: skip

    session("seed")
    login("seed", False)  # control: the host's own firewall blocks new SSH logins
    refusals = []
    listing = ""
    for index, step in enumerate(plan):
        name, expect = step["name"], step["expect"]
        label = "step %d" % index
        outcome = by.get(label, {})
        failed = outcome.get("failed")
        msg = outcome.get("msg", "")
        if expect == "ok" and failed is not False:
            problems.append("%s: failed: %s" % (name, msg[:300]))
        if expect == "refused":
            if failed is not True:
                problems.append("%s: was not refused" % name)
            refusals.append((name, msg))
            now = by.get("session after " + label, {}).get("listing", "")
            if listing and owned_ports(backend, now) != owned_ports(backend, listing):
                problems.append("%s: refused, but the owned rules changed" % name)
        session(label)
        login(label, True)  # only the collection's rules open 2200 now
        listing = by.get("session after " + label, {}).get("listing", listing)
    ports = {
        "converge": sorted([1470, 1471, 1480, 51110, SSH_PORT]),
        "mode switch": [1480, SSH_PORT],  # 2200: the baseline's management rule, or the owned extra rule
    }
    for index, step in enumerate(plan):
        name = step["name"]
        if name in ports:
            got = owned_ports(backend, by.get("session after step %d" % index, {}).get("listing", ""))
            if got != ports[name]:
                problems.append("owned ports after %s: %s, expected %s" % (name, got, ports[name]))
    rows = [
        (
            "%s: SSH on port %d with become (su -l): session kept through %s, mode switch, absent"
            % (backend, SSH_PORT, "baseline" if backend in BASELINE_BACKENDS else "converge"),
            not problems,
            "same connection %s after %d steps" % (" ".join(first.split()[:2]), len(plan) + 1)
            if not problems
            else "cut",
            "; ".join(problems),
        )
    ]
    for name, msg in refusals:
        wanted = {
            "baseline (not supported)": ["baseline", backend],
            "mode switch dropping tcp/2200": ["refusing to remove", "2200", "SSH session"],
            "absent": ["refusing", "2200"],
            "baseline keeping port 22 only": ["management_ports", "[22]", "2200"],
        }[name]
        missing = [w for w in wanted if w.lower() not in msg.lower()]
        rows.append(
            (
                "%s: %s while SSH is on %d: refused clearly, rules unchanged, session kept" % (backend, name, SSH_PORT),
                not missing and not problems,
                "refused" if not missing else "unclear",
                ("message lacks %s: %s" % (missing, msg[:300])) if missing else msg[:160],
            )
        )
    if backend in BASELINE_BACKENDS:
        trouble = []
        after = by.get("absent after policy accept", {})
        if after.get("failed") is not False:
            trouble.append("absent after policy accept failed: %s" % after.get("msg", "")[:300])
        session_problems = len(problems)
        session("absent after policy accept")
        login("absent after policy accept", True)
        listed = by.get("session after absent after policy accept", {}).get("listing", "")
        if "biostar" in listed.lower():
            trouble.append("owned rules left after absent")
        trouble += problems[session_problems:]
        rows.append(
            (
                "%s: absent after the input policy is set to accept (the way the refusal names): "
                "every owned rule gone, session kept" % backend,
                not trouble,
                "removed" if not trouble else "-",
                "; ".join(trouble),
            )
        )
        cut = by.get("session after cut", {})
        cut_login = by.get("login after cut", {})
        seen = bool(cut.get("unreachable")) and cut_login.get("rc", 0) != 0
        rows.append(
            (
                "%s: negative control: input drop set by hand, port %d not kept: the checks see the cut"
                % (backend, SSH_PORT),
                seen,
                "next task unreachable, new login refused" if seen else "not seen",
                "session %r unreachable %s; login rc %s"
                % (cut.get("ssh_connection"), cut.get("unreachable"), cut_login.get("rc")),
            )
        )
    return rows


def part_lockout(backends: Sequence[str], row: part.Row, workdir: str) -> Tuple[int, int]:
    """Run the part; ``row(what, passed, figure, detail)`` per result; (passed, total)."""
    site = Site(backends, workdir)
    try:
        site.start()
        logs, run = site.run()
    finally:
        site.stop()
    passed = total = 0
    for backend in backends:
        log = logs.get(PREFIX + backend[:3]) or []
        rows = judge(backend, log) if log else [("%s: playbook ran" % backend, False, "no log", run.describe())]
        for what, ok, figure, detail in rows:
            row(what, ok, figure, detail)
            passed += ok
            total += 1
    return passed, total


def main(argv: Optional[Sequence[str]] = None) -> int:
    return part.standalone(__doc__, part_lockout, BACKENDS, PREFIX, argv)


if __name__ == "__main__":
    sys.exit(main())
