"""Result pages as a stock Linkis wants them asked for: 5000 rows first, bigger while pages come
back quickly, smaller (never the same size again) when a page times out or meets a 502; result
sets numbered by the digits before `.dolphin`; SQL NULL apart from the text NULL (Linkis 1.5+).

Page sizes are read off the requests themselves, as a loopback proxy between client and gateway
saw them (tests/fixtures/loopback_proxy.py); faults come from the gateway's own injection."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from linkis_jupyter.client import LinkisClient
from linkis_jupyter.errors import APIError, LinkisTimeoutError, TransportError
from linkis_jupyter.gateway import dolphin
from linkis_jupyter.job import Job, JobSpec
from linkis_jupyter.results import Column, PageSizes, Reconvert, TableBuilder
from linkis_jupyter.wire import _result_index

# Every row: without this opt-out line the entrance limits creator IDE's SELECTs to 5000 rows,
# as Linkis' SQLLimitEntranceInterceptor does.
EVERY_ROW = "--set ide.engine.no.limit.allow=true\n"

pytestmark = pytest.mark.timeout(90)




def client_via(proxy: Any, gateway: Any, **kwargs: Any) -> LinkisClient:
    kwargs.setdefault("retry_backoff", 0.02)
    kwargs.setdefault("retry_backoff_max", 0.1)
    return LinkisClient(gateway_url=proxy.url, user=gateway.user, token=gateway.token, **kwargs)


def finished(client: LinkisClient, code: str, engine: str = "spark") -> Job:
    job = Job.submit(client, JobSpec(code=code, engine=engine))
    job.wait(timeout=45)
    return job


def pages_asked(proxy: Any) -> list[dict[str, str]]:
    """The query of every openFile request the proxy passed on, in order."""
    asked = []
    for line in proxy.requests:
        target = line.split(" ")[1]
        if urlsplit(target).path.endswith("/filesystem/openFile"):
            asked.append({k: v[0] for k, v in parse_qs(urlsplit(target).query).items()})
    return asked


def sizes_asked(proxy: Any) -> list[tuple[int, int]]:
    return [(int(q["page"]), int(q["pageSize"])) for q in pages_asked(proxy)]


# -- page sizes ----------------------------------------------------------------------------------

def test_pages_start_at_5000_rows_and_grow_while_quick(proxy: Any, gateway: Any) -> None:
    client = client_via(proxy, gateway)
    assert client.page_size == 5000
    job = finished(client, EVERY_ROW + "select i from range(42000) t(i) order by i")
    proxy.requests.clear()
    frame = job.results()[0].dataframe
    assert frame["i"].tolist() == list(range(42000))
    asked = sizes_asked(proxy)
    assert asked[0] == (1, 5000)
    sizes = [size for _page, size in asked]
    # Bigger pages while they come back within a second (a 2-core test machine is allowed to be
    # slow once in a while, so only the growth is asserted, not each step).
    assert max(sizes) > 5000 and all(size <= 100000 for size in sizes)
    # Every page starts where the one before ended: Linkis skips (page - 1) * pageSize rows.
    offset = 0
    for page, size in asked:
        assert (page - 1) * size == offset
        offset += size
    assert offset >= 42000


def test_a_page_that_times_out_is_asked_again_smaller(proxy: Any, gateway: Any) -> None:
    client = client_via(proxy, gateway, read_timeout=1.5)
    job = finished(client, EVERY_ROW + "select i from range(12000) t(i) order by i")
    proxy.requests.clear()
    # The first openFile answers only after 4 s: a page the gateway is slow to build.
    gateway.faults.set(stall_rate=1.0, stall_seconds=4.0, paths=r"/filesystem/openFile", count=1)
    frame = job.results()[0].dataframe
    assert frame["i"].tolist() == list(range(12000))
    asked = sizes_asked(proxy)
    assert asked[:2] == [(1, 5000), (1, 2500)]
    # Never that size again in this read.
    assert all(size <= 2500 for _page, size in asked[1:])


def test_a_502_page_is_asked_again_smaller_not_the_same(proxy: Any, gateway: Any) -> None:
    client = client_via(proxy, gateway)
    job = finished(client, EVERY_ROW + "select i from range(9000) t(i) order by i")
    proxy.requests.clear()
    gateway.faults.set(error_rate=1.0, paths=r"/filesystem/openFile", count=1)
    frame = job.results(page_size=8000)[0].dataframe
    assert frame["i"].tolist() == list(range(9000))
    assert sizes_asked(proxy)[:2] == [(1, 8000), (1, 4000)]


def test_a_page_at_the_floor_that_still_fails_raises_after_one_try(proxy: Any, gateway: Any) -> None:
    client = client_via(proxy, gateway, unreachable_timeout=0.0)
    job = finished(client, "select i from range(700) t(i)")
    proxy.requests.clear()
    gateway.faults.set(error_rate=1.0, paths=r"/filesystem/openFile")
    with pytest.raises(TransportError) as failed:
        job.results(page_size=PageSizes.FLOOR)
    assert failed.value.http_status == 502
    # No retries at the same size: the pager is the one that decides what to ask next.
    assert sizes_asked(proxy) == [(1, PageSizes.FLOOR)]


def test_page_sizes_keep_to_pages_linkis_can_find() -> None:
    sizes = PageSizes(5000)
    assert sizes.at(0) == 5000
    sizes.took(5000, 0.1)
    assert sizes.size == 10000
    # Row 5000 is no page start for 10000-row pages: 5000 more first, then 10000 from row 10000.
    assert sizes.at(5000) == 5000 and sizes.at(10000) == 10000
    # 301 rows still wanted: the smallest page from row 10000 that holds them, not two pages.
    assert sizes.at(10000, wanted=301) == 400 and sizes.at(0, wanted=301) == 301
    sizes.took(10000, 2.5)  # slow: no growth
    assert sizes.size == 10000
    sizes.size = 80000
    sizes.took(80000, 0.1)
    assert sizes.size == PageSizes.LIMIT
    timeout = LinkisTimeoutError("no answer within 60 s", transient=True)
    assert sizes.failed(100000, timeout) and sizes.size == sizes.limit == 50000
    sizes.took(50000, 0.1)
    assert sizes.size == 50000  # never back to a size that failed
    refused = APIError("error code(错误码): 80034, error message(错误信息): The result set exceeds 20000 rows "
                       "and page viewing is currently not supported.", status=1, path="/filesystem/openFile")
    assert sizes.failed(50000, refused) and sizes.size == 20000
    grouped = APIError("The result set exceeds 10,000 rows and page viewing is currently not supported "
                       "(error code 80034)", status=1, path="/filesystem/openFile")
    assert sizes.failed(20000, grouped) and sizes.size == 10000
    assert not sizes.failed(20000, APIError("file not found", status=1, path="/filesystem/openFile"))
    assert not sizes.failed(PageSizes.FLOOR, timeout)
    assert not sizes.failed(4000, TransportError("cannot connect", transient=True, sent=False))


# -- result-set numbers ----------------------------------------------------------------------------

def test_result_sets_are_numbered_by_the_digits_before_dolphin(gateway: Any) -> None:
    assert [_result_index(n) for n in ("_3.dolphin", "alias_12.dolphin", "t2_0.dolphin", "v2.dolphin")] == [
        3, 12, 0, None]
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, token=gateway.token)
    job = finished(client, "select 1 as a")
    folder = Path(urlsplit(client.job_info(job.task_id).result_location or "").path)
    # As Linkis names them: an alias before the number, gaps after a retried task, listed in
    # filesystem order (_10 before _2 on HDFS).
    for name, value in (("_10.dolphin", "ten"), ("t2_1.dolphin", "one"), ("_2.dolphin", "two"),
                        ("v2.dolphin", "none")):
        dolphin.write_result_set(folder / name, dolphin.TABLE, [("v", "string", "")], [[value]])
    files = client.result_files(client.job_info(job.task_id).result_location or "")
    assert [(f.index, f.name) for f in files] == [
        (0, "_0.dolphin"), (1, "t2_1.dolphin"), (2, "_2.dolphin"), (10, "_10.dolphin"), (11, "v2.dolphin")]
    results = job.results()
    assert [r.index for r in results] == [0, 1, 2, 10, 11]
    assert [r.data.iloc[0, 0] for r in results[1:]] == ["one", "two", "ten", "none"]


def test_an_aliased_result_set_keeps_its_place(gateway: Any) -> None:
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, token=gateway.token)
    code = ("import pandas as pd\n"
            "show(pd.DataFrame({'v': ['first']}))\n"
            "show(pd.DataFrame({'v': ['aliased']}), alias='t2')\n"
            "show(pd.DataFrame({'v': ['third']}))\n")
    job = finished(client, code, engine="python")
    files = client.result_files(client.job_info(job.task_id).result_location or "")
    assert [(f.index, f.name) for f in files] == [(0, "_0.dolphin"), (1, "t2_1.dolphin"), (2, "_2.dolphin")]
    assert [(r.index, r.data.iloc[0, 0]) for r in job.results()] == [(0, "first"), (1, "aliased"), (2, "third")]


# -- NULL and the text NULL ------------------------------------------------------------------------

NULLS_SQL = ("select i, case when i % 3 = 0 then null when i % 3 = 1 then 'NULL' else 'x' || i end as s, "
             "case when i % 3 = 0 then null else i end as n from range(9) t(i) order by i")


def test_a_sql_null_and_the_text_null_read_apart(proxy: Any, gateway: Any) -> None:
    client = client_via(proxy, gateway)
    job = finished(client, NULLS_SQL)
    proxy.requests.clear()
    frame = job.results()[0].dataframe
    assert all(q.get("nullValue") == "LINKIS_NULL" for q in pages_asked(proxy))
    assert frame["s"].isna().tolist() == [i % 3 == 0 for i in range(9)]
    assert frame["s"][1] == "NULL" and frame["s"][2] == "x2"
    assert frame["n"].isna().sum() == 3 and frame["n"][1] == 1


def test_a_users_null_value_is_sent_instead_and_reads_missing(proxy: Any, gateway: Any) -> None:
    client = client_via(proxy, gateway, null_value="-")
    job = finished(client, NULLS_SQL)
    proxy.requests.clear()
    frame = job.results()[0].dataframe
    assert {q.get("nullValue") for q in pages_asked(proxy)} == {"-"}
    # Linkis writes "-" for a NULL and for the text NULL alike: both read as missing.
    assert frame["s"].isna().tolist() == [i % 3 != 2 for i in range(9)]


def test_a_gateway_that_ignores_linkis_null_keeps_null_text_missing(proxy: Any, gateway: Any) -> None:
    # A Linkis before 1.5 ignores nullValue and sends a SQL NULL as the text NULL, as this answer does.
    client = client_via(proxy, gateway)
    job = finished(client, "select 1 as a")
    data = {"metadata": [{"columnName": "s", "dataType": "string", "comment": "NULL"}],
            "fileContent": [["NULL"], ["x"]], "type": "2", "totalLine": 2, "page": 1, "totalPage": 0}
    body = json.dumps({"method": "/api/filesystem/openFile", "status": 0, "message": "OK", "data": data})
    proxy.answer(r"/filesystem/openFile", 200, "application/json", body)
    frame = job.results()[0].dataframe
    assert frame["s"].isna().tolist() == [True, False]


def test_a_json_null_on_a_later_page_turns_earlier_null_texts_back_into_text() -> None:
    columns = [Column("s", "string")]
    builder = TableBuilder(columns)
    builder.add([["NULL"], ["a"]])  # no JSON null yet: as an older gateway, NULL is missing
    with pytest.raises(Reconvert) as again:
        builder.add([[None], ["b"]])
    assert again.value.nulls_kept
    redo = TableBuilder(columns, nulls_kept=True)
    redo.add([["NULL"], ["a"]])
    redo.add([[None], ["b"]])
    assert redo.frame()["s"].tolist() == ["NULL", "a", pd.NA, "b"]
    # Both on the first page: settled there, no re-read.
    first = TableBuilder(columns)
    first.add([["NULL"], [None]], frozenset({"LINKIS_NULL"}))
    first.add([["NULL"]])
    assert first.nulls_kept and first.frame()["s"].tolist() == ["NULL", pd.NA, "NULL"]
