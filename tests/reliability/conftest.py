"""Reliability tests: the magics' IPython shell and the kernel helpers of tests/magics and
tests/kernel, a loopback proxy, the gateway's job history read over plain HTTP, and a watch on
every test that no password or token is written anywhere (output, displays, logs, files)."""
from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

HERE = Path(__file__).resolve().parent
for helper_dir in (HERE.parent / "magics", HERE.parent / "kernel"):
    if str(helper_dir) not in sys.path:
        sys.path.insert(0, str(helper_dir))


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The magics tests' fixtures: one IPython shell per session, a fresh LinkisMagics per test.
_magics = _load("reliability_magics_fixtures", HERE.parent / "magics" / "conftest.py")
shell = _magics.shell
ip = _magics.ip
recorder = _magics.recorder
linkis = _magics.linkis
# Kernels as real processes, pointed at the `gateway` fixture through LINKIS_* variables.
_kernels = _load("reliability_kernel_fixtures", HERE.parent / "kernel" / "conftest.py")
start_kernel = _kernels.start_kernel

from loopback_proxy import LoopbackProxy  # noqa: E402
from reliability_helpers import SECRETS, Output, find_secrets  # noqa: E402


@pytest.fixture
def proxy(gateway: Any) -> Iterator[LoopbackProxy]:
    """A loopback proxy in front of the `gateway` fixture; closed at teardown."""
    p = LoopbackProxy(gateway.url)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def kernel_env() -> Any:
    """kernel_env(gateway, tmp_path): the environment tests/kernel gives a kernel process."""
    return _kernels.kernel_env


@pytest.fixture
def output(capfd: pytest.CaptureFixture[str]) -> Output:
    """stdout and stderr of the test process and its children (kernels), kept for the secrets watch."""
    return Output(capfd)


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(name)s %(levelname)s %(message)s").format(record))


@pytest.fixture(autouse=True)
def no_secret_written(request: pytest.FixtureRequest, output: Output, tmp_path: Path) -> Iterator[None]:
    """Every log record (the gateway's, tornado's, urllib3's, at DEBUG), everything printed by
    the test process or a kernel, every display a recorder saw, and every file the test wrote
    under tmp_path (gateway data dir: job logs, results, history database; executed notebooks)
    is searched for the passwords and the token once the test and its gateways are done."""
    keep = _Keep()
    root = logging.getLogger()
    watched = [logging.getLogger(name) for name in ("linkis_jupyter", "tornado", "urllib3")]
    levels = [logger.level for logger in watched]
    root.addHandler(keep)
    for logger in watched:
        logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(keep)
        for logger, level in zip(watched, levels):
            logger.setLevel(level)
    found: list[str] = []
    found += [f"log: {line[:200]}" for line in keep.lines if find_secrets(line)]
    output.read()
    found += [f"output: {text[:200]}" for text in output.seen if find_secrets(text)]
    rec = request.node.funcargs.get("recorder")
    if rec is not None:
        found += [f"display: {str(o)[:200]}" for o in rec.outputs if find_secrets(str(o))]
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and not path.is_symlink():
            if find_secrets(path.read_bytes()):
                found.append(f"file: {path}")
    assert not found, f"a secret ({', '.join(SECRETS)}) was written:\n" + "\n".join(found)
