"""What a stock Linkis 1.8 refuses, the gateway refuses by default: engine versions, userCreator
labels, executeUser, /user/* without a session, proxy users."""
from __future__ import annotations

import time

import pytest
import requests
from gateway_wire import Api, err, ok

from linkis_jupyter.gateway import EmbeddedGateway, GatewayConfigError

ADMIN = "ADMIN-xyz-Secret"
PLAIN = "plain-Token-Secret"


def _submit(api: Api, labels: dict, code: str = "echo hi", run_type: str = "sh", **body) -> dict:
    return api.post("/entrance/submit", {"executionContent": {"code": code, "runType": run_type},
                                         "labels": labels, **body}).json()


def _final(api: Api, task_id: int) -> dict:
    deadline = time.monotonic() + 15
    while (task := api.task(task_id))["status"] not in ("Succeed", "Failed", "Cancelled", "Timeout"):
        assert time.monotonic() < deadline, task
        time.sleep(0.05)
    return task


# -- installed engines --------------------------------------------------------------------------


@pytest.mark.parametrize("engine, label", [
    ("spark-2.4.3", "spark-2.4.3"),   # a version the site has no plugin for
    ("jdbc-4", "jdbc-4"),             # an engine it has no plugin for
    ("spark", "spark-spark"),         # EngineTypeLabel reads a bare name as version = name
])
def test_an_uninstalled_engine_is_accepted_then_fails_at_engine_creation(alice, engine, label):
    exec_id, task_id = alice.submit("select 1", run_type="sql", engine=engine)
    assert alice.wait(exec_id) == "Failed"
    task = _final(alice, task_id)
    assert task["errCode"] == 31002 and task["errDesc"] == "您提交的EngineTypeLabel没有对应的引擎版本"
    errors = ok(alice.get(f"/entrance/{exec_id}/log", size=-1))["log"][0]
    assert (f"ERROR jobRequest({task_id})  execute failed,21304, Task is Failed,errorMsg: errCode: 12003 ,desc: "
            in errors)
    assert (f"EngineConnPluginNotFoundException: errCode: 70063 ,desc: No plugin found {label}, please check "
            f"your configuration ,ip: " in errors)
    assert task["engineStartTime"] is not None and alice.results(task_id) == []


def test_installed_versions_run_and_execute_takes_the_first_version(gateway_factory):
    gw = gateway_factory(engines=["spark-3.0.0", "spark-3.2.1", "shell-1"])
    api = Api(gw)
    api.login("alice", gw.password)
    assert str(gw.installed_engines) == "spark-3.0.0,spark-3.2.1,shell-1"
    for engine in ("spark-3.0.0", "spark-3.2.1"):
        exec_id, _ = api.submit("select 1", run_type="sql", engine=engine)
        assert api.wait(exec_id) == "Succeed"
    data = ok(api.post("/entrance/execute", {"executeApplicationName": "spark", "executionCode": "select 1"}))
    assert api.wait(data["execID"]) == "Succeed"
    assert _final(api, data["taskID"])["engineType"] == "spark-3.0.0"
    # Not installed here (the default list has it): the label is Linkis' default, which fails.
    data = ok(api.post("/entrance/execute", {"executeApplicationName": "python", "executionCode": "print(1)",
                                             "runType": "python"}))
    assert api.wait(data["execID"]) == "Failed"
    assert _final(api, data["taskID"])["engineType"] == "python-python2"
    # The missing-label message is built from the configured spark version.
    message = err(api.post("/entrance/submit", {"executionContent": {"code": "ls", "runType": "sh"},
                                                "labels": {"codeType": "sh"}}))
    assert message.endswith("You need to specify engineTypeLabel in labels,such as spark-3.0.0.")


def test_the_default_engines_and_execute_defaults(alice, gateway):
    assert str(gateway.installed_engines) == "spark-3.2.1,hive-3.1.3,python-python3,shell-1"
    for app, code, run_type, label in (("hive", "select 1", "hql", "hive-3.1.3"),
                                       ("python", "print(1)", "python", "python-python3")):
        data = ok(alice.post("/entrance/execute", {"executeApplicationName": app, "executionCode": code,
                                                   "runType": run_type}))
        assert alice.wait(data["execID"]) == "Succeed", alice.full_log(data["execID"])
        assert alice.task(data["taskID"])["engineType"] == label


@pytest.mark.parametrize("engines", ["", "spark", "spark-", ","])
def test_a_bad_engine_list_is_refused(tmp_path, engines):
    with pytest.raises(GatewayConfigError):
        EmbeddedGateway(tmp_path, engines=engines)


# -- the userCreator label (LabelCheckInterceptor) ------------------------------------------------


