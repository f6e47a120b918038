"""Bad input: each is one clear line for the user and changes nothing, or, for awkward data, the
right result. Mistakes in the magic's own arguments are in tests/magics/test_magics_usage.py;
these are the rest of the README's table."""
from __future__ import annotations

import re
import json
import socket
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from fixtures.history import settled_jobs
from IPython.core.error import UsageError
from fixtures.shell import magics_of

from linkis_jupyter.client import LinkisClient
from linkis_jupyter.errors import APIError, JobError, JobFailedError, LinkisError, TransportError
from linkis_jupyter.job import Job, JobSpec
from fixtures.history import API, gateway_jobs, wait_for_states
from reliability_helpers import assert_one_job_per_cell

pytestmark = pytest.mark.timeout(90)

QUIET = "--progress none --log none --timeout 60"


def one_line(error: BaseException) -> str:
    """What the cell shows, checked to be one line (a failed job's error lines from its log follow
    that line, see test_magics_run)."""
    text = str(error) if isinstance(error, JobError) else (
        "\n".join(error._render_traceback_()) if isinstance(error, LinkisError) else str(error))
    assert "\n" not in text, text
    return text


def refused(ip: Any, gateway: Any, kind: type[BaseException], fragment: str, line: str, cell: str | None = None) -> str:
    """Run a magic that must fail with one line naming `fragment`, and submit no job."""
    before = [j["taskID"] for j in gateway_jobs(gateway)]
    with pytest.raises(kind) as info:
        if cell is None:
            ip.run_line_magic("linkis", line)
        else:
            ip.run_cell_magic("linkis", line, cell)
    text = one_line(info.value)
    assert fragment in text, text
    assert [j["taskID"] for j in gateway_jobs(gateway)] == before
    return text


# -- the cell ------------------------------------------------------------------------------------

def test_an_engine_the_gateway_does_not_have_fails_the_job_in_one_line(linkis: Any, gateway: Any) -> None:
    # Only the gateway knows its engines (the version too, when none is written): Linkis fails
    # the job when the engine cannot be made, errCode 31002, the reason in the log.
    with pytest.raises(JobFailedError) as info:
        linkis.run_cell_magic("linkis", f"-e nosuchengine -t sql {QUIET}", "select 1")
    assert info.value.err_code == 31002 and "\n" not in one_line(info.value)
    assert any("nosuchengine" in line for line in info.value.log_tail)
    assert [j["status"] for j in settled_jobs(gateway)] == ["Failed"]


def test_a_run_type_the_gateway_has_no_engine_for_fails_the_job_in_one_line(linkis: Any, gateway: Any) -> None:
    with pytest.raises(JobFailedError) as info:
        linkis.run_cell_magic("linkis", f"-e spark-3.2.1 -t scala {QUIET}", 'println("HI")')
    assert "scala" in one_line(info.value) and "not available" in str(info.value)
    assert [j["status"] for j in settled_jobs(gateway)] == ["Failed"]


def test_a_failing_query_is_one_line_and_the_whole_reason_stays_with_the_error(linkis: Any, gateway: Any) -> None:
    with pytest.raises(JobFailedError) as info:
        linkis.run_cell_magic("linkis", QUIET, "select * from no_such_table")
    error = info.value
    # DuckDB's reason runs over several lines (a hint, the query, a caret): the message takes the
    # first, the error keeps all of it, and the cell shows the job log's error lines under it.
    assert "no_such_table does not exist" in one_line(error)
    assert "LINE 1: select * from no_such_table" in error.err_desc
    assert any("LINE 1" in line for line in error._render_traceback_()[1:])
    assert [j["status"] for j in settled_jobs(gateway)] == ["Failed"]


@pytest.mark.parametrize("line, cell, fragment", [
    ("", "select 'broken \ud800 paste'", "the code holds a character that is not valid Unicode text ('\\ud800', line 1)"),
    ("--var p=$bad_name", "select '${p}'", "variable 'p' holds a character that is not valid Unicode text"),
    ("--timeout soon", "select 1", "argument --timeout: invalid float value: 'soon'"),
    ("-t", "select 1", "argument -t/--run-type: expected one argument"),
], ids=["lone-surrogate-in-cell", "lone-surrogate-in-variable", "timeout-not-a-number", "run-type-missing"])
def test_cell_mistakes_beyond_the_usage_tests(linkis: Any, gateway: Any, line: str, cell: str, fragment: str) -> None:
    linkis.user_ns["bad_name"] = "report-\udcff.csv"  # a file name decoded with surrogateescape
    refused(linkis, gateway, UsageError, fragment, f"{line} {QUIET}", cell)


