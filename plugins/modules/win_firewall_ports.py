# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The module is win_firewall_ports.ps1 (run through the action plugin of the same name);
# this file only carries its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_firewall_ports
author:
  - biostar.hardening contributors (@biostar-hardening)
short_description: Reconcile owned TCP/UDP allow rules in Windows Defender Firewall in one call
description:
  - The Windows twin of M(biostar.hardening.firewall_ports). It takes the whole desired rule list
    (the shape the P(biostar.hardening.port_matrix#lookup) lookup returns) and makes the rules in
    one firewall rule group match it, in a single call per host.
  - The rule Group (O(group)) marks ownership. Missing rules are added with C(New-NetFirewallRule
    -Group ... -PolicyStore PersistentStore), owned rules that differ are corrected with
    C(Set-NetFirewallRule), and owned rules that are no longer desired are removed. Rules outside
    the group are never changed.
  - Each rule gets a stable name derived from what it allows (direction, protocol, port and a
    digest of its sorted peers), so reruns find their rules again and change nothing. The order of
    O(rules[].peers) does not matter.
  - Rules are inbound or outbound allow rules for the profiles in O(profiles). Inbound rules match
    the local port, outbound rules the remote (peer's) port. O(rules[].peers) become the rule's
    RemoteAddress (no peers means any address) and O(rules[].purpose) goes into its Description.
  - Everything that can be decided on the controller is decided there by the action plugin
    (validation, names, cmdlet parameters, the management port). The PowerShell side reads the
    rules of the group, compares and writes. If a write fails, the changes of this run are put
    back.
  - "Lockout guard: the module refuses to remove or change an owned rule that lets the current
    WinRM/SSH connection in (see O(management_ports)) unless the desired rules keep that port open
    from any address or an enabled inbound allow rule outside the group (such as Windows' own
    WinRM rule C(WINRM-HTTP-In-TCP)) allows it. It only ever creates allow rules, so it
    never blocks a port itself."
options:
  group:
    description:
      - The firewall rule Group that marks the rules this module owns. Only rules in this group
        are read, changed or removed.
      - Wildcard characters (C(* ? [ ] `)) are refused, because the NetSecurity cmdlets would
        expand them to other groups.
    type: str
    default: biostar-hardening
  profiles:
    description: The firewall profiles the rules apply to.
    type: list
    elements: str
    default: [Domain, Private, Public]
    choices: [Domain, Private, Public]
  management_ports:
    description:
      - TCP ports the lockout guard protects, in addition to the port of the current connection.
      - The action plugin takes the connection's port from the connection plugin (C(ansible_port),
        C(ansible_winrm_port), C(ansible_psrp_port) or C(ansible_ssh_port), else the plugin's
        default 5986/5985 for WinRM and PSRP, 22 for SSH). Over SSH the module also adds the server
        port from C(SSH_CONNECTION) on the host.
      - Set this when the connection goes through a port forward or proxy, so the port Ansible
        uses is not the one the host listens on.
    type: list
    elements: int
    default: []
  desired:
    description:
      - Internal. The action plugin fills it from O(rules); a task that sets it fails.
    type: list
    elements: dict
extends_documentation_fragment:
  - biostar.hardening.port_rules
  - biostar.hardening.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Nothing is changed (the cmdlets run with C(-WhatIf)); the result predicts the real run.
  diff_mode:
    support: full
    details: Before and after list the rules in the group, one a line.
  platform:
    platforms: windows
notes:
  - Needs the NetSecurity PowerShell module (Windows 8 / Windows Server 2012 and later).
  - Only the C(PersistentStore) is read and written; rules from Group Policy are never touched.
  - The rules are stored even when Windows Defender Firewall is off for the profiles; the result
    then reports RV(filtering=false) and warns.
  - There is no backend to choose on Windows; the role ignores C(biostar_firewall_backend) for
    Windows hosts.
seealso:
  - module: biostar.hardening.firewall_ports
  - module: community.windows.win_firewall_rule
    description: One rule per call, without removal of rules that are no longer needed.
"""

EXAMPLES = r"""
- name: Open the BioStar server-mode ports on a BioStar server
  biostar.hardening.win_firewall_ports:
    rules: "{{ query('biostar.hardening.port_matrix', mode='server', host_role='server') }}"

- name: The same, only from the device subnet and only on the domain profile
  biostar.hardening.win_firewall_ports:
    rules: >-
      {{ query('biostar.hardening.port_matrix', mode='server', host_role='server',
               peers=['10.20.0.0/24']) }}
    profiles: [Domain]

- name: A hand-written rule set
  biostar.hardening.win_firewall_ports:
    rules:
      - protocol: tcp
        port: 1480
        peers: [10.20.0.0/24, 2001:db8:20::/64]
        purpose: BioStar server port
      - protocol: udp
        port: 51110
        direction: outbound

- name: Remove every rule this collection added
  biostar.hardening.win_firewall_ports:
    state: absent

- name: The WinRM listener is reached through a port forward; protect the real port too
  biostar.hardening.win_firewall_ports:
    rules: "{{ biostar_rules }}"
    management_ports: [5986]
"""

RETURN = r"""
backend:
  description: The firewall that was managed.
  returned: success
  type: str
  sample: windows_firewall
filtering:
  description: Whether Windows Defender Firewall was on for at least one of O(profiles) before the run.
  returned: success
  type: bool
  sample: true
added:
  description: Rules created by this run (or that would be, in check mode).
  returned: success
  type: list
  elements: dict
  sample:
    - {protocol: tcp, port: 1470, direction: inbound, peers: [], name: biostar-hardening-in-tcp-1470-any}
updated:
  description:
    - Owned rules whose properties were corrected, with the properties that differed (for example
      V(RemoteAddress) after a manual edit, or V(Description) after a purpose changed).
  returned: success
  type: list
  elements: dict
  sample:
    - {protocol: tcp, port: 1480, direction: inbound, peers: [], name: biostar-hardening-in-tcp-1480-any,
       differences: [RemoteAddress]}
removed:
  description:
    - Owned rules removed by this run, as they were found. A rule edited by hand into something
      this module does not write (ICMP, several ports) keeps its raw values here.
  returned: success
  type: list
  elements: dict
  sample:
    - {protocol: tcp, port: 1471, direction: inbound, peers: [], name: biostar-hardening-in-tcp-1471-any}
rules:
  description: The owned rules after the run (empty for O(state=absent)).
  returned: success
  type: list
  elements: dict
  sample:
    - {protocol: tcp, port: 1480, direction: inbound, peers: [], name: biostar-hardening-in-tcp-1480-any}
    - {protocol: udp, port: 51110, direction: inbound, peers: [], name: biostar-hardening-in-udp-51110-any}
persisted:
  description: Where the changes were written. Empty when nothing changed.
  returned: success
  type: list
  elements: str
  sample: [PersistentStore]
group:
  description: The rule group that was reconciled.
  returned: success
  type: str
  sample: biostar-hardening
profiles:
  description: The profiles the rules apply to.
  returned: success
  type: list
  elements: str
  sample: [Domain, Private, Public]
management_ports:
  description: The TCP ports the lockout guard protected.
  returned: success
  type: list
  elements: int
  sample: [5986]
"""
