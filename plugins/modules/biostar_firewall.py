#!/usr/bin/python
# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name, on the controller; this file
# carries its documentation. The options are the role's variables, generated from
# roles/firewall/meta/argument_specs.yml (tests/unit checks that they match).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: biostar_firewall
short_description: 'The role biostar.hardening.firewall in one task: BioStar rules on one host, one module
  call'
description:
- Does for one host everything the role C(biostar.hardening.firewall) does; the role is this one task.
- On the controller, takes the role's variables (from the host's variables, or given as options; the role's
  argument spec, C(ansible-doc -t role biostar.hardening.firewall), documents them and this action checks
  them against it), refuses bad input before the host is touched with a message that names the variable,
  the bad value and the valid values, and computes the rules with the port matrix (the same code as the
  lookup C(biostar.hardening.port_matrix)).
- 'Picks the platform without facts (C(ansible_facts.os_family) when gathered, otherwise the connection
  or shell: WinRM, PSRP or a PowerShell shell mean Windows) and runs exactly one module:
  M(biostar.hardening.firewall_ports) on Linux, M(biostar.hardening.win_firewall_ports) on Windows.'
- Returns that module's result, and sets the host facts C(biostar_firewall_rules) and C(biostar_firewall_context).
  The module's C(invocation) (the arguments the action passed it, every rule included) is kept only from
  verbosity C(-vvv), where ansible-core's default output shows it; below that it is left out, as it would
  only add to the work of the controller's main process for every host.
- Shows the warnings the role gives (BioStar 1 direct mode, BioStar X without TLS, a baseline asked for
  on Windows), once per run for the same text.
- With O(biostar_host_role) unset, the host role comes from the host's BioStar inventory group (V(biostar_servers),
  V(biostar_clients), V(biostar_databases), V(biostar_communication_servers)); a host in more than one
  of them is refused.
