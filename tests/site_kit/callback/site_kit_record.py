# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible's entry to site_kit's recording callback (the code is in site_kit/recorder.py)."""

from __future__ import annotations

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from site_kit.recorder import Recorder

DOCUMENTATION = r"""
name: site_kit_record
type: notification
short_description: Record a run's task results, module invocation counts and stats (tests only)
description:
  - Writes one JSON object (tasks, counts, stats) to the file named by E(SITE_KIT_RECORD)
    when the play ends. Used by the molecule harness, the demo and the benchmark.
requirements:
  - enabled in callbacks_enabled
"""


class CallbackModule(Recorder):
    CALLBACK_NAME = "site_kit_record"
