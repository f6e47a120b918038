"""Credentials under stress: wrong ones, sessions that expire mid-job, and guessing passwords."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from jupyter_client.manager import KernelManager
from fixtures.kernels import execute, shell_reply, text_of

from linkis_jupyter.client import LinkisClient
from linkis_jupyter.errors import AuthError
from fixtures.gateway import gateway_env
from fixtures.history import API, gateway_jobs, wait_for_states
from reliability_helpers import assert_one_job_per_cell

pytestmark = pytest.mark.timeout(90)


def one_line(error: BaseException) -> str:
    text = "".join(error._render_traceback_()) if hasattr(error, "_render_traceback_") else str(error)
    assert "\n" not in text, text
    return text


@pytest.mark.parametrize("how", ["token", "password"])
def test_wrong_credentials_are_one_error_naming_the_gateway_and_submit_nothing(ip: Any, gateway: Any, how: str,
                                                                               output: Any) -> None:
    ip.run_line_magic("config", f"LinkisClient.gateway_url = {gateway.url!r}")
    ip.run_line_magic("config", "LinkisClient.user = 'alice'")
    if how == "token":
        ip.run_line_magic("config", "LinkisClient.token = 'wrong-Token-Secret'")
    else:
        ip.run_line_magic("config", "LinkisClient.password = 'wrong-Password-Secret'")
    result = ip.run_cell("%%linkis --progress none\nselect 1")
    error = result.error_in_exec
    assert isinstance(error, AuthError)
    text = one_line(error)
    assert gateway.url in text and "alice" in text
    assert ("token" in text) if how == "token" else ("wrong user name or password" in text)
    out, err = output.read()
    assert [line for line in (out + err).splitlines() if line.strip()] == [f"AuthError: {error}"]
    assert gateway_jobs(gateway) == [] and gateway_jobs(gateway, "bob") == []


def test_a_wrong_token_on_connect_changes_nothing(ip: Any, gateway: Any, output: Any) -> None:
    ip.run_line_magic("linkis", f"connect {gateway.url} --user alice --token {gateway.token}")
    with pytest.raises(AuthError) as info:
        ip.run_line_magic("linkis", f"connect {gateway.url} --user alice --token wrong-Token-Secret")
    assert gateway.url in one_line(info.value)
    value = ip.run_cell_magic("linkis", "--progress none --log none --timeout 60", "select 1 as still_connected")
    assert value["still_connected"].tolist() == [1]


def test_sessions_expire_mid_job_under_password_auth_one_relogin(gateway: Any, tmp_path: Path,
                                                                  request_log: Any, output: Any) -> None:
    env = gateway_env(gateway, tmp_path)
    del env["LINKIS_TOKEN"]
    env["LINKIS_PASSWORD"] = gateway.password
    km = KernelManager(kernel_name="linkis-shell")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        # The job runs until the test lets it finish, once the client has logged in again.
        go = tmp_path / "go"
        code = (f"for i in $(seq 600); do echo tick $i >&2; [ -e '{go}' ] && break; sleep 0.1; done; "
                "echo finished")
        msg_id = kc.execute(code)
        wait_for_states(gateway, {"Running"})
        gateway.expire_sessions()
        deadline = time.monotonic() + 30
        while request_log.count("^/user/login$", "POST") < 2:
            assert time.monotonic() < deadline, "the client never logged in again"
            time.sleep(0.1)
        assert gateway_jobs(gateway)[-1]["status"] == "Running"
        go.touch()
        reply = shell_reply(kc, msg_id, timeout=60)
        assert reply["content"]["status"] == "ok"
        # One login before the job, one after the sessions expired, none more.
        assert request_log.count("^/user/login$", "POST") == 2
        reply, outputs = execute(kc, "echo again")
        assert reply["status"] == "ok" and "again" in text_of(outputs)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert_one_job_per_cell(gateway, [code, "echo again"])


def test_login_attempts_are_rate_limited_per_user_and_address(gateway_factory: Any, output: Any) -> None:
    def attempt(gw: Any, user: str, password: str) -> dict[str, Any]:
        return requests.post(gw.url + API + "/user/login", json={"userName": user, "password": password},
                             timeout=10).json()

    # A window far longer than the requests below take, however loaded the machine.
    gw = gateway_factory(login_attempts=3, login_window=60.0)
    for _ in range(3):
        assert attempt(gw, "alice", "wrong-Password-Secret")["message"].startswith("wrong user name or password")
    refused = attempt(gw, "alice", gw.password)  # the right one, too soon
    assert refused["status"] == 1 and refused["message"].startswith("Too many failed logins for alice, try again in")
    assert attempt(gw, "bob", "bob-Secret-2")["status"] == 0  # another user is not locked out
    client = LinkisClient(gateway_url=gw.url, user="alice", password=gw.password)
    with pytest.raises(AuthError) as info:
        client.login()
    text = one_line(info.value)
    assert "Too many failed logins" in text and gw.url in text

    # Not for ever: on a gateway with a 1 s window, a lockout seen ends and the right password
    # works again.
    short = gateway_factory(login_attempts=3, login_window=1.0)
    for _ in range(5):
        for _ in range(3):
            attempt(short, "alice", "wrong-Password-Secret")
        if attempt(short, "alice", short.password)["status"] != 0:
            break  # locked out (else the window had passed already: try again)
    else:
        raise AssertionError("no lockout seen")
    deadline = time.monotonic() + 30
    while attempt(short, "alice", short.password)["status"] != 0:
        assert time.monotonic() < deadline, "still locked out"
        time.sleep(0.2)
    assert LinkisClient(gateway_url=short.url, user="alice", password=short.password).login()["userName"] == "alice"


def test_gateway_refuses_bad_login_settings(tmp_path: Path) -> None:
    from linkis_jupyter.gateway import EmbeddedGateway, GatewayConfigError

    with pytest.raises(GatewayConfigError, match="login_attempts"):
        EmbeddedGateway(tmp_path, login_attempts=0)
