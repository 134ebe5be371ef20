"""port_probe against real loopback listeners started by the tests themselves.

Only 127.0.0.1 (and ::1 where the kernel has it) is ever probed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
import threading
import time

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.biostar.hardening.plugins.modules import port_probe

LOOPBACK = "127.0.0.1"


@contextlib.contextmanager
def tcp_listener(host=LOOPBACK):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.bind((host, 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@contextlib.contextmanager
def udp_socket(reply: bool, host=LOOPBACK):
    """A UDP socket bound on loopback; with reply=True it echoes each datagram back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.1)
    received = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            received.append(data)
            if reply:
                sock.sendto(b"echo:" + data, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], received
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def unused_port(kind=socket.SOCK_STREAM) -> int:
    """A loopback port that nothing listens on (bound, read, released)."""
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind((LOOPBACK, 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@contextlib.contextmanager
def tcp_black_hole():
    """A TCP port whose SYNs are dropped, as a dropping firewall does.

    Linux drops a SYN when the listener's accept queue is full. A backlog of 0 with one
    connection queued and never accepted fills it; the loop is bounded.
    """
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((LOOPBACK, 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _attempt in range(8):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.settimeout(0.2)
            fillers.append(client)
            try:
                client.connect((LOOPBACK, port))
            except socket.timeout:
                break
        else:
            raise AssertionError("could not fill the accept queue of a loopback listener")
        yield port
    finally:
        for client in fillers:
            client.close()
        server.close()


def run_module(capsys, **args):
    """Run main() and return (failed, result) from the JSON it prints."""
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        port_probe.main()
    result = json.loads(capsys.readouterr().out)
    assert (exit_info.value.code != 0) == bool(result.get("failed"))
    return bool(result.get("failed")), result


def states(result):
    return [(c["protocol"], c["port"], c["state"], c["ok"]) for c in result["checks"]]


def test_tcp_open_and_refused(capsys):
    closed = unused_port()
    with tcp_listener() as open_port:
        failed, result = run_module(
            capsys,
            host=LOOPBACK,
            checks=[{"port": open_port}, {"protocol": "tcp", "port": closed, "expect": "closed"}],
            timeout=1,
        )
    assert not failed
    assert states(result) == [("tcp", open_port, "open", True), ("tcp", closed, "closed", True)]
    assert result["passed"] == 2 and result["failed_checks"] == 0
    assert result["address"] == LOOPBACK
    assert "connection refused" in result["checks"][1]["detail"]
    assert result["summary"].splitlines()[0] == "127.0.0.1: 2 of 2 checks as expected"


def test_tcp_dropped_syn_is_filtered(capsys):
    with tcp_black_hole() as port:
        started = time.monotonic()
        failed, result = run_module(
            capsys, host=LOOPBACK, checks=[{"port": port, "expect": "closed"}], timeout=0.3, retries=0
        )
        elapsed = time.monotonic() - started
    assert not failed
    assert states(result) == [("tcp", port, "filtered", True)]
    assert "no answer within 0.3s" in result["checks"][0]["detail"]
    assert elapsed < 3


def test_expectation_not_met_fails_with_table(capsys):
    closed = unused_port()
    with tcp_listener() as open_port:
        failed, result = run_module(
            capsys,
            host=LOOPBACK,
            checks=[{"port": closed, "expect": "open"}, {"port": open_port, "expect": "closed"}],
            timeout=0.5,
            retries=0,
        )
    assert failed
    assert states(result) == [("tcp", closed, "closed", False), ("tcp", open_port, "open", False)]
    assert result["failed_checks"] == 2
    assert "tcp/%d expected open, got closed" % closed in result["msg"]
    assert "tcp/%d expected closed, got open" % open_port in result["msg"]
    assert result["summary"].count("FAIL") == 2


def test_udp_reply_is_open(capsys):
    with udp_socket(reply=True) as (port, received):
        failed, result = run_module(
            capsys, host=LOOPBACK, checks=[{"protocol": "udp", "port": port}], timeout=1, udp_payload="ping-51110"
        )
    assert not failed
    assert states(result) == [("udp", port, "open", True)]
    assert received == [b"ping-51110"]
    assert result["checks"][0]["detail"] == "reply of %d bytes" % len(b"echo:ping-51110")


def test_udp_port_unreachable_is_closed(capsys):
    port = unused_port(socket.SOCK_DGRAM)
    failed, result = run_module(
        capsys, host=LOOPBACK, checks=[{"protocol": "udp", "port": port, "expect": "closed"}], timeout=1
    )
    assert not failed
    assert states(result) == [("udp", port, "closed", True)]
    assert "ICMP port unreachable" in result["checks"][0]["detail"]


@pytest.mark.parametrize(
    "means, expect, ok",
    [
        ("inconclusive", "open", False),
        ("inconclusive", "closed", False),
        ("open", "open", True),
        ("open", "closed", False),
        ("closed", "closed", True),
        ("closed", "open", False),
    ],
)
def test_udp_silence_counts_only_as_told(capsys, means, expect, ok):
    with udp_socket(reply=False) as (port, received):
        failed, result = run_module(
            capsys,
            host=LOOPBACK,
            checks=[{"protocol": "udp", "port": port, "expect": expect}],
            timeout=0.2,
            retries=0,
            udp_no_answer_means=means,
        )
    assert failed is not ok
    check = result["checks"][0]
    assert check["state"] == "open|filtered"
    assert check["ok"] is ok
    assert "udp_no_answer_means=%s" % means in check["detail"]
    assert received, "the silent listener must have received the datagram"


def test_retries_are_bounded_and_counted(capsys):
    closed = unused_port()
    started = time.monotonic()
    failed, result = run_module(capsys, host=LOOPBACK, checks=[{"port": closed}], timeout=0.2, retries=3)
    assert failed
    assert result["checks"][0]["attempts"] == 4
    assert time.monotonic() - started < 0.2 * 3 + 2


def test_retry_stops_at_first_success(capsys):
    with tcp_listener() as port:
        failed, result = run_module(capsys, host=LOOPBACK, checks=[{"port": port}], timeout=0.5, retries=5)
    assert not failed
    assert result["checks"][0]["attempts"] == 1


def test_checks_run_concurrently(capsys):
    with tcp_black_hole() as port:
        started = time.monotonic()
        failed, result = run_module(
            capsys, host=LOOPBACK, checks=[{"port": port, "expect": "closed"}] * 6, timeout=0.5, retries=0
        )
        elapsed = time.monotonic() - started
    assert not failed and result["passed"] == 6
    assert elapsed < 6 * 0.5, "six 0.5 s timeouts took %.2fs: checks are not concurrent" % elapsed


def test_check_mode_still_probes(capsys):
    with tcp_listener() as port:
        failed, result = run_module(capsys, host=LOOPBACK, checks=[{"port": port}], _ansible_check_mode=True)
    assert not failed and not result["changed"]
    assert result["checks"][0]["state"] == "open"


def test_ipv6_loopback(capsys):
    if not socket.has_ipv6:
        pytest.fail("this Python has no IPv6 support; the IPv6 path cannot be shown")
    try:
        ctx = tcp_listener("::1")
        port = ctx.__enter__()
    except OSError as exc:
        pytest.fail("::1 is not configured on this machine (%s); the IPv6 path cannot be shown" % exc)
    try:
        failed, result = run_module(capsys, host="::1", checks=[{"port": port}], timeout=1)
    finally:
        ctx.__exit__(None, None, None)
    assert not failed
    assert result["address"] == "::1"
    assert states(result) == [("tcp", port, "open", True)]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"timeout": 0.01}, "timeout: invalid value 0.01; valid values: 0.1 to 30.0 seconds"),
        ({"timeout": 31}, "timeout: invalid value 31.0; valid values: 0.1 to 30.0 seconds"),
        ({"retries": 6}, "retries: invalid value 6; valid values: 0 to 5"),
        ({"retries": -1}, "retries: invalid value -1; valid values: 0 to 5"),
        ({"checks": [{"port": 70000}]}, "checks[0].port: invalid value 70000; valid values: 1-65535"),
        ({"checks": [{"port": 0}]}, "checks[0].port: invalid value 0; valid values: 1-65535"),
        ({"checks": [{"port": 1, "protocol": "sctp"}]}, "value of protocol must be one of: tcp, udp, got: sctp"),
        ({"checks": [{"port": 1, "expect": "maybe"}]}, "value of expect must be one of: open, closed, got: maybe"),
        ({"udp_no_answer_means": "yes"}, "value of udp_no_answer_means must be one of: inconclusive, open, closed"),
        (
            {"checks": [{"port": 1, "open_from": ["10.0.0.0/8", "trusted"]}]},
            "checks[0].open_from: invalid value 'trusted'; valid values: IPv4/IPv6 addresses or CIDRs",
        ),
    ],
)
def test_bad_input_names_option_value_and_valid_values(capsys, args, message):
    full = {"host": LOOPBACK, "checks": [{"port": 1}]}
    full.update(args)
    failed, result = run_module(capsys, **full)
    assert failed
    assert message in result["msg"]
    assert "checks" not in result or result["checks"] == []


