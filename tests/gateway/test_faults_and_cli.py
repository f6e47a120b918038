"""Fault injection, and the `linkis-jupyter gateway` command as a real process."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from gateway_wire import Api, err, ok


def test_faults_are_off_by_default_and_502_on_demand(gateway, alice):
    for _ in range(20):
        ok(alice.get("/jobhistory/list"))
    gateway.faults.set(error_rate=1.0)
    r = alice.get("/jobhistory/list")
    assert r.status_code == 502 and "Bad Gateway" in r.text
    gateway.faults.clear()
    ok(alice.get("/jobhistory/list"))
    assert gateway.faults.injected["error"] == 1


def test_a_faulted_submit_creates_no_job(gateway, alice):
    gateway.faults.set(error_rate=1.0, paths=r"/entrance/submit$")
    r = alice.post("/entrance/submit", {"executionContent": {"code": "true", "runType": "sh"},
                                        "labels": {"engineType": "shell-1"}})
    assert r.status_code == 502
    ok(alice.get("/jobhistory/list"))  # other paths are not touched
    gateway.faults.clear()
    assert ok(alice.get("/jobhistory/list"))["totalPage"] == 0


def test_dropped_connections(gateway, alice):
    gateway.faults.set(drop_rate=1.0, count=2)
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            alice.s.get(alice.base + "/jobhistory/list", timeout=10, headers={"Connection": "close"})
    ok(alice.get("/jobhistory/list"))
    assert gateway.faults.injected["drop"] == 2


def test_stalled_requests_time_out_the_client(gateway, alice):
    gateway.faults.set(stall_rate=1.0, stall_seconds=5.0, count=1)
    with pytest.raises(requests.ReadTimeout):
        alice.s.get(alice.base + "/jobhistory/list", timeout=0.3)
    ok(alice.get("/jobhistory/list"))


def test_fault_rates_pick_a_fraction(gateway, alice):
    gateway.faults.set(error_rate=0.3, seed=11)
    codes = [alice.get("/user/heartbeat").status_code for _ in range(200)]
    gateway.faults.clear()
    assert 30 <= codes.count(502) <= 90 and codes.count(200) == 200 - codes.count(502)


def test_fault_settings_are_checked(gateway):
    for bad in ({"error_rate": 1.5}, {"error_rate": 0.6, "drop_rate": 0.6}, {"stall_seconds": -1}):
        with pytest.raises(ValueError):
            gateway.faults.set(**bad)
    assert not gateway.faults.active


def test_fault_admin_endpoints_are_off_unless_asked_for(gateway, alice):
    reply = alice.post("/gateway/faults", {"error_rate": 1.0})
    assert reply.status_code == 403 and "fault-injection endpoints are off" in err(reply, 3)
    assert alice.post("/gateway/expireSessions").status_code == 403
    ok(alice.get("/jobhistory/list"))


def test_fault_admin_endpoints(gateway_factory):
    gateway = gateway_factory(fault_endpoints=True)
    alice = Api(gateway)
    alice.login("alice", gateway.password)
    ok(alice.post("/gateway/faults", {"error_rate": 1.0, "paths": "/jobhistory/"}))
    assert alice.get("/jobhistory/list").status_code == 502
    ok(alice.post("/gateway/faults", {"error_rate": 1.0}))  # never faulted itself
    ok(alice.post("/gateway/faults", {}))
    ok(alice.get("/jobhistory/list"))
    assert "unknown fault settings" in err(alice.post("/gateway/faults", {"explode": 1}))
    ok(alice.post("/gateway/expireSessions"))
    assert "Login has expired" in err(alice.get("/jobhistory/list"), -1)
    err(requests.post(gateway.url + "/api/rest_j/v1/gateway/faults", json={"error_rate": 1}, timeout=10), -1)


def _start_cli(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), LINKIS_GATEWAY_TOKEN="",
               LINKIS_GATEWAY_PASSWORD="")
    proc = subprocess.Popen(
        [sys.executable, "-m", "linkis_jupyter", "gateway", "--port", "0", "--data-dir", str(tmp_path / "data"),
         *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )
    return proc, env


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, errs = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, errs = proc.communicate(timeout=5)
    return out, errs


def test_cli_prints_the_url_and_writes_a_private_connection_file(tmp_path):
    proc, _env = _start_cli(tmp_path, "--user", "Carol")
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
        conn = tmp_path / "runtime" / "linkis-gateway.json"
        info = json.loads(conn.read_text())
        assert stat.S_IMODE(conn.stat().st_mode) == 0o600
        assert info["url"] == url and info["user"] == "carol" and info["pid"] == proc.pid
        token = info["token"]
        assert token and len(token) >= 24
        r = requests.post(url + "/api/rest_j/v1/user/token-login",
                          headers={"Token-Code": token, "Token-User": "carol"}, timeout=10)
        assert ok(r)["userName"] == "carol"
        err(requests.post(url + "/api/rest_j/v1/user/login", json={"userName": "carol", "password": token},
                          timeout=10))
    finally:
        out, errs = _stop(proc)
    assert proc.returncode == 0
    assert token not in out and token not in errs
    assert not conn.exists()


def test_cli_with_a_password(tmp_path):
    proc, _env = _start_cli(tmp_path, "--user", "dora", "--password", "dora-Pw-9")
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), proc.stderr.read()
        info = json.loads((tmp_path / "runtime" / "linkis-gateway.json").read_text())
        assert info["token"] is None and info["user"] == "dora"
        s = requests.Session()
        ok(s.post(url + "/api/rest_j/v1/user/login", json={"userName": "dora", "password": "dora-Pw-9"}, timeout=10))
    finally:
        out, errs = _stop(proc)
    assert "dora-Pw-9" not in out + errs


def test_cli_refuses_a_public_address_without_credentials(tmp_path):
    proc, _env = _start_cli(tmp_path, "--ip", "0.0.0.0")
    out, errs = proc.communicate(timeout=30)
    assert proc.returncode == 2 and out == ""
    assert errs.strip().count("\n") == 0 and "refusing to listen on 0.0.0.0" in errs


def test_cli_reports_a_busy_port_in_one_line(tmp_path, gateway):
    port = gateway.url.rsplit(":", 1)[1]
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    done = subprocess.run(
        [sys.executable, "-m", "linkis_jupyter", "gateway", "--port", port, "--data-dir", str(tmp_path / "d")],
        capture_output=True, text=True, env=env, timeout=30,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("linkis-jupyter gateway: error:") and done.stderr.strip().count("\n") == 0


def test_embedded_gateway_refuses_a_public_address_without_credentials(tmp_path):
    from linkis_jupyter.gateway import EmbeddedGateway, GatewayConfigError

    with pytest.raises(GatewayConfigError, match="refusing"):
        EmbeddedGateway(tmp_path, ip="0.0.0.0")


def test_stop_is_clean_and_repeatable(gateway_factory):
    gw = gateway_factory()
    url = gw.url
    api = Api(gw)
    api.login("alice", gw.password)
    gw.stop()
    gw.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/api/rest_j/v1/user/heartbeat", timeout=5)
    deadline = time.monotonic() + 5
    while any(t.name.startswith("linkis-gateway-") for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
