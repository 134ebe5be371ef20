"""benchmarks/module_profile.py: the parts that read what ran in the container (no containers)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
_spec = importlib.util.spec_from_file_location("module_profile", os.path.join(REPO, "benchmarks", "module_profile.py"))
profile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(profile)

C = "ansible_collections.biostar.hardening.plugins."
IMPORTTIME = f"""import time: self [us] | cumulative | imported package
import time:       100 |        100 |   _io
import time:      1000 |       1000 |     json.decoder
import time:       500 |       1500 |   json
import time:      2000 |       3500 | encodings
import time:      3000 |       3000 |       xml.sax
import time:       700 |       3700 |     {C}module_utils.backends.firewalld_config
import time:       300 |        300 |     re
import time:      1000 |       5000 |   {C}module_utils.backends.firewalld
import time:       400 |        400 |   selectors
import time:       600 |       6000 | {C}modules.firewall_ports
not an import line
"""


def test_importtime_total_the_collections_share_and_its_slowest_modules():
    total, mine, slowest = profile.parse_importtime(IMPORTTIME)
    assert round(total, 6) == 0.0095  # the two top-level imports: encodings and the module
    assert round(mine, 6) == 0.006  # the outermost collection module, with what it imported
    assert slowest[:3] == [
        (0.006, "plugins.modules.firewall_ports"),
        (0.005, "plugins.module_utils.backends.firewalld"),
        (0.0037, "plugins.module_utils.backends.firewalld_config"),
    ]
    # A collection module imported from outside the collection counts on its own.
    text = IMPORTTIME.replace(f"| {C}modules.firewall_ports", "| stdlib_thing")
    assert round(profile.parse_importtime(text)[1], 6) == 0.005


def test_the_tracer_records_each_command_with_its_time(tmp_path):
    """The code the tool runs in the container, run here on a script that starts two commands."""
    script = "import subprocess, sys; subprocess.run(['true']); p = subprocess.Popen(['sleep', '0.05']); p.wait()"
    target = tmp_path / "script.py"
    target.write_text(script, encoding="utf-8")
    command = [sys.executable, "-c", profile.TRACER, str(target)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    record = json.loads(done.stderr.split("@@PROFILE@@")[-1])
    assert [command for _start, _wall, command in record["commands"]] == [["true"], ["sleep", "0.05"]]
    assert record["commands"][1][1] >= 0.05
    assert record["total"] >= record["commands"][1][0] + record["commands"][1][1]
    assert profile.command_name(["/usr/bin/python3", "-I", "-"]) == "python3 -I - (firewalld helper)"
    assert profile.command_name(["/usr/sbin/nft", "-j", "list", "ruleset"]) == "nft -j list ruleset"
