"""The README section "What happens when things go wrong": summary of a run, check, update."""

import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import reliability_section  # noqa: E402


def run_rows(*rows, complete=True):
    return {
        "parts": ["badinput", "faults"],
        "complete": complete,
        "rows": [dict(zip(("part", "what", "passed", "figure"), row)) for row in rows],
        "timings": {"total": 301.2},
    }


RUN = run_rows(
    ("faults", "nftables: module killed before the apply", True, "killed; left {'nft': 'prev'}"),
    ("faults", "iptables: persistence full", True, "step persist: [Errno 28] '/etc/iptables/.biostar-x1y2'"),
    ("concurrency", "5 converges, nftables: all wait", True, "done after 5.4s"),
    ("bad input", "all bad inputs", True, "92 of 92 refused clearly"),
    ("faults", "every fault on every backend survived", True, "15 of 15 faults survived"),
    ("ssh keys", "sshd keeps its host keys, ufw", True, "3 of 3 restarts"),
)


@pytest.fixture
def files(tmp_path, monkeypatch):
    summary = tmp_path / "summary.json"
    monkeypatch.setattr(reliability_section, "SUMMARY", str(summary))
    run = tmp_path / "run.json"
    run.write_text(json.dumps(RUN))
    return summary, run


def test_the_summary_keeps_counts_and_drops_what_changes_between_runs():
    summary = reliability_section.summarise(RUN)
    assert [part["part"] for part in summary["parts"]] == ["bad input", "faults", "concurrency", "ssh keys"]
    faults = summary["parts"][1]["rows"]
    assert [row["what"] for row in faults] == sorted(row["what"] for row in faults)
    figures = {row["what"]: row["figure"] for part in summary["parts"] for row in part["rows"]}
    assert figures["every fault on every backend survived"] == "15 of 15 faults survived"
    assert figures["all bad inputs"] == "92 of 92 refused clearly"
    # Times, firewall messages and temporary names would make every run differ.
    assert figures["5 converges, nftables: all wait"] is None
    assert figures["iptables: persistence full"] is None
    assert figures["nftables: module killed before the apply"] is None
    assert "301" not in json.dumps(summary)


def test_the_summary_does_not_depend_on_row_order():
    shuffled = dict(RUN, rows=list(reversed(RUN["rows"])))
    assert reliability_section.summarise(shuffled) == reliability_section.summarise(RUN)


def test_a_new_part_is_rendered_under_its_own_name_with_its_rows():
    text = reliability_section.render(reliability_section.summarise(RUN))
    assert "**Ssh keys.**" in text
    assert "- Passed: sshd keeps its host keys, ufw" in text
    assert "- Sshd keeps its host keys, ufw: 3 of 3 restarts." in text


def test_the_section_states_each_promise_with_its_figure_and_what_is_not_promised():
    text = reliability_section.render(reliability_section.summarise(RUN))
    assert "6 of 6 checks passed" in text
    assert "**A firewall command that fails halfway leaves your previous rules in place.**" in text
    assert "- Checked on nftables and iptables: 3 of 3 checks passed." in text
    assert "- Every fault on every backend survived: 15 of 15 faults survived." in text
    assert "IPv4 and IPv6 transactions (iptables, ufw) leaves the two families different" in text
    # Parts the issue asks for that this run did not have are said to be missing.
    assert "Not checked by the suite yet: repair of rules changed by hand; the management connection" in text
    assert "- Not checked on iptables yet: concurrent runs." in text
    assert "- Not checked on ufw yet: faults and concurrent runs." in text
    assert "- Not checked on firewalld yet: faults and concurrent runs." in text


def test_a_failing_row_is_shown_as_failed():
    failing = run_rows(("drift", "the jump removed, nftables", False, "-"))
    text = reliability_section.render(reliability_section.summarise(failing))
    assert "- FAILED: the jump removed, nftables" in text
    assert "0 of 1 checks passed" in text


def test_check_passes_only_when_the_committed_summary_matches_the_run(files, capsys):
    summary, run = files
    assert not summary.exists()
    assert reliability_section.main(["--check", str(run)]) == 1
    assert "make reliability-docs" in capsys.readouterr().err
    assert reliability_section.main(["--update", str(run)]) == 0
    assert reliability_section.main(["--check", str(run)]) == 0
    run.write_text(json.dumps(dict(RUN, rows=RUN["rows"][:-1])))
    assert reliability_section.main(["--check", str(run)]) == 1
    out = capsys.readouterr()
    removed = [line for line in out.out.splitlines() if line.startswith("-") and "sshd keeps" in line]
    assert removed, out.out
    assert "is not current for the rows this run produced" in out.err


def test_update_refuses_a_failing_or_partial_run(files, capsys):
    summary, run = files
    run.write_text(json.dumps(run_rows(("drift", "the jump removed, nftables", False, "-"))))
    assert reliability_section.main(["--update", str(run)]) == 1
    assert "1 failing rows (the jump removed, nftables)" in capsys.readouterr().err
    run.write_text(json.dumps(dict(RUN, complete=False)))
    assert reliability_section.main(["--update", str(run)]) == 1
    assert "from a run of some parts only (badinput, faults)" in capsys.readouterr().err
    assert not summary.exists()


def test_a_missing_run_says_to_run_the_suite(files, tmp_path, capsys):
    assert reliability_section.main(["--check", str(tmp_path / "nothing.json")]) == 1
    assert "run `make reliability` first" in capsys.readouterr().err


def test_the_readme_section_comes_from_the_committed_summary():
    import readme_sections

    assert readme_sections.SECTIONS["RELIABILITY"] is reliability_section.render
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    assert reliability_section.render() in readme


def test_bad_inputs_still_in_ansible_cores_words_are_named(tmp_path, monkeypatch):
    table = tmp_path / "bad_inputs.yml"
    table.write_text(
        "cases:\n"
        "  - {id: a, where: role, args: {}, expect: {names: biostar_host_role, value: missing, valid: server},"
        " known_unclear: core words}\n"
        "  - {id: b, where: lookup, args: {}, expect: {names: mode, value: x, valid: server}}\n"
    )
    monkeypatch.setattr(reliability_section, "BAD_INPUTS", str(table))
    assert reliability_section.known_unclear(str(table)) == ["`biostar_host_role` missing (role)"]
    text = reliability_section.render(reliability_section.summarise(RUN))
    assert "do not list the valid values: `biostar_host_role` missing (role)." in text
    table.write_text(table.read_text().replace(" known_unclear: core words", ""))
    assert "ansible-core's own words" not in reliability_section.render(reliability_section.summarise(RUN))
