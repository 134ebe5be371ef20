"""Backend selection: the auto order, the fallback when nothing filters, clear errors."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils.backends import detect
from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    Backend,
    BackendError,
    BackendOptions,
    Detection,
    not_installed,
)
from ansible_collections.biostar.hardening.plugins.module_utils.backends.iptables import IptablesBackend
from ansible_collections.biostar.hardening.plugins.module_utils.backends.nftables import NftablesBackend

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "netfilter"))
from netfilter_fakes import NFT_LIST, SAVE4, SAVE6, FakeRunner, failed, fixture, ok

VERSION = ("iptables", "--version")


def stub(name, available, active, detail="stub"):
    class Stub(Backend):
        pass

    Stub.name = name
    Stub.detect = classmethod(lambda cls, runner: Detection(name, available, active, detail))
    return Stub


def broken(name):
    class Broken(Backend):
        @classmethod
        def detect(cls, runner):
            raise BackendError("%s: status failed" % name, stderr="boom")

    return Broken


@pytest.fixture
def registry(monkeypatch):
    table = dict(detect.REGISTRY)
    table["ufw"] = stub("ufw", True, False, "inactive")
    table["firewalld"] = stub("firewalld", False, False, "firewall-cmd not found")
    monkeypatch.setattr(detect, "REGISTRY", table)
    # The stubs answer for themselves, installed or not (the fake host has no firewall-cmd or ufw).
    monkeypatch.setattr(detect, "not_installed", lambda runner, name: None)
    return table


def host(nft="nft_empty.json", v4="iptables_fresh_v4.txt", v6=None, binaries=None):
    responses = {
        NFT_LIST: ok(fixture(nft)),
        VERSION: ok(fixture("iptables_version_nft.txt")),
        SAVE4: ok(fixture(v4)),
        SAVE6: ok(fixture(v6 or v4)),
    }
    if binaries is None:
        return FakeRunner(responses)
    return FakeRunner(responses, binaries=binaries)


def test_registry_names_every_backend_by_its_class():
    assert detect.backend_class("nftables") is NftablesBackend
    assert detect.backend_class("iptables") is IptablesBackend
    for name, class_name in (("ufw", "UfwBackend"), ("firewalld", "FirewalldBackend")):
        found = detect.backend_class(name)
        if found is not None:
            assert found.__name__ == class_name
        else:
            assert name in detect.MISSING
    assert detect.backend_class("pf") is None


def test_a_named_backend_imports_no_other_backend():
    """Only the backend a run uses is imported (and compiled, inside the module's payload)."""
    module = "ansible_collections.biostar.hardening.plugins.module_utils.backends."
    code = (
        "import sys\n"
        "from ansible_collections.biostar.hardening.plugins.module_utils.backends import detect\n"
        "from ansible_collections.biostar.hardening.plugins.modules import firewall_ports\n"
        "before = {m for m in sys.modules if m.startswith(%r)}\n"
        "detect.backend_class(sys.argv[1])\n"
        "print(' '.join(sorted(m[len(%r):] for m in sys.modules if m.startswith(%r))))\n"
        "print(' '.join(sorted(m[len(%r):] for m in before)))\n" % (module, module, module, module)
    )
    expected = {
        "nftables": {"nftables", "netfilter", "persistence", "tags"},
        "iptables": {"iptables", "netfilter", "persistence", "tags"},
        "ufw": {"ufw", "ufw_rules", "tags"},
        "firewalld": {"firewalld", "firewalld_config", "firewalld_helper"},
    }
    for name, modules in expected.items():
        done = subprocess.run(
            [sys.executable, "-c", code, name],
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)),
        )
        after, before = (set(line.split()) for line in done.stdout.splitlines())
        assert before == {"base", "detect"}, before
        assert after - before == modules, (name, after - before)


def test_firewalld_running_wins(registry):
    registry["firewalld"] = stub("firewalld", True, True, "running")
    registry["ufw"] = stub("ufw", True, True, "active")
    chosen = detect.select_backend(host(nft="nft_host_drop.json"))
    assert (chosen.name, chosen.filtering, chosen.warnings) == ("firewalld", True, ())


def test_ufw_active_comes_next(registry):
    registry["ufw"] = stub("ufw", True, True, "active")
    chosen = detect.select_backend(host(nft="nft_host_drop.json"))
    assert (chosen.name, chosen.filtering) == ("ufw", True)


def test_nftables_base_chain_on_input_comes_before_iptables(registry):
    chosen = detect.select_backend(host(nft="nft_host_drop.json", v4="iptables_host_drop_v4.txt"))
    assert (chosen.backend, chosen.filtering) == (NftablesBackend, True)


def test_iptables_nft_tables_count_as_iptables_not_nftables(registry):
    chosen = detect.select_backend(
        host(nft="nft_iptables_compat.json", v4="iptables_host_drop_v4.txt", v6="iptables_host_drop_v6.txt")
    )
    assert (chosen.name, chosen.filtering) == ("iptables", True)


def test_nothing_filters_falls_back_to_nftables_and_says_so(registry):
    chosen = detect.select_backend(host())
    assert (chosen.name, chosen.filtering) == ("nftables", False)
    [warning] = chosen.warnings
    assert "no firewall filters traffic" in warning
    assert "ufw: inactive (inactive)" in warning
    assert "firewalld: unusable (firewall-cmd not found)" in warning


def test_nothing_filters_and_no_nft_falls_back_to_iptables(registry):
    runner = host(binaries=("iptables", "iptables-save", "iptables-restore", "ip6tables-save"))
    chosen = detect.select_backend(runner)
    assert (chosen.name, chosen.filtering) == ("iptables", False)


