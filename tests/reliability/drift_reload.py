"""Drift from the host firewall's own reload (issue 12, item 4), on every Linux backend.

    flock /tmp/biostar-containers.lock python tests/reliability/drift_reload.py [--backends nftables,ufw]

Also run by ``tests/reliability/run.py --parts drift``. Each backend gets its own container,
seeded with tests/site_kit as a real host keeps its firewall (default-deny, a foreign rule
tcp/2222 "user-rule", and the config the distribution reloads from). The firewall is then
reloaded the way its own service does it:

- nftables: ``nft -f /etc/nftables.conf`` (nftables.service's ExecReload);
- iptables: ``iptables-restore`` from /etc/iptables/rules.v4 and ``ip6tables-restore`` from
  rules.v6 (what netfilter-persistent's plugins run on reload);
- ufw: ``ufw reload``;
- firewalld: ``firewall-cmd --reload``.

With ``persist: false`` the owned rules live only in the running firewall, so the reload
drops them: the next run must restore exactly the owned set, say so in ``actions`` and leave
the host's own rules as the reload left them. With ``persist: true`` (the default) the owned
rules are in the reloaded config: the reload must bring them back by itself, and the next run
must report no change. Either way the run after that is a no-op.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # part, site_kit

import part  # noqa: E402

PREFIX = "biostar-rld-"
BACKENDS = ("nftables", "iptables", "ufw", "firewalld")
RULES = [
    {"protocol": "tcp", "port": 1470, "peers": ["10.0.0.0/8"]},
    {"protocol": "tcp", "port": 1480},
    {"protocol": "udp", "port": 51110},
]
# ufw writes its own rule files on every change, and firewalld defines services only in its
# permanent configuration: persist=false has no effect there (the module warns so), so the
# reload brings the owned rules back either way.
ALWAYS_PERSISTED = ("ufw", "firewalld")
RELOAD = {
    "nftables": "nft -f /etc/nftables.conf",
    "iptables": "iptables-restore </etc/iptables/rules.v4 && ip6tables-restore </etc/iptables/rules.v6",
    "ufw": "ufw reload",
    "firewalld": "firewall-cmd --reload",
}
# A rule added by hand to the running firewall only (not in its config): the reload must
# drop it, which proves the reload really happened. (check prints how many are left.)
MARK = {
    "nftables": 'nft add rule inet filter input tcp dport 2999 accept comment "rld-transient"',
    "iptables": "iptables -A INPUT -p tcp --dport 2999 -m comment --comment rld-transient -j ACCEPT",
    "ufw": "iptables -A ufw-user-input -p tcp --dport 2999 -m comment --comment rld-transient -j ACCEPT",
    "firewalld": "firewall-cmd --add-port=2999/tcp >/dev/null",
}
MARK_CHECK = {
    "nftables": "nft list ruleset | grep -c rld-transient || true",
    "iptables": "iptables-save | grep -c rld-transient || true",
    "ufw": "iptables-save | grep -c rld-transient || true",
    "firewalld": "firewall-cmd --list-ports | grep -c 2999/tcp || true",
}
# The running firewall as its own tools print it (no counters, no dates).
LISTING = {
    "nftables": "nft list ruleset",
    "iptables": "for s in iptables-save ip6tables-save; do $s | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'; done",
    "ufw": "ufw status verbose",
    "firewalld": "firewall-cmd --list-all; echo '--- permanent'; firewall-cmd --permanent --list-all",
}


def split(backend: str, listing: str) -> Tuple[List[str], List[str]]:
    """(owned, foreign): the listing's lines (firewalld: words) that carry the owner, and the rest."""
    owned: List[str] = []
    foreign: List[str] = []
    if backend == "firewalld":
        for line in listing.splitlines():
            words = line.split()
            mine = [w for w in words if "biostar" in w]
            owned += ["%s %s" % (words[0] if words else "", w) for w in mine]
            if "biostar" not in (words[0] if words else "") and line.strip():
                foreign.append(" ".join(w for w in words if "biostar" not in w))
        return owned, foreign
    depth_owned: Optional[int] = None
    depth = 0
    for line in listing.splitlines():
        if not line.strip():
            continue  # nft prints a blank line between chains; a chain coming back adds one
        opens, closes = line.count("{"), line.count("}")
        if depth_owned is None and opens and "biostar" in line:
            depth_owned = depth  # an owned table or chain: its whole block is owned
        (owned if depth_owned is not None or "biostar" in line.lower() else foreign).append(line)
        depth += opens - closes
        if depth_owned is not None and depth <= depth_owned:
            depth_owned = None
    return owned, foreign


