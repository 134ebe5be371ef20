# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attribute values shared by this collection's modules (with ansible.builtin's action_common_attributes)."""

from __future__ import annotations


class ModuleDocFragment:
    # Every module here: an action plugin of the same name does the work, synchronously,
    # host by host.
    DOCUMENTATION = r"""
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
"""

    # A module that runs on the controller only and reaches no host.
    CONTROLLER = r"""
attributes:
  become:
    support: none
  check_mode:
    support: full
  connection:
    support: none
  delegation:
    support: none
    details: It runs on the controller and does not connect to any host.
  diff_mode:
    support: none
  platform:
    platforms: all
"""