def test_no_usable_backend_names_every_detection(registry):
    with pytest.raises(detect.DetectionError) as caught:
        detect.select_backend(host(binaries=()))
    message = str(caught.value)
    assert message.startswith("no usable firewall backend on this host. Detected: ")
    assert "nftables: unusable (nft not found)" in message
    assert "iptables: unusable (iptables, iptables-save, iptables-restore not found)" in message


def test_a_backend_whose_detection_fails_counts_as_unusable(registry):
    registry["firewalld"] = broken("firewalld")
    chosen = detect.select_backend(host(nft="nft_host_drop.json"))
    assert chosen.name == "nftables"
    assert "firewalld: unusable (firewalld: status failed: boom)" in detect.describe(chosen.detections)


def test_named_backend_that_is_unusable_fails_with_what_was_detected(registry):
    runner = host(nft="nft_host_drop.json")
    runner.responses[NFT_LIST] = failed(fixture("nft_no_cap_error.txt"))
    with pytest.raises(detect.DetectionError) as caught:
        detect.select_backend(runner, "nftables")
    message = str(caught.value)
    assert "backend nftables is not usable on this host: nft -j list ruleset failed" in message
    assert "Operation not permitted" in message
    assert "iptables: inactive" in message


def test_named_backend_that_does_not_filter_warns(registry):
    chosen = detect.select_backend(host(), "iptables")
    assert (chosen.name, chosen.filtering) == ("iptables", False)
    assert "does not filter traffic" in chosen.warnings[0]


def test_unknown_backend_lists_the_valid_ones(registry):
    with pytest.raises(detect.DetectionError, match="valid values: auto, nftables, iptables, ufw, firewalld"):
        detect.select_backend(host(), "pf")


def test_missing_backend_module_is_reported(monkeypatch, registry):
    registry.pop("firewalld")
    monkeypatch.setitem(detect.MISSING, "firewalld", "No module named firewalld")
    found = detect.detect_one(host(), "firewalld")
    assert not found.available
    assert "No module named firewalld" in found.detail


def test_with_the_runs_options_the_selection_carries_what_the_chosen_backend_probed(registry):
    calls = []

    def probing(name, active):
        class Probing(Backend):
            @classmethod
            def detect(cls, runner):
                raise AssertionError("probe is used when the run's options are given")

            @classmethod
            def probe(cls, runner, options):
                calls.append((name, options.zone))
                return Detection(name, True, active, "probed"), "%s read" % name

        return Probing

    registry["firewalld"] = probing("firewalld", False)
    registry["ufw"] = probing("ufw", True)
    options = BackendOptions(zone="internal")
    chosen = detect.select_backend(host(nft="nft_host_drop.json"), "auto", options)
    assert (chosen.name, chosen.seen) == ("ufw", "ufw read")
    assert calls == [("firewalld", "internal"), ("ufw", "internal")]
    assert detect.select_backend(host(), "firewalld", options).seen == "firewalld read"
    # Without options (the old call), nothing is carried.
    registry["ufw"] = stub("ufw", True, True)
    assert detect.select_backend(host(nft="nft_host_drop.json"), "ufw").seen is None


def test_the_selection_builds_its_backend_with_what_the_probe_read(registry):
    registry["firewalld"] = stub("firewalld", True, True)
    registry["firewalld"].probe = classmethod(lambda cls, runner, options: (cls.detect(runner), "listing"))
    options = BackendOptions(zone="internal")
    runner = host()
    built = detect.select_backend(runner, "firewalld", options).build(runner, options)
    assert (type(built), built.seen, built.options, built.runner) == (registry["firewalld"], "listing", options, runner)
    assert detect.select_backend(runner, "firewalld").build(runner, options).seen is None


def test_auto_detection_on_a_host_without_firewalld_or_ufw_imports_neither():
    """Their commands are looked up first; only an installed backend's module is imported."""
    module = "ansible_collections.biostar.hardening.plugins.module_utils.backends."
    code = (
        "import sys, json\n"
        "sys.path.insert(0, %r)\n"
        "from netfilter_fakes import FakeRunner, NFT_LIST, ok, fixture\n"
        "from ansible_collections.biostar.hardening.plugins.module_utils.backends import detect\n"
        "chosen = detect.select_backend(FakeRunner({NFT_LIST: ok(fixture('nft_host_drop.json'))}, binaries=['nft']))\n"
        "print(json.dumps([chosen.name, [d.detail for d in chosen.detections],\n"
        "    sorted(m[len(%r):] for m in sys.modules if m.startswith(%r))]))\n"
        % (os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "netfilter"), module, module)
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)),
    )
    name, details, imported = json.loads(done.stdout)
    assert name == "nftables"
    assert details[:2] == ["firewalld is not installed (no firewall-cmd)", "ufw is not installed (no ufw command)"]
    assert not {"firewalld", "firewalld_config", "firewalld_helper", "ufw", "ufw_rules"} & set(imported), imported
    assert "nftables" in imported


@pytest.mark.parametrize(
    ("binaries", "installed"),
    [
        ((), {"firewalld": False, "ufw": False}),
        (("firewall-offline-cmd",), {"firewalld": True, "ufw": False}),
        (("firewall-cmd", "ufw"), {"firewalld": True, "ufw": True}),
    ],
)
def test_not_installed_needs_one_of_the_backends_commands(binaries, installed):
    runner = FakeRunner({}, binaries=binaries)
    for name, expected in installed.items():
        found = not_installed(runner, name)
        assert (found is None) == expected, (name, binaries)
        if found is not None:
            assert (found.name, found.available, found.active) == (name, False, False)
    assert not_installed(runner, "nftables") is None  # checked by its own detection, which reads too
