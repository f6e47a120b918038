"""The entrance's SQL limit (gateway/sql_limit.py), as Linkis' SQLLimitEntranceInterceptor applies
it: over HTTP against the gateway for what a user sees (rows, log, job history), and the rewrite
itself on the cases of Linkis' own tests (linkis-entrance/src/test: SQLExplainTest.java,
TestReplaceComment.scala, TestCommentHelper.java)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from linkis_jupyter.gateway.sql_limit import (
    SqlLimitError, deal_comment, deal_sql_limit, deal_sql_limit_0x, intercept, replace_comment,
)

pytestmark = pytest.mark.timeout(120)

ADDED = "You submitted a sql without limit, DSS will add limit 5000 to your sql"
LOWERED = ("You submitted a sql with limit exceeding 5000, it is not allowed. "
           "DSS will change your limit to 5000")
FULL_EXPORT = "please pay attention ,SQL full export mode opened(请注意,SQL全量导出模式打开)"
NOT_LIMITED = "The code you submit will not be limited by the limit"
PASSED = "SQL code check has passed"
OPT_OUT = "--set ide.engine.no.limit.allow=true\n"
ROWS = 12345
TERMINAL = {"Succeed", "Failed", "Cancelled", "Timeout"}


class Wire:
    """One logged-in client of the gateway, speaking Linkis' REST API with requests."""

    def __init__(self, gw: Any, user: str = "alice") -> None:
        self.base = gw.url + "/api/rest_j/v1"
        self.user = user
        self.s = requests.Session()
        r = self.s.post(self.base + "/user/login", json={"userName": user, "password": gw.users[user]}, timeout=15)
        assert r.json()["status"] == 0, r.text

    def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        body = self.s.request(method, self.base + path, timeout=15, **kw).json()
        assert body["status"] == 0, body
        return body["data"]

    def submit(self, code: str, creator: str = "IDE", run_type: str = "sql",
               engine: str = "spark-3.2.1", **extra: Any) -> requests.Response:
        body = {"executionContent": {"code": code, "runType": run_type},
                "labels": {"engineType": engine, "userCreator": f"{self.user}-{creator}"}, **extra}
        return self.s.post(self.base + "/entrance/submit", json=body, timeout=15)

    def run(self, code: str, creator: str = "IDE", run_type: str = "sql", **kw: Any) -> Ran:
        r = self.submit(code, creator, run_type, **kw)
        assert r.json()["status"] == 0, r.text
        data = r.json()["data"]
        ran = Ran(self, data["execID"], data["taskID"])
        deadline = time.monotonic() + 60
        while (state := self.call("GET", f"/entrance/{ran.exec_id}/status")["status"]) not in TERMINAL:
            assert time.monotonic() < deadline, f"job {ran.task_id} still {state}"
            time.sleep(0.05)
        ran.state = state
        return ran


class Ran:
    """A finished job: its state, log, job-history record and result sets."""

    def __init__(self, wire: Wire, exec_id: str, task_id: int) -> None:
        self.wire, self.exec_id, self.task_id = wire, exec_id, task_id
        self.state = ""

    def log(self) -> list[str]:
        """[error, warn, info, all] of the whole log."""
        return self.wire.call("GET", f"/entrance/{self.exec_id}/log", params={"fromLine": 0, "size": -1})["log"]

    def lines(self) -> list[str]:
        return self.log()[3].split("\n")

    def task(self) -> dict[str, Any]:
        return self.wire.call("GET", f"/jobhistory/{self.task_id}/get")["task"]

    def row_counts(self) -> list[int]:
        """Rows of each result set, in order."""
        tree = self.wire.call("GET", "/filesystem/getDirFileTrees",
                              params={"path": self.task()["resultLocation"]})["dirFileTrees"]
        paths = sorted((c["path"] for c in (tree or {"children": []})["children"]),
                       key=lambda p: int(p.rsplit("/_", 1)[1].split(".")[0]))
        return [self.wire.call("GET", "/filesystem/openFile",
                               params={"path": p, "pageSize": 100000})["totalLine"] for p in paths]

    def ok(self) -> Ran:
        assert self.state == "Succeed", "\n".join(self.lines())
        return self


