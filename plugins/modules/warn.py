#!/usr/bin/python
# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name, on the controller; this file
# carries its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: warn
short_description: Show a warning, once per run for the same text
description:
  - Adds O(msg) to the task result's warnings. Ansible shows it as C([WARNING]:), keeps it in
    every host's result for callbacks and AWX, and displays the same text only once per run,
    however many hosts return it.
  - Runs on the controller only; it does not connect to the host.
  - Unlike M(ansible.builtin.debug), the message is a warning and is counted as one by tools
    that read results.
options:
  msg:
    description: The warning text. Keep it free of host names so repeats collapse into one line.
    type: str
    required: true
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.conn
  - action_common_attributes.flow
  - biostar.hardening.attributes
  - biostar.hardening.attributes.controller
seealso:
  - module: ansible.builtin.debug
  - module: ansible.builtin.fail
author:
  - biostar.hardening contributors (@biostar-hardening)
"""

EXAMPLES = r"""
- name: Warn about a discouraged setting
  biostar.hardening.warn:
    msg: BioStar direct mode is meant for temporary use only.
  when: biostar_mode == 'direct'
"""

RETURN = r"""
msg:
  description: The warning text.
  returned: always
  type: str
  sample: BioStar direct mode is meant for temporary use only.
"""