def test_unresolvable_host_fails_clearly(capsys, monkeypatch):
    # A resolver failure is simulated: a real lookup could send a DNS query off this machine.
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(port_probe.socket, "getaddrinfo", no_such_host)
    failed, result = run_module(capsys, host="biostar-server.invalid", checks=[{"port": 1}])
    assert failed
    assert (
        result["msg"]
        == "host: cannot resolve 'biostar-server.invalid' on this peer: [Errno -2] Name or service not known"
    )


@pytest.mark.parametrize(
    "code, state",
    [
        (errno.EHOSTUNREACH, "filtered"),
        (errno.ENETUNREACH, "filtered"),
        (errno.EACCES, "filtered"),
        (errno.EIO, "error"),
    ],
)
def test_socket_errors_are_classified(monkeypatch, code, state):
    class FailingSocket:
        def __init__(self, *args):
            pass

        def settimeout(self, value):
            pass

        def connect(self, address):
            raise OSError(code, "simulated")

        def close(self):
            pass

    monkeypatch.setattr(port_probe.socket, "socket", FailingSocket)
    assert port_probe.probe_tcp((LOOPBACK, 1), socket.AF_INET, 1.0)[0] == state
    assert port_probe.probe_udp((LOOPBACK, 1), socket.AF_INET, 1.0, b"x")[0] == state


