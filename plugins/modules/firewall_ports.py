#!/usr/bin/python
# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: firewall_ports
short_description: Reconcile the port rules one owner keeps in a Linux host firewall
description:
  - Takes the whole set of TCP/UDP port rules an owner wants on a Linux host and makes the
    host's firewall match it in one call. Missing rules are added, owned rules that are no
    longer wanted are removed, and rules the owner did not create are never touched.
  - Works with nftables, iptables (legacy or nf_tables variant), ufw and firewalld, and
    detects which one the host uses.
  - Every rule it creates carries the O(owner) tag, which is how it tells its own rules
    from everyone else's.
  - "B(nftables:) the rules live in owned regular chains (C(<owner>_in), C(<owner>_out) with
    non-alphanumerics turned into C(_)) inside each host table whose base chain filters input
    (or output, for outbound rules), entered by one jump tagged with the owner as the first
    rule of that base chain. An accept in a separate table could not override the host's
    drop, which is why the jump goes into the host's chain. An address family that no host
    base chain filters gets an owned table with an accepting base chain instead. All
    changes are one C(nft -f) transaction."
  - "B(iptables:) the rules live in owned chains C(BIOSTAR-INPUT) and C(BIOSTAR-OUTPUT)
    (derived from O(owner) when it is not the default), entered by a jump from C(INPUT) or
    C(OUTPUT) tagged with C(-m comment --comment <owner>). Each family changes in one
    C(iptables-restore --noflush) (or C(ip6tables-restore)) transaction; when the second
    family fails, the first is put back."
  - "B(ufw:) ufw rules whose comment starts with the owner, written into ufw's own rule files
    and loaded into ufw's user chains with one C(iptables-restore -n) per family when ufw is
    active. ufw's default policy is never changed and ufw is never enabled."
  - "B(firewalld:) owned configuration in the zone, permanent and runtime alike, changed by
    one helper process per step over D-Bus; many new definitions are written as files and
    loaded with one reload. When the daemon is not running, firewalld's offline configuration
    code (what C(firewall-offline-cmd) runs) writes the permanent configuration."
  - The address family follows the peers. A rule without peers applies to IPv4 and IPv6.
  - "B(Lockout guard:) an owned rule that carries the current SSH session (the port and
    client from C(SSH_CONNECTION) on the target, also found through the parent processes
    after become) is never removed; the task fails instead. A default policy is only ever
    changed with O(baseline=true)."
extends_documentation_fragment:
  - biostar.hardening.port_rules
