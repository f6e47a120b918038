"""`jupyter lab` as a real server process, pointed at an embedded gateway, and where screenshots go."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests
from fixtures.gateway import gateway_env

from linkis_jupyter.gateway import EmbeddedGateway

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# JupyterLab's "get notified about official Jupyter news?" toast shows even with
# --LabApp.news_url=None; this user setting silences it.
NOTIFICATION_SETTINGS = {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True}


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path

    def open_url(self, notebook: str) -> str:
        # ?reset: no layout restored from a workspace.
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def lab_env(gateway: EmbeddedGateway, home: Path) -> dict[str, str]:
    """The server's environment: the gateway through LINKIS_* only, and fresh Jupyter dirs."""
    return gateway_env(
        gateway, home,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    )


def _children(pid: int) -> list[int]:
    """The child processes of `pid` (a Jupyter server's kernels), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _stop(proc: subprocess.Popen) -> None:
    # SIGTERM makes the server shut its kernels down, and a Linkis kernel kills its running job on
    # shutdown; a kernel that outlives the server is ended by its own PID.
    kernels = _children(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for pid in kernels:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_ready(proc: subprocess.Popen, runtime: Path, token: str, log: Path, timeout: float = 90) -> str:
    """The server's URL, once its runtime file names the port it took and /api/status answers."""
    info = runtime / f"jpserver-{proc.pid}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            url = f"http://127.0.0.1:{json.loads(info.read_text())['port']}"
            if requests.get(f"{url}/api/status", params={"token": token}, timeout=2).status_code == 200:
                return url
        except (OSError, ValueError, KeyError, requests.RequestException):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"jupyter lab did not answer within {timeout:g} s:\n{log.read_text(errors='replace')[-3000:]}")


@contextmanager
def running_lab(gateway: EmbeddedGateway, home: Path) -> Iterator[Lab]:
    """`jupyter lab` on a free loopback port serving `home`/notebooks; stopped by PID on exit."""
    root = home / "notebooks"
    root.mkdir(parents=True)
    settings = home / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps(NOTIFICATION_SETTINGS))
    token = secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", "--port=0",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = home / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, env=lab_env(gateway, home), cwd=home, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        yield Lab(url=_wait_ready(proc, home / "runtime", token, log), token=token, root=root, log=log)
    finally:
        _stop(proc)
