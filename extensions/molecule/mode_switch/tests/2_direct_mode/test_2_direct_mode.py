# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mode_switch, step "direct": see shared/biostar_harness/modes.py for what must answer."""

from biostar_harness.modes import SiteStep


class TestSite(SiteStep):
    step = "direct"
