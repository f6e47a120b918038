"""Results converted page by page (TableBuilder, Job.results with small pages) are the DataFrame
that converting every row at once makes, whatever page a NULL or a stray value falls on."""
from __future__ import annotations

import json
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest

from linkis_jupyter.client import LinkisClient, _absent_markers
from linkis_jupyter.job import Job, JobSpec
from linkis_jupyter.results import Column, Reconvert, TableBuilder, table_to_dataframe

pytestmark = pytest.mark.timeout(60)

COLUMNS = [Column("i", "bigint"), Column("x", "double"), Column("d", "decimal(10,2)"), Column("b", "boolean"),
           Column("day", "date"), Column("ts", "timestamp"), Column("s", "string")]


def row(i: int) -> list[str]:
    null = i % 11 == 0
    return ["NULL" if null else str(i), f"{i / 4}", "NULL" if i % 13 == 0 else f"{i % 100}.25",
            "true" if i % 2 else "false", f"2024-01-{1 + i % 28:02d}", f"2024-02-03 04:05:{i % 60:02d}.5",
            "LINKIS_NULL" if i % 17 == 0 else f"s{i}"]


def build(columns: list[Column], rows: list[list[str]], page: int, **kwargs: Any) -> pd.DataFrame:
    builder = TableBuilder(columns, **kwargs)
    for start in range(0, len(rows), page):
        builder.add(rows[start:start + page])
    return builder.frame()


def test_pages_make_the_same_frame_as_all_rows_at_once() -> None:
    rows = [row(i) for i in range(1000)]
    whole = table_to_dataframe(COLUMNS, rows)
    for page in (1000, 300, 7):
        pd.testing.assert_frame_equal(build(COLUMNS, rows, page), whole)
    empty = TableBuilder(COLUMNS).frame()
    pd.testing.assert_frame_equal(empty, table_to_dataframe(COLUMNS, []))


def test_a_value_that_fails_on_a_later_page_asks_for_the_whole_column() -> None:
    columns = [Column("n", "int"), Column("t", "timestamp")]
    rows = [[str(i), "2024-01-01 00:00:00"] for i in range(10)]
    # Page 2 has a stray int and dates with UTC offsets (which numpy does not read).
    late = rows[:5] + [[str(i), "2024-01-01 00:00:00+08:00"] for i in range(5, 10)]
    late[8][0] = "oops"
    builder = TableBuilder(columns)
    builder.add(late[:5])
    with pytest.raises(Reconvert) as again:
        builder.add(late[5:])
    assert again.value.as_text == {0} and again.value.whole == {1}
    # Read again with those columns so: the frame of all rows at once.
    redo = build(columns, late, 5, as_text=again.value.as_text, whole=again.value.whole)
    pd.testing.assert_frame_equal(redo, table_to_dataframe(columns, late))
    assert str(redo["n"].dtype) == "string" and redo["n"][8] == "oops"
    # On the first page a bad value settles the column for the pages after it, no re-read.
    first = build(columns, [["oops", "2024-01-01 00:00:00"]] + rows, 4)
    assert first["n"].tolist()[:2] == ["oops", "0"]


def test_known_absent_markers_change_nothing_but_the_work() -> None:
    rows = [row(i) for i in range(200)]
    for r in rows[:100]:
        r[6] = r[6].replace("LINKIS_NULL", "x")
    builder = TableBuilder(COLUMNS)
    builder.add(rows[:100], frozenset({None, "LINKIS_NULL"}))  # true of these rows
    builder.add(rows[100:], frozenset({None}))
    pd.testing.assert_frame_equal(builder.frame(), table_to_dataframe(COLUMNS, rows))


def test_absent_markers_are_read_off_the_body() -> None:
    def answer(cells: list[list[Any]], escape: bool = False) -> tuple[bytes, dict[str, Any]]:
        data = {"metadata": [{"columnName": "NULL", "comment": "NULL", "dataType": "string"}],
                "fileContent": cells, "type": "2", "totalPage": None}
        body = json.dumps({"method": "/api/x", "status": 0, "message": "OK", "data": data}, ensure_ascii=escape)
        return body.encode(), data

    markers = (None, "NULL", "LINKIS_NULL", "-")
    # "NULL" is in the metadata only; "nullable" may hide a null, so that one is not known.
    assert _absent_markers(*answer([["a"], ["nullable"]]), markers) == {"NULL", "LINKIS_NULL", "-"}
    assert _absent_markers(*answer([["NULL"], [None], ["-"]]), markers) == {"LINKIS_NULL"}
    assert _absent_markers(*answer([['say "NULL"'], ["x-y"]]), markers) == {"NULL", "LINKIS_NULL", "-", None}
    # \u escapes could spell a marker another way: nothing is taken as absent.
    assert _absent_markers(*answer([["数据"]], escape=True), markers) == frozenset()


