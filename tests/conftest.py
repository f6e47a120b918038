"""Shared fixtures: a real embedded gateway on a free loopback port, per test."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from linkis_jupyter.gateway import EmbeddedGateway

USERS = {"alice": "alice-Secret-1", "bob": "bob-Secret-2"}
TOKEN = "test-Token-Secret"


def _start(data_dir: Path, **options: Any) -> EmbeddedGateway:
    options.setdefault("users", dict(USERS))
    options.setdefault("tokens", {TOKEN: "*"})
    options.setdefault("evict_after", 2.0)
    options.setdefault("ip", "127.0.0.1")
    options.setdefault("port", 0)
    gw = EmbeddedGateway(data_dir, **options)
    gw.start()
    return gw


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[EmbeddedGateway]:
    """A started gateway: users alice and bob, token `test-Token-Secret` for any user,
    finished jobs leave the entrance after 2 s. `.url`, `.user` ("alice"), `.password`,
    `.token` and `.data_dir` are what a test talks to it with."""
    gw = _start(tmp_path / "gateway")
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[Callable[..., EmbeddedGateway]]:
    """Start more gateways with other options (evict_after, job_timeout, proxy_config,
    data_dir to reuse one, ...); every one is stopped at teardown."""
    started: list[EmbeddedGateway] = []

    def factory(**options: Any) -> EmbeddedGateway:
        data_dir = Path(options.pop("data_dir", None) or tmp_path / f"gateway-{len(started)}")
        gw = _start(data_dir, **options)
        started.append(gw)
        return gw

    try:
        yield factory
    finally:
        for gw in reversed(started):
            gw.stop()


class RequestLog(logging.Handler):
    """Every request the embedded gateways of this process answered: (method, API path, HTTP
    status), from their access log, in order."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[tuple[str, str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        status, method, path = record.args[:3]  # type: ignore[index]
        self.seen.append((str(method), str(path).replace("/api/rest_j/v1", "", 1), int(status)))

    def paths(self, pattern: str = "") -> list[str]:
        """The paths asked for, those matching the regex `pattern` if one is given."""
        return [path for _method, path, _status in self.seen if re.search(pattern, path)]


@pytest.fixture
def request_log() -> Iterator[RequestLog]:
    """The requests the gateways answer while the test runs (their tornado.access records)."""
    handler = RequestLog()
    logger = logging.getLogger("tornado.access")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
