"""A real IPython shell with the Linkis magics, connected to the embedded gateway over HTTP."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from linkis_jupyter.magics import LinkisMagics
from magics_helpers import RecordingPublisher

@pytest.fixture(scope="session")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InteractiveShell]:
    """One InteractiveShell for the session (IPython allows one per process), with its profile,
    history and Jupyter runtime dir in a temporary folder."""
    home = tmp_path_factory.mktemp("ipython")
    saved = {k: os.environ.get(k) for k in ("IPYTHONDIR", "JUPYTER_RUNTIME_DIR")}
    os.environ["IPYTHONDIR"] = str(home / "ipython")
    # No connection file of a gateway running on this machine may leak into the tests.
    os.environ["JUPYTER_RUNTIME_DIR"] = str(home / "runtime")
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ip = InteractiveShell.instance(config=config)
    try:
        yield ip
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def ip(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """The shell with a fresh LinkisMagics, no LINKIS_* settings from the environment, and the
    user namespace and display publisher restored afterwards."""
    for name in list(os.environ):
        if name.startswith("LINKIS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LINKIS_CLI_CONF", str(Path(os.environ["JUPYTER_RUNTIME_DIR"]) / "absent.properties"))
    names = set(shell.user_ns)
    publisher = shell.display_pub
    magics = LinkisMagics(shell=shell)
    shell.register_magics(magics)
    try:
        yield shell
    finally:
        magics.kill_running_jobs()
        if magics._client is not None:
            magics._client.close()
        shell.configurables[:] = [c for c in shell.configurables if type(c).__name__ not in ("LinkisMagics", "LinkisClient")]
        shell.config.pop("LinkisMagics", None)
        shell.config.pop("LinkisClient", None)
        shell.display_pub = publisher
        for name in set(shell.user_ns) - names:
            del shell.user_ns[name]


@pytest.fixture
def linkis(ip: InteractiveShell, gateway: Any) -> InteractiveShell:
    """The shell connected to the gateway fixture as alice, by token."""
    ip.run_line_magic("linkis", f"connect {gateway.url} --user {gateway.user} --token {gateway.token}")
    return ip


@pytest.fixture
def recorder(ip: InteractiveShell) -> RecordingPublisher:
    rec = RecordingPublisher(ip)
    ip.display_pub = rec
    return rec
