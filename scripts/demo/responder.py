"""Stand-in listeners for the demo containers: what BioStar would have listening.

    python3 responder.py --tcp 1470 1471 --udp 51110

TCP ports accept and close each connection. UDP ports answer every datagram, so the
probe can tell an open UDP port (a reply) from a dropped one (silence); BioStar itself
does not answer a stray datagram. Runs until killed; the demo removes the container.
"""

from __future__ import annotations

import argparse
import selectors
import socket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tcp", type=int, nargs="*", default=[])
    parser.add_argument("--udp", type=int, nargs="*", default=[])
    args = parser.parse_args()

    selector = selectors.DefaultSelector()
    for port in args.tcp:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        sock.listen(16)
        selector.register(sock, selectors.EVENT_READ, "tcp")
    for port in args.udp:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("0.0.0.0", port))
        selector.register(sock, selectors.EVENT_READ, "udp")

    while True:
        for key, _events in selector.select():
            sock = key.fileobj
            if key.data == "tcp":
                conn, _peer = sock.accept()
                conn.close()
            else:
                data, peer = sock.recvfrom(2048)
                sock.sendto(b"demo-responder:" + data[:64], peer)


if __name__ == "__main__":
    main()
