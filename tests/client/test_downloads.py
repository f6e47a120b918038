"""LinkisClient.download_result against resultsetToExcel as Linkis serves it: every row although
Linkis stops at 5000 without a `limit`, errors that come back as HTTP 200 text, the separator under
both its spellings, xlsx. Answers the gateway does not give on its own (an error body behind a
success Content-Type) come from a loopback proxy (tests/fixtures/loopback_proxy.py)."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from linkis_jupyter.client import LinkisClient
from linkis_jupyter.errors import APIError, ConfigError
from linkis_jupyter.job import Job, JobSpec

pytestmark = pytest.mark.timeout(90)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Every row: without this opt-out line the entrance limits creator IDE's SELECTs to 5000 rows,
# as Linkis' SQLLimitEntranceInterceptor does.
EVERY_ROW = "--set ide.engine.no.limit.allow=true\n"



def result_path(client: LinkisClient, code: str, engine: str = "spark") -> str:
    """The first result set of a finished job."""
    job = Job.submit(client, JobSpec(code=code, engine=engine))
    job.wait(timeout=45)
    return client.result_files(client.job_info(job.task_id).result_location or "")[0].path


def export_queries(proxy: Any) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(line.split(" ")[1]).query) for line in proxy.requests
            if "/filesystem/resultsetToExcel" in line]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A folder for the downloads alone (the gateway keeps its data in tmp_path too)."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_every_row_is_exported_not_linkis_first_5000(gateway: Any, out: Path) -> None:
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, token=gateway.token)
    path = result_path(client, EVERY_ROW + "select i from range(12000) t(i) order by i")
    lines = client.download_result(path, out / "all.csv").read_text().splitlines()
    assert lines == ["i"] + [str(i) for i in range(12000)]
    capped = client.download_result(path, out / "some.csv", limit=7000).read_text().splitlines()
    assert capped == ["i"] + [str(i) for i in range(7000)]
    with pytest.raises(ConfigError, match="limit must be 1 or more"):
        client.download_result(path, out / "none.csv", limit=0)
    assert leftovers(out) == ["all.csv", "some.csv"]


def test_an_export_error_raises_and_leaves_the_old_file_alone(gateway: Any, out: Path) -> None:
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, token=gateway.token)
    path = result_path(client, "select 1 as a")
    target = out / "out.csv"
    target.write_text("yesterday's export\n")
    # Outside alice's own area: Linkis refuses (80010) inside the export, with HTTP 200 text.
    foreign = f"file://{out.parent / 'elsewhere' / '_0.dolphin'}"
    with pytest.raises(APIError) as failed:
        client.download_result(foreign, target)
    assert "\n" not in str(failed.value) and not failed.value.message.startswith("error(")
    assert failed.value.path == "/filesystem/resultsetToExcel"
    assert target.read_text() == "yesterday's export\n" and leftovers(out) == ["out.csv"]


@pytest.mark.parametrize("content_type", ["text/plain; charset=utf-8", XLSX, "application/octet-stream"])
def test_an_error_body_is_an_error_whatever_its_content_type(proxy: Any, gateway: Any, out: Path,
                                                             content_type: str) -> None:
    client = LinkisClient(gateway_url=proxy.url, user=gateway.user, token=gateway.token)
    path = result_path(client, "select 1 as a")
    proxy.answer(r"/filesystem/resultsetToExcel", 200, content_type,
                 "error(错误):java.io.IOException: No space left on device\n\tat ExcelFsWriter.flush")
    with pytest.raises(APIError, match=r"No space left on device at ExcelFsWriter\.flush") as failed:
        client.download_result(path, out / "out.xlsx", output_type="xlsx")
    assert failed.value.http_status == 200 and "\n" not in str(failed.value)
    assert leftovers(out) == []


def test_the_separator_is_sent_under_both_spellings(proxy: Any, gateway: Any, out: Path) -> None:
    client = LinkisClient(gateway_url=proxy.url, user=gateway.user, token=gateway.token)
    path = result_path(client, "select 1 as a, 'x' as b")
    target = client.download_result(path, out / "semi.csv", separator=";")
    assert target.read_text().splitlines() == ["a;b", "1;x"]
    (query,) = export_queries(proxy)
    # csvSeparator from Linkis 1.3.2 on, csvSeperator before it.
    assert query["csvSeparator"] == [";"] and query["csvSeperator"] == [";"]
    assert query["limit"] == [str(2**31 - 1)]


def test_xlsx_holds_every_row(gateway: Any, out: Path) -> None:
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, token=gateway.token)
    path = result_path(client, EVERY_ROW + "select i, 'r' || i as s from range(6000) t(i) order by i")
    target = client.download_result(path, out / "rows.xlsx", output_type="xlsx")
    with zipfile.ZipFile(target) as book:
        sheets = [n for n in book.namelist() if re.match(r"xl/worksheets/sheet\d+\.xml$", n)]
        rows = re.findall(rb"<(?:\w+:)?row[ >]", book.read(sheets[0]))
    assert len(rows) == 6001  # the header and every row
