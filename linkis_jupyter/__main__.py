"""The `linkis-jupyter` command: gateway, install, demo, lab."""
from __future__ import annotations

import argparse
import sys


def _install(args: argparse.Namespace) -> int:
    from .kernel import install_kernelspecs

    prefix = sys.prefix if args.sys_prefix else args.prefix
    for path in install_kernelspecs(user=args.user, prefix=prefix):
        print(f"installed {path}")
    return 0


def _add_install(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "install",
        help="install the Linkis kernelspecs (with this interpreter's absolute path)",
        description="Install the Linkis kernels for Jupyter, with this Python's absolute path in "
        "kernel.json so any frontend (JupyterLab, VS Code, another environment) can start them.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="the current user's Jupyter data dir (default: the system-wide one)")
    where.add_argument("--sys-prefix", action="store_true", help="this environment (sys.prefix)")
    where.add_argument("--prefix", metavar="P", help="the data dir under prefix P")
    parser.set_defaults(run=_install)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="linkis-jupyter", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from .gateway import cli as gateway_cli

    from . import demo

    gateway_cli.add_parser(commands)
    _add_install(commands)
    demo.add_parsers(commands)

    args = parser.parse_args(argv)
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