def test_job_results_in_small_pages_equal_one_page(gateway: Any) -> None:
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, token=gateway.token)
    sql = ("select i, case when i % 7 = 0 then null else i * 0.5 end as x, 'v' || i as s, i % 2 = 0 as b, "
           "date '2024-01-01' + (i % 30)::int as d from range(2500) t(i)")
    job = Job.submit(client, JobSpec(code=sql, engine="spark"))
    job.wait(timeout=45)
    whole = job.results()[0]
    assert len(whole.data) == 2500 and whole.data["x"].isna().sum() == 358
    paged = job.results(page_size=400)[0]
    pd.testing.assert_frame_equal(paged.data, whole.data)
    assert paged.rows_read == 2500 and not paged.truncated
    capped = job.results(max_rows=1000, page_size=400)[0]
    assert capped.truncated and len(capped.data) == 1000
    pd.testing.assert_frame_equal(capped.data, whole.data.iloc[:1000])
    exact = job.results(max_rows=2500, page_size=500)[0]
    assert not exact.truncated and len(exact.data) == 2500


def test_a_page_asked_for_before_the_session_expired_is_asked_again(gateway: Any, request_log: Any) -> None:
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, password=gateway.password)
    job = Job.submit(client, JobSpec(code="select i from range(30) t(i)", engine="spark"))
    job.wait(timeout=45)
    path = client.result_files(client.job_info(job.task_id).result_location)[0].path
    before = len(request_log.seen)
    gateway.expire_sessions()
    response = client.open_file_request(path, 2, 10)
    page = client.open_file_answer(response, path, 2, 10, null_markers=(None, "NULL"))
    assert page.rows == [[str(i)] for i in range(10, 20)] and page.absent == {None, "NULL"}
    # The page was refused with the expired session, then asked again after one new login.
    seen = request_log.seen[before:]
    login = seen.index(("POST", "/user/login", 200))
    assert ("GET", "/filesystem/openFile", 401) in seen[:login], seen
    assert seen[login + 1:] == [("GET", "/filesystem/openFile", 200)], seen


class CutFirstPage:
    """A loopback proxy, one connection per request, that cuts the first openFile answer after
    its first kilobyte: a connection broken in the middle of a page's body."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.cut = 0
        self.threads: list[threading.Thread] = []
        self.accepting = threading.Thread(target=self._accept, daemon=True)
        self.accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.target, timeout=10) as server:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(65536)
                if not chunk:
                    return
                request += chunk
            cut = b"/filesystem/openFile" in request.split(b"\r\n", 1)[0] and not self.cut
            self.cut += cut
            server.sendall(request.replace(b"Connection: keep-alive", b"Connection: close"))
            sent = 0
            while chunk := server.recv(65536):
                if cut and sent + len(chunk) > 1024:
                    client.sendall(chunk[: 1024 - sent])
                    return
                client.sendall(chunk)
                sent += len(chunk)

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting on it
        except OSError:
            pass
        self.listener.close()
        self.accepting.join(5)
        for thread in self.threads:
            thread.join(5)


def test_a_page_whose_body_is_cut_is_asked_again(gateway: Any) -> None:
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, token=gateway.token)
    job = Job.submit(client, JobSpec(code="select i, 'row ' || i as s from range(3000) t(i)", engine="spark"))
    job.wait(timeout=45)
    proxy = CutFirstPage(gateway.url)
    try:
        through = LinkisClient(gateway_url=proxy.url, user=gateway.user, token=gateway.token, retry_backoff=0.01)
        frame = Job.attach(through, job.task_id).results(page_size=1000)[0].data
    finally:
        proxy.close()
    assert proxy.cut == 1
    assert frame["i"].tolist() == list(range(3000)) and frame["s"][2999] == "row 2999"
