# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site_kit from YAML and shell: ``python3 tests/site_kit COMMAND ...`` (or ``-m site_kit``).

link DIR                                      biostar.hardening under DIR/ansible_collections
start NAME [--image I] [--hostname H] [--command "sleep infinity"] [--systemd always]
           [--cap NET_ADMIN ...] [--opt --init ...] [--label KEY=VALUE ...]
remove NAME...                                by exact name
seed NAME BACKEND [--foreign-rule] [--output-drop] [--offline]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import List, Optional

if not __package__:  # run as a directory: python3 tests/site_kit ...
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from site_kit import collection, firewall, podman


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="site_kit", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="action", required=True)
    commands.add_parser("link").add_argument("root")
    start = commands.add_parser("start")
    start.add_argument("name")
    start.add_argument("--image", default=podman.BASE_IMAGE)
    start.add_argument("--hostname")
    start.add_argument("--command", default="", help="the container's command (default: the image's)")
    start.add_argument("--systemd")
    start.add_argument("--cap", action="append", default=None, help="default: %s" % " ".join(podman.CAPABILITIES))
    start.add_argument("--opt", action="append", default=[], help="more podman run options")
    start.add_argument("--label", action="append", default=[])
    commands.add_parser("remove").add_argument("names", nargs="+")
    seed = commands.add_parser("seed")
    seed.add_argument("name")
    seed.add_argument("backend", choices=firewall.BACKENDS)
    seed.add_argument("--foreign-rule", action="store_true")
    seed.add_argument("--output-drop", action="store_true")
    seed.add_argument("--offline", action="store_true")
    return top


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.action == "link":
        print("biostar.hardening -> %s (collections path %s)" % (collection.REPO, collection.link(args.root)))
    elif args.action == "start":
        labels = dict(label.split("=", 1) for label in args.label)
        podman.start(
            args.name, args.image, args.hostname, shlex.split(args.command), args.systemd,
            args.cap or podman.CAPABILITIES, labels, args.opt,
        )  # fmt: skip
    elif args.action == "remove":
        podman.remove(args.names)
    else:
        options = dict(foreign_rule=args.foreign_rule, output_drop=args.output_drop, offline=args.offline)
        firewall.seed(podman.Container(args.name), args.backend, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