options:
  biostar_version:
    description:
    - The BioStar generation whose port matrix applies. V(1) BioStar 1 (the default, so nothing changes
      for current users), V(2) BioStar 2, V(x) BioStar X.
    - Each version has its own modes, host roles, TLS default and optional services; a value of another
      version is refused with the valid values of this one.
    type: str
    choices:
    - '1'
    - '2'
    - x
    default: '1'
  biostar_mode:
    description:
    - The site's BioStar connection mode. Unset, the version's own default applies.
    - 'Version V(1): V(server) (default), recommended by Suprema, where every device connects to the BioStar
      server; V(direct), where devices are added to a client and the client connects to them. Suprema
      calls direct mode ''for temporary use''; the role warns about it but applies it.'
    - 'Version V(2): V(server_to_device) (default), where the server connects to each device; V(device_to_server),
      where devices connect to the server (devices behind NAT or on another network); V(mixed), for a
      site whose devices use both (BioStar 2 sets the mode per device).'
    - 'Version V(x): V(device_to_server) (default and only mode).'
    - The port matrix checks the value against the chosen version's modes (so the spec lists no choices,
      which would refuse the unset default), and an error names the valid ones.
    type: str
  biostar_host_role:
    description:
    - What this host is in the BioStar installation. V(server) runs the BioStar Server (BioStar X's Main
      Server); V(client) is an operator workstation (BioStar 1's BioStar Client; a browser for versions
      2 and x).
    - V(database) (versions V(2) and V(x)) is a separate database host; it opens the database port to
      O(biostar_server_addresses) only. V(communication_server) (version V(x)) is a BioStar X Communication
      Server, which devices connect to.
    - Devices (terminals and readers) are never managed; they only appear as peers.
    - Unset, the host's inventory group gives it (V(biostar_servers), V(biostar_clients), V(biostar_databases),
      V(biostar_communication_servers)), as in the playbook C(biostar.hardening.site). A host in none
      of them must set it, and a host in more than one is refused with what the other host roles would
      need.
    - A missing or wrong value is refused with the valid host roles of the chosen O(biostar_version).
    type: str
    choices:
    - server
    - client
    - database
    - communication_server
  biostar_tls:
    description:
    - Whether devices talk to the server over TLS. With TLS, devices use the TLS server port (TCP 51213)
      and the plaintext one (TCP 51212) is not opened.
    - Unset, the version's default applies. V(false) for V(2) (secure communication with devices is off
      until turned on in BioStar 2) and V(true) for V(x) (Suprema's hardening guide prefers TLS). Version
      V(1) has no TLS port, so V(true) is refused there.
    - With version V(x) and V(false), the role warns, as Suprema's guide says to block the plaintext port
      if possible.
    type: bool
  biostar_services:
    description:
    - Optional BioStar services the site runs, by name. Each is off unless listed, and opens its ports
      on the host role that runs it.
    - 'Version V(2): V(web_http) (HTTP 80), V(ta), V(ta_http), V(video), V(video_http), V(report), V(report_http),
      V(unified_gateway), V(unified_gateway_http), V(cloud) on the server; V(usb_agent), V(usb_agent_http)
      and V(device_search) on a client (the operator''s PC).'
    - 'Version V(x): V(core_web), V(api), V(cloud) on the server.'
    - Version V(1) has none. A name of another version is refused with this version's names.
    type: list
    elements: str
    default: []
  biostar_database:
    description:
    - The database engine of versions V(2) and V(x). Unset, V(mariadb) (TCP 3312); V(mssql) is TCP 1433.
      A V(database) host opens that port to O(biostar_server_addresses); a server lists it among its internal
      services. Refused for version V(1).
    - The port matrix checks the value (V(mariadb) or V(mssql)).
    type: str
  biostar_server_addresses:
    description:
    - Addresses or CIDRs of the BioStar servers. Required for O(biostar_host_role=database); the database
      port is opened to them only, never to everyone.
    type: list
    elements: str
    default: []
  biostar_trusted_sources:
    description:
    - Addresses or CIDRs that may reach the internal services of versions V(2) and V(x) (databases, internal
      RPC, caches; the README lists them), such as BioStar X Communication Servers, which reach the Main
      Server's gRPC port.
    - Empty (the default), internal services get no rule and stay behind the host's default deny. They
      are never opened to everyone.
    type: list
    elements: str
    default: []
  biostar_allowed_sources:
    description:
    - IPv4/IPv6 addresses or CIDRs that every BioStar rule is limited to (the sources of inbound rules,
      the destinations of outbound rules).
    - An empty list allows any address of both families.
    - A network with host bits set, such as V(10.0.0.1/24), is refused rather than silently widened.
    type: list
    elements: str
    default: []
  biostar_manage_outbound:
    description:
    - Also allow BioStar's outbound flows. Only useful on hosts whose firewall filters egress; clients
      are the hosts with outbound flows in the matrix.
    type: bool
    default: false
  biostar_port_overrides:
    description:
    - Replace BioStar's default ports, for servers or devices that were reconfigured. Each value is a
      single port, 1-65535.
    - The keys are the chosen version's port names; the README's port matrix lists them with their defaults.
      The port matrix refuses a key of another version with the valid keys of this one (so the spec lists
      no sub-options).
    - 'Version V(1): V(server_port) (TCP 1480), V(biostation_device_port) (TCP 1470), V(bioentry_device_port)
      (TCP 1471), V(device_udp_port) (UDP 51110).'
    - 'Versions V(2) and V(x), for example: V(server_port) (TCP 51212, changeable in BioStar 2''s Setting
      > Server), V(server_tls_port) (TCP 51213), V(web_https_port) (TCP 443), V(thrift_port) (TCP 9310;
      9510 on new BioStar 2.7.11+ installs), V(mariadb_port) (TCP 3312), V(mssql_port) (TCP 1433); version
      V(2) also V(device_port) (TCP 51211).'
    type: dict
    default: {}
  biostar_extra_rules:
    description:
    - Rules to allow in addition to the matrix's, managed and removed like them.
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: Transport protocol.
        type: str
        choices:
        - tcp
        - udp
        required: true
      port:
        description: A port 1-65535, or a range written V(low-high).
        type: raw
        required: true
      direction:
        description: Seen from the managed host.
        type: str
        choices:
        - inbound
        - outbound
        default: inbound
      peers:
        description: Addresses or CIDRs for this rule only; default O(biostar_allowed_sources).
        type: list
        elements: str
      purpose:
        description: What the rule is for; shown in results.
        type: str
      reference:
        description: Where the need for the rule is documented.
        type: str
  biostar_firewall_state:
    description:
    - V(present) makes the owned rules equal the computed ones.
    - V(absent) removes every rule owned by O(biostar_firewall_owner) and nothing else.
    type: str
    choices:
    - present
    - absent
    default: present
  biostar_firewall_backend:
    description:
    - The Linux firewall to manage. V(auto) uses the one that filters traffic now.
    - Ignored on Windows, which always uses Windows Defender Firewall.
    type: str
    choices:
    - auto
    - nftables
    - iptables
    - ufw
    - firewalld
    default: auto
  biostar_firewall_owner:
    description:
    - The tag that marks the rules this role owns (a rule comment, a firewalld service or description,
      a Windows rule group). Only rules with this tag are ever changed or removed.
    - Give two independent uses of the role different owners.
    - 1-20 lowercase letters, digits or C(-), starting with a letter.
    type: str
    default: biostar-hardening
  biostar_firewall_baseline:
    description:
    - Also enforce a default-deny inbound policy that keeps established traffic, loopback and the management
      ports. By default the role never changes a default policy.
    - The management ports are O(biostar_firewall_management_ports) plus the port of the current connection
      when it is SSH and C(ansible_port) is set; the module also takes the SSH port from the session.
      A baseline is refused when no management port is known.
    - Linux only. On Windows the role warns and leaves the profiles' default policy alone (Windows Defender
      Firewall blocks unsolicited inbound traffic by default); the Windows module keeps the WinRM/PSRP/SSH
      connection's port safe on its own.
    type: bool
    default: false
  biostar_firewall_management_ports:
    description:
    - TCP ports that must stay reachable, such as SSH or WinRM. On Linux the baseline keeps them open;
      on Windows the module's lockout guard refuses to remove an owned rule that carries them.
    - Set it when Ansible connects through a port forward or proxy, so the port it uses is not the one
      the host listens on.
    type: list
    elements: int
    default: []
  biostar_firewall_zone:
    description:
    - The firewalld zone to add the rules to. Default is firewalld's default zone.
    - Used by the firewalld backend only.
    type: str
  biostar_firewall_persist:
    description:
    - Save the owned rules so they survive a reboot (firewalld permanent config, ufw's own files, an nftables
      include file, iptables-persistent files). The result lists what was written.
    type: bool
    default: true
