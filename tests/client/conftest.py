"""Fixtures of the client tests: the behavioural fake gateway, and a clean configuration."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from fake_linkis import FakeLinkis

@pytest.fixture(autouse=True)
def clean_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LINKIS_* variable, no ~/.linkis file and no connection file leak in from the machine."""
    for name in [name for name in os.environ if name.startswith("LINKIS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LINKIS_CLI_CONF", str(tmp_path / "absent-linkis-cli.properties"))
    monkeypatch.setenv("LINKIS_CONNECTION_FILE", str(tmp_path / "absent-linkis-gateway.json"))


@pytest.fixture
def fake_factory() -> Iterator[Callable[..., FakeLinkis]]:
    started: list[FakeLinkis] = []

    def factory(**options: Any) -> FakeLinkis:
        fake = FakeLinkis(**options).start()
        started.append(fake)
        return fake

    try:
        yield factory
    finally:
        for fake in started:
            fake.stop()


@pytest.fixture
def fake(fake_factory: Callable[..., FakeLinkis]) -> FakeLinkis:
    return fake_factory()
