# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the role biostar.hardening.firewall does for one host, decided on the controller.

The action plugin biostar.hardening.biostar_firewall hands this module the role's
variables (already checked against meta/argument_specs.yml) and what the controller
knows of the connection; ``plan`` returns the rules, the context, the warnings and the
one module call to make, or raises RuleError with a message that names the role
variable, the bad value and the valid values. Pure: no Ansible import, unit-testable.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.biostar.hardening.plugins.module_utils import connection, port_matrix
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import (
    OWNER_PATTERN,
    OWNER_VALID,
    RuleError,
    invalid,
)

# The inventory groups of a BioStar fleet and the host role each one gives its hosts
# (the playbooks and the filter biostar.hardening.host_roles use this table too).
HOST_ROLE_GROUPS = (
    ("biostar_servers", "server"),
    ("biostar_clients", "client"),
    ("biostar_databases", "database"),
    ("biostar_communication_servers", "communication_server"),
)

# The port matrix's option names and the role variables that feed them, so that an
# error names what the user set (biostar_extra_rules[0].port, not extra_rules[0].port).
MATRIX_VARIABLES = {
    "mode": "biostar_mode",
    "host_role": "biostar_host_role",
    "version": "biostar_version",
    "tls": "biostar_tls",
    "services": "biostar_services",
    "database": "biostar_database",
    "server_addresses": "biostar_server_addresses",
    "trusted_sources": "biostar_trusted_sources",
    "peers": "biostar_allowed_sources",
    "port_overrides": "biostar_port_overrides",
    "extra_rules": "biostar_extra_rules",
}

LINUX_MODULE = "biostar.hardening.firewall_ports"
WINDOWS_MODULE = "biostar.hardening.win_firewall_ports"
# What firewall_ports uses of a rule (purpose goes into the firewall's comment). provenance
# and reference are for people: they stay in the fact biostar_firewall_rules. Sending them
# too would more than double the module's arguments, which ansible-core serialises into the
# payload, and the module echoes back as its invocation in every result (37 KB for 256 rules).
MODULE_RULE_KEYS = ("protocol", "port", "direction", "peers", "purpose")

WARN_DIRECT = (
    "biostar_mode is 'direct'. Suprema describes direct mode as for temporary use only"
    " and recommends server mode, where devices connect to the BioStar server. The"
    " firewall is set up for direct mode as asked."
)
WARN_PLAINTEXT = (
    "biostar_tls is false with biostar_version x: devices use the plaintext Main Server port,"
    " which Suprema's BioStar X hardening guide says to block if possible. Turn on TLS device"
    " traffic and leave biostar_tls unset (true) when the devices support it."
)
WARN_WINDOWS_BASELINE = (
    "biostar_firewall_baseline is true, but on Windows the role does not change the firewall"
    " profiles' default policy (Windows Defender Firewall blocks unsolicited inbound traffic"
    " by default while it is on). Only the BioStar allow rules are managed; the result's"
    " 'filtering' tells whether the firewall is on."
)


class Plan:
    """The outcome for one host: facts to set, warnings to show, the one module to call."""

    def __init__(
        self,
        rules: List[Dict[str, Any]],
        context: Dict[str, Any],
        warnings: List[str],
        module: str,
        module_args: Dict[str, Any],
    ) -> None:
        self.rules = rules
        self.context = context
        self.warnings = warnings
        self.module = module
        self.module_args = module_args

    def facts(self) -> Dict[str, Any]:
        return {"biostar_firewall_rules": self.rules, "biostar_firewall_context": self.context}