def texts(lines: list[str], level: str) -> list[str]:
    """The texts of the lines of `level`, their time stamp and level taken off."""
    found = []
    for line in lines:
        m = re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (INFO|WARN|ERROR) (.*)$", line)
        if m and m.group(1) == level:
            found.append(m.group(2))
    return found


@pytest.fixture
def table(gateway: Any) -> Wire:
    """alice, with a table `t` of 12,345 rows in her database."""
    wire = Wire(gateway)
    wire.run(f"create table t as select range as n from range({ROWS})").ok()
    return wire


# -- over HTTP: what a user sees ----------------------------------------------------------------

def test_select_by_ide_gets_5000_rows_and_the_warning_before_the_job_is_scheduled(table: Wire) -> None:
    ran = table.run("select * from t").ok()
    assert ran.row_counts() == [5000]
    lines = ran.lines()
    assert texts(lines, "WARN") == [ADDED]
    # The interceptor's lines open the log, before the entrance schedules the job.
    assert texts(lines[:2], "WARN") == [ADDED] and texts(lines[:2], "INFO") == [PASSED]
    assert lines.index(next(x for x in lines if "Your job is Scheduled" in x)) > 1
    # One log entry, as Linkis writes the interceptors' block: the WARN list holds it whole.
    assert ran.log()[1].split("\n")[1].endswith(f"INFO {PASSED}")
    # The engine ran the limited code, and job history keeps it.
    assert ran.task()["executionCode"] == "select * from t limit 5000"
    assert any(line.endswith(">> select * from t limit 5000") for line in lines), "\n".join(lines)


def test_a_bigger_limit_is_lowered_and_a_smaller_one_kept(table: Wire) -> None:
    lowered = table.run("select * from t limit 20000").ok()
    assert lowered.row_counts() == [5000]
    assert texts(lowered.lines(), "WARN") == [LOWERED]
    assert lowered.task()["executionCode"] == "select * from t limit 5000"
    upper = table.run("SELECT * FROM t LIMIT 20000").ok()
    assert upper.task()["executionCode"] == "SELECT * FROM t LIMIT 5000"
    small = table.run("select * from t limit 10").ok()
    assert small.row_counts() == [10]
    assert texts(small.lines(), "WARN") == []
    assert texts(small.lines(), "INFO")[0] == PASSED
    assert small.task()["executionCode"] == "select * from t limit 10"


def test_the_opt_out_line_reads_every_row(table: Wire) -> None:
    ran = table.run(OPT_OUT + "select * from t").ok()
    assert ran.row_counts() == [ROWS]
    assert texts(ran.lines(), "WARN") == [FULL_EXPORT]
    # Comments go (CommentInterceptor's helper runs inside the limit too), the opt-out with them.
    assert ran.task()["executionCode"] == "select * from t"


def test_another_creator_reads_every_row_and_is_told_so(table: Wire) -> None:
    ran = table.run("select * from t", creator="LINKISCLI").ok()
    assert ran.row_counts() == [ROWS]
    assert texts(ran.lines(), "WARN") == [NOT_LIMITED]
    assert texts(ran.lines(), "INFO")[0].startswith("Your job is accepted")
    assert ran.task()["executionCode"] == "select * from t"


def test_a_creator_the_setting_contains_is_limited_too(table: Wire) -> None:
    # Linkis tests `"IDE".contains(creator)`.
    assert table.run("select * from t", creator="ID").ok().row_counts() == [5000]


def test_python_is_not_limited_but_another_creator_is_still_warned(table: Wire) -> None:
    code = "print(len(list(range(12345))))"
    ide = table.run(code, run_type="python", engine="python-python3").ok()
    assert texts(ide.lines(), "WARN") == [] and PASSED not in ide.log()[3]
    assert ide.task()["executionCode"] == code
    other = table.run(code, creator="nbclient", run_type="python", engine="python-python3").ok()
    assert texts(other.lines(), "WARN") == [NOT_LIMITED]