def test_a_user_creator_naming_someone_else_is_50080_and_stays_failed_in_history(alice):
    body = _submit(alice, {"engineType": "shell-1", "userCreator": "bob-IDE"}, source={"scriptPath": "x.sh"})
    assert body["status"] == 1 and body["method"] == "/api/rest_j/v1/entrance/submit"
    desc = "SubmitUser : alice must be the same as ExecuteUser : alice , and user : bob in userCreatorLabel."
    # ErrorException as EntranceRestfulApi renders it: the desc, then a period.
    assert body["message"] == f"error code(错误码): 50080, error message(错误信息): {desc}."
    assert body["data"]["errorMsg"] == {"errCode": 50080, "desc": desc}
    tasks = ok(alice.get("/jobhistory/list"))["tasks"]
    assert len(tasks) == 1
    task = tasks[0]
    assert task["status"] == "Failed" and task["errCode"] == 50080 and task["errDesc"] == desc
    assert task["progress"] == "1.0" and task["execId"] is None and task["executionCode"] == "echo hi"
    assert "userCreator:bob-IDE" in task["labels"] and task["umUser"] == "alice"


def test_user_creator_matches_the_execute_user_in_any_case(alice):
    body = _submit(alice, {"engineType": "shell-1", "userCreator": "ALICE-nb"})
    assert body["status"] == 0
    assert alice.wait(body["data"]["execID"]) == "Succeed"
    task = alice.task(body["data"]["taskID"])
    assert "userCreator:ALICE-nb" in task["labels"] and task["requestApplicationName"] == "nb"


@pytest.mark.parametrize("labels, desc", [
    ({"engineType": "shell-1", "userCreator": "a-b-IDE"}, "UserCreatorLabel must be need"),
    ({"engineType": "shell-1", "userCreator": "alice"}, "UserCreatorLabel must be need"),
    ({"engineType": "shell-1", "userCreator": "-IDE"}, "UserCreatorLabel must be need"),
    ({"engineType": "", "userCreator": "alice-IDE"}, "engineTypeLabel must be need"),
    ({"engineType": "  "}, "engineTypeLabel must be need"),
])
def test_labels_that_do_not_parse_are_50079(alice, labels, desc):
    body = _submit(alice, labels)
    assert body["message"] == f"error code(错误码): 50079, error message(错误信息): {desc}."
    task = ok(alice.get("/jobhistory/list"))["tasks"][0]
    assert task["status"] == "Failed" and task["errCode"] == 50079 and task["errDesc"] == desc


def test_a_user_with_a_dash_cannot_submit_at_all(gateway_factory):
    # /execute builds <user>-<creator>, which then splits into three parts.
    gw = gateway_factory(users={"a-b": "a-b-Secret"})
    api = Api(gw)
    api.login("a-b", "a-b-Secret")
    message = err(api.post("/entrance/execute", {"executeApplicationName": "shell", "executionCode": "true",
                                                 "runType": "sh"}))
    assert message.endswith("50079, error message(错误信息): UserCreatorLabel must be need.")
    assert "UserCreatorLabel must be need" in err(api.post("/entrance/submit", {
        "executionContent": {"code": "true", "runType": "sh"}, "labels": {"engineType": "shell-1"}}))


# -- executeUser and admin tokens -----------------------------------------------------------------


@pytest.fixture
def tokens_gateway(gateway_factory):
    return gateway_factory(tokens={ADMIN: "*", PLAIN: "*", "admin-lower-Secret": "*"})


def test_execute_user_is_honoured_on_submit_with_an_admin_token_only(tokens_gateway):
    gw = tokens_gateway
    body = {"executionContent": {"code": "echo as-carol", "runType": "sh"}, "labels": {"engineType": "shell-1"},
            "executeUser": "carol"}
    admin = Api(gw, headers={"Token-Code": ADMIN, "Token-User": "alice"})
    data = ok(admin.post("/entrance/submit", body))
    assert "_carol_" in data["execID"]
    task = admin.task(data["taskID"])
    assert task["umUser"] == "alice" and task["executeUser"] == "carol"
    assert "userCreator:carol-IDE" in task["labels"]
    # Configuration.isAdminToken ignores case.
    lower = Api(gw, headers={"Token-Code": "admin-lower-Secret", "Token-User": "alice"})
    assert "_carol_" in ok(lower.post("/entrance/submit", body))["execID"]
    # Any other token, or a session, runs as the login user; so does /execute, even for an admin.
    plain = Api(gw, headers={"Token-Code": PLAIN, "Token-User": "alice"})
    assert "_alice_" in ok(plain.post("/entrance/submit", body))["execID"]
    session = Api(gw)
    session.login("alice", gw.password)
    assert "_alice_" in ok(session.post("/entrance/submit", body))["execID"]
    old = ok(admin.post("/entrance/execute", {"executeApplicationName": "shell", "executionCode": "true",
                                              "runType": "sh", "executeUser": "carol"}))
    assert "_alice_" in old["execID"]


def test_an_admin_token_with_a_mismatched_label_is_50080(tokens_gateway):
    admin = Api(tokens_gateway, headers={"Token-Code": ADMIN, "Token-User": "alice"})
    body = _submit(admin, {"engineType": "shell-1", "userCreator": "alice-IDE"}, executeUser="carol")
    assert "SubmitUser : alice must be the same as ExecuteUser : carol , and user : alice" in body["message"]


