"""`linkis-jupyter demo` and `linkis-jupyter lab`: the embedded gateway with a notebook or JupyterLab.

`demo` starts the gateway on a free port with a temporary data dir, runs a notebook through
nbclient against it, writes the executed notebook and an HTML copy, prints a summary and stops
the gateway. `lab` starts the gateway and JupyterLab configured to use it, and stops both on Ctrl-C.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

NOTEBOOKS = ("quickstart", "linkis-sql-kernel", "linkis-python-kernel", "connect-to-linkis")


def notebooks_dir() -> Path:
    """The example notebooks shipped in the package (a wheel) or beside it (a source checkout)."""
    here = Path(__file__).parent
    for root in (here / "notebooks", here.parent / "notebooks"):
        if root.is_dir():
            return root
    raise FileNotFoundError("the example notebooks are not installed with this copy of linkis-jupyter")


@contextmanager
def embedded_gateway(data_dir: Path | None = None, port: int = 0) -> Iterator[Any]:
    """A gateway for one local user, and the environment that points kernels at it.

    Kernels started while the block runs find it through LINKIS_* variables; the token lives only
    in this process's environment and its children's, never in a notebook.
    """
    from .gateway import EmbeddedGateway
    from .gateway.cli import default_user

    with tempfile.TemporaryDirectory(prefix="linkis-demo-") as tmp:
        user = default_user()
        token = secrets.token_urlsafe(24)
        gateway = EmbeddedGateway(data_dir or Path(tmp) / "gateway", port=port, users={}, tokens={token: user})
        gateway.start()
        saved = {name: os.environ.get(name) for name in ("LINKIS_GATEWAY_URL", "LINKIS_USER", "LINKIS_TOKEN", "LINKIS_AUTH")}
        os.environ.update(LINKIS_GATEWAY_URL=gateway.url, LINKIS_USER=user, LINKIS_TOKEN=token, LINKIS_AUTH="token")
        try:
            yield gateway
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            gateway.stop()


@dataclass
class RunSummary:
    cells: int
    failed_cell: int | None
    error: str | None
    jobs: dict[str, int]
    rows: int
    seconds: float

    def lines(self) -> list[str]:
        jobs = ", ".join(f"{count} {state}" for state, count in sorted(self.jobs.items())) or "none"
        outcome = "all cells ran" if self.failed_cell is None else f"cell {self.failed_cell} failed: {self.error}"
        return [
            f"cells run: {self.cells} ({outcome})",
            f"Linkis jobs: {sum(self.jobs.values())} ({jobs})",
            f"table rows returned: {self.rows}",
            f"time: {self.seconds:.1f} s",
        ]


def run_notebook(source: Path, target: Path, timeout: float = 600) -> tuple[int, int | None, str | None]:
    """Execute `source` with nbclient, write it to `target` (and an HTML copy when nbconvert is
    installed); return (code cells run, index of the failed cell or None, its error line)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    nb = nbformat.read(source, as_version=4)
    target.parent.mkdir(parents=True, exist_ok=True)
    failed: int | None = None
    error: str | None = None
    # The kernel talks to nbclient over Unix sockets in a private folder rather than TCP:
    # ipykernel warns about unencrypted TCP (IPKernelApp.init_sockets), and nothing here needs a port.
    with tempfile.TemporaryDirectory(prefix="linkis-kernel-") as sockets:
        ipc = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}})
        client = NotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(target.parent)}},
                                config=ipc)
        try:
            client.execute()
        except CellExecutionError as exc:
            failed = next((i for i, cell in enumerate(nb.cells) if _has_error(cell)), -1)
            error = (f"{exc.ename}: {exc.evalue}".strip().splitlines() or [""])[0]
    nbformat.write(nb, target)
    try:
        from nbconvert import HTMLExporter
    except ImportError:
        pass
    else:
        html, _ = HTMLExporter().from_notebook_node(nb)
        target.with_suffix(".html").write_text(html, encoding="utf-8")
    ran = sum(1 for cell in nb.cells if cell.cell_type == "code" and cell.get("execution_count"))
    return ran, failed, error


