# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ufw's own rule files, ``/etc/ufw/user.rules`` and ``user6.rules``: read, render, edit.

ufw writes one block per rule between ``### RULES ###`` and ``### END RULES ###``::

    <blank line>
    ### tuple ### allow tcp 1480 0.0.0.0/0 any 10.88.0.9 in comment=<hex>
    -A ufw-user-input -p tcp --dport 1480 -s 10.88.0.9 -j ACCEPT

The tuple line is ufw's record of the rule (``ufw status``, ``ufw delete`` and ``ufw show
added`` read it); the ``-A`` lines are what ``iptables-restore -n`` loads into ufw's user
chains. This file renders the blocks of the rules the backend writes exactly as ufw's own
``_write_rules`` and ``UFWRule.format_rule`` do (allow, tcp or udp, a port or a range, one
peer or any, no interface, no app profile), and edits a file by whole blocks: every other
line keeps its bytes and its place.
"""

from __future__ import annotations

import binascii
import ipaddress
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import peer_family

TUPLE_PREFIX = "### tuple ###"
RULES_START = "### RULES ###"
RULES_END = "### END RULES ###"
ANY_ADDRESS = {"ipv4": "0.0.0.0/0", "ipv6": "::/0"}
CHAIN_PREFIX = {"ipv4": "ufw", "ipv6": "ufw6"}
UFW_DIRECTIONS = {"inbound": "in", "outbound": "out"}
PORT_PATTERN = re.compile(r"^(\d{1,5})(?::(\d{1,5}))?$")
# The chains a rule's own lines go to (``-A ufw-user-limit ...`` of the rate limiting
# section is not part of the rule above it, even where ufw's shipped file puts no blank line).
RULE_LINE = re.compile(r"^-A ufw6?-user-(?:logging-)?(?:input|output|forward) ")


def hex_decode(text: str) -> Optional[str]:
    try:
        return binascii.unhexlify(text.strip()).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def ufw_address(peer: str) -> str:
    """ufw keeps a single host without its prefix length; write it the way ufw keeps it."""
    network = ipaddress.ip_network(peer)
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return network.with_prefixlen


def normal_address(text: str) -> str:
    """Canonical form of an address field of a tuple line, for comparisons."""
    if text == "any":
        return text
    return ipaddress.ip_network(text, strict=False).with_prefixlen


def match_key(fields: Sequence[str]) -> Tuple[str, ...]:
    """What ufw compares to decide that two rules are one: all but action, logging and comment.

    ``fields`` are the words of a tuple line: action proto dport dst sport src [dapp sapp] direction.
    Only a route (forward) rule differs by action: ``route:allow`` never matches ``allow``.
    """
    forward = "route" if fields[0].startswith("route:") else ""
    apps = tuple(fields[6:8]) if len(fields) == 9 else ("-", "-")
    proto, dport, dst, sport, src = fields[1:6]
    return (forward, proto, dport, normal_address(dst), sport, normal_address(src), *apps, fields[-1])


@dataclass(frozen=True)
class Spec:
    """One ufw rule as this backend writes it: a port, a direction and one peer or any."""

    direction: str
    protocol: str
    port_low: int
    port_high: int
    peer: Optional[str]

    def sort_key(self) -> Tuple[str, str, int, int, str]:
        return (self.direction, self.protocol, self.port_low, self.port_high, self.peer or "")

    @property
    def port_text(self) -> str:
        if self.port_low == self.port_high:
            return str(self.port_low)
        return "%d:%d" % (self.port_low, self.port_high)

    def families(self) -> List[str]:
        return [peer_family(self.peer)] if self.peer else ["ipv4", "ipv6"]

    def addresses(self, family: str) -> Tuple[str, str]:
        """(destination, source) as ufw writes them in a tuple line of ``family``'s file."""
        peer = ufw_address(self.peer) if self.peer else ANY_ADDRESS[family]
        if self.direction == "inbound":
            return ANY_ADDRESS[family], peer
        return peer, ANY_ADDRESS[family]

    def fields(self, family: str) -> Tuple[str, ...]:
        destination, source = self.addresses(family)
        direction = UFW_DIRECTIONS[self.direction]
        return ("allow", self.protocol, self.port_text, destination, "any", source, direction)

    def rule_line(self, family: str) -> str:
        """The iptables line ufw keeps under the tuple (``UFWRule.format_rule``'s word order)."""
        destination, source = self.addresses(family)
        words = ["-p", self.protocol]
        ranged = self.port_low != self.port_high
        if ranged:
            words += ["-m", "multiport", "--dports", self.port_text]
        if destination != ANY_ADDRESS[family]:
            words += ["-d", destination]
        if not ranged:
            words += ["--dport", self.port_text]
        if source != ANY_ADDRESS[family]:
            words += ["-s", source]
        chain = "%s-user-%s" % (CHAIN_PREFIX[family], "input" if self.direction == "inbound" else "output")
        return "-A %s %s -j ACCEPT" % (chain, " ".join(words))

    def block(self, family: str, comment: str) -> List[str]:
        """The lines of this rule in ``family``'s file, with ufw's blank line before it."""
        tuple_line = "%s %s" % (TUPLE_PREFIX, " ".join(self.fields(family)))
        if comment:
            tuple_line += " comment=" + binascii.hexlify(comment.encode("utf-8")).decode("ascii")
        return ["\n", tuple_line + "\n", self.rule_line(family) + "\n"]

    def describe(self) -> str:
        peer = self.peer or "any"
        arrow = "from" if self.direction == "inbound" else "to"
        return "%s %s/%s %s %s" % (self.direction, self.protocol, self.port_text.replace(":", "-"), arrow, peer)


