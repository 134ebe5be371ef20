# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that the role and the playbooks share, so each is decided in one place."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.biostar.hardening.plugins.module_utils import connection
from ansible_collections.biostar.hardening.plugins.module_utils.owned_rules import RuleError
from ansible_collections.biostar.hardening.plugins.module_utils.role_plan import HOST_ROLE_GROUPS


def host_roles(group_names):
    """The host roles that a host's groups give it, in the groups' order (none, one, or several)."""
    if isinstance(group_names, str) or not hasattr(group_names, "__iter__"):
        raise AnsibleFilterError("host_roles: expects a list of group names (group_names), got %r" % (group_names,))
    names = set(group_names)
    return [role for group, role in HOST_ROLE_GROUPS if group in names]


def fleet_pattern(groups):
    """A host pattern of the BioStar groups that exist in ``groups`` (the magic variable).

    Only existing groups are named, so a BioStar 1 site without database or Communication
    Server groups gets no "could not match" warnings. With none, the servers' group is named.
    """
    if not hasattr(groups, "keys"):
        raise AnsibleFilterError("fleet_pattern: expects the groups mapping (groups), got %r" % (groups,))
    present = [group for group, _role in HOST_ROLE_GROUPS if group in groups]
    return ":".join(present or [HOST_ROLE_GROUPS[0][0]])


def platform(os_family=None, connection_name=None, shell_type=None):
    return connection.platform(os_family, connection_name, shell_type)


def connection_kind(connection_name):
    return connection.connection_kind(connection_name)


def management_ports(
    configured, connection_name=None, port=None, scheme=None, plugin_defaults=True, argument="management_ports"
):
    try:
        return connection.management_ports(configured, connection_name, port, scheme, plugin_defaults, argument)
    except RuleError as error:
        raise AnsibleFilterError(str(error)) from None


class FilterModule:
    def filters(self):
        return {
            "host_roles": host_roles,
            "fleet_pattern": fleet_pattern,
            "platform": platform,
            "connection_kind": connection_kind,
            "management_ports": management_ports,
        }
