#!/usr/bin/python
# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: port_probe
short_description: Check from a peer host whether TCP and UDP ports on a target answer
description:
  - Runs on a peer host (a BioStar client, a device stand-in, any host that should be allowed
    through the target's firewall) and tries each port in O(checks) against O(host).
  - Each check ends in one observed state. C(open) means a TCP connection was accepted, or a
    UDP datagram got a reply. C(closed) means the host answered that nothing listens there (a TCP
    reset, or an ICMP port unreachable for UDP); a firewall that rejects also looks like this.
    C(filtered) means nothing came back in time (a firewall dropped the packets, or the host is
    down), or an ICMP host, network or administratively-prohibited unreachable came back.
    C(open|filtered) is UDP's silence; a listener that does not reply and a firewall that drops
    cannot be told apart from the outside. C(error) is any other socket failure.
  - The module fails only when a check does not meet its expectation. C(expect=open) is met by
    C(open). C(expect=closed) is met by C(closed) or C(filtered).
  - UDP silence (C(open|filtered)) meets neither expectation unless O(udp_no_answer_means) says
    how to count it. Most services, BioStar's UDP 51110 among them, do not reply to an arbitrary
    datagram, so a check that must prove a UDP port open needs a responder on the target, or
    O(udp_no_answer_means=open) and the knowledge that silence proves nothing.
  - Checks run concurrently (at most 16 at a time), so the wall time is about the slowest check,
    not the sum. Every check makes at most O(retries)+1 attempts of at most O(timeout) seconds.
  - It only sends packets; it changes nothing on the peer or on the target.
options:
  host:
    description:
      - Name or address of the target to probe. A name is resolved once on the peer; the first
        address returned is used for every check and reported as RV(address).
    type: str
    required: true
  checks:
    description:
      - The ports to try and what to expect of each.
    type: list
    elements: dict
    required: true
    suboptions:
      protocol:
        description: Transport protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
      port:
        description: Port number, 1-65535.
        type: int
        required: true
      expect:
        description:
          - V(open) when the port must answer, V(closed) when it must not (refused or filtered).
          - With O(checks[].open_from), this is the expectation for a probe whose source address
            is in that list; from any other source the port must not answer.
        type: str
        choices: [open, closed]
        default: open
      open_from:
        description:
          - Addresses or CIDRs the port is open to, for a port that the target's firewall opens to
            some sources only (a database port opened to the BioStar servers, an internal service
            opened to trusted sources).
          - The module finds the source address this peer uses to reach O(host) (no packet is sent
            for that) and expects the port O(checks[].expect) when the source is in the list, and
            V(closed) otherwise. Empty (the default) means the expectation holds from anywhere.
        type: list
        elements: str
        default: []
      label:
        description:
          - What the port is, shown in RV(summary) and returned with the check, so a report can
            name an internal service that answered. The port_matrix lookup's checks start it with
            V(allowed), V(internal) or V(not opened).
        type: str
        default: ""
  timeout:
    description:
      - Seconds to wait for a TCP connection, or for a UDP reply, per attempt. 0.1 to 30.
    type: float
    default: 2.0
  retries:
    description:
      - How many more attempts a check gets when its result does not meet its expectation,
        for packet loss or a service that is still starting. 0 to 5. Attempts are 0.5 seconds
        apart at most.
    type: int
    default: 1
  udp_payload:
    description:
      - The datagram sent for UDP checks. A responder on the target must answer it for the port
        to be seen as V(open).
    type: str
    default: biostar-hardening port_probe
  udp_no_answer_means:
    description:
      - How a UDP check with no reply and no ICMP error (state C(open|filtered)) is counted.
      - V(inconclusive) counts it as meeting neither expectation, so a UDP check passes only
        on evidence. This is the honest default.
      - V(open) counts silence as open. Use it for services that never reply (BioStar's UDP
        51110), knowing that a firewall that drops then goes unnoticed by the open checks.
      - V(closed) counts silence as closed. Use it when a responder listens on every probed UDP
        port, so that silence can only mean the packets were dropped.
      - The reported RV(checks[].state) stays C(open|filtered) either way.
    type: str
    choices: [inconclusive, open, closed]
    default: inconclusive
attributes:
  check_mode:
    support: full
    details: The module only sends probe packets, so check mode runs the probes too.
  diff_mode:
    support: none
  platform:
    platforms: posix
extends_documentation_fragment:
  - action_common_attributes
notes:
  - Only probe hosts you are responsible for. Each check sends at most O(retries)+1 packets or
    connection attempts.
  - The probe sees the target's firewall as it applies to the peer's source address. Rules
    limited to other sources will look C(filtered) from here, as they should.
  - A target that is down makes every check C(filtered), which meets C(expect=closed). Pair
    closed checks with at least one open check to prove the target is up.
seealso:
  - module: biostar.hardening.firewall_ports
  - module: biostar.hardening.win_firewall_ports
author:
  - biostar.hardening contributors (@biostar-hardening)
"""

EXAMPLES = r"""
- name: BioStar server answers on its server-mode ports, and not on a control port
  biostar.hardening.port_probe:
    host: biostar-server.example.net
    checks:
      - {protocol: tcp, port: 1470}
      - {protocol: tcp, port: 1471}
      - {protocol: tcp, port: 1480}
      - {protocol: udp, port: 51110}
      - {protocol: tcp, port: 1490, expect: closed}
    # BioStar does not reply to a stray datagram on 51110: silence cannot prove it open.
    udp_no_answer_means: open
    timeout: 1.5

- name: Strict UDP check against a responder that echoes datagrams
  biostar.hardening.port_probe:
    host: 192.0.2.10
    checks:
      - {protocol: udp, port: 51110, expect: open}
      - {protocol: udp, port: 51111, expect: closed}
    udp_no_answer_means: closed
    retries: 2
  register: probe

- name: Show the per-check table
  ansible.builtin.debug:
    msg: "{{ probe.summary }}"
"""

RETURN = r"""
host:
  description: The target as given.
  returned: always
  type: str
  sample: biostar-server.example.net
address:
  description: The address the checks were sent to.
  returned: always
  type: str
  sample: 192.0.2.10
source:
  description:
    - The source address this peer uses to reach RV(address), when a check has O(checks[].open_from);
      otherwise empty.
  returned: always
  type: str
  sample: 192.0.2.20
checks:
  description: One entry per check, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    protocol:
      description: V(tcp) or V(udp).
      type: str
      sample: tcp
    port:
      description: The port probed.
      type: int
      sample: 1480
    expect:
      description: V(open) or V(closed); with O(checks[].open_from), the expectation for this peer's source address.
      type: str
      sample: open
    open_from:
      description: The check's O(checks[].open_from).
      type: list
      elements: str
      sample: []
    label:
      description: The check's O(checks[].label).
      type: str
      sample: "internal: gRPC"
    state:
      description: What was observed on the last attempt.
      type: str
      choices: [open, closed, filtered, open|filtered, error]
      sample: open
    detail:
      description: What that state is based on, in words.
      type: str
      sample: TCP connection accepted
    ok:
      description: Whether the state meets the expectation.
      type: bool
      sample: true
    attempts:
      description: How many attempts were made.
      type: int
      sample: 1
  sample:
    - {protocol: tcp, port: 1480, expect: open, state: open, detail: TCP connection accepted, ok: true, attempts: 1}
summary:
  description: A readable table of the checks, one line each, with a count line first.
  returned: always
  type: str
  sample: |-
    192.0.2.10: 2 of 2 checks as expected
      tcp    1480 expect open    open           ok    TCP connection accepted
      tcp    1490 expect closed  filtered       ok    no answer within 2.0s (dropped, or the host is down)
passed:
  description: How many checks met their expectation.
  returned: always
  type: int
  sample: 2
failed_checks:
  description: How many checks did not.
  returned: always
  type: int
  sample: 0
"""

import errno
import functools
import ipaddress
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Tuple

from ansible.module_utils.basic import AnsibleModule

TIMEOUT_RANGE = (0.1, 30.0)
RETRIES_RANGE = (0, 5)
PORT_RANGE = (1, 65535)
MAX_WORKERS = 16
RETRY_PAUSE = 0.5
UDP_REPLY_MAX = 2048
# ICMP host/net unreachable and admin-prohibited surface as these on Linux and the BSDs:
# a router or firewall answered on the target's behalf, so nothing reached a listener.
UNREACHABLE_ERRNOS = frozenset(
    code for code in (getattr(errno, name, None) for name in ("EHOSTUNREACH", "ENETUNREACH", "EACCES")) if code
)

OPEN = "open"
CLOSED = "closed"
FILTERED = "filtered"
OPEN_FILTERED = "open|filtered"
ERROR = "error"

# What silence (the detail takes the timeout) and a refusal mean, per protocol: a reachable
# TCP port answers the handshake either way, so silence is a drop; a UDP listener may say nothing.
TCP_SILENCE = (FILTERED, "no answer within %ss (dropped, or the host is down)")
TCP_REFUSAL = (CLOSED, "connection refused (host reachable; nothing listens, or a firewall rejects)")
UDP_SILENCE = (OPEN_FILTERED, "no reply and no ICMP error within %ss (a silent listener, or dropped)")
UDP_REFUSAL = (CLOSED, "ICMP port unreachable (host reachable; nothing listens, or a firewall rejects)")


def _socket_probe(
    kind: int,
    sockaddr: Tuple[Any, ...],
    family: int,
    timeout: float,
    exchange: Callable[[socket.socket], Tuple[str, str]],
    silence: Tuple[str, str],
    refusal: Tuple[str, str],
) -> Tuple[str, str]:
    """Run ``exchange`` on a fresh socket and name what happened as (state, detail).

    TCP and UDP read their errors the same way; they differ only in the exchange, in
    what silence means (``silence``'s detail takes the timeout) and in the refusal's words.
    """
    sock = socket.socket(family, kind)
    sock.settimeout(timeout)
    try:
        return exchange(sock)
    except socket.timeout:
        return silence[0], silence[1] % timeout
    except ConnectionRefusedError:
        return refusal
    except OSError as exc:
        if exc.errno in UNREACHABLE_ERRNOS:
            return FILTERED, "ICMP unreachable: %s" % (exc.strerror or exc)
        return ERROR, "socket error: %s" % exc
    finally:
        sock.close()


def probe_tcp(sockaddr: Tuple[Any, ...], family: int, timeout: float) -> Tuple[str, str]:
    def connect(sock: socket.socket) -> Tuple[str, str]:
        sock.connect(sockaddr)
        return OPEN, "TCP connection accepted"

    return _socket_probe(socket.SOCK_STREAM, sockaddr, family, timeout, connect, TCP_SILENCE, TCP_REFUSAL)


def probe_udp(sockaddr: Tuple[Any, ...], family: int, timeout: float, payload: bytes) -> Tuple[str, str]:
    def send_and_listen(sock: socket.socket) -> Tuple[str, str]:
        # A connected UDP socket is what makes the kernel report ICMP port unreachable to us.
        sock.connect(sockaddr)
        sock.send(payload)
        data = sock.recv(UDP_REPLY_MAX)
        return OPEN, "reply of %d bytes" % len(data)

    return _socket_probe(socket.SOCK_DGRAM, sockaddr, family, timeout, send_and_listen, UDP_SILENCE, UDP_REFUSAL)


def counts_as(state: str, no_answer_means: str) -> str:
    if state == OPEN_FILTERED and no_answer_means in (OPEN, CLOSED):
        return no_answer_means
    return state


def meets(expect: str, state: str, no_answer_means: str) -> bool:
    effective = counts_as(state, no_answer_means)
    if expect == OPEN:
        return effective == OPEN
    return effective in (CLOSED, FILTERED)


def run_check(
    check: Dict[str, Any],
    sockaddr: Tuple[Any, ...],
    family: int,
    timeout: float,
    retries: int,
    payload: bytes,
    no_answer_means: str,
) -> Dict[str, Any]:
    target = (sockaddr[0], check["port"], *sockaddr[2:])
    state, detail, ok, attempts = ERROR, "not run", False, 0
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(RETRY_PAUSE, timeout))
        attempts += 1
        if check["protocol"] == "tcp":
            state, detail = probe_tcp(target, family, timeout)
        else:
            state, detail = probe_udp(target, family, timeout, payload)
        ok = meets(check["expect"], state, no_answer_means)
        if ok:
            break
    if state == OPEN_FILTERED:
        if no_answer_means == "inconclusive":
            detail += "; inconclusive (udp_no_answer_means=inconclusive)"
        else:
            detail += "; counted as %s (udp_no_answer_means=%s)" % (no_answer_means, no_answer_means)
    return {
        "protocol": check["protocol"],
        "port": check["port"],
        "expect": check["expect"],
        "open_from": list(check.get("open_from") or []),
        "label": check.get("label") or "",
        "state": state,
        "detail": detail,
        "ok": ok,
        "attempts": attempts,
    }


def render_summary(label: str, results: List[Dict[str, Any]]) -> str:
    passed = sum(1 for r in results if r["ok"])
    lines = ["%s: %d of %d checks as expected" % (label, passed, len(results))]
    for r in results:
        label = " [%s]" % r["label"] if r.get("label") else ""
        lines.append(
            "  %-4s %6d expect %-7s %-14s %-5s %s%s"
            % (r["protocol"], r["port"], r["expect"], r["state"], "ok" if r["ok"] else "FAIL", r["detail"], label)
        )
    return "\n".join(lines)


def validate(module: AnsibleModule) -> List[Dict[str, Any]]:
    params = module.params
    low, high = TIMEOUT_RANGE
    if not low <= params["timeout"] <= high:
        module.fail_json(
            msg="timeout: invalid value %r; valid values: %s to %s seconds" % (params["timeout"], low, high)
        )
    low, high = RETRIES_RANGE
    if not low <= params["retries"] <= high:
        module.fail_json(msg="retries: invalid value %r; valid values: %d to %d" % (params["retries"], low, high))
    checks = []
    for index, check in enumerate(params["checks"]):
        if not PORT_RANGE[0] <= check["port"] <= PORT_RANGE[1]:
            module.fail_json(
                msg="checks[%d].port: invalid value %r; valid values: %d-%d"
                % (index, check["port"], PORT_RANGE[0], PORT_RANGE[1])
            )
        networks = []
        for item in check.get("open_from") or []:
            try:
                networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
            except ValueError:
                module.fail_json(
                    msg="checks[%d].open_from: invalid value %r; valid values: IPv4/IPv6 addresses or CIDRs"
                    % (index, item)
                )
        checks.append(dict(check, networks=networks))
    return checks


def source_address(family: int, sockaddr: Tuple[Any, ...]) -> str:
    """The local address the kernel picks to reach ``sockaddr``; connecting UDP sends nothing."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.connect((sockaddr[0], 9, *sockaddr[2:]))
        return str(sock.getsockname()[0])
    except OSError:
        return ""
    finally:
        sock.close()


def effective_expectation(check: Dict[str, Any], source: str) -> str:
    """``expect`` from a source inside ``open_from`` (or with no open_from); closed elsewhere."""
    if not check["networks"]:
        return check["expect"]
    try:
        address = ipaddress.ip_address(source.split("%")[0])
    except ValueError:
        return CLOSED
    inside = any(address.version == net.version and address in net for net in check["networks"])
    return check["expect"] if inside else CLOSED


def resolve(module: AnsibleModule, host: str) -> Tuple[int, Tuple[Any, ...]]:
    try:
        infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        module.fail_json(msg="host: cannot resolve %r on this peer: %s" % (host, exc))
    family, _type, _proto, _canon, sockaddr = infos[0]
    return family, sockaddr


ARGUMENT_SPEC = dict(
    host=dict(type="str", required=True),
    checks=dict(
        type="list",
        elements="dict",
        required=True,
        options=dict(
            protocol=dict(type="str", choices=["tcp", "udp"], default="tcp"),
            port=dict(type="int", required=True),
            expect=dict(type="str", choices=["open", "closed"], default="open"),
            open_from=dict(type="list", elements="str", default=[]),
            label=dict(type="str", default=""),
        ),
    ),
    timeout=dict(type="float", default=2.0),
    retries=dict(type="int", default=1),
    udp_payload=dict(type="str", default="biostar-hardening port_probe"),
    udp_no_answer_means=dict(type="str", choices=["inconclusive", "open", "closed"], default="inconclusive"),
)


def run_checks(
    params: Dict[str, Any], checks: List[Dict[str, Any]], family: int, sockaddr: Tuple[Any, ...]
) -> List[Dict[str, Any]]:
    """Every check, in parallel (at most MAX_WORKERS at once), results in the order given."""
    if not checks:
        return []
    probe = functools.partial(
        run_check,
        sockaddr=sockaddr,
        family=family,
        timeout=params["timeout"],
        retries=params["retries"],
        payload=params["udp_payload"].encode("utf-8"),
        no_answer_means=params["udp_no_answer_means"],
    )
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(checks))) as pool:
        return list(pool.map(probe, checks))


def failure_message(label: str, results: List[Dict[str, Any]], failures: List[Dict[str, Any]]) -> str:
    return "%s: %d of %d checks did not meet their expectation: %s" % (
        label,
        len(failures),
        len(results),
        "; ".join("%s/%d expected %s, got %s" % (r["protocol"], r["port"], r["expect"], r["state"]) for r in failures),
    )


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    checks = validate(module)
    params = module.params
    host = params["host"]
    family, sockaddr = resolve(module, host)
    # Only checks with open_from depend on which source address this peer reaches the host from.
    source = source_address(family, sockaddr) if any(c["networks"] for c in checks) else ""
    checks = [dict(c, expect=effective_expectation(c, source)) for c in checks]
    results = run_checks(params, checks, family, sockaddr)

    address = sockaddr[0]
    label = host if host == address else "%s (%s)" % (host, address)
    failures = [r for r in results if not r["ok"]]
    outcome = dict(
        changed=False,
        host=host,
        address=address,
        source=source,
        checks=results,
        summary=render_summary(label, results),
        passed=len(results) - len(failures),
        failed_checks=len(failures),
    )
    if failures:
        module.fail_json(msg=failure_message(label, results, failures), **outcome)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
