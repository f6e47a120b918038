"""`linkis-jupyter lab`: a gateway and JupyterLab using it, whose kernels run their cells on that
gateway, both stopped by one Ctrl-C."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from jupyter_client.blocking import BlockingKernelClient

from fixtures.gateway import TOKEN, start_gateway, stop_gateway
from fixtures.history import settled_jobs
from fixtures.kernels import execute, text_of
from linkis_jupyter.gateway.cli import default_user


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_lab_starts_gateway_and_jupyterlab_and_ctrl_c_stops_both(tmp_path: Path) -> None:
    token = secrets.token_hex(8)
    runtime = tmp_path / "runtime"
    env = dict(
        os.environ,
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        IPYTHONDIR=str(tmp_path / "ipython"),
    )
    data_dir = tmp_path / "gateway"
    process = subprocess.Popen(
        [sys.executable, "-m", "linkis_jupyter", "lab", "--data-dir", str(data_dir), "--", "--no-browser", "--port=0",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("embedded Linkis gateway at http://127.0.0.1:"), first
        gateway_url = first.split(" at ")[1].strip()
        server = wait_for(lambda: next(runtime.glob("jpserver-*.json"), None), 60, "JupyterLab to start")
        lab_url = json.loads(server.read_text())["url"].rstrip("/")
        status = wait_for(lambda: _get(f"{lab_url}/api/status?token={token}"), 60, "JupyterLab to answer")
        assert status.status_code == 200
        specs = _get(f"{lab_url}/api/kernelspecs?token={token}").json()["kernelspecs"]
        assert "linkis-spark-sql" in specs
        # The gateway answers as Linkis does to a request without credentials.
        reply = requests.get(gateway_url + "/api/rest_j/v1/jobhistory/list", timeout=5)
        assert reply.status_code == 401 and reply.json()["status"] == -1
        # A kernel Lab starts runs its cells as jobs on that gateway, with nothing configured.
        started = requests.post(f"{lab_url}/api/kernels?token={token}", json={"name": "linkis-shell"}, timeout=30)
        assert started.status_code == 201, started.text
        kernel_id = started.json()["id"]
        kc = BlockingKernelClient(connection_file=str(runtime / f"kernel-{kernel_id}.json"))
        kc.load_connection_file()
        # No heartbeat channel: on a busy machine one late beat makes wait_for_ready report the
        # kernel dead; the kernel's replies are what the test waits for.
        kc.start_channels(hb=False)
        try:
            kc.wait_for_ready(timeout=60)
            reply, outputs = execute(kc, "%%local\nimport os; print(os.environ['LINKIS_GATEWAY_URL'])")
            assert reply["status"] == "ok" and text_of(outputs).strip() == gateway_url, text_of(outputs)
            reply, outputs = execute(kc, "echo from-a-lab-kernel")
            assert reply["status"] == "ok" and "from-a-lab-kernel" in text_of(outputs), text_of(outputs)
        finally:
            kc.stop_channels()

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole group
        assert process.wait(timeout=30) == 0
        for url in (gateway_url + "/api/rest_j/v1/user/userInfo", f"{lab_url}/api/status"):
            try:
                requests.get(url, timeout=2)
            except requests.ConnectionError:
                continue
            raise AssertionError(f"{url} still answers after Ctrl-C")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # The job is in the job history the gateway kept, served again from its data dir.
    gw = start_gateway(data_dir, users={}, tokens={TOKEN: "*"})
    try:
        jobs = [(job["executionCode"].strip(), job["status"]) for job in settled_jobs(gw, default_user())]
    finally:
        stop_gateway(gw)
    assert jobs == [("echo from-a-lab-kernel", "Succeed")]


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5)
    except requests.ConnectionError:
        return None
