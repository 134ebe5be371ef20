# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the Linux and Windows port rule reconcilers."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  rules:
    description:
      - The complete set of port rules this owner wants on the host, in the shape that the
        P(biostar.hardening.port_matrix#lookup) lookup returns, so its result can be passed
        unchanged.
      - Owned rules on the host that are not in this list are removed. Rules that the owner
        did not create are never changed.
      - Each rule is a dict with the keys below. O(rules[].protocol) and O(rules[].port) are
        required; a key set to V(null) counts as not given.
      - Each rule is validated before anything on the host is touched. An invalid rule fails
        the task with a message that names the rule (for example C(rules[2].port)), the bad
        value and the valid values. That includes a rule that is not a dict (such as V(8080))
        and an unknown key.
      - The elements are declared V(raw) so that the module, not ansible-core, checks each rule
        and can name it in its message; only dicts are accepted.
      - Rules that differ only in O(rules[].purpose), O(rules[].provenance) or
        O(rules[].reference) are the same rule.
      - Ignored when O(state=absent).
    type: list
    elements: raw
    default: []
    suboptions:
      protocol:
        description:
          - V(tcp) or V(udp). Required.
        type: str
      port:
        description:
          - A port number from 1 to 65535, or a range V(low-high) such as V(51110-51120).
            Required.
        type: raw
      direction:
        description:
          - V(inbound) allows connections or datagrams from the O(rules[].peers) to this host.
          - V(outbound) allows this host to reach the port on the O(rules[].peers).
        type: str
        default: inbound
      peers:
        description:
          - IPv4/IPv6 addresses or CIDRs the rule is limited to (the sources of inbound
            rules, the destinations of outbound rules).
          - The peers decide the address family. An empty list means any address of both
            IPv4 and IPv6.
          - A single string is split at commas, as for any Ansible list option.
          - A network with host bits set (V(10.0.0.1/24)) is refused, not widened.
        type: list
        elements: str
        default: []
      purpose:
        description:
          - Why the rule exists. Carried into the rule's comment or description where the
            firewall has one, so people reading the firewall know what it is for.
        type: str
      provenance:
        description:
          - Where the rule comes from (the lookup says V(documented), V(inferred) or V(user)).
            Accepted so the lookup's output can be passed as is; not written to the firewall.
        type: str
      reference:
        description:
          - The document the rule is based on. Accepted so the lookup's output can be passed
            as is; not written to the firewall.
        type: str
  state:
    description:
      - V(present) makes the owned rules equal to O(rules), adding what is missing and removing
        owned rules that are no longer listed.
      - V(absent) removes every rule the owner has on the host, including the chains, jumps,
        services or rule groups the module created to hold them, and ignores O(rules).
    type: str
    choices: [present, absent]
    default: present
"""
