"""Fixtures: an EngineManager on a temporary data dir, closed (every process stopped) after."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from engine_helpers import Jobs

from linkis_jupyter.gateway.engines import EngineManager


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[Jobs]:
    manager = EngineManager(tmp_path / "data")
    try:
        yield Jobs(manager, tmp_path / "data")
    finally:
        manager.close()
