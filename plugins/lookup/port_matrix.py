# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: port_matrix
author: biostar.hardening contributors (@biostar-hardening)
short_description: The TCP/UDP rules a BioStar host needs, by version, connection mode and host role
description:
  - Returns the firewall rules that a BioStar host needs, given the BioStar O(version), the
    site's connection O(mode) and the host's O(host_role). This lookup is the only place in the
    collection that knows BioStar's ports.
  - Each version has its own vocabulary. Version V(1) (BioStar 1) has the modes V(server) and
    V(direct) and the host roles V(server) and V(client). Version V(2) (BioStar 2) has the modes
    V(server_to_device) (its default), V(device_to_server) and V(mixed), and adds the host role
    V(database). Version V(x) (BioStar X) has the mode V(device_to_server) and adds the host roles
    V(database) and V(communication_server). A value of another version is refused with the valid
    values of the chosen one.
  - The result is a flat list of rule dicts, one item per rule. Use C(query()) or
    C(lookup(..., wantlist=True)), which always give a list; plain C(lookup()) gives the rule
    itself, not a list, when there is exactly one rule.
  - Every rule carries its C(provenance) (V(documented) when a Suprema document states it,
    V(inferred) when it follows from documented behaviour, V(user) for O(extra_rules)) and a
    C(reference) to the document it comes from.
  - The rules are plain data in the shape that M(biostar.hardening.firewall_ports) and
    M(biostar.hardening.win_firewall_ports) take as O(biostar.hardening.firewall_ports#module:rules).
  - Rules that share direction, protocol, port and peers are merged into one; their purposes
    and references are joined, and the merged rule is V(documented) when any part is.
  - Versions V(2) and V(x) also list internal services (databases, internal RPC, caches) that
    must not answer from the network. They are never rules for everyone; they become rules only
    for O(trusted_sources), and O(result=internal) returns them as expectations.
  - Invalid input fails with an error that names the option, the bad value and the valid values.
options:
  _terms:
    description: Not used. Pass everything as keyword options.
    required: false
  mode:
    description:
      - The site's BioStar connection mode. Default is the version's own default mode.
      - Version V(1). V(server) (default), recommended by Suprema, where every device connects to
        the BioStar server. V(direct), where devices are added to a client and the client connects
        to them; Suprema calls it "for temporary use".
      - Version V(2). V(server_to_device) (default), where the server connects to each device;
        V(device_to_server), where devices connect to the server (devices behind NAT or on another
        network); V(mixed) for a site that sets the mode per device and uses both.
      - Version V(x). V(device_to_server) only.
    type: str
    choices: [server, direct, server_to_device, device_to_server, mixed]
  host_role:
    description:
      - What the managed host is in the BioStar installation.
      - V(server) and V(client) exist in every version; V(database) (a separate database host) in
        versions V(2) and V(x); V(communication_server) in version V(x).
    type: str
    required: true
    choices: [server, client, database, communication_server]
  version:
    description: The BioStar generation whose ports to use. V(1) BioStar 1, V(2) BioStar 2, V(x) BioStar X.
    type: str
    default: "1"
    choices: ["1", "2", "x"]
  tls:
    description:
      - Whether devices talk to the server over TLS (BioStar 2's "secure communication with
        device", BioStar X's Main Server SSL). With TLS on, devices use the TLS server port
        (TCP 51213) and the plaintext one (TCP 51212) is not opened.
      - Default is the version's own, V(false) for V(2) (secure communication is off until
        turned on) and V(true) for V(x). Version V(1) has no TLS port, so only V(false) is valid.
    type: bool
  services:
    description:
      - Optional services the site runs, by name; each is off unless listed.
      - Version V(2). V(web_http) (HTTP 80), V(ta), V(ta_http), V(video), V(video_http),
        V(report), V(report_http), V(unified_gateway), V(unified_gateway_http), V(cloud) (server),
        V(usb_agent), V(usb_agent_http), V(device_search) (client, the operator's PC).
      - Version V(x). V(core_web), V(api), V(cloud) (server).
      - Version V(1) has none. A name of another version is refused.
    type: list
    elements: str
    default: []
  database:
    description:
      - The database engine of versions V(2) and V(x), V(mariadb) (TCP 3312, the default) or
        V(mssql) (TCP 1433). It picks the database host's inbound port and the server's internal
        database port. Not valid for version V(1).
    type: str
    choices: [mariadb, mssql]
  server_addresses:
    description:
      - Addresses or CIDRs of the BioStar servers. A O(host_role=database) host opens its database
        port only to them, so they are required for that host role.
    type: list
    elements: str
    default: []
  trusted_sources:
    description:
      - Addresses or CIDRs that may reach the internal services (versions V(2) and V(x)), such as
        BioStar X Communication Servers reaching the Main Server's gRPC port. Internal services
        become rules for these sources only. Empty, they get no rule and stay behind the host's
        default deny.
    type: list
    elements: str
    default: []
  peers:
    description:
      - IPv4/IPv6 addresses or CIDRs that every rule is limited to (the sources of inbound
        rules, the destinations of outbound rules), except the database and internal-service
        rules, which O(server_addresses) and O(trusted_sources) limit.
      - An empty list means any address of both families.
      - A network with host bits set (V(10.0.0.1/24)) is refused rather than silently widened.
    type: list
    elements: str
    default: []
  port_overrides:
    description:
      - Replace one of BioStar's default ports, for servers or devices that were reconfigured.
      - The keys are the version's port names, listed in the collection README's port matrix;
        for version V(1) V(server_port) (TCP 1480), V(biostation_device_port) (TCP 1470),
        V(bioentry_device_port) (TCP 1471) and V(device_udp_port) (UDP 51110); for version V(2)
        V(server_port) (TCP 51212) and V(server_tls_port) (TCP 51213) among others.
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
  result:
    description:
      - V(rules) returns the rules to allow, for the firewall modules.
      - V(internal) returns the host's internal services as expectations, never as rules,
        dicts with C(protocol), C(port), C(expect=closed), C(trusted_sources), C(purpose),
        C(provenance) and C(reference).
      - V(checks) returns what a peer should see on the host's inbound ports, as
        M(biostar.hardening.port_probe) checks (C(protocol), C(port), C(expect), C(label) and,
        for rules limited to some addresses, C(open_from)). The label starts with V(allowed),
        V(internal) or V(not opened) (ports the host role opens only in another mode or TLS
        setting, or for a service it does not run). The playbook C(biostar.hardening.verify)
        uses it.
      - V(selection) returns one dict with the validated choices, the version's defaults filled
        in (C(version), C(title), C(mode), C(host_role), C(tls), C(services), C(database)).
    type: str
    default: rules
    choices: [rules, internal, checks, selection]
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
  - The facts and their sources are listed in the collection README's port matrix, which is
    generated from the same data as this lookup.
seealso:
  - module: biostar.hardening.firewall_ports
  - module: biostar.hardening.win_firewall_ports
  - module: biostar.hardening.port_probe
"""

EXAMPLES = r"""
- name: The rules of a BioStar 1 server in server mode
  ansible.builtin.debug:
    msg: "{{ query('biostar.hardening.port_matrix', mode='server', host_role='server') }}"

- name: Only inbound rules of a BioStar 1 client, limited to the device subnet
  ansible.builtin.set_fact:
    client_rules: >-
      {{ query('biostar.hardening.port_matrix', mode='direct', host_role='client',
               direction='inbound', peers=['10.20.0.0/24']) }}

- name: A BioStar 1 server moved off port 1480, with an extra management rule
  ansible.builtin.set_fact:
    server_rules: >-
      {{ query('biostar.hardening.port_matrix', mode='server', host_role='server',
               port_overrides={'server_port': 1490},
               extra_rules=[{'protocol': 'tcp', 'port': '8000-8010', 'purpose': 'Site tools'}]) }}

- name: A BioStar 2 server whose devices connect to it over TLS, with T&A
  ansible.builtin.set_fact:
    server_rules: >-
      {{ query('biostar.hardening.port_matrix', version='2', mode='device_to_server',
               host_role='server', tls=true, services=['ta']) }}

- name: A BioStar X database host, reachable from the Main Server only
  ansible.builtin.set_fact:
    database_rules: >-
      {{ query('biostar.hardening.port_matrix', version='x', host_role='database',
               server_addresses=['10.30.0.10']) }}

- name: BioStar X's internal services, which must not answer from the network
  ansible.builtin.debug:
    msg: "{{ query('biostar.hardening.port_matrix', version='x', host_role='server', result='internal') }}"
"""

RETURN = r"""
_raw:
  description:
    - With O(result=rules), the rules, sorted by direction, protocol and port, one list item per rule.
    - With O(result=internal) or O(result=checks), the entries described under O(result).
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

from ansible_collections.biostar.hardening.plugins.module_utils import port_matrix

SELECT_OPTIONS = ("mode", "host_role", "version", "peers", "port_overrides", "extra_rules", "direction")
VOCABULARY_OPTIONS = ("tls", "services", "database", "server_addresses", "trusted_sources")
OPTION_NAMES = SELECT_OPTIONS + VOCABULARY_OPTIONS + ("result",)


def _compute(options):
    """The one result the options ask for; options left out take the version's defaults."""
    given = {name: value for name, value in options.items() if name in OPTION_NAMES and value is not None}
    result = given.pop("result", "rules")
    if result == "rules":
        return port_matrix.select(**given)
    if result not in port_matrix.RESULTS[1:]:
        raise port_matrix.RuleError(
            "result: invalid value %r; valid values: %s" % (result, ", ".join(port_matrix.RESULTS))
        )
    given.pop("direction", None)
    if result == "selection":
        given.pop("extra_rules", None)
        return [port_matrix.selection(**given)]
    if result == "internal":
        given.pop("extra_rules", None)
        return port_matrix.internal(**given)
    return port_matrix.checks(**given)


def _select_or_raise(options, variable_names):
    try:
        return _compute(options)
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
        # One list item per rule: query() and wantlist=True give the rule list itself.
        return _select_or_raise(options, variable_names)