options:
  backend:
    description:
      - The firewall to manage.
      - V(auto) uses the first that is active, in this order, firewalld running, ufw active,
        an nftables ruleset with a base chain on hook input, iptables filtering input.
      - When none filters, the result says RV(filtering=false), a warning says so, and the
        rules still go in with nftables when C(nft) exists, else with iptables.
      - A named backend that is missing or unusable fails the task with a message that says
        what was detected on the host.
    type: str
    choices: [auto, nftables, iptables, ufw, firewalld]
    default: auto
  owner:
    description:
      - The tag that marks the rules this module owns, in rule comments, chain names and
        descriptions. Two owners never touch each other's rules.
      - 1 to 20 lowercase letters, digits or C(-), starting with a letter. Chain, table and
        service names derive from it one to one, so two owners never share a chain.
    type: str
    default: biostar-hardening
  zone:
    description:
      - The firewalld zone to put the rules in. Default is firewalld's default zone.
      - Only used by the firewalld backend, but checked with every backend.
      - 1 to 17 letters, digits, C(_) or C(-).
    type: str
  persist:
    description:
      - Save the owned rules so they survive a reboot or a firewall restart, and report what
        was written in RV(persisted).
      - "nftables: an include file C(/etc/nftables.d/<owner>.nft) that recreates the owned
        chains and jumps, loaded from C(/etc/nftables.conf) (or
        C(/etc/sysconfig/nftables.conf)) with an C(include) line the module adds when that
        file exists."
      - "iptables: the whole ruleset as C(iptables-save) and C(ip6tables-save) print it, to
        C(/etc/iptables/rules.v4) and C(rules.v6) when C(/etc/iptables) exists
        (netfilter-persistent), else to C(/etc/sysconfig/iptables) and C(ip6tables) when they
        exist (iptables-services). Only written when their owned part is out of date."
      - "ufw and firewalld: their own permanent configuration."
    type: bool
    default: true
  baseline:
    description:
      - Also enforce a default-deny inbound policy. Before the policy becomes drop, owned
        rules keep established and related traffic, loopback and the O(management_ports)
        open, so the connection Ansible uses stays up.
      - Supported by the nftables and iptables backends. The input policy of every host base
        chain on hook input (nftables) or of C(INPUT) in both families (iptables) becomes
        drop.
      - Without it the module never changes a default policy, and leaves baseline rules
        that an earlier run created in place, since removing them while input drops could
        cut the management connection. O(state=absent) removes them, unless that would cut
        the current SSH session.
      - Ignored with O(state=absent).
    type: bool
    default: false
  management_ports:
    description:
      - TCP ports that O(baseline) keeps open.
      - Default is the port of the current SSH session, from C(SSH_CONNECTION) on the target.
        With O(baseline=true) and no port known the task fails.
      - When the current SSH session is known, its port must be in the list.
    type: list
    elements: int
  lock_timeout:
    description:
      - Seconds to wait for another run of this module on the same host to finish.
      - Runs on one host take a host-wide lock (C(/run/lock/biostar-hardening-firewall.lock))
        for the whole read, plan, apply and persist sequence, whatever their owner, so two
        converges started at once end in one of the requested rule sets, never a mix.
      - When the lock stays taken longer, the task fails naming the lock file and changes nothing.
      - 0 tries once and does not wait.
    type: int
    default: 60
