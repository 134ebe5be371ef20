# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test-site toolkit: one way to build a small site of podman containers and use it.

Shared by the molecule harness (extensions/molecule/shared/biostar_harness), the demo
(scripts/demo) and the benchmark (benchmarks/bench.py):

- ``podman``: start and remove the site's containers, run commands in them, their addresses.
- ``collection``: link this checkout as ``biostar.hardening`` and the environment for
  ``ansible-playbook`` (collections path, the recording callback, quiet output).
- ``firewall``: seed a container's firewall with the default-deny ruleset a managed
  host starts from (nftables, iptables, ufw, firewalld).
- ``traffic``: the listener every probed port has, and bounded TCP/UDP probes between
  the site's containers (agents/ runs inside them).
- ``playbook``: run a playbook and read what Ansible recorded (``callback/``).

Python: ``python3 -m site_kit`` (with tests/ on the path) or ``python3 tests/site_kit``
gives the same operations to YAML and shell callers (link, start, remove, seed).
"""

from __future__ import annotations

import os

KIT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(KIT))
