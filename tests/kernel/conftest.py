"""Kernels as real processes (jupyter_client), pointed at the test's embedded gateway."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from jupyter_client.manager import KernelManager

from linkis_jupyter.gateway import EmbeddedGateway

def kernel_env(gateway: EmbeddedGateway, tmp_path: Path) -> dict[str, str]:
    """The environment of a kernel that finds the gateway through LINKIS_* variables only."""
    env = dict(os.environ)
    env.update(
        LINKIS_GATEWAY_URL=gateway.url,
        LINKIS_USER=gateway.user,
        LINKIS_TOKEN=gateway.token,
        LINKIS_CLI_CONF=str(tmp_path / "no-linkis-cli.properties"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        IPYTHONDIR=str(tmp_path / "ipython"),
    )
    return env


@pytest.fixture
def start_kernel(gateway: EmbeddedGateway, tmp_path: Path) -> Iterator[Callable[[str], tuple[KernelManager, Any]]]:
    """start_kernel("linkis-spark-sql") -> (manager, blocking client); shut down at teardown."""
    started: list[tuple[KernelManager, Any]] = []

    def start(name: str) -> tuple[KernelManager, Any]:
        km = KernelManager(kernel_name=name)
        km.start_kernel(env=kernel_env(gateway, tmp_path))
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        started.append((km, kc))
        return km, kc

    yield start
    for km, kc in started:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