notes:
  - Check mode predicts exactly what a real run would change, including what would be
    persisted, and touches nothing.
  - With C(--diff) the owned rules before and after are shown one per line; lines starting
    with C(#) show the jumps, default policies and baseline rules the backend manages.
  - One module call per host does one read, one plan and one write, however many rules.
  - A backend failure leaves the previous owned rules in place and the error carries the
    firewall's own message in C(stderr).
seealso:
  - plugin: biostar.hardening.port_matrix
    plugin_type: lookup
attributes:
  check_mode:
    support: full
    description: Reports what would change, exactly, and changes nothing.
  diff_mode:
    support: full
    description: Shows the owned rules before and after.
  platform:
    platforms: posix
    support: full
    description: Linux hosts with nftables, iptables, ufw or firewalld.
author:
  - biostar.hardening contributors (@biostar-hardening)
"""

EXAMPLES = r"""
- name: Open the ports a BioStar server needs in server mode
  biostar.hardening.firewall_ports:
    rules: "{{ query('biostar.hardening.port_matrix', mode='server', host_role='server') }}"

- name: The same rules limited to the site's networks, written out by hand
  biostar.hardening.firewall_ports:
    rules:
      - {protocol: tcp, port: 1480, peers: [10.20.0.0/16, "2001:db8:20::/48"], purpose: BioStar server port}
      - {protocol: tcp, port: 1470, peers: [10.20.0.0/16]}
      - {protocol: udp, port: 51110, direction: inbound}

- name: Use iptables even where nftables is also present, and keep a separate owner
  biostar.hardening.firewall_ports:
    backend: iptables
    owner: site-extra
    rules:
      - {protocol: tcp, port: 8000-8010}

- name: Default-deny inbound, keeping SSH and the BioStar ports open
  biostar.hardening.firewall_ports:
    rules: "{{ query('biostar.hardening.port_matrix', mode='server', host_role='server') }}"
    baseline: true

- name: Preview the change
  biostar.hardening.firewall_ports:
    rules: "{{ query('biostar.hardening.port_matrix', mode='direct', host_role='server') }}"
  check_mode: true
  diff: true

- name: Remove every rule, chain and jump this collection created
  biostar.hardening.firewall_ports:
    state: absent
"""

RETURN = r"""
changed:
  description: Whether the firewall or its saved configuration was (or, in check mode, would be) changed.
  returned: always
  type: bool
backend:
  description: The backend used.
  returned: always
  type: str
  sample: nftables
filtering:
  description:
    - Whether a filtering firewall was active on the host before the run. False means nothing
      blocked traffic, so the rules change nothing until something does.
  returned: always
  type: bool
  sample: true
added:
  description: Owned rules that were (or would be) added.
  returned: always
  type: list
  elements: dict
  contains:
    protocol:
      description: V(tcp) or V(udp).
      type: str
    port:
      description: The port, or a range V(low-high).
      type: raw
    direction:
      description: V(inbound) or V(outbound).
      type: str
    peers:
      description: The normalised CIDRs; empty means any.
      type: list
      elements: str
  sample: [{protocol: tcp, port: 1480, direction: inbound, peers: []}]
removed:
  description: Owned rules that were (or would be) removed, in the same shape as RV(added).
  returned: always
  type: list
  elements: dict
  sample: [{protocol: tcp, port: 1470, direction: inbound, peers: ["10.0.0.0/8"]}]
rules:
  description: The owned rules on the host after the run, in the same shape as RV(added).
  returned: always
  type: list
  elements: dict
  sample: [{protocol: tcp, port: 1480, direction: inbound, peers: []}]
persisted:
  description:
    - Files or configurations written (or, in check mode, that would be written) to keep the
      rules across reboots. A file the module deleted is reported as C(<path> (removed)).
  returned: always
  type: list
  elements: str
  sample: [/etc/nftables.d/biostar-hardening.nft, /etc/nftables.conf]
actions:
  description:
    - What the run changed (or, in check mode, would change) in the firewall, in words, one
      entry per step (chains created or filled, jumps added or deleted, policies set).
    - A run that repairs drift (an owned rule, chain or jump removed by hand) says here what it
      put back.
  returned: always
  type: list
  elements: str
  sample:
    - create chain inet filter biostar_hardening_in with 3 rules
    - add jump inet filter input -> biostar_hardening_in
diff:
  description: The owned rules before and after, one per line, with C(#) lines for jumps, policies and baseline rules.
  returned: when diff mode is on
  type: dict
  sample:
    before: "inbound tcp/1470 from any\n# jump inet filter input -> biostar_hardening_in\n"
    after: "inbound tcp/1480 from any\n# jump inet filter input -> biostar_hardening_in\n"
"""

import os
from typing import Any, Dict, List, Optional, Sequence

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    BackendError,
    BackendOptions,
    CommandResult,
    ReusingRunner,
    Runner,
    Target,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.detect import (
    BACKENDS,
    DetectionError,
    select_backend,
)
from ansible_collections.biostar.hardening.plugins.module_utils.engine import ReconcileError, reconcile
from ansible_collections.biostar.hardening.plugins.module_utils.host_lock import (
    DEFAULT_TIMEOUT,
    HostLockError,
    host_lock,
)
from ansible_collections.biostar.hardening.plugins.module_utils.lockout import (
    LockoutError,
    Session,
    find_ssh_connection,
    management_ports,
)
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    RULE_OPTIONS,
    Rule,
    RuleError,
    rules_from_dicts,
    validate_owner,
    validate_zone,
)

ARGUMENT_SPEC = dict(
    # Raw elements: rules_from_dicts checks each one (a dict, its keys, its values) and
    # names it in any message; RULE_OPTIONS documents the keys (see owned_rules).
    rules=dict(type="list", elements="raw", default=[], options=RULE_OPTIONS),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    backend=dict(type="str", choices=["auto", *BACKENDS], default="auto"),
    owner=dict(type="str", default="biostar-hardening"),
    zone=dict(type="str"),
    persist=dict(type="bool", default=True),
    baseline=dict(type="bool", default=False),
    management_ports=dict(type="list", elements="int"),
    lock_timeout=dict(type="int", default=DEFAULT_TIMEOUT),
)


class ModuleRunner(Runner):
    """Commands on the managed host through AnsibleModule.run_command, in the C locale."""

    def __init__(self, module: AnsibleModule):
        self.module = module
        self.paths: Dict[str, Optional[str]] = {}

    def which(self, name: str) -> Optional[str]:
        if name not in self.paths:
            self.paths[name] = self.module.get_bin_path(name, opt_dirs=["/usr/sbin", "/sbin"])
        return self.paths[name]

    def run(self, args: Sequence[str], data: Optional[str] = None) -> CommandResult:
        path = args[0] if os.path.isabs(args[0]) else self.which(args[0])
        if not path:
            return CommandResult(127, "", "%s: command not found" % args[0])
        rc, out, err = self.module.run_command(
            [path, *args[1:]], data=data, binary_data=True, environ_update={"LC_ALL": "C", "LANG": "C"}
        )
        return CommandResult(rc, out, err)


def rule_dicts(rules: Sequence[Rule]) -> List[Dict[str, Any]]:
    return [{"protocol": r.protocol, "port": r.port, "direction": r.direction, "peers": list(r.peers)} for r in rules]


def desired_target(params: Dict[str, Any], session: Optional[Session]) -> Target:
    """The validated Target from the module options; RuleError or LockoutError when they are wrong."""
    validate_owner(params["owner"])
    if params["zone"] is not None:
        validate_zone(params["zone"])
    if params["state"] == "absent":
        return Target((), False, None)
    rules = tuple(rules_from_dicts(params["rules"], "rules"))
    ports = management_ports(params["management_ports"], session) if params["baseline"] else None
    return Target(rules, True, None if ports is None else tuple(ports))


def run_module(module: AnsibleModule) -> Dict[str, Any]:
    params = module.params
    result: Dict[str, Any] = dict(
        changed=False,
        backend=params["backend"],
        filtering=False,
        added=[],
        removed=[],
        rules=[],
        persisted=[],
        actions=[],
    )

    def fail(msg: str, warnings: Sequence[str] = (), **extra: Any) -> None:
        for message in warnings:
            module.warn(message)
        module.fail_json(msg=msg, **dict(result, **extra))

    session = Session.parse(find_ssh_connection())
    try:
        target = desired_target(params, session)
    except (RuleError, LockoutError) as exc:
        fail(str(exc))

    # One lock from detection to persistence: what detection listed is what the backend
    # reads (ReusingRunner answers the repeated listing), and no other run changes it between.
    runner = ReusingRunner(ModuleRunner(module))
    noted: Sequence[str] = ()  # detection's warnings, once a backend is selected
    try:
        with host_lock(params["lock_timeout"]):
            options = BackendOptions(owner=params["owner"], zone=params["zone"], persist=params["persist"])
            try:
                selection = select_backend(runner, params["backend"], options)
            except DetectionError as exc:
                fail(str(exc))
            result.update(backend=selection.name, filtering=selection.filtering)
            noted = selection.warnings
            backend = selection.build(runner, options)
            if target.baseline is not None and not backend.supports_baseline:
                fail(
                    "baseline: not supported with backend %s; it is supported with nftables and iptables"
                    % selection.name
                )
            outcome = reconcile(backend, target, session, module.check_mode)
    except (HostLockError, LockoutError) as exc:
        fail(str(exc), noted)
    except ReconcileError as exc:
        result.update(rules=rule_dicts(exc.rules_in_place))
        fail(str(exc), noted, stderr=exc.stderr, cmd=exc.command, step=exc.step)
    except BackendError as exc:
        fail(str(exc), noted, stderr=exc.stderr, cmd=exc.command)
    for message in selection.warnings + outcome.warnings:
        module.warn(message)
    result.update(
        changed=outcome.changed,
        added=rule_dicts(outcome.added),
        removed=rule_dicts(outcome.removed),
        rules=rule_dicts(outcome.after),
        persisted=list(outcome.persisted),
        actions=list(outcome.actions),
    )
    if module._diff:
        result["diff"] = outcome.diff("%s rules of owner %s" % (selection.name, params["owner"]))
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**run_module(module))


if __name__ == "__main__":
    main()
