# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: port_matrix
author: biostar.hardening contributors (@biostar-hardening)
short_description: The TCP/UDP rules a BioStar host needs, by connection mode and host role
description:
  - Returns the firewall rules that a BioStar host needs, given the site's connection I(mode)
    and the host's I(host_role). This lookup is the only place in the collection that knows
    BioStar's ports.
  - Every rule carries its C(provenance) (V(documented) when a Suprema document states it,
    V(inferred) when it follows from documented behaviour, V(user) for O(extra_rules)) and a
    C(reference) to the document it comes from.
  - The result is plain data in the shape that M(biostar.hardening.firewall_ports) and
    M(biostar.hardening.win_firewall_ports) take as O(biostar.hardening.firewall_ports#module:rules).
  - Rules that share direction, protocol, port and peers are merged into one; their purposes
    and references are joined, and the merged rule is V(documented) when any part is.
  - Invalid input fails with an error that names the option, the bad value and the valid values.
options:
  _terms:
    description: Not used. Pass everything as keyword options.
    required: false
  mode:
    description:
      - The site's BioStar connection mode.
      - V(server), recommended by Suprema, where every device connects to the BioStar server.
      - V(direct), where devices are added to a client and the client connects to them. Suprema
        calls it "for temporary use".
    type: str
    required: true
    choices: [server, direct]
  host_role:
    description: What the managed host is in the BioStar installation.
    type: str
    required: true
    choices: [server, client]
  version:
    description: The BioStar generation whose ports to use.
    type: str
    default: "1"
    choices: ["1"]
  peers:
    description:
      - IPv4/IPv6 addresses or CIDRs that every rule is limited to (the sources of inbound
        rules, the destinations of outbound rules).
      - An empty list means any address of both families.
      - A network with host bits set (V(10.0.0.1/24)) is refused rather than silently widened.
    type: list
    elements: str
    default: []
  port_overrides:
    description:
      - Replace one of BioStar's default ports, for servers or devices that were reconfigured.
      - Keys are V(server_port) (TCP 1480), V(biostation_device_port) (TCP 1470),
        V(bioentry_device_port) (TCP 1471) and V(device_udp_port) (UDP 51110).
    type: dict
    default: {}
  extra_rules:
    description:
      - Rules to add to the matrix's, each a dict with C(protocol) (V(tcp) or V(udp)), C(port)
        (an integer or a V(low-high) range), and optionally C(direction) (default V(inbound)),
        C(peers) (default the O(peers) option), C(purpose) and C(reference).
      - They come back with C(provenance=user).
    type: list
    elements: dict
    default: []
  direction:
    description:
      - Which rules to return. Outbound rules only matter on hosts that filter egress.
    type: str
    default: all
    choices: [inbound, outbound, all]
  variable_names:
    description:
      - The names to use for this lookup's options in error messages, for callers that expose
        the options as variables of their own. The role C(biostar.hardening.firewall) maps
        V(extra_rules) to V(biostar_extra_rules), so an error about a bad port starts with
        C(biostar_extra_rules[0].port) rather than C(extra_rules[0].port).
      - Keys are option names of this lookup; unknown keys are an error.
    type: dict
    default: {}
notes:
  - The BioStar 1 facts and their sources are listed in the collection README's port matrix,
    which is generated from the same data as this lookup.
seealso:
  - module: biostar.hardening.firewall_ports
  - module: biostar.hardening.win_firewall_ports
"""

EXAMPLES = r"""
- name: The rules of a BioStar server in server mode
  ansible.builtin.debug:
    msg: "{{ lookup('biostar.hardening.port_matrix', mode='server', host_role='server') }}"

- name: Only inbound rules of a client, limited to the device subnet
  ansible.builtin.set_fact:
    client_rules: >-
      {{ lookup('biostar.hardening.port_matrix', mode='direct', host_role='client',
                direction='inbound', peers=['10.20.0.0/24']) }}

- name: A server moved off port 1480, with an extra management rule
  ansible.builtin.set_fact:
    server_rules: >-
      {{ lookup('biostar.hardening.port_matrix', mode='server', host_role='server',
                port_overrides={'server_port': 1490},
                extra_rules=[{'protocol': 'tcp', 'port': '8000-8010', 'purpose': 'Site tools'}]) }}
"""

RETURN = r"""
_raw:
  description: The rules, sorted by direction, protocol and port.
  type: list
  elements: dict
  contains:
    protocol:
      description: V(tcp) or V(udp).
      type: str
    port:
      description: The port, or a V(low-high) range as a string.
      type: raw
    direction:
      description: V(inbound) or V(outbound), seen from the managed host.
      type: str
    peers:
      description: CIDRs the rule is limited to; empty means any.
      type: list
      elements: str
    purpose:
      description: What the flow is for.
      type: str
    provenance:
      description: V(documented), V(inferred) or V(user).
      type: str
    reference:
      description: The document the rule comes from.
      type: str
"""

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

from ansible_collections.biostar.hardening.plugins.module_utils.port_matrix import select

OPTION_NAMES = ("mode", "host_role", "version", "peers", "port_overrides", "extra_rules", "direction")


def _select_or_raise(options, variable_names):
    try:
        return select(
            options.get("mode"), options.get("host_role"), **{n: options[n] for n in OPTION_NAMES[2:] if n in options}
        )
    except ValueError as error:
        raise AnsibleError(_in_callers_terms(str(error), variable_names)) from None


def _in_callers_terms(message, variable_names):
    """Name the caller's variable where the message names one of our options."""
    for option in sorted(variable_names, key=len, reverse=True):
        if message.startswith(option) and message[len(option) : len(option) + 1] in (":", ".", "[", " "):
            return str(variable_names[option]) + message[len(option) :]
    return "biostar.hardening.port_matrix: " + message


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        variable_names = kwargs.get("variable_names") or {}
        if not isinstance(variable_names, dict) or set(variable_names) - set(OPTION_NAMES):
            raise AnsibleError(
                "biostar.hardening.port_matrix: variable_names: invalid value %r; valid keys: %s"
                % (variable_names, ", ".join(OPTION_NAMES))
            )
        try:
            self.set_options(var_options=variables, direct=kwargs)
        except AnsibleError as error:
            # Ansible's own choices check names neither the valid values nor the fix; ours does.
            _select_or_raise(kwargs, variable_names)
            raise error
        options = {name: self.get_option(name) for name in OPTION_NAMES}
        # A lookup returns a list of results; the rule list is the one result.
        return [_select_or_raise(options, variable_names)]
