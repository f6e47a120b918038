"""`linkis-jupyter install`: the Linkis kernelspecs, with this interpreter's absolute path.

`pip install linkis-jupyter` already puts the kernelspecs in `share/jupyter/kernels/` (wheel
shared-data); this command is for frontends that need an absolute interpreter path, and for
installing into another Jupyter data dir (bash_kernel's `install --user | --sys-prefix | --prefix`).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "install_kernelspecs", "kernelspec_dirs"]


def kernelspec_dirs() -> list[Path]:
    """The kernelspec folders shipped with the package (a wheel) or beside it (a source checkout)."""
    here = Path(__file__).parent
    for root in (here / "kernelspec", here.parent / "kernelspec"):
        if root.is_dir():
            return sorted(p for p in root.iterdir() if (p / "kernel.json").is_file())
    return []


def install_kernelspecs(user: bool = False, prefix: str | None = None, executable: str = sys.executable) -> list[str]:
    """Install every Linkis kernelspec with an absolute interpreter path, and return where.

    The kernel.json shipped in the wheel says `python`, which Jupyter maps to its own interpreter;
    frontends that do not (VS Code, another environment's Jupyter) need the absolute path
    (sparkmagic's users edited kernel.json by hand: jupyter-incubator/sparkmagic#963).
    """
    from jupyter_client.kernelspec import KernelSpecManager

    manager = KernelSpecManager()
    installed = []
    for source in kernelspec_dirs():
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / source.name
            shutil.copytree(source, target)
            spec = json.loads((target / "kernel.json").read_text())
            spec["argv"][0] = executable
            (target / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
            installed.append(manager.install_kernel_spec(str(target), source.name, user=user, prefix=prefix))
    return installed


def install(args: argparse.Namespace) -> int:
    prefix = sys.prefix if args.sys_prefix else args.prefix
    for path in install_kernelspecs(user=args.user, prefix=prefix):
        print(f"installed {path}")
    return 0


def add_parser(commands: Any) -> None:
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
    parser.set_defaults(run=install)
