# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listener on a site container's probed ports, started by site_kit.traffic.

Run as ``python3 -c "<this file>" TCP_PORTS UDP_PORTS LOG LIFETIME``. It accepts TCP
connections, records every UDP datagram in LOG and answers it, so a probe sent from
another container can tell whether the firewall let the packets through: from the log
(the harness's probes) or from the answer (the collection's port_probe; BioStar itself
does not answer a stray datagram). It binds even the ports the firewall should block:
a closed port then means "filtered", never "nobody listening". It exits by itself after
LIFETIME seconds (0: runs until killed, for a site kept running after the demo).
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
    lifetime = float(sys.argv[4])
    deadline = time.monotonic() + lifetime if lifetime > 0 else float("inf")
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
                        log.flush()
                        key.fileobj.sendto(b"site-kit-listener:" + data[:64], peer)
                except OSError:
                    continue
                log.flush()


main()