def test_the_gateway_answers_a_lone_surrogate_in_one_line(gateway: Any, request_log: Any) -> None:
    body = '{"executionContent": {"code": "select \'\\ud800\'", "runType": "sql"}, ' \
           '"labels": {"engineType": "spark-3.2.1", "userCreator": "alice-IDE"}}'
    reply = requests.post(gateway.url + API + "/entrance/submit", data=body.encode(),
                          headers={"Token-Code": gateway.token, "Token-User": "alice",
                                   "Content-Type": "application/json"}, timeout=10).json()
    assert reply["status"] == 1
    assert "executionCode is not valid Unicode text" in reply["message"] and "\n" not in reply["message"]
    assert gateway_jobs(gateway) == []


def test_a_10_mb_cell_runs(linkis: Any, gateway: Any) -> None:
    cell = "select 'big' as what -- " + "x" * (10 * 1024 * 1024)
    value = linkis.run_cell_magic("linkis", QUIET, cell)
    assert value["what"].tolist() == ["big"]
    assert_one_job_per_cell(gateway, [cell])


def test_non_utf8_bytes_in_job_output_become_replacement_characters(linkis: Any, gateway: Any, output: Any) -> None:
    linkis.run_cell_magic("linkis", f"-e shell {QUIET}", r"printf 'bytes \377\376 end\n'; printf 'log \377\n' >&2")
    out, _err = output.read()
    assert "bytes \ufffd\ufffd end" in out
    log = requests.get(gateway.url + API + "/filesystem/openLog", params={"path": settled_jobs(gateway)[0]["logPath"]},
                       headers={"Token-Code": gateway.token, "Token-User": "alice"}, timeout=10).json()
    assert "log \ufffd" in log["data"]["log"][3]


def test_nulls_unicode_tabs_and_newlines_inside_fields_come_back_exactly(linkis: Any) -> None:
    df = linkis.run_cell_magic(
        "linkis", QUIET,
        "select NULL as nothing, '中文 ünï 😀' as text, 'a\tb' as tab, 'one\ntwo\r\nthree' as lines, "
        "'' as empty, '  padded  ' as spaces, 'quote \" and , comma' as csvish, NULL::int as null_int, 3 as three")
    row = df.iloc[0]
    assert pd.isna(row["nothing"])
    assert row["text"] == "中文 ünï 😀"
    assert row["tab"] == "a\tb"
    assert row["lines"] == "one\ntwo\r\nthree"
    assert row["empty"] == "" and row["spaces"] == "  padded  " and row["csvish"] == 'quote " and , comma'
    assert df["null_int"].isna().all() and df["three"].tolist() == [3]


def test_a_million_rows_are_cut_at_the_row_cap_in_one_page(linkis: Any, gateway: Any, output: Any,
                                                           request_log: Any) -> None:
    # -n above Linkis' IDE limit (5,000) sends the entrance's opt-out: the job makes every row.
    df = linkis.run_cell_magic("linkis", QUIET + " -n 10000", "select i, i % 7 as r from range(1000000) t(i)")
    assert len(df) == 10000 and df["i"].tolist()[:3] == [0, 1, 2] and df["i"].iloc[-1] == 9999
    _out, err = output.read()
    (task,) = gateway_jobs(gateway)
    assert "shows only its first 10,000 rows of 1,000,000" in err and f"%linkis download {task['taskID']}" in err
    assert f"%linkis result {task['taskID']} --skip 10000" in err
    # The rows come in one page; the set's total is found from the file's size and at most a few
    # small pages around the guess (results.count_rows), not by reading the million rows.
    assert request_log.count("^/filesystem/openFile$") <= 1 + 13


# -- answers that are not what a Linkis gateway sends --------------------------------------------

def test_a_result_the_gateway_will_not_display(ip: Any, gateway: Any, proxy: Any) -> None:
    ip.run_line_magic("linkis", f"connect {proxy.url} --user alice --token {gateway.token}")
    proxy.answer(r"/filesystem/openFile", 200, "application/json", json.dumps({
        "method": "/api/filesystem/openFile", "status": 0, "message": "OK",
        "data": {"display_prohibited": True, "en_msg": "The result set has fields over 10000 characters",
                 "zh_msg": "结果集存在字段值字符数超过10000"}}), count=10)
    with pytest.raises(APIError) as info:
        ip.run_cell_magic("linkis", QUIET, "select repeat('x', 20000) as wide")
    assert "will not show this result set: The result set has fields over 10000 characters" in one_line(info.value)
    (task,) = settled_jobs(gateway)
    assert task["status"] == "Succeed"


@pytest.mark.parametrize("content_type, body, fragment", [
    ("text/html", "<html><head><title>Sign in - Company SSO</title></head><body>...</body></html>",
     "HTTP 200 answered text/html, not a Linkis JSON reply: Sign in - Company SSO"),
    ("application/json", '{"ok": true}', "HTTP 200 with JSON that is not a Linkis reply (no 'status')"),
], ids=["html-login-page", "json-without-status"])
def test_an_answer_that_is_not_linkis_json(ip: Any, gateway: Any, proxy: Any, content_type: str, body: str,
                                           fragment: str) -> None:
    ip.run_line_magic("linkis", f"connect {proxy.url} --user alice --token {gateway.token}")
    proxy.answer(r"/entrance/execute", 200, content_type, body)
    text = refused(ip, gateway, TransportError, fragment, QUIET, "select 1")
    assert proxy.url in text and "/entrance/execute" in text


