"""The README's generated sections (port matrix, role variables) must match the data."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_readme_generated_sections_match_the_data():
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "readme_sections.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_drift_is_detected(tmp_path, monkeypatch):
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import readme_sections

    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        current = handle.read()
    tampered = current.replace("| server | direct | TCP 1480 (inferred) |", "| server | direct | TCP 1481 (inferred) |")
    assert tampered != current
    assert readme_sections.render(tampered) == current
