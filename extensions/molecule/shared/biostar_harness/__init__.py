# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared verify helpers for the collection's molecule scenarios, on tests/site_kit.

- ``site``: the scenario's containers (found in molecule's inventory), the listeners a
  verify starts in them, and what bounded TCP/UDP probes between them must find.
- ``firewalls``: per-backend operations a verify needs (restart from persisted config,
  snapshot of the live state, foreign-rule and owned-rule checks, the open-everything
  control).
- ``ansible_run``: runs the scenario's playbooks (role or module) with other variables
  and reads the module's result from the json callback.
- ``lifecycle``: the module lifecycle every backend scenario runs (issue 3).
"""
