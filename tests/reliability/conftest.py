"""Reliability tests: a watch on every test that no password or token is written anywhere
(output, displays, logs, files). The shell, kernels, proxy and gateway come from tests/fixtures."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

import pytest
from fixtures.shell import RecordingPublisher

from reliability_helpers import SECRETS, Output, find_secrets


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
def no_secret_written(output: Output, tmp_path: Path) -> Iterator[None]:
    """Every log record (the gateway's, tornado's, urllib3's, at DEBUG), everything printed by
    the test process or a kernel, every display any RecordingPublisher saw, and every file the
    test wrote
    under tmp_path (gateway data dir: job logs, results, history database; executed notebooks)
    is searched for the passwords and the token once the test and its gateways are done."""
    keep = _Keep()
    # Every recorder, the `recorder` fixture's and those a test builds itself (with a hook).
    recorders: list[RecordingPublisher] = []
    init = RecordingPublisher.__init__

    def kept(self: RecordingPublisher, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        recorders.append(self)

    RecordingPublisher.__init__ = kept  # type: ignore[method-assign]
    root = logging.getLogger()
    watched = [logging.getLogger(name) for name in ("linkis_jupyter", "tornado", "urllib3")]
    levels = [logger.level for logger in watched]
    root.addHandler(keep)
    for logger in watched:
        logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        RecordingPublisher.__init__ = init  # type: ignore[method-assign]
        root.removeHandler(keep)
        for logger, level in zip(watched, levels):
            logger.setLevel(level)
    found: list[str] = []
    found += [f"log: {line[:200]}" for line in keep.lines if find_secrets(line)]
    output.read()
    found += [f"output: {text[:200]}" for text in output.seen if find_secrets(text)]
    for rec in recorders:
        found += [f"display: {str(o)[:200]}" for o in rec.outputs if find_secrets(str(o))]
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and not path.is_symlink():
            if find_secrets(path.read_bytes()):
                found.append(f"file: {path}")
    assert not found, f"a secret ({', '.join(SECRETS)}) was written:\n" + "\n".join(found)