def module_rules(rules: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The rules as firewall_ports takes them: only the keys it uses."""
    return [{key: rule[key] for key in MODULE_RULE_KEYS if key in rule} for rule in rules]


def host_roles(group_names: Optional[Sequence[str]]) -> List[str]:
    """The host roles that a host's groups give it, in the table's order."""
    names = set(group_names or ())
    return [role for group, role in HOST_ROLE_GROUPS if group in names]


def in_callers_terms(message: str) -> str:
    """Name the role variable where the matrix's message names one of its options."""
    for option in sorted(MATRIX_VARIABLES, key=len, reverse=True):
        if message.startswith(option) and message[len(option) : len(option) + 1] in (":", ".", "[", " "):
            return MATRIX_VARIABLES[option] + message[len(option) :]
    return message


def _matrix_options(variables: Mapping[str, Any], host_role: Any) -> Dict[str, Any]:
    version = variables.get("biostar_version")
    return {
        "mode": variables.get("biostar_mode"),
        "host_role": host_role,
        "version": "1" if version is None else str(version),
        "tls": variables.get("biostar_tls"),
        "services": variables.get("biostar_services"),
        "database": variables.get("biostar_database"),
        "server_addresses": variables.get("biostar_server_addresses"),
        "trusted_sources": variables.get("biostar_trusted_sources"),
        "peers": variables.get("biostar_allowed_sources"),
        "port_overrides": variables.get("biostar_port_overrides"),
    }


def several_groups_message(hostname: str, roles: Sequence[str], variables: Mapping[str, Any]) -> str:
    """Why a host in more than one BioStar group is refused, with what the others would open."""
    needs = []
    for role in roles[1:]:
        options = _matrix_options(variables, role)
        options.update(tls=None, services=None, database=None, trusted_sources=None)
        try:
            rules = port_matrix.select(direction="inbound", **options)
            ports = ",".join("%s/%s" % (rule["protocol"], rule["port"]) for rule in rules) or "none"
        except RuleError as error:
            ports = "unknown (%s)" % in_callers_terms(str(error))
        needs.append("%s inbound %s" % (role, ports))
    return (
        "%s is in the groups of host roles %s; the role manages one host role per host. Keep it in the group"
        " of its main host role and add what the others need with biostar_extra_rules: %s"
        % (hostname, " and ".join(roles), "; ".join(needs))
    )


def _host_role(variables: Mapping[str, Any], hostname: str, group_names: Optional[Sequence[str]]) -> Any:
    """biostar_host_role when set; otherwise the one BioStar group the host is in."""
    given = variables.get("biostar_host_role")
    if given not in (None, ""):
        return given
    roles = host_roles(group_names)
    if len(roles) > 1:
        raise RuleError(several_groups_message(hostname, roles, variables))
    return roles[0] if roles else None


def _linux_checks(variables: Mapping[str, Any], kind: str, management_ports: List[int], conn_name: str) -> None:
    owner = variables.get("biostar_firewall_owner")
    if (
        variables.get("biostar_firewall_baseline")
        and variables.get("biostar_firewall_state") == "present"
        and not management_ports
        and kind not in ("ssh", "local")
    ):
        raise RuleError(
            "biostar_firewall_management_ports: no port known; biostar_firewall_baseline=true makes inbound"
            " default-deny and must keep a management port open, but the connection is %s, which has none the"
            " role or the module can find. Set biostar_firewall_management_ports, for example [22]." % conn_name
        )
    if not isinstance(owner, str) or not OWNER_PATTERN.match(owner):
        raise invalid("biostar_firewall_owner", owner, OWNER_VALID)


def plan(
    variables: Mapping[str, Any],
    hostname: str = "",
    group_names: Optional[Sequence[str]] = None,
    os_family: Any = None,
    connection_name: Any = None,
    shell_type: Any = None,
    connection_port: Any = None,
) -> Plan:
    """Everything the role does for one host but the module call itself.

    ``variables`` are the role's variables, validated and with their defaults;
    ``connection_name``, ``shell_type`` and ``connection_port`` are ansible_connection,
    ansible_shell_type and ansible_port as the inventory gives them (None when unset).
    """
    host_role = _host_role(variables, hostname, group_names)
    options = _matrix_options(variables, host_role)
    if host_role is None:
        try:
            matrix = port_matrix.matrix_for(options["version"])
        except RuleError as error:
            raise RuleError(in_callers_terms(str(error))) from None
        raise RuleError(
            "biostar_host_role: missing for BioStar version %s; valid values: %s (set it, or put the host in one"
            " of the groups %s)"
            % (
                matrix.version,
                ", ".join(matrix.host_roles),
                ", ".join(group for group, role in HOST_ROLE_GROUPS if role in matrix.host_roles),
            )
        )
    direction = "all" if variables.get("biostar_manage_outbound") else "inbound"
    try:
        chosen = port_matrix.selection(**options)
        rules = port_matrix.select(extra_rules=variables.get("biostar_extra_rules"), direction=direction, **options)
    except RuleError as error:
        raise RuleError(in_callers_terms(str(error))) from None
    kind = connection.connection_kind(connection_name)
    where = connection.platform(os_family, connection_name, shell_type)
    context = {
        "platform": where,
        "mode": chosen["mode"],
        "host_role": chosen["host_role"],
        "version": chosen["version"],
        "tls": chosen["tls"],
        "services": chosen["services"],
        "direction": direction,
    }
    state = variables.get("biostar_firewall_state")
    baseline = bool(variables.get("biostar_firewall_baseline"))
    warnings = []
    if chosen["version"] == "1" and chosen["mode"] == "direct" and state == "present":
        warnings.append(WARN_DIRECT)
    if chosen["version"] == "x" and not chosen["tls"] and state == "present":
        warnings.append(WARN_PLAINTEXT)
    if where == "windows" and baseline:
        warnings.append(WARN_WINDOWS_BASELINE)
    configured = variables.get("biostar_firewall_management_ports") or []
    if where == "windows":
        args = {
            "rules": rules,
            "state": state,
            "group": variables.get("biostar_firewall_owner"),
            "management_ports": list(configured),
        }
        return Plan(rules, context, warnings, WINDOWS_MODULE, args)
    # Only a port the inventory gives (no plugin default): the module takes the real SSH
    # port from the session itself.
    management = connection.management_ports(
        configured,
        connection_name,
        connection_port,
        plugin_defaults=False,
        argument="biostar_firewall_management_ports",
    )
    _linux_checks(variables, kind, management, str(connection_name or "ssh"))
    args = {
        "rules": module_rules(rules),
        "state": state,
        "backend": variables.get("biostar_firewall_backend"),
        "owner": variables.get("biostar_firewall_owner"),
        "persist": variables.get("biostar_firewall_persist"),
        "baseline": baseline,
    }
    if variables.get("biostar_firewall_zone"):
        args["zone"] = variables["biostar_firewall_zone"]
    if baseline and management:
        args["management_ports"] = management
    return Plan(rules, context, warnings, LINUX_MODULE, args)
