# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a verify needs to do to each backend, from outside the collection's code.

These helpers use the firewall's own tools only, never the module: they are the
independent witness. Each one matches what the shared prepare step set up
(site_kit.firewall's seed): default-deny inbound plus the foreign rule tcp/2222
tagged "user-rule".
"""

from __future__ import annotations

import re
import time
from typing import Dict, List

from .site import Container

OWNER = "biostar-hardening"
# The owner tag, or a chain/service name derived from it (BIOSTAR-INPUT, biostar_...).
OWNED = re.compile(r"biostar", re.IGNORECASE)
ETC_MARKER = "/tmp/biostar-harness-etc-marker"


class FirewallOps:
    name = ""

    def restart(self, c: Container) -> None:
        """Throw the live state away and load the persisted config, as a reboot would."""
        raise NotImplementedError

    def snapshot(self, c: Container) -> str:
        """The live state, without counters, for before/after comparisons."""
        raise NotImplementedError

    def assert_foreign_rule(self, c: Container) -> None:
        raise NotImplementedError

    def assert_default_deny(self, c: Container) -> None:
        raise NotImplementedError

    def owned_traces(self, c: Container) -> List[str]:
        return [line.strip() for line in self.snapshot(c).splitlines() if OWNED.search(line)]

    def open_everything(self, c: Container) -> None:
        """The control: with no filtering, every listener must answer."""
        raise NotImplementedError

    # /etc must not change in check mode: mark the time, then list what is newer.
    def mark_etc(self, c: Container) -> None:
        c.sh("touch %s" % ETC_MARKER)

    def etc_changes(self, c: Container) -> List[str]:
        return c.sh("find /etc -newer %s \\( -type f -o -type l \\) -print" % ETC_MARKER).stdout.split()


class Nftables(FirewallOps):
    name = "nftables"

    def restart(self, c: Container) -> None:
        c.sh("nft flush ruleset && nft -f /etc/nftables.conf")

    def snapshot(self, c: Container) -> str:
        return c.sh("nft -s list ruleset").stdout

    def assert_foreign_rule(self, c: Container) -> None:
        ruleset = self.snapshot(c)
        assert re.search(r'tcp dport 2222 accept comment "user-rule"', ruleset), ruleset

    def assert_default_deny(self, c: Container) -> None:
        chain = c.sh("nft -s list chain inet filter input").stdout
        assert "policy drop;" in chain, chain

    def open_everything(self, c: Container) -> None:
        c.sh("nft flush ruleset")


class Iptables(FirewallOps):
    name = "iptables"
    TOOLS = ("iptables", "ip6tables")

    def restart(self, c: Container) -> None:
        flush = "".join(
            f"{t} -P INPUT ACCEPT; {t} -P FORWARD ACCEPT; {t} -P OUTPUT ACCEPT; {t} -F; {t} -X; " for t in self.TOOLS
        )
        c.sh(flush + "iptables-restore < /etc/iptables/rules.v4 && ip6tables-restore < /etc/iptables/rules.v6")

    def snapshot(self, c: Container) -> str:
        return c.sh(
            "for t in iptables-save ip6tables-save; do $t | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'; done"
        ).stdout

    def assert_foreign_rule(self, c: Container) -> None:
        for tool in self.TOOLS:
            rules = c.sh("%s -S INPUT" % tool).stdout
            assert "--dport 2222 -m comment --comment user-rule -j ACCEPT" in rules, rules

    def assert_default_deny(self, c: Container) -> None:
        for tool in self.TOOLS:
            rules = c.sh("%s -S INPUT" % tool).stdout
            assert "-P INPUT DROP" in rules, rules

    def assert_output_drop(self, c: Container) -> None:
        for tool in self.TOOLS:
            rules = c.sh("%s -S OUTPUT" % tool).stdout
            assert "-P OUTPUT DROP" in rules, rules

    def open_everything(self, c: Container) -> None:
        c.sh(
            "".join(
                f"{t} -P INPUT ACCEPT; {t} -P OUTPUT ACCEPT; {t} -P FORWARD ACCEPT; {t} -F; {t} -X; "
                for t in self.TOOLS
            )
        )


class Ufw(FirewallOps):
    name = "ufw"

    def restart(self, c: Container) -> None:
        # Disabling tears ufw's chains down; enabling rebuilds them from /etc/ufw only.
        c.sh("ufw disable && ufw --force enable")

    def snapshot(self, c: Container) -> str:
        return c.sh(
            "ufw status verbose; for t in iptables-save ip6tables-save; do "
            "$t | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'; done"
        ).stdout

    def owned_traces(self, c: Container) -> List[str]:
        status = c.sh("ufw status").stdout
        return [line.strip() for line in status.splitlines() if OWNED.search(line)]

    def assert_foreign_rule(self, c: Container) -> None:
        status = c.sh("ufw status").stdout
        # "ALLOW IN" in verbose output or once outbound rules exist, "ALLOW" otherwise.
        assert re.search(r"^2222/tcp\s+ALLOW(?: IN)?\s+Anywhere\s+# user-rule\s*$", status, re.MULTILINE), status

    def assert_default_deny(self, c: Container) -> None:
        status = c.sh("ufw status verbose").stdout
        assert "Status: active" in status and "Default: deny (incoming)" in status, status

    def open_everything(self, c: Container) -> None:
        c.sh("ufw disable")


class Firewalld(FirewallOps):
    name = "firewalld"
    ZONE = "public"

    def wait_running(self, c: Container, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if c.sh("firewall-cmd --state", ok=False).rc == 0:
                return
            time.sleep(0.5)
        raise AssertionError("%s: firewalld not running after %d s" % (c, seconds))

    def is_running(self, c: Container) -> bool:
        return c.sh("firewall-cmd --state", ok=False).rc == 0

    def restart(self, c: Container) -> None:
        c.sh("systemctl restart firewalld")
        self.wait_running(c)

    def start(self, c: Container) -> None:
        c.sh("systemctl start firewalld")
        self.wait_running(c)

    def snapshot(self, c: Container) -> str:
        return c.sh(
            f"firewall-cmd --zone={self.ZONE} --list-all; firewall-cmd --permanent --zone={self.ZONE} --list-all; "
            "nft -s list ruleset"
        ).stdout

    def permanent_config(self, c: Container) -> str:
        """The zone's permanent config, read with the daemon running or stopped."""
        tool = "firewall-cmd --permanent" if self.is_running(c) else "firewall-offline-cmd"
        return c.sh("%s --zone=%s --list-all" % (tool, self.ZONE)).stdout

    def owned_traces(self, c: Container) -> List[str]:
        # Zones only: an owned service definition left unused references nothing.
        zones = c.sh(
            f"firewall-cmd --zone={self.ZONE} --list-all; firewall-cmd --permanent --zone={self.ZONE} --list-all"
        ).stdout
        return [line.strip() for line in zones.splitlines() if OWNED.search(line)]

    def assert_foreign_rule(self, c: Container) -> None:
        for flag in ("", "--permanent "):
            services = c.sh("firewall-cmd %s--zone=%s --list-services" % (flag, self.ZONE)).stdout.split()
            assert "user-rule" in services, services
        ports = c.sh("firewall-cmd --permanent --service=user-rule --get-ports").stdout.split()
        assert ports == ["2222/tcp"], ports

    def assert_default_deny(self, c: Container) -> None:
        target = c.sh("firewall-cmd --permanent --zone=%s --get-target" % self.ZONE).stdout.strip()
        assert target == "DROP", target

    def open_everything(self, c: Container) -> None:
        # firewalld removes its nftables table when it stops (CleanupOnExit=yes).
        c.sh("systemctl stop firewalld")


BACKENDS: Dict[str, FirewallOps] = {ops.name: ops for ops in (Nftables(), Iptables(), Ufw(), Firewalld())}
