"""Envelope, login sessions, tokens, proxy users and unknown paths, on the wire."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from gateway_wire import Api, err, ok

NOT_LOGGED_IN = "You are not logged in, please login first(您尚未登录，请先登录)!"
# SSOUtils' NonLoginException, as the gateway's SecurityFilter reports it for /user/* (1.4.0+).
USER_NOT_LOGGED_IN = ("login failed! reason: NonLoginException: errCode: 11002 ,desc: You are not logged in, "
                      "please login first(您尚未登录，请先登录!) ,ip: {ip} ,port: {port} ,serviceKind: linkis-mg-gateway")


def test_unauthenticated_requests_get_linkis_401(gateway):
    for path in ("/jobhistory/list", "/entrance/submit", "/filesystem/openLog?path=/x"):
        r = requests.get(gateway.url + "/api/rest_j/v1" + path, timeout=10)
        assert r.status_code == 401
        assert r.json() == {"method": "/api/rest_j/v1" + path.split("?")[0], "status": -1,
                            "message": NOT_LOGGED_IN, "data": {}}
    # userInfo is UserRestful's: its NonLoginException is a status-1 error, HTTP 400.
    r = requests.get(gateway.url + "/api/rest_j/v1/user/userInfo", timeout=10)
    assert err(r, 1) == USER_NOT_LOGGED_IN.format(ip=gateway.ip, port=gateway.port)
    assert r.json()["method"] == "/api/rest_j/v1/user/userInfo"


def test_login_sets_the_linkis_cookie_and_second_login_is_status_0(gateway):
    api = Api(gateway)
    r = api.post("/user/login", {"userName": "alice", "password": gateway.password})
    data = ok(r)
    assert data["userName"] == "alice" and data["sessionTimeOut"] == 3600 * 1000
    assert "linkis_user_session_ticket_id_v1" in r.cookies
    assert gateway.password not in r.text and r.cookies["linkis_user_session_ticket_id_v1"] != gateway.password
    again = api.post("/user/login", {"userName": "alice", "password": gateway.password})
    assert ok(again) == {"userName": "alice"}
    assert "already logged in" in again.json()["message"]
    assert ok(api.get("/user/userInfo"))["userName"] == "alice"
    assert ok(api.get("/user/heartbeat")) == {}


def test_login_accepts_query_parameters(gateway):
    r = requests.post(gateway.url + "/api/rest_j/v1/user/login",
                      params={"userName": "bob", "password": "bob-Secret-2"}, timeout=10)
    assert ok(r)["userName"] == "bob"


def test_login_mistakes(gateway):
    api = Api(gateway)
    assert "wrong user name or password" in err(api.post("/user/login", {"userName": "alice", "password": "nope"}))
    assert "wrong user name or password" in err(api.post("/user/login", {"userName": "mallory", "password": "x"}))
    assert "Username can not be empty" in err(api.post("/user/login", {"password": "x"}))
    assert "Password can not be blank" in err(api.post("/user/login", {"userName": "alice"}))
    assert "not valid JSON" in err(api.s.post(api.base + "/user/login", data=b"{nope", timeout=10))
    assert "linkis_user_session_ticket_id_v1" not in api.s.cookies
    err(api.get("/jobhistory/list"), -1)


def test_logout_ends_the_session(alice):
    ok(alice.get("/jobhistory/list"))
    assert "Logout successful" in alice.get("/user/logout").json()["message"]
    assert err(alice.get("/jobhistory/list"), -1) == NOT_LOGGED_IN
    assert err(alice.get("/user/heartbeat"), -1)


def test_a_forged_ticket_is_not_logged_in(gateway):
    for name in ("linkis_user_session_ticket_id_v1", "bdp-user-ticket-id"):
        r = requests.get(gateway.url + "/api/rest_j/v1/jobhistory/list", cookies={name: "forged"}, timeout=10)
        assert err(r, -1) == NOT_LOGGED_IN


def test_the_0x_cookie_name_is_not_a_1x_session(gateway, alice):
    # ServerConfiguration reads one ticket cookie: linkis_user_session_ticket_id_v1 from 1.1.2.
    ticket = alice.s.cookies["linkis_user_session_ticket_id_v1"]
    r = requests.get(gateway.url + "/api/rest_j/v1/jobhistory/list", cookies={"bdp-user-ticket-id": ticket}, timeout=10)
    assert err(r, -1) == NOT_LOGGED_IN
    r = requests.get(gateway.url + "/api/rest_j/v1/user/userInfo",
                     cookies={"linkis_user_session_ticket_id_v1": ticket}, timeout=10)
    assert ok(r)["userName"] == "alice"


def test_sessions_expire_after_the_timeout_and_on_demand(gateway_factory):
    gw = gateway_factory(session_timeout=1.0)
    api = Api(gw)
    api.login("alice", gw.password)
    ok(api.get("/jobhistory/list"))
    time.sleep(1.3)
    assert "Login has expired" in err(api.get("/jobhistory/list"), -1)
    api.s.cookies.clear()
    api.login("alice", gw.password)
    gw2 = gateway_factory()
    api2 = Api(gw2)
    api2.login("bob", "bob-Secret-2")
    ok(api2.get("/jobhistory/list"))
    gw2.expire_sessions()
    assert "Login has expired" in err(api2.get("/jobhistory/list"), -1)
    # A fresh login works again right away.
    api2.s.cookies.clear()
    api2.login("bob", "bob-Secret-2")
    ok(api2.get("/jobhistory/list"))


def test_token_headers_are_stateless(gateway):
    h = {"Token-Code": gateway.token, "Token-User": "bob"}
    exec_id, _ = Api(gateway, headers=h).submit("true")
    assert "_bob_" in exec_id
    r = requests.get(gateway.url + "/api/rest_j/v1/jobhistory/list", headers=h, timeout=10)
    ok(r)
    assert not r.cookies
    bad = requests.get(gateway.url + "/api/rest_j/v1/jobhistory/list",
                       headers={"Token-Code": "wrong-token", "Token-User": "bob"}, timeout=10)
    message = err(bad, -1)
    assert "wrong-token" not in message and gateway.token not in message
    half = requests.get(gateway.url + "/api/rest_j/v1/jobhistory/list",
                        headers={"Token-Code": gateway.token, "Token-User": ""}, timeout=10)
    assert "Token-User" in err(half, -1)
    weird = requests.get(gateway.url + "/api/rest_j/v1/jobhistory/list",
                         headers={"Token-Code": gateway.token, "Token-User": "../etc"}, timeout=10)
    err(weird, -1)


def test_token_limited_to_some_users(gateway_factory):
    gw = gateway_factory(tokens={"only-carol": "carol,dave"})
    get = lambda user: requests.get(gw.url + "/api/rest_j/v1/jobhistory/list",  # noqa: E731
                                    headers={"Token-Code": "only-carol", "Token-User": user}, timeout=10)
    ok(get("carol"))
    err(get("alice"), -1)


def test_token_login_makes_a_session(gateway):
    s = requests.Session()
    r = s.post(gateway.url + "/api/rest_j/v1/user/token-login",
               headers={"Token-Code": gateway.token, "Token-User": "alice"}, timeout=10)
    assert ok(r)["userName"] == "alice"
    assert ok(s.get(gateway.url + "/api/rest_j/v1/user/userInfo", timeout=10))["userName"] == "alice"


def test_tokens_disabled(gateway_factory):
    gw = gateway_factory(tokens={})
    r = requests.get(gw.url + "/api/rest_j/v1/jobhistory/list",
                     headers={"Token-Code": "anything", "Token-User": "alice"}, timeout=10)
    assert "token" in err(r, -1)


def _proxy_gateway(gateway_factory, tmp_path, **options):
    conf = tmp_path / "proxy.properties"
    conf.write_text("# system tokens\nsys-code-1=carol,dave\nsys-any=*\n")
    return gateway_factory(proxy_config=conf, **options)


def test_proxy_user_headers_run_as_the_proxy_user_when_opted_in(gateway_factory, tmp_path):
    gw = _proxy_gateway(gateway_factory, tmp_path, proxy_headers=True)
    api = Api(gw, headers={"Proxy-User": "carol", "Validation-Code": "sys-code-1"})
    api.login("alice", gw.password)
    # /user/* is the gateway's UserRestful: the session user, headers or not.
    assert ok(api.get("/user/userInfo"))["userName"] == "alice"
    exec_id, task_id = api.submit("echo proxied")
    assert "_carol_" in exec_id
    task = api.task(task_id)
    assert task["executeUser"] == "carol" and task["umUser"] == "alice" and "submitUser" not in task
    assert api.wait(exec_id) == "Succeed"
    # The result lives in carol's area, readable through the proxy, not by alice herself.
    path = api.results(task_id)[0]
    assert api.read(path)["fileContent"] == [["proxied"]]
    plain = Api(gw)
    plain.login("alice", gw.password)
    assert "80010" in err(plain.get("/filesystem/openFile", path=path))
    # Headers alone authenticate, any case of the name; a user outside the list is refused.
    dave = Api(gw, headers={"Proxy-User": "DAVE", "Validation-Code": "sys-code-1"})
    assert ok(dave.get("/jobhistory/list"))["totalPage"] == 0
    eve = Api(gw, headers={"Proxy-User": "eve", "Validation-Code": "sys-code-1"})
    assert err(eve.get("/jobhistory/list"), -1) == "Validation failed"
    anyone = Api(gw, headers={"Proxy-User": "eve", "Validation-Code": "sys-any"})
    ok(anyone.get("/jobhistory/list"))
    wrong = Api(gw, headers={"Proxy-User": "carol", "Validation-Code": "guess"})
    assert err(wrong.get("/jobhistory/list"), -1) == "Validation failed"


def test_proxy_login_endpoint(gateway_factory, tmp_path):
    gw = _proxy_gateway(gateway_factory, tmp_path)
    api = Api(gw)
    r = api.get("/user/proxy", proxyUser="carol", validationCode="sys-code-1")
    assert r.json()["message"] == "代理成功" and ok(r)["proxyUser"] == "carol"
    assert ok(api.get("/user/userInfo"))["userName"] == "carol"
    assert "_carol_" in api.submit("true")[0]
    refused = Api(gw).get("/user/proxy", proxyUser="eve", validationCode="sys-code-1")
    assert err(refused) == "Validation failed"
    # ProxyUserUtils.validate compares the names exactly.
    assert err(Api(gw).get("/user/proxy", proxyUser="Carol", validationCode="sys-code-1")) == "Validation failed"
    anyone = Api(gw)
    ok(anyone.get("/user/proxy", proxyUser="Eve", validationCode="sys-any"))
    assert ok(anyone.get("/user/userInfo"))["userName"] == "eve"


def test_proxy_is_off_without_a_proxy_config(gateway):
    r = Api(gateway).get("/user/proxy", proxyUser="carol", validationCode="anything")
    assert err(r) == "Validation failed"
    api = Api(gateway, headers={"Proxy-User": "carol", "Validation-Code": "anything"})
    err(api.get("/jobhistory/list"), -1)


def test_unknown_paths_versions_and_methods(gateway, alice):
    assert err(alice.get("/user/nothing")) == "unknown request URI nothing"
    assert "Cannot find a service to deal /api/rest_j/v1/nosuch/thing" in err(alice.get("/nosuch/thing"))
    r = alice.s.get(gateway.url + "/favicon.ico", timeout=10)
    assert "Cannot find a service to deal /favicon.ico" in err(r)
    assert "not support version v2" in err(alice.s.get(gateway.url + "/api/rest_j/v2/jobhistory/list", timeout=10))
    # Paths and methods the backends have no mapping for: Spring Boot's error JSON.
    r = alice.get("/entrance/nothing/here/at/all")
    assert r.status_code == 404 and r.json()["error"] == "Not Found"
    assert r.json()["path"] == "/api/rest_j/v1/entrance/nothing/here/at/all"
    r = alice.post("/jobhistory/list")
    assert r.status_code == 405 and r.json()["status"] == 405 and r.headers["Allow"] == "GET"
    # Unauthenticated, the same paths are just "not logged in".
    err(requests.get(gateway.url + "/api/rest_j/v1/nosuch/thing", timeout=10), -1)


def test_spec_paths_without_version_work(gateway, alice):
    r = alice.s.get(gateway.url + "/api/rest_j/jobhistory/list", timeout=10)
    assert ok(r)["tasks"] == []


def _as_nobody(url: str, body: dict[str, str]) -> dict:
    """A login from another OS account's process on this host: a loopback client like ours."""
    # The standard library is imported before the switch: it may sit where nobody cannot read.
    code = ("import encodings.idna, http.client, os, sys, urllib.parse\n"
            "url = urllib.parse.urlsplit(sys.argv[1])\n"
            "conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)\n"
            "os.setgid(65534); os.setuid(65534)\n"
            "conn.request('POST', url.path, body=sys.argv[2], headers={'Content-Type': 'application/json'})\n"
            "print(conn.getresponse().read().decode())\n")
    out = subprocess.run([sys.executable, "-c", code, url, json.dumps(body)], capture_output=True,
                         text=True, timeout=30, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not Path("/proc/net/tcp").exists(),
                    reason="needs root to run a client as another OS account, and Linux' /proc/net/tcp")
