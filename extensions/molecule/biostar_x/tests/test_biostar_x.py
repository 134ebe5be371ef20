# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BioStar X and BioStar 2, proven with packets between containers, then by verify.yml.

Steps build on each other (the verifier stops at the first failure): the converged
fleet first, probed by the harness from an untrusted and a trusted container; then
verify.yml, which must report the unfiltered BioStar 2 host as exposed (naming its
internal ports and the fix) and pass on everything else; then the fix applied, after
which verify.yml passes from both probes.
"""

from __future__ import annotations

import pytest
from biostar_harness.ansible_run import run_playbook
from biostar_harness.site import LISTENER_LIFETIME, Site, expect_reach
from site_kit.traffic import start_listener

SITE = "biostar.hardening.site"
VERIFY = "biostar.hardening.verify"

# BioStar X internal services (PORTS.md) plus the database port.
X_INTERNAL = (51219, 10800, 47500, 47100, 21810, 9310, 9002, 9000, 51218, 3312)
X_SERVER_OPEN = (443, 51213)
# Plaintext device port (TLS is on by default) and services the site does not run.
X_SERVER_NOT_OPENED = (51212, 5002, 9010, 52000)
COMM_OPEN = (51213,)
COMM_INTERNAL = (51219, 51218)
V2_OPEN = (443, 51213)
V2_INTERNAL = (3312, 9310, 9000, 9002, 9010, 27017, 6379)
V2_NOT_OPENED = (51212, 80, 3002)

LISTENERS = {
    "server": (X_SERVER_OPEN + X_SERVER_NOT_OPENED + X_INTERNAL, ()),
    "comm": ((*COMM_OPEN, 51212, *COMM_INTERNAL), ()),
    "db": ((3312,), ()),
    "bare": (V2_OPEN + V2_NOT_OPENED + V2_INTERNAL, (51210,)),
}


def tcp(ports):
    return ["tcp/%d" % port for port in ports]


@pytest.fixture(scope="module")
def fleet():
    site = Site.from_molecule()
    for short, (tcp_ports, udp_ports) in LISTENERS.items():
        start_listener(site[short], tcp_ports, udp_ports, LISTENER_LIFETIME)
    try:
        yield site
    finally:
        site.stop_listeners()


def test_x_server_answers_on_its_opened_ports_only_from_an_untrusted_peer(fleet):
    expect_reach(
        fleet["peer"],
        fleet["server"],
        open=tcp(X_SERVER_OPEN),
        closed=tcp(X_SERVER_NOT_OPENED + X_INTERNAL),
        why="BioStar X Main Server, TLS on: 443 and 51213 only",
    )


def test_x_server_internal_services_answer_the_trusted_source(fleet):
    expect_reach(
        fleet["trusted"],
        fleet["server"],
        open=tcp(X_SERVER_OPEN + X_INTERNAL),
        closed=tcp(X_SERVER_NOT_OPENED),
        why="internal services are opened to biostar_trusted_sources only",
    )


def test_x_communication_server(fleet):
    expect_reach(
        fleet["peer"],
        fleet["comm"],
        open=tcp(COMM_OPEN),
        closed=tcp((51212, *COMM_INTERNAL)),
        why="Communication Server (iptables): devices on 51213, gRPC and RPC internal",
    )
    expect_reach(fleet["trusted"], fleet["comm"], open=tcp(COMM_OPEN + COMM_INTERNAL), closed=tcp((51212,)))


def test_x_database_answers_the_main_server_only(fleet):
    expect_reach(fleet["server"], fleet["db"], open=["tcp/3312"], why="from biostar_server_addresses")
    expect_reach(fleet["peer"], fleet["db"], closed=["tcp/3312"], why="not a BioStar server")
    expect_reach(fleet["trusted"], fleet["db"], closed=["tcp/3312"], why="trusted, but not a BioStar server")


def test_control_the_unfiltered_host_answers_on_everything(fleet):
    """The BioStar 2 host's firewall does not filter: its internal listeners answer."""
    expect_reach(
        fleet["peer"],
        fleet["bare"],
        open=tcp(V2_OPEN + V2_INTERNAL + V2_NOT_OPENED),
        why="no filtering firewall on this host (the control)",
    )


def _verify(limit):
    run = run_playbook(VERIFY, limit)
    assert run.record is not None, run.describe()
    return run


def test_verify_reports_the_unfiltered_host_as_exposed_with_the_fix(fleet):
    run = _verify(fleet["peer"].name)
    assert run.rc != 0, "verify.yml must fail while a host is exposed\n" + run.describe()
    (message,) = [m for m in run.failure_messages(fleet["peer"].name) if "EXPOSED" in m]
    exposed = [line for line in message.split("', '") if "EXPOSED" in line]
    assert len(exposed) == 1 and "EXPOSED mol-biostar_x-bare" in exposed[0], message
    for port in V2_INTERNAL:
        assert "tcp/%d (internal: " % port in exposed[0], (port, exposed[0])
    assert "biostar_firewall_baseline: true" in exposed[0], exposed[0]
    # Nothing else is wrong: the BioStar X hosts met every expectation.
    for target in ("server", "comm", "db"):
        assert "mol-biostar_x-%s" % target not in message, message
    results = {r["item"]: r for r in run.module_results(fleet["peer"].name, "port_probe")}
    assert set(results) == {"mol-biostar_x-%s" % t for t in ("server", "comm", "db", "bare")}
    for target in ("server", "comm", "db"):
        checks = results["mol-biostar_x-%s" % target]["checks"]
        assert checks and all(c["ok"] for c in checks), checks
    server = {c["port"]: c for c in results["mol-biostar_x-server"]["checks"]}
    assert {p for p, c in server.items() if c["label"].startswith("internal")} == set(X_INTERNAL)
    assert all(server[p]["expect"] == "closed" and server[p]["state"] == "filtered" for p in X_INTERNAL)
    assert results["mol-biostar_x-db"]["source"] == "10.88.213.20"


def test_the_fix_closes_the_exposure(fleet):
    bare = fleet["bare"].name
    run_playbook(SITE, bare, {"biostar_firewall_baseline": True, "biostar_firewall_management_ports": [22]}).succeeded()
    expect_reach(
        fleet["peer"],
        fleet["bare"],
        open=tcp(V2_OPEN),
        closed=tcp(V2_INTERNAL + V2_NOT_OPENED),
        why="BioStar 2, device_to_server with TLS, behind the baseline",
    )


def test_verify_passes_from_the_untrusted_and_the_trusted_probe(fleet):
    for probe in ("peer", "trusted"):
        run = _verify(fleet[probe].name).succeeded()
        results = {r["item"]: r for r in run.module_results(fleet[probe].name, "port_probe")}
        server = {c["port"]: c for c in results["mol-biostar_x-server"]["checks"]}
        want = "open" if probe == "trusted" else "closed"
        assert all(server[p]["expect"] == want for p in X_INTERNAL), server
