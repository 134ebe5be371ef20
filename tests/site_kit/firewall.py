# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seed a container's firewall: the default-deny state a managed host starts from.

Every seed drops inbound by default and accepts loopback and established traffic, with
the firewall's own tools, as the host's administrator would. Options:

- ``foreign_rule``: one rule that belongs to someone else, tcp/2222 tagged "user-rule"
  (a firewalld service of that name); the collection must never touch it.
- ``output_drop``: drop outbound too (nftables, iptables).
- ``offline``: firewalld only, leave the daemon stopped (the offline path).

nftables and iptables seeds are also written where the distribution keeps them
(/etc/nftables.conf, /etc/iptables/rules.v4 and .v6), so a restart from the persisted
config is a real test. A seed first throws away what an earlier run left (the owned
rules and their persisted files), so it can reset a host between benchmark repeats;
firewalld is seeded on a fresh container only.
"""

from __future__ import annotations

from .podman import Container

BACKENDS = ("nftables", "iptables", "ufw", "firewalld")
FOREIGN_PORT = 2222
FOREIGN_TAG = "user-rule"

NFT_CONF = """\
#!/usr/sbin/nft -f
# The host's own ruleset, as its administrator keeps it: default-deny input{foreign_note}.
flush ruleset

table inet filter {{
    chain input {{
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        iif "lo" accept{foreign}
    }}
    chain forward {{
        type filter hook forward priority filter; policy drop;
    }}
    chain output {{
        type filter hook output priority filter; policy {output_policy};{output}
    }}
}}
"""


def _nftables(foreign_rule: bool, output_drop: bool) -> str:
    conf = NFT_CONF.format(
        foreign_note=' and one rule that belongs to someone else (tcp/%d, comment "%s")' % (FOREIGN_PORT, FOREIGN_TAG)
        if foreign_rule
        else "",
        foreign='\n        tcp dport %d accept comment "%s"' % (FOREIGN_PORT, FOREIGN_TAG) if foreign_rule else "",
        output_policy="drop" if output_drop else "accept",
        output='\n        ct state established,related accept\n        oif "lo" accept' if output_drop else "",
    )
    return (
        "nft flush ruleset; rm -f /etc/nftables.d/*\n"
        "cat >/etc/nftables.conf <<'SITE_KIT_EOF'\n%sSITE_KIT_EOF\n"
        "chmod 0755 /etc/nftables.conf\nnft -f /etc/nftables.conf" % conf
    )


def _iptables(foreign_rule: bool, output_drop: bool) -> str:
    rules = [
        "$t -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        "$t -A INPUT -i lo -j ACCEPT",
    ]
    if foreign_rule:
        rules.append("$t -A INPUT -p tcp --dport %d -m comment --comment %s -j ACCEPT" % (FOREIGN_PORT, FOREIGN_TAG))
    rules += ["$t -P INPUT DROP", "$t -P FORWARD DROP"]
    if output_drop:
        rules += [
            "$t -A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
            "$t -A OUTPUT -o lo -j ACCEPT",
            "$t -P OUTPUT DROP",
        ]
    # Debian's iptables is iptables-nft; iptables-persistent cannot be installed in the
    # image, so rules.v4/v6 are written the way it would keep them.
    return (
        "nft flush ruleset; rm -rf /etc/iptables; mkdir -p /etc/iptables\n"
        "for t in iptables ip6tables; do\n  %s\ndone\n"
        "iptables-save >/etc/iptables/rules.v4\nip6tables-save >/etc/iptables/rules.v6" % "\n  ".join(rules)
    )


def _ufw(foreign_rule: bool) -> str:
    lines = [
        "nft flush ruleset; ufw --force reset >/dev/null; rm -f /etc/ufw/*.rules.[0-9]*",
        "ufw default deny incoming >/dev/null",
    ]
    if foreign_rule:
        lines.append("ufw allow %d/tcp comment %s >/dev/null" % (FOREIGN_PORT, FOREIGN_TAG))
    lines.append("ufw --force enable >/dev/null")
    return "\n".join(lines)


def _firewalld(foreign_rule: bool, offline: bool) -> str:
    # systemd starts firewalld at boot (about 1.2 s); wait for it, bounded.
    lines = [
        "i=0; until firewall-cmd --state >/dev/null 2>&1; do",
        "  i=$((i + 1)); [ $i -le 30 ] || { echo 'firewalld not running after 30 s' >&2; exit 1; }; sleep 1",
        "done",
        # The public zone's default target rejects; DROP makes it default-deny like the others.
        "firewall-cmd --permanent --zone=public --set-target=DROP",
    ]
    if foreign_rule:
        lines += [
            "firewall-cmd --permanent --new-service=%s" % FOREIGN_TAG,
            "firewall-cmd --permanent --service=%s --add-port=%d/tcp" % (FOREIGN_TAG, FOREIGN_PORT),
            "firewall-cmd --permanent --zone=public --add-service=%s" % FOREIGN_TAG,
        ]
    lines.append("firewall-cmd --reload")
    if offline:
        lines.append("systemctl stop firewalld")
    return "\n".join(lines)


def seed_script(backend: str, foreign_rule: bool = False, output_drop: bool = False, offline: bool = False) -> str:
    """The shell script (``set -e``) that seeds ``backend``; checks the options first."""
    if backend not in BACKENDS:
        raise ValueError("backend: invalid value %r; valid values: %s" % (backend, ", ".join(BACKENDS)))
    if output_drop and backend not in ("nftables", "iptables"):
        raise ValueError("output_drop: true is supported for nftables and iptables, not %r" % backend)
    if offline and backend != "firewalld":
        raise ValueError("offline: true is supported for firewalld only, not %r" % backend)
    if backend == "nftables":
        body = _nftables(foreign_rule, output_drop)
    elif backend == "iptables":
        body = _iptables(foreign_rule, output_drop)
    elif backend == "ufw":
        body = _ufw(foreign_rule)
    else:
        body = _firewalld(foreign_rule, offline)
    return "set -e\n" + body + "\n"


def seed(container: Container, backend: str, **options: bool) -> None:
    """Seed ``container``'s firewall (see :func:`seed_script` for the options)."""
    container.sh(seed_script(backend, **options), timeout=180)