def test_wrong_passwords_from_another_local_account_do_not_lock_a_user_out(gateway_factory):
    gw = gateway_factory(login_attempts=3, login_window=60.0)
    url = gw.url + "/api/rest_j/v1/user/login"
    for _ in range(3):
        assert _as_nobody(url, {"userName": "alice", "password": "guess"})["message"].startswith("wrong user name")
    assert _as_nobody(url, {"userName": "alice", "password": gw.password})["message"].startswith(
        "Too many failed logins for alice")
    # Every client is 127.0.0.1, yet alice's own account still logs in.
    assert ok(Api(gw).login("alice", gw.password))["userName"] == "alice"


def test_wrong_tokens_and_proxy_codes_are_throttled_like_logins(gateway_factory, tmp_path):
    gw = _proxy_gateway(gateway_factory, tmp_path, proxy_headers=True, login_attempts=3, login_window=60.0)
    history = gw.url + "/api/rest_j/v1/jobhistory/list"
    for user in ("alice", "bob", "carol"):  # a new user name for every guess does not help
        assert err(requests.get(history, headers={"Token-Code": "guess", "Token-User": user}, timeout=10), -1)
    refused = requests.get(history, headers={"Token-Code": gw.token, "Token-User": "alice"}, timeout=10)
    assert refused.json()["status"] == 1
    assert refused.json()["message"].startswith("Too many failed logins for alice, try again in")
    # Passwords are not codes: logins still work from here.
    api = Api(gw)
    api.login("alice", gw.password)
    ok(api.get("/jobhistory/list"))

    for _ in range(3):
        assert err(Api(gw).get("/user/proxy", proxyUser="carol", validationCode="guess")) == "Validation failed"
    again = Api(gw).get("/user/proxy", proxyUser="carol", validationCode="sys-code-1")
    assert again.json()["message"].startswith("Too many failed logins for carol, try again in")
    headers = Api(gw, headers={"Proxy-User": "carol", "Validation-Code": "sys-code-1"})
    assert err(headers.get("/jobhistory/list")).startswith("Too many failed logins for carol")


def test_code_guesses_end_with_the_window(gateway_factory, tmp_path):
    gw = _proxy_gateway(gateway_factory, tmp_path, login_attempts=2, login_window=1.0)
    for _ in range(2):
        assert err(Api(gw).get("/user/proxy", proxyUser="carol", validationCode="guess")) == "Validation failed"
    assert "Too many failed logins" in Api(gw).get("/user/proxy", proxyUser="carol",
                                                   validationCode="sys-code-1").json()["message"]
    time.sleep(1.1)
    assert ok(Api(gw).get("/user/proxy", proxyUser="carol", validationCode="sys-code-1"))["proxyUser"] == "carol"
