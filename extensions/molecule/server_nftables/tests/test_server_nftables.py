# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server mode on nftables: the role's result, then the module lifecycle."""

from biostar_harness.lifecycle import ModuleLifecycle
from biostar_harness.role_checks import RoleOnBackend


class TestRole(RoleOnBackend):
    backend = "nftables"


class TestModuleLifecycle(ModuleLifecycle):
    backend = "nftables"