# -- /user/* and token headers --------------------------------------------------------------------


def test_user_endpoints_ignore_token_headers(gateway):
    h = {"Token-Code": gateway.token, "Token-User": "alice"}
    r = requests.get(gateway.url + "/api/rest_j/v1/user/userInfo", headers=h, timeout=10)
    message = err(r, 1, 400)
    assert message.startswith("login failed! reason: NonLoginException: errCode: 11002 ,desc: You are not logged "
                              "in, please login first(您尚未登录，请先登录!) ,ip: ")
    assert message.endswith(" ,serviceKind: linkis-mg-gateway") and gateway.token not in message
    r = requests.get(gateway.url + "/api/rest_j/v1/user/heartbeat", headers=h, timeout=10)
    assert err(r, -1, 401).startswith("errCode: 11002 ,desc: You are not logged in")
    forged = requests.get(gateway.url + "/api/rest_j/v1/user/userInfo",
                          cookies={"linkis_user_session_ticket_id_v1": "forged"}, timeout=10)
    assert "LoginExpireException: errCode: 11002 ,desc: You are not logged in, please login first!" in err(forged)
    # token-login is the one that reads them, and only by POST.
    s = requests.Session()
    assert err(s.get(gateway.url + "/api/rest_j/v1/user/token-login", headers=h, timeout=10)) == \
        "Only support method POST"
    ok(s.post(gateway.url + "/api/rest_j/v1/user/token-login", headers=h, timeout=10))
    assert ok(s.get(gateway.url + "/api/rest_j/v1/user/userInfo", timeout=10))["userName"] == "alice"


def test_token_headers_win_over_the_session_cookie(gateway, alice):
    alice.s.headers.update({"Token-Code": gateway.token, "Token-User": "bob"})
    exec_id, task_id = alice.submit("true")
    assert "_bob_" in exec_id and alice.task(task_id)["umUser"] == "bob"
    # /user/* goes by the cookie alone.
    assert ok(alice.get("/user/userInfo"))["userName"] == "alice"


# -- proxy users -----------------------------------------------------------------------------------


def _proxy_conf(tmp_path):
    conf = tmp_path / "proxy.properties"
    conf.write_text("sys-code-1=carol\n")
    return conf


def test_proxy_headers_are_ignored_without_the_opt_in(gateway_factory, tmp_path):
    gw = gateway_factory(proxy_config=_proxy_conf(tmp_path))
    api = Api(gw, headers={"Proxy-User": "carol", "Validation-Code": "sys-code-1"})
    err(api.get("/jobhistory/list"), -1)
    api.login("alice", gw.password)
    exec_id, _ = api.submit("true")
    assert "_alice_" in exec_id
    # A client that labels its jobs for the proxy user meets the label check, as on Linkis.
    body = _submit(api, {"engineType": "shell-1", "userCreator": "carol-IDE"})
    assert "50080" in body["message"] and "and user : carol in userCreatorLabel." in body["message"]


def test_proxy_headers_need_a_proxy_config(tmp_path):
    with pytest.raises(GatewayConfigError, match="proxy_config"):
        EmbeddedGateway(tmp_path, proxy_headers=True)


def test_proxy_login_replaces_the_session_user_but_token_headers_still_win(gateway_factory, tmp_path):
    gw = gateway_factory(proxy_config=_proxy_conf(tmp_path))
    api = Api(gw)
    api.login("alice", gw.password)
    ok(api.get("/user/proxy", proxyUser="carol", validationCode="sys-code-1"))
    assert "_carol_" in api.submit("true")[0]
    api.s.headers.update({"Token-Code": gw.token, "Token-User": "alice"})
    assert "_alice_" in api.submit("true")[0]


# -- job history -----------------------------------------------------------------------------------


def test_history_vo_has_linkis_fields(alice):
    exec_id, task_id = alice.submit("true", source={"scriptPath": "a.sh", "clientSubmitKey": "k1"})
    alice.wait(exec_id)
    task = alice.task(task_id)
    assert "submitUser" not in task and task["umUser"] == "alice"
    # TaskConversions: the source's values joined with "-" (the entrance adds requestIP).
    assert task["sourceTailor"] == "a.sh-k1-127.0.0.1"
    assert not {"engineLogPath", "ecmInstance", "ticketId"} & set(task)


def test_history_list_page_size_is_not_capped_at_1000(gateway, alice):
    now = int(time.time() * 1000)
    for _ in range(1005):
        gateway.storage.insert_task(submit_user="alice", execute_user="alice", creator="IDE", status="Succeed",
                                    progress="1.0", created_time=now, updated_time=now, end_time=now)
    data = ok(alice.get("/jobhistory/list", pageSize=2000))
    assert data["totalPage"] == 1005 and len(data["tasks"]) == 1005
