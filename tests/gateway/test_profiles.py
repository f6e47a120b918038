"""`profile="0.x"`: the gateway behaves as Linkis 0.11.0 with one entrance per engine."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import requests
from gateway_wire import Api, err, ok

from linkis_jupyter.gateway import EmbeddedGateway, GatewayConfigError
from linkis_jupyter.gateway import cli
from linkis_jupyter.gateway.profile import PROFILES


@pytest.fixture
def old(gateway_factory) -> Api:
    gw = gateway_factory(profile="0.x")
    api = Api(gw)
    api.login("alice", gw.password)
    return api


def test_profile_flags(gateway, gateway_factory):
    assert gateway.profile is PROFILES["1.x"] and gateway.profile.name == "1.x"
    zero = gateway_factory(profile="0.x").profile
    assert zero.name == "0.x"
    for flag in ("csv_separator_param", "download_limit_param", "log_file_one_based", "null_value_param",
                 "taskid_in_path", "history_progress_as_string", "kill_jobs", "unified_entrance"):
        assert getattr(gateway.profile, flag) is True and getattr(zero, flag) is False, flag
    with pytest.raises(GatewayConfigError, match="unknown profile"):
        EmbeddedGateway(Path("/nonexistent"), profile="2.x")


def test_submit_has_no_entrance_on_0x(old):
    body = {"executionContent": {"code": "ls", "runType": "sh"}, "labels": {"engineType": "shell-1"}}
    r = old.post("/entrance/submit", body)
    # DefaultGatewayRouter writes its routing error without an HTTP status: 200.
    assert r.status_code == 200
    reply = r.json()
    assert reply["status"] == 1 and reply["method"] == "/api/rest_j/v1/entrance/submit"
    assert reply["message"].startswith(
        "TooManyServiceException: errCode: 11010 ,desc: Cannot find a correct serviceId for parsedServiceId "
        "entrance, service list is: List(sparkEntrance, hiveEntrance, pythonEntrance, shellEntrance) ,ip: ")
    assert reply["message"].endswith(" ,serviceKind: DataWorkCloud-Gateway")
    assert ok(old.get("/jobhistory/list"))["totalPage"] == 0


def test_execute_routes_by_engine_with_the_0x_versions(old):
    data = ok(old.post("/entrance/execute", {"executeApplicationName": "spark", "executionCode": "select 1 as a",
                                             "runType": "sql", "executeUser": "carol"}))
    assert "_alice_" in data["execID"]
    assert old.wait(data["execID"]) == "Succeed"
    task = old.task(data["taskID"])
    assert task["engineType"] == "spark-2.4.3" and isinstance(task["progress"], float)
    # The service id matches any entrance whose name contains it.
    data = ok(old.post("/entrance/execute", {"executeApplicationName": "py", "executionCode": "print(2)",
                                             "runType": "python"}))
    assert old.wait(data["execID"]) == "Succeed"
    assert old.task(data["taskID"])["engineType"] == "python-python3"


def test_execute_routing_errors_on_0x(old):
    r = old.post("/entrance/execute", {"executeApplicationName": "jdbc", "executionCode": "select 1"})
    assert r.status_code == 200 and r.json()["status"] == 1 and r.json()["message"] == "TimeoutException: "
    r = old.post("/entrance/execute", {"executionCode": "select 1"})
    assert r.status_code == 200 and r.json()["message"] == (
        "requestUri /api/rest_j/v1/entrance/execute need request parameter executeApplicationName")
    r = old.post("/entrance/execute", {"executeApplicationName": "e", "executionCode": "select 1"})
    assert "parsedServiceId e, service list is: List(" in r.json()["message"]


def test_0x_session_cookie_ids_and_missing_endpoints(old):
    assert set(old.s.cookies.keys()) == {"bdp-user-ticket-id"}
    exec_id, task_id = _execute(old, "sleep 60")
    old.wait_for(exec_id, "Running")
    # No taskID in the execID slot: the gateway parses the number as an execID and overruns it.
    r = old.get(f"/entrance/{task_id}/status")
    assert r.status_code == 200 and r.json()["status"] == 1
    assert r.json()["message"] == "StringIndexOutOfBoundsException: String index out of range: 6"
    r = old.post(f"/entrance/{exec_id}/killJobs", {"idList": [exec_id], "taskIDList": [task_id]})
    assert r.status_code == 404
    ok(old.get(f"/entrance/{exec_id}/kill"))
    # UserRestful's error text, without 1.x's "login failed! reason:" prefix.
    r = requests.get(old.base + "/user/userInfo", timeout=10)
    assert err(r).startswith("errCode: 11002 ,desc: You are not logged in, please login first(您尚未登录，请先登录!)")


def _execute(api: Api, code: str) -> tuple[str, int]:
    data = ok(api.post("/entrance/execute", {"executeApplicationName": "shell", "executionCode": code,
                                             "runType": "sh"}))
    return data["execID"], data["taskID"]


def test_cli_flags():
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["gateway"])
    assert args.engines == "spark-3.2.1,hive-3.1.3,python-python3,shell-1"
    assert args.profile == "1.x" and args.proxy_headers is False
    args = parser.parse_args(["gateway", "--engines", "spark-3.0.0,shell-1", "--profile", "0.x",
                              "--proxy-headers", "--proxy-config", "p.properties"])
    assert (args.engines, args.profile, args.proxy_headers) == ("spark-3.0.0,shell-1", "0.x", True)
    with pytest.raises(SystemExit):
        parser.parse_args(["gateway", "--profile", "2.x"])