class Site(part.Site):
    def __init__(self, workdir: str):
        super().__init__(workdir, "reload", ("rules", "backend", "persist"))

    def converge_all(self, persist: bool) -> Dict[str, Dict[str, Any]]:
        """One run on every host at once; backend -> the module's result."""
        return self.converge({b: {"rules": RULES, "backend": b, "persist": persist} for b in self.hosts})

    def view(self, backend: str) -> Tuple[List[str], List[str]]:
        return split(backend, self.hosts[backend].sh(LISTING[backend]).stdout)


def check(site: Site, persist: bool) -> Dict[str, Tuple[bool, str, str]]:
    """Converge, reload, converge, converge again; backend -> (passed, figure, detail)."""
    first = site.converge_all(persist)
    reference = {}
    unwarned = set()
    for backend, result in first.items():
        if result.get("failed"):
            raise RuntimeError("reload drift: first converge on %s failed: %s" % (backend, result.get("msg")))
        reference[backend] = site.view(backend)
        said = " ".join(result.get("warnings") or [])
        if not persist and backend in ALWAYS_PERSISTED and "persist=false has no effect" not in said:
            unwarned.add(backend)
    marked = {}
    for backend, c in site.hosts.items():
        c.sh(MARK[backend])
        marked[backend] = c.sh(MARK_CHECK[backend]).stdout.strip()
        c.sh(RELOAD[backend])
        marked[backend] += "/" + c.sh(MARK_CHECK[backend]).stdout.strip()
    reloaded = {b: site.view(b) for b in site.hosts}
    repaired = site.converge_all(persist)
    again = site.converge_all(persist)
    out = {}
    for backend in site.hosts:
        ref_owned, ref_foreign = reference[backend]
        gone_owned, after_reload_foreign = reloaded[backend]
        owned, foreign = site.view(backend)
        result = repaired[backend]
        problems = []
        if marked[backend] != "1/0":
            problems.append("a rule added by hand was not dropped by the reload (before/after: %s)" % marked[backend])
        if backend in unwarned:
            problems.append("persist=false was ignored without the module's warning")
        if result.get("failed"):
            problems.append("the run after the reload failed: %s" % result.get("msg", "")[:300])
        if persist or backend in ALWAYS_PERSISTED:
            # The reload loads the persisted owned rules itself: nothing to repair.
            if gone_owned != ref_owned:
                problems.append("the reload did not bring the owned rules back: %s" % gone_owned)
            if result.get("changed") or result.get("actions"):
                problems.append("the run reported a change: %s" % result.get("actions"))
        else:
            if gone_owned == ref_owned:
                problems.append("the reload left the owned rules in place: the case tests nothing")
            if not result.get("changed") or not result.get("actions"):
                problems.append("the run did not say what it repaired (changed %s)" % result.get("changed"))
        if owned != ref_owned:
            problems.append("owned rules %s, expected %s" % (owned, ref_owned))
        if foreign != after_reload_foreign:
            problems.append(
                "the run changed the host's own rules: %s" % sorted(set(foreign) ^ set(after_reload_foreign))
            )
        if foreign != ref_foreign:
            problems.append("the host's own rules differ from before the reload")
        if again[backend].get("changed") or again[backend].get("failed"):
            problems.append("the next run was not a no-op: %s" % again[backend].get("actions"))
        figure = "; ".join(result.get("actions") or []) or "no change"
        out[backend] = (not problems, figure[:90], "; ".join(problems))
    return out


def part_reload(backends: Sequence[str], row: part.Row, workdir: str) -> None:
    """Rows ``row(what, passed, figure, detail)``: persist false (repaired), then true (no change)."""
    site = Site(workdir)
    try:
        for backend in backends:
            site.start_host(backend, PREFIX + backend[:3], backend, foreign_rule=True)
        for persist in (False, True):
            outcome = check(site, persist)
            for backend in backends:
                passed, figure, detail = outcome[backend]
                what = (
                    "firewall reloaded from its own config, persist: true, %s: owned rules back by the reload, "
                    "next run reports no change, nothing else touched"
                    if persist
                    else "firewall reloaded from its own config, persist: false, %s: restored, reported, "
                    "nothing else touched"
                ) % backend
                if not persist and backend in ALWAYS_PERSISTED:
                    what = (
                        "firewall reloaded from its own config, persist: false (no effect on %s): owned rules back "
                        "by the reload, next run reports no change, nothing else touched" % backend
                    )
                row(what, passed, figure, detail)
    finally:
        site.remove()


def main(argv: Optional[Sequence[str]] = None) -> int:
    return part.standalone(__doc__, part_reload, BACKENDS, PREFIX, argv)


if __name__ == "__main__":
    sys.exit(main())
