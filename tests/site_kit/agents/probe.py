# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reachability probe, run inside the container the traffic should come from.

Run as ``python3 -c "<this file>" ADDRESS CHECKS_JSON TIMEOUT TOKEN`` where CHECKS_JSON
is a list of ["tcp"|"udp", port]. Prints one JSON object, "proto/port" -> outcome:
- tcp: "open" (connected), "refused" (RST: reachable, nobody listening), "timeout"
  (dropped on the way), or "error:<errno name>" (for example EPERM when the sender's
  own OUTPUT chain drops the SYN).
- udp: "sent" or "error:<errno name>". Whether a datagram arrived is read from the
  receiver's listener log afterwards: UDP has no handshake to tell the sender.
Every check is bounded by TIMEOUT; TCP checks run in parallel, so one probe costs
about one TIMEOUT however many ports it covers.
"""

import errno
import json
import socket
import sys
import threading
import time


def tcp_check(address, port, timeout, results):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((address, port))
        outcome = "open"
    except socket.timeout:
        outcome = "timeout"
    except ConnectionRefusedError:
        outcome = "refused"
    except OSError as exc:
        outcome = "error:%s" % errno.errorcode.get(exc.errno, exc.errno)
    finally:
        sock.close()
    results["tcp/%d" % port] = outcome


def udp_check(address, port, token, results):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    outcome = "sent"
    # Three datagrams, a little apart: one lost datagram must not read as "filtered".
    for attempt in range(3):
        try:
            sock.sendto(("%s %d %d" % (token, port, attempt)).encode("ascii"), (address, port))
        except OSError as exc:
            outcome = "error:%s" % errno.errorcode.get(exc.errno, exc.errno)
            break
        time.sleep(0.05)
    sock.close()
    results["udp/%d" % port] = outcome


def main():
    address, checks, timeout, token = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    results = {}
    threads = []
    for protocol, port in checks:
        if protocol == "tcp":
            threads.append(threading.Thread(target=tcp_check, args=(address, port, timeout, results)))
        else:
            threads.append(threading.Thread(target=udp_check, args=(address, port, token, results)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 2)
    print(json.dumps(results, sort_keys=True))


main()
