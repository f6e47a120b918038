"""One client cannot stall the others: job history is read off the IOLoop, request bodies are
bounded in size and time, POST bodies are JSON, the session cookie is SameSite=Lax, hard links
are refused like symlinks."""
from __future__ import annotations

import os
import socket
import threading
import time

import requests
from gateway_wire import Api, ok

# Linkis' gateway buffers a request body up to wds.linkis.gateway.max.buffer.size
# (GatewayAuthorizationFilter, 128 MiB).
LINKIS_MAX_BODY = 128 * 1024 * 1024


def _raw_post_head(gw, content_length: int) -> socket.socket:
    """A connection that sent a submit's headers and a few bytes of its body, and no more."""
    host, port = gw.url.split("//", 1)[1].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        f"POST /api/rest_j/v1/entrance/submit HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nToken-Code: {gw.token}\r\nToken-User: alice\r\n"
        f"Content-Length: {content_length}\r\n\r\n".encode() + b'{"executionContent": '
    )
    return sock


def _closed_or_answered_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing, or None if it still holds the connection."""
    sock.settimeout(seconds)
    try:
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data
    except socket.timeout:
        return None
    finally:
        sock.close()


# -- job history ---------------------------------------------------------------------------------


def test_the_history_listing_carries_each_jobs_whole_code(alice):
    # QueryRestfulApi.list (release-1.8.0) runs QueryUtils.exchangeExecutionCode on every row and
    # TaskConversions.jobHistory2TaskVO copies the code as it is: no cut, no brief form.
    code = "echo " + "x" * 60000
    exec_id, task_id = alice.submit(code)
    alice.wait(exec_id)
    tasks = ok(alice.get("/jobhistory/list", pageSize=5))["tasks"]
    assert [t["executionCode"] for t in tasks if t["taskID"] == task_id] == [code]


def test_a_slow_history_read_does_not_stall_other_requests(gateway, alice, bob):
    release = threading.Event()
    entered = threading.Event()
    list_tasks = gateway.storage.list_tasks

    def slow_list_tasks(*args, **kwargs):
        entered.set()
        release.wait(20)
        return list_tasks(*args, **kwargs)

    gateway.storage.list_tasks = slow_list_tasks
    listing = threading.Thread(target=alice.get, args=("/jobhistory/list",))
    listing.start()
    try:
        assert entered.wait(10)
        r = requests.get(bob.base + "/user/heartbeat", cookies=bob.s.cookies, timeout=3)
        assert r.status_code == 200
    finally:
        release.set()
        listing.join(20)
        gateway.storage.list_tasks = list_tasks


# -- request bounds ------------------------------------------------------------------------------


def test_a_slow_request_body_is_dropped_while_others_are_served(gateway_factory):
    gw = gateway_factory(body_timeout=1.0)
    bob = Api(gw)
    bob.login("bob", "bob-Secret-2")
    started = time.monotonic()
    sock = _raw_post_head(gw, 1000)
    assert bob.get("/user/heartbeat").status_code == 200
    assert _closed_or_answered_within(sock, 10) is not None
    assert time.monotonic() - started < 8


def test_a_body_up_to_linkis_buffer_limit_is_read_and_a_bigger_one_refused(gateway):
    # Tornado's own default (100 MiB) would refuse what Linkis' gateway still reads.
    waiting = _raw_post_head(gateway, LINKIS_MAX_BODY)
    assert _closed_or_answered_within(waiting, 1.0) is None
    refused = _closed_or_answered_within(_raw_post_head(gateway, LINKIS_MAX_BODY + 1), 10)
    assert refused is not None and refused.startswith(b"HTTP/1.1 400 ")


# -- POST bodies must be JSON --------------------------------------------------------------------


def test_a_text_plain_submit_is_springs_415(alice):
    body = '{"executionContent": {"code": "echo hi", "runType": "sh"}, "labels": {"engineType": "shell-1"}}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        r = alice.s.post(alice.base + "/entrance/submit", data=body,
                         headers={"Content-Type": content_type}, timeout=15)
        assert r.status_code == 415, r.text
        page = r.json()
        assert page["status"] == 415 and page["error"] == "Unsupported Media Type"
        assert page["path"] == "/api/rest_j/v1/entrance/submit" and "timestamp" in page
    assert ok(alice.post("/entrance/submit", {"executionContent": {"code": "echo hi", "runType": "sh"},
                                              "labels": {"engineType": "shell-1"}}))["taskID"]
    r = alice.s.post(alice.base + "/entrance/submit", data=body.encode(),
                     headers={"Content-Type": "application/json;charset=UTF-8"}, timeout=15)
    assert ok(r)["taskID"]


# -- the session cookie, hard links ---------------------------------------------------------------


def test_the_session_cookie_is_samesite_lax(gateway):
    r = requests.post(gateway.url + "/api/rest_j/v1/user/login",
                      json={"userName": "alice", "password": gateway.password}, timeout=15)
    cookie = r.headers["Set-Cookie"]
    assert "samesite=lax" in cookie.lower() and "httponly" in cookie.lower()


def test_a_hard_link_in_the_users_area_is_refused_like_a_symlink(gateway, alice, bob):
    exec_id, task_id = bob.submit("echo bob-secret")
    bob.wait(exec_id)
    bobs_log = bob.task(task_id)["logPath"].removeprefix("file://")
    area = gateway.data_dir / "users" / "alice"
    area.mkdir(parents=True, exist_ok=True)
    link = area / "copied.log"
    os.link(bobs_log, link)
    for endpoint in ("openFile", "openLog", "resultsetToExcel"):
        r = alice.get(f"/filesystem/{endpoint}", path=str(link))
        assert "80010" in r.text and "bob-secret" not in r.text, (endpoint, r.text)
    listing = ok(alice.get("/filesystem/getDirFileTrees", path=str(area)))
    assert "copied.log" in str(listing)