def _has_error(cell: Any) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.cell_type == "code" and "raises-exception" not in tags and any(
        out.get("output_type") == "error" for out in cell.get("outputs", [])
    )


def gateway_totals(gateway: Any) -> tuple[dict[str, int], int]:
    """Jobs per state and table rows over every job the gateway ran, read through its HTTP API."""
    from .client import LinkisClient
    from .job import Job
    from .results import ResultType

    client = LinkisClient(gateway_url=gateway.url, user=os.environ["LINKIS_USER"], token=os.environ["LINKIS_TOKEN"])
    states: dict[str, int] = {}
    rows = 0
    for info in client.list_jobs(limit=1000):
        states[info.status] = states.get(info.status, 0) + 1
        if info.status == "Succeed":
            for result in Job.attach(client, info.task_id).results():
                if result.type is ResultType.TABLE:
                    rows += len(result.data)
    client.close()
    return states, rows


def demo(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("nbclient") is None:
        print('linkis-jupyter demo: needs the demo extra: pip install "linkis-jupyter[demo]"', file=sys.stderr)
        return 2
    source = notebooks_dir() / f"{args.notebook}.ipynb"
    target = Path(args.output).resolve() / source.name
    started = time.monotonic()
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else None
    with embedded_gateway(data_dir=data_dir) as gateway:
        print(f"embedded Linkis gateway at {gateway.url}; running {source.name} ...", flush=True)
        cells, failed, error = run_notebook(source, target, timeout=args.timeout)
        jobs, rows = gateway_totals(gateway)
    summary = RunSummary(cells, failed, error, jobs, rows, time.monotonic() - started)
    print(f"executed notebook: {target}")
    if target.with_suffix(".html").exists():
        print(f"HTML copy: {target.with_suffix('.html')}")
    for line in summary.lines():
        print(line)
    return 0 if failed is None else 1


def lab(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("jupyterlab") is None:
        print('linkis-jupyter lab: needs JupyterLab: pip install "linkis-jupyter[lab]"', file=sys.stderr)
        return 2
    with embedded_gateway(data_dir=Path(args.data_dir).expanduser() if args.data_dir else None) as gateway:
        print(f"embedded Linkis gateway at {gateway.url}", flush=True)
        lab_args = args.lab_args[1:] if args.lab_args[:1] == ["--"] else args.lab_args
        command = [sys.executable, "-m", "jupyterlab", *lab_args]
        if os.geteuid() == 0 and "--allow-root" not in lab_args:
            command.append("--allow-root")
        process = subprocess.Popen(command)
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            return 0


def add_parser(commands: Any) -> None:
    """The `demo` and `lab` subcommands of `linkis-jupyter`."""
    parser = commands.add_parser(
        "demo",
        help="run an example notebook against the embedded gateway and summarise it",
        description="Start the embedded gateway on a free port with a temporary data dir, run an example "
        "notebook through nbclient against it, write the executed notebook and an HTML copy, print a "
        "summary, and stop the gateway. Exits non-zero if a cell failed.",
    )
    parser.add_argument("--notebook", choices=NOTEBOOKS, default="quickstart", help="which example (default quickstart)")
    parser.add_argument("--output", default="linkis-demo", help="folder for the executed notebook (default ./linkis-demo)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one cell may take (default 600)")
    parser.add_argument("--data-dir", help="keep the gateway's job history, results and tables here (default: a "
                        "temporary dir); `linkis-jupyter gateway --data-dir` serves them again")
    parser.set_defaults(run=demo)

    parser = commands.add_parser(
        "lab",
        help="start the embedded gateway and JupyterLab using it",
        description="Start the embedded gateway and JupyterLab configured to use it; Ctrl-C stops both. "
        "Arguments after -- go to JupyterLab.",
    )
    parser.add_argument("--data-dir", help="keep the gateway's history and tables here (default: a temporary dir)")
    parser.add_argument("lab_args", nargs=argparse.REMAINDER, help="arguments for jupyter lab")
    parser.set_defaults(run=lab)