def test_open_from_a_source_inside_expects_open(capsys):
    """Loopback reaches 127.0.0.1 from 127.0.0.1: inside 127.0.0.0/8, so the port must answer."""
    with tcp_listener() as open_port:
        failed, result = run_module(
            capsys,
            host=LOOPBACK,
            checks=[{"port": open_port, "open_from": ["127.0.0.0/8"], "label": "internal: gRPC"}],
            timeout=1,
        )
    assert not failed
    assert result["source"] == LOOPBACK
    (check,) = result["checks"]
    assert (check["expect"], check["state"], check["ok"]) == ("open", "open", True)
    assert check["open_from"] == ["127.0.0.0/8"] and check["label"] == "internal: gRPC"
    assert "[internal: gRPC]" in result["summary"]


def test_open_from_a_source_outside_expects_closed_and_fails_when_it_answers(capsys):
    with tcp_listener() as open_port:
        failed, result = run_module(
            capsys,
            host=LOOPBACK,
            checks=[{"port": open_port, "open_from": ["192.0.2.0/24", "2001:db8::/32"], "label": "internal: gRPC"}],
            timeout=1,
            retries=0,
        )
    assert failed
    (check,) = result["checks"]
    assert (check["expect"], check["state"], check["ok"]) == ("closed", "open", False)
    assert "expected closed, got open" in result["msg"]


def test_open_from_outside_is_met_by_a_closed_port(capsys):
    closed = unused_port()
    failed, result = run_module(
        capsys, host=LOOPBACK, checks=[{"port": closed, "open_from": ["192.0.2.0/24"]}], timeout=1
    )
    assert not failed
    assert result["checks"][0]["expect"] == "closed" and result["checks"][0]["state"] == "closed"


def test_no_open_from_leaves_source_empty(capsys):
    closed = unused_port()
    _failed, result = run_module(capsys, host=LOOPBACK, checks=[{"port": closed, "expect": "closed"}], timeout=1)
    assert result["source"] == ""
    assert result["checks"][0]["open_from"] == [] and result["checks"][0]["label"] == ""
