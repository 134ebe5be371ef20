# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytest setup shared by every scenario's testinfra verifier.

molecule runs the verifier from the scenario directory, so pytest loads this file for
every scenario; the shared helpers live in ``shared/biostar_harness``, built on the
test-site toolkit in ``tests/site_kit``.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "shared"))
sys.path.append(str(Path(__file__).resolve().parents[2] / "tests"))

from biostar_harness.site import Site


@pytest.fixture(scope="module")
def site():
    """The scenario's containers, each running a fresh listener for this test module."""
    containers = Site.from_molecule()
    containers.start_listeners()
    try:
        yield containers
    finally:
        containers.stop_listeners()
