"""The `linkis-jupyter` command: gateway, install, demo, lab."""
from __future__ import annotations

import argparse
import sys

from . import demo, install
from .gateway import cli as gateway_cli

# Each module adds its own subcommands with `add_parser(commands)`; this is the one place that
# calls them, in the order `linkis-jupyter --help` lists them.
COMMAND_MODULES = (gateway_cli, install, demo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="linkis-jupyter", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_parser(commands)
    args = parser.parse_args(argv)
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