# -- where the gateway is ------------------------------------------------------------------------

@pytest.mark.parametrize("url, fragment", [
    ("127.0.0.1:9001", "gateway_url must start with http:// or https://, not '127.0.0.1:9001'"),
    ("http://127.0.0.1:notaport", "is not a valid URL: Port could not be cast to integer value as 'notaport'"),
    ("http://127.0.0.1:70000", "is not a valid URL: Port out of range"),
], ids=["no-scheme", "port-not-a-number", "port-out-of-range"])
def test_a_gateway_url_that_is_not_one(linkis: Any, gateway: Any, url: str, fragment: str) -> None:
    before = magics_of(linkis).client
    refused(linkis, gateway, UsageError, fragment, f"connect {url} --user alice --token {gateway.token}")
    assert magics_of(linkis).client is before


def test_a_port_nothing_listens_on(linkis: Any, gateway: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = magics_of(linkis).client
    text = refused(linkis, gateway, TransportError, "cannot connect to the Linkis gateway",
                   f"connect http://127.0.0.1:{port} --user alice --token {gateway.token}")
    assert f"is it running at http://127.0.0.1:{port}?" in text
    assert magics_of(linkis).client is before


# -- ids -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("exec_id", ["../../jobhistory/list", "x?taskID=1#frag", "a b%2Fc", "exec_id%00", "..", "中文"])
def test_exec_ids_with_characters_that_need_care_in_a_url_path(gateway: Any, exec_id: str, request_log: Any) -> None:
    client = LinkisClient(gateway_url=gateway.url, user="alice", token=gateway.token)
    for call in (client.status, client.log, client.kill):
        with pytest.raises(APIError) as refused:
            call(exec_id)
        assert "is not a valid execID" in one_line(refused.value), refused.value
    # Linkis refuses progress with status 1 before an engine reports any: it reads as none yet.
    assert client.progress(exec_id).progress == 0.0
    # Each went to its own endpoint as one path segment: nothing reached job history or another route.
    asked = [(method, path) for method, path, _status in request_log.seen]
    assert all(method == "GET" and re.fullmatch(r"/entrance/[^/]+/(status|progress|log|kill)", path)
               for method, path in asked), asked


@pytest.mark.parametrize("command", ["status", "log", "kill", "attach", "result", "download"])
def test_a_task_id_that_does_not_exist(linkis: Any, gateway: Any, command: str, tmp_path: Path) -> None:
    line = f"{command} 999999" + (f" {tmp_path / 'out.csv'}" if command == "download" else "")
    refused(linkis, gateway, APIError, "The corresponding job was not found", line)


@pytest.mark.parametrize("command", ["status", "log", "kill", "attach", "result", "download"])
def test_another_users_task_id(linkis: Any, gateway: Any, command: str, tmp_path: Path) -> None:
    bob = LinkisClient(gateway_url=gateway.url, user="bob", password="bob-Secret-2")
    job = Job.submit(bob, JobSpec(code="sleep 30", engine="shell"))
    wait_for_states(gateway, {"Running"}, user="bob")
    line = f"{command} {job.task_id}" + (f" {tmp_path / 'out.csv'}" if command == "download" else "")
    refused(linkis, gateway, APIError, "The corresponding job was not found, or there may be no permission", line)
    assert bob.job_info(job.task_id).status == "Running"  # untouched
    assert job.kill() is True


# -- files and results ------------------------------------------------------------------------------

def test_result_and_download_mistakes(linkis: Any, gateway: Any, tmp_path: Path) -> None:
    linkis.run_cell_magic("linkis", QUIET, "select 1 as one")
    with pytest.raises(JobFailedError):
        linkis.run_cell_magic("linkis", QUIET, "select * from no_such_table")
    done, failed = (j["taskID"] for j in gateway_jobs(gateway))
    refused(linkis, gateway, UsageError, "the folder", f"download {done} {tmp_path / 'no' / 'such' / 'dir.csv'}")
    refused(linkis, gateway, UsageError, "has 1 result set(s), --index must be 0..0",
            f"download {done} {tmp_path / 'x.csv'} --index 3")
    refused(linkis, gateway, UsageError, f"Linkis job {failed} is Failed, it has no results",
            f"download {failed} {tmp_path / 'x.csv'}")
    with pytest.raises(LinkisError):
        linkis.run_cell_magic("linkis", "-e shell --progress none --log none --timeout 0.3", "sleep 30")
    (running,) = (job["taskID"] for job in wait_for_states(gateway, {"Running"}))
    refused(linkis, gateway, UsageError, f"Linkis job {running} is still Running", f"result {running}")
    linkis.run_line_magic("linkis", f"kill {running}")