def test_every_statement_is_limited_and_each_warning_written_once(table: Wire) -> None:
    code = ("select * from t;\n"
            "-- the second\n"
            "select n from t where n > 100;\n"
            "select * from t limit 6000;\n"
            "select * from t limit 7000;\n"
            "select count(*) from t")
    ran = table.run(code).ok()
    assert ran.row_counts() == [5000, 5000, 5000, 5000, 1]
    assert texts(ran.lines(), "WARN") == [ADDED, LOWERED]
    assert ran.task()["executionCode"] == (
        "select * from t limit 5000;\nselect n from t where n > 100 limit 5000;\n"
        "select * from t limit 5000;\nselect * from t limit 5000;\nselect count(*) from t limit 5000")


def test_variables_are_substituted_before_the_limit(table: Wire) -> None:
    ran = table.run("select * from ${name}", params={"variable": {"name": "t"}}).ok()
    assert ran.row_counts() == [5000]
    assert ran.task()["executionCode"] == "select * from t limit 5000"


def test_a_limit_past_javas_int_is_refused_at_submit(table: Wire) -> None:
    r = table.submit("select * from t limit 99999999999")
    body = r.json()
    assert body["status"] == 1
    desc = 'Failed to analysis task,because:NumberFormatException: For input string: "99999999999"(分析任务失败)!'
    assert body["data"]["errorMsg"] == {"errCode": 20039, "desc": desc}
    assert body["message"] == f"error code(错误码): 20039, error message(错误信息): {desc}."


def test_code_that_is_only_comments_is_refused_for_ide(table: Wire) -> None:
    body = table.submit("-- nothing to run\n").json()
    assert body["status"] == 1 and body["data"]["errorMsg"]["errCode"] == 20015


def test_the_creators_and_the_limit_are_options(gateway_factory: Any) -> None:
    gw = gateway_factory(sql_limit_creators="IDE,nbclient", sql_limit=100)
    wire = Wire(gw)
    wire.run(f"create table t as select range as n from range({ROWS})").ok()
    ran = wire.run("select * from t", creator="nbclient").ok()
    assert ran.row_counts() == [100]
    # The warning says 5000 whatever the limit is, as Linkis' does.
    assert texts(ran.lines(), "WARN") == [ADDED]
    lowered = wire.run("select * from t limit 200").ok()
    assert lowered.row_counts() == [100] and texts(lowered.lines(), "WARN") == [LOWERED]
    assert wire.run("select * from t limit 50").ok().row_counts() == [50]
    assert wire.run("select * from t", creator="LINKISCLI").ok().row_counts() == [ROWS]


def test_an_empty_creator_setting_limits_nobody(gateway_factory: Any) -> None:
    wire = Wire(gateway_factory(sql_limit_creators=""))
    wire.run(f"create table t as select range as n from range({ROWS})").ok()
    ran = wire.run("select * from t").ok()
    assert ran.row_counts() == [ROWS]
    assert texts(ran.lines(), "WARN") == [NOT_LIMITED]


def test_the_0x_profile_limits_every_creator_and_names_the_statement(gateway_factory: Any) -> None:
    gw = gateway_factory(profile="0.x")
    wire = Wire(gw)
    body = {"executeApplicationName": "spark", "runType": "sql", "requestApplicationName": "nbclient"}

    def run_old(code: str) -> Ran:
        r = wire.s.post(wire.base + "/entrance/execute", json=dict(body, executionCode=code), timeout=15)
        data = r.json()["data"]
        ran = Ran(wire, data["execID"], data["taskID"])
        deadline = time.monotonic() + 60
        while (state := wire.call("GET", f"/entrance/{ran.exec_id}/status")["status"]) not in TERMINAL:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ran.state = state
        return ran

    run_old(f"create table t as select range as n from range({ROWS})").ok()
    ran = run_old("select * from t").ok()
    assert ran.row_counts() == [5000]
    assert texts(ran.lines(), "WARN") == [
        "You submitted a sql select * from t without limit, program will add limit 5000 to your sql"]
    assert run_old("--set wds.linkis.engine.no.limit.allow=true\nselect * from t").ok().row_counts() == [ROWS]


