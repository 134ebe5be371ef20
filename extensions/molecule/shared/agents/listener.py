# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test listener, started by a verify step inside a scenario container.

Run as ``python3 -c "<this file>" TCP_PORTS UDP_PORTS LOG LIFETIME``. It accepts TCP
connections and records every UDP datagram in LOG, so a probe sent from another
container can tell whether the firewall let the packets through. It binds even the
ports the firewall should block: a closed port then means "filtered", never "nobody
listening". It exits by itself after LIFETIME seconds, so nothing outlives a scenario.
"""

import os
import selectors
import socket
import sys
import time


def ports(text):
    return [int(p) for p in text.split(",") if p]


def main():
    tcp_ports, udp_ports, log_path = ports(sys.argv[1]), ports(sys.argv[2]), sys.argv[3]
    deadline = time.monotonic() + float(sys.argv[4])
    selector = selectors.DefaultSelector()
    for port in tcp_ports:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", port))
        server.listen(64)
        server.setblocking(False)
        selector.register(server, selectors.EVENT_READ, ("tcp", port))
    for port in udp_ports:
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("0.0.0.0", port))
        server.setblocking(False)
        selector.register(server, selectors.EVENT_READ, ("udp", port))
    with open(log_path, "a") as log:
        log.write("ready %d\n" % os.getpid())
        log.flush()
        while time.monotonic() < deadline:
            for key, _events in selector.select(timeout=1.0):
                kind, port = key.data
                try:
                    if kind == "tcp":
                        conn, peer = key.fileobj.accept()
                        conn.close()
                        log.write("tcp %d %s\n" % (port, peer[0]))
                    else:
                        data, peer = key.fileobj.recvfrom(2048)
                        text = data.decode("ascii", "replace").strip()
                        log.write("udp %d %s %s\n" % (port, peer[0], text))
                except OSError:
                    continue
                log.flush()


main()