extends_documentation_fragment:
- action_common_attributes
- action_common_attributes.flow
- biostar.hardening.attributes
attributes:
  check_mode:
    support: full
    details: The firewall module predicts the change.
  diff_mode:
    support: full
    details: The firewall module shows added and removed rules.
  platform:
    platforms:
    - posix
    - windows
seealso:
- module: biostar.hardening.firewall_ports
- module: biostar.hardening.win_firewall_ports
- plugin: biostar.hardening.port_matrix
  plugin_type: lookup
author:
- biostar.hardening contributors (@biostar-hardening)
"""

EXAMPLES = r"""
- name: What the role does, as one task (variables from the inventory)
  biostar.hardening.biostar_firewall:
  register: biostar_firewall_result

- name: A BioStar 2 server whose devices connect to it over TLS
  biostar.hardening.biostar_firewall:
    biostar_version: "2"
    biostar_mode: device_to_server
    biostar_host_role: server
    biostar_tls: true
    biostar_allowed_sources: [10.20.0.0/16]
"""

RETURN = r"""
biostar_firewall_module:
  description: The module that ran, V(biostar.hardening.firewall_ports) or V(biostar.hardening.win_firewall_ports).
  returned: when the module ran
  type: str
  sample: biostar.hardening.firewall_ports
ansible_facts:
  description: The host facts the role sets.
  returned: success
  type: dict
  contains:
    biostar_firewall_rules:
      description: The rules computed for the host, in the shape of the lookup C(biostar.hardening.port_matrix).
      type: list
      elements: dict
    biostar_firewall_context:
      description:
        - C(platform) (V(linux) or V(windows)), C(mode), C(host_role), C(version), C(tls), C(services) and
          C(direction) (V(inbound), or V(all) with O(biostar_manage_outbound)); the version's defaults filled in.
      type: dict
backend:
  description: The firewall in use; from the module that ran (see its documentation for every key).
  returned: success
  type: str
  sample: nftables
added:
  description: Owned rules added (or that would be, in check mode); from the module that ran.
  returned: success
  type: list
  elements: dict
removed:
  description: Owned rules removed; from the module that ran.
  returned: success
  type: list
  elements: dict
"""