def test_the_command_line_flags_reach_the_gateway(tmp_path: Any) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "linkis_jupyter", "gateway", "--help"],
        capture_output=True, text=True, timeout=60)
    assert "--sql-limit-creators" in out.stdout and "--sql-limit " in out.stdout
    proc = subprocess.Popen(
        [sys.executable, "-m", "linkis_jupyter", "gateway", "--port", "0", "--data-dir", str(tmp_path / "d"),
         "--user", "alice", "--password", "alice-Secret-1", "--sql-limit-creators", "nbclient",
         "--sql-limit", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")})
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), proc.stderr.read() if proc.stderr else url
        wire = Wire(SimpleNamespace(url=url, users={"alice": "alice-Secret-1"}))
        wire.run("create table t as select range as n from range(100)").ok()
        assert wire.run("select * from t", creator="nbclient").ok().row_counts() == [7]
        ide = wire.run("select * from t").ok()
        assert ide.row_counts() == [100] and texts(ide.lines(), "WARN") == [NOT_LIMITED]
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_negative_limit_is_a_one_line_error() -> None:
    from linkis_jupyter.gateway import EmbeddedGateway, GatewayConfigError

    with pytest.raises(GatewayConfigError, match="^sql_limit must be 0 or more rows, not -1$"):
        EmbeddedGateway("/nonexistent-never-created", sql_limit=-1)


# -- the rewrite, on Linkis' own test cases -----------------------------------------------------

@pytest.mark.parametrize(("code", "limited"), [
    # SQLExplainTest.isSelectCmdNoLimit / isSelectOverLimit
    ("SELECT * from dual WHERE (1=1)LIMIT 1;", "SELECT * from dual WHERE (1=1)LIMIT 1"),
    ("SELECT * from dual", "SELECT * from dual limit 5000"),
    ("SELECT * from dual LIMIT 1;", "SELECT * from dual LIMIT 1"),
    ("SELECT * from dual WHERE (1=1)LIMIT 5001;", "SELECT * from dual WHERE (1=1) LIMIT 5000"),
    ("SELECT * from dual LIMIT 4000;", "SELECT * from dual LIMIT 4000"),
    # The decision is on the last-but-one word only.
    ("select * from t limit 10 offset 5", "select * from t limit 10 offset 5 limit 5000"),
    ("select* from t", "select* from t limit 5000"),
    ("with x as (select 1) select * from x", "with x as (select 1) select * from x"),
    ("select 1 limit 6000", "select 1 limit 5000"),
    ("Select 1 LIMIT 6000", "Select 1 limit 5000"),
    ("show tables;;select 1", "show tables;\n;\nselect 1 limit 5000"),
    # `#` starts a comment too; double quotes do not protect `--`.
    ("select a # the a\nfrom t", "select a \nfrom t limit 5000"),
    ("select '--x', '#y' from t", "select '--x', '#y' from t limit 5000"),
    ("select a /* x */ from t -- y", "select a  from t limit 5000"),
])
def test_deal_sql_limit_on_linkis_cases(code: str, limited: str) -> None:
    assert deal_sql_limit(code).code == limited


def test_release_1_8_cuts_at_a_semicolon_inside_quotes() -> None:
    # SQLExplainTest.splicingLimitSql is master's (splitSqlWithRealSemicolon); its comment shows
    # what release-1.8.0 makes of the same code, which the gateway reproduces.
    code = ("select\nid,\nname,\narray_join(array_intersect(map_keys(info),array['abs','oda'],';') as infos\n"
            "from ods.dim_ep22")
    assert deal_sql_limit(code).code == (
        "select\nid,\nname,\narray_join(array_intersect(map_keys(info),array['abs','oda'],' limit 5000;\n"
        "') as infos\nfrom ods.dim_ep22")


def test_replace_comment_escapes_semicolons_in_comment_clauses() -> None:
    # TestReplaceComment.TestRepComm
    real = ("drop table if exists default.test;create table default.test("
            "id varchar(11) comment '这是注释测试分号;这是注释测试分号;',id1 string comment '测试',"
            "id2 string COMMENT '码值说明:2-高;3-中;4-低;');")
    expected = ("drop table if exists default.test;create table default.test("
                "id varchar(11) comment '这是注释测试分号\\;这是注释测试分号\\;',id1 string comment '测试',"
                "id2 string COMMENT '码值说明:2-高\\;3-中\\;4-低\\;');")
    assert replace_comment(real) == expected
    # Cut only at the unescaped semicolons; the `\;` stay in the code.
    assert deal_sql_limit(real).code == expected.replace(";create", ";\ncreate").removesuffix(";")
    # appendReplacement reads `$` in the clause; one it cannot read leaves the code as it was.
    assert replace_comment("c comment '$x;'") == "c comment '$x;'"


def test_deal_comment_on_linkis_cases() -> None:
    # TestCommentHelper.sqlCode (Linkis asserts nothing on it; this is what its regex gives).
    sql = ("--注解\nselect * from table;\n   --注解 \n--注解\n   select \"--注解\" as test\n"
           " --@set yy=123\n  --注解")
    assert deal_comment(sql) == '\nselect * from table;\n   \n\n   select "\n \n  '
    assert deal_sql_limit(sql).code == 'select * from table limit 5000;\nselect " limit 5000'


def test_the_log_lines_of_each_case() -> None:
    assert deal_sql_limit("select 1; select 2 limit 9000; select 3; select 4 limit 9999").lines == [
        ("WARN", ADDED), ("WARN", LOWERED), ("INFO", PASSED)]
    assert deal_sql_limit(OPT_OUT + "select 1 limit 9000").lines == [("WARN", FULL_EXPORT), ("INFO", PASSED)]
    assert deal_sql_limit("--set   ide.engine.no.limit.allow =  true\nselect 1").code == "select 1"
    assert deal_sql_limit("show tables").lines == [("INFO", PASSED)]
    assert intercept("select 1", creator="LINKISCLI", run_type="sql").lines == [("WARN", NOT_LIMITED)]
    assert intercept("print(1)", creator="LINKISCLI", run_type="python").lines == [("WARN", NOT_LIMITED)]
    assert intercept("print(1)", creator="IDE", run_type="python").lines == []
    for run_type in ("sql", "hql", "jdbc", "hive", "psql", "fql", "tsql", "nebula", "ngql", "SQL"):
        assert intercept("select 1", creator="IDE", run_type=run_type).code == "select 1 limit 5000"
    assert intercept("select 1", creator="IDE", run_type="essql").code == "select 1"


def test_refusals() -> None:
    with pytest.raises(SqlLimitError) as e:
        intercept("select 1 limit 2147483648", creator="IDE", run_type="sql")
    assert e.value.code == 20039
    assert intercept("select 1 limit 2147483647", creator="IDE", run_type="sql").code == "select 1 limit 5000"
    with pytest.raises(SqlLimitError) as e:
        intercept(";", creator="IDE", run_type="sql")
    assert e.value.code == 20015


def test_0_11_rewrite() -> None:
    ran = deal_sql_limit_0x("select * from t -- note\n;SELECT 1 LIMIT 9000;show tables")
    # No comment handling in 0.11.0: the appended limit lands in the comment.
    assert ran.code == "select * from t -- note limit 5000;\nSELECT 1 LIMIT 5000;\nshow tables"
    assert [level for level, _ in ran.lines] == ["WARN", "WARN", "INFO"]
    assert intercept("select 1", creator="LINKISCLI", run_type="sql", release="0.11.0").code == "select 1 limit 5000"
    assert intercept("select 1", creator="IDE", run_type="python", release="0.11.0").lines == []
    with pytest.raises(SqlLimitError, match="ArrayIndexOutOfBoundsException: -1"):
        intercept("select", creator="IDE", run_type="sql", release="0.11.0")