@dataclass(frozen=True)
class Block:
    """One rule of a ufw rules file: its tuple line at ``start``, its rule lines up to ``end``."""

    start: int
    end: int
    fields: Tuple[str, ...]
    comment: str

    def describe(self) -> str:
        text = "'%s'" % " ".join(self.fields)
        return text + (" (comment %r)" % self.comment if self.comment else " (no comment)")

    def spec(self) -> Optional[Spec]:
        """The Spec this block stands for, or None if the backend would never write it."""
        if len(self.fields) != 7:
            return None
        action, proto, dport, dst, sport, src, direction = self.fields
        port = PORT_PATTERN.match(dport)
        if action != "allow" or proto not in ("tcp", "udp") or sport != "any" or not port:
            return None
        if direction not in ("in", "out"):
            return None
        try:
            source, destination = normal_address(src), normal_address(dst)
        except ValueError:
            return None
        anywhere = set(ANY_ADDRESS.values())
        local, peer = (destination, source) if direction == "in" else (source, destination)
        if local not in anywhere:
            return None
        low = int(port.group(1))
        way = "inbound" if direction == "in" else "outbound"
        return Spec(way, proto, low, int(port.group(2) or low), None if peer in anywhere else peer)


def parse_blocks(lines: Sequence[str]) -> List[Block]:
    """Every ``### tuple ###`` block of a rules file given as lines (with their line ends)."""
    blocks = []
    for index, raw in enumerate(lines):
        if not raw.startswith(TUPLE_PREFIX):
            continue
        body, _sep, encoded = raw[len(TUPLE_PREFIX) :].strip().partition(" comment=")
        fields = tuple(body.split())
        if len(fields) not in (7, 9):
            continue
        end = index + 1
        while end < len(lines) and RULE_LINE.match(lines[end]):
            end += 1
        blocks.append(Block(index, end, fields, hex_decode(encoded) or ""))
    return blocks


def rewrite(lines: Sequence[str], replace: Dict[int, List[str]], append: Sequence[List[str]]) -> str:
    """The file with the blocks starting at ``replace``'s lines swapped and ``append``'s added.

    ``replace`` maps a block's start line to the lines that take the place of its tuple and
    rule lines (``[]`` removes it, together with the blank line ufw writes before it). New
    blocks go at the end of the rules, where ``ufw allow`` adds them. Every other line is
    kept byte for byte.
    """
    blocks = {block.start: block for block in parse_blocks(lines)}
    out: List[str] = []
    index = 0
    while index < len(lines):
        if index in replace:
            if not replace[index] and out and not out[-1].strip():
                out.pop()
            out.extend(replace[index])
            index = blocks[index].end
            continue
        out.append(lines[index])
        index += 1
    if append:
        at = insertion_point(out)
        out[at:at] = [line for block in append for line in block]
    return "".join(out)


def insertion_point(lines: Sequence[str]) -> int:
    """Where ``ufw allow`` would put a new rule: after the last rule, before ``### END RULES ###``."""
    for index, line in enumerate(lines):
        if line.strip() == RULES_END:
            return index - 1 if index and not lines[index - 1].strip() else index
    ends = [block.end for block in parse_blocks(lines)]
    if ends:
        return max(ends)
    for index, line in enumerate(lines):
        if line.strip() == RULES_START:
            return index + 1
    raise ValueError("no '%s' line" % RULES_START)
