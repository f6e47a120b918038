"""%linkis download against the embedded gateway: every row (Linkis' export stops at 5000 without
a limit), --max-rows, --index as the number the cell shows, xlsx, and an export error that raises
and leaves no file."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openpyxl
import pytest
from IPython.core.error import UsageError
from fixtures.shell import RecordingPublisher, magics_of, task_ids

from linkis_jupyter.errors import APIError
from linkis_jupyter.gateway import dolphin

pytestmark = pytest.mark.timeout(90)



def run_job(ip: Any, code: str) -> int:
    """Run a cell quietly and return its task id (read off its text progress line). -n -1: the
    entrance leaves its SELECTs whole, so the stored result set has every row."""
    saved = ip.display_pub
    recorder = RecordingPublisher(ip)
    ip.display_pub = recorder
    try:
        ip.run_cell_magic("linkis", "-q -n -1 --progress text --log none --timeout 60", code)
    finally:
        ip.display_pub = saved
    (task,) = task_ids(recorder.texts())
    return task


def result_folder(ip: Any, task: int) -> Path:
    client = magics_of(ip).client
    return Path(urlsplit(client.job_info(task).result_location or "").path)


def test_download_writes_every_row_or_max_rows(linkis: Any, tmp_path: Path, capsys: Any) -> None:
    task = run_job(linkis, "select i from range(12000) t(i) order by i")
    target = tmp_path / "all.csv"
    linkis.run_line_magic("linkis", f"download {task} {target}")
    assert target.read_text().splitlines() == ["i"] + [str(i) for i in range(12000)]
    assert f"Result set 0 of Linkis job {task} written to {target}" in capsys.readouterr().out
    linkis.run_line_magic("linkis", f"download {task} {tmp_path / 'some.csv'} --max-rows 100")
    assert (tmp_path / "some.csv").read_text().splitlines() == ["i"] + [str(i) for i in range(100)]
    with pytest.raises(UsageError, match="--max-rows must be 1 or more, or -1"):
        linkis.run_line_magic("linkis", f"download {task} {tmp_path / 'none.csv'} -n 0")


def test_download_index_is_the_number_the_cell_shows(linkis: Any, tmp_path: Path, capsys: Any) -> None:
    task = run_job(linkis, "select 'zero' as v")
    folder = result_folder(linkis, task)
    # An alias and a gap, as Linkis names result sets: the cell shows these as 3 and 7.
    dolphin.write_result_set(folder / "t2_3.dolphin", dolphin.TABLE, [("v", "string", "")], [["three"]])
    dolphin.write_result_set(folder / "_7.dolphin", dolphin.TABLE, [("v", "string", "")], [["seven"]])
    linkis.run_line_magic("linkis", f"download {task} {tmp_path} --index 7")
    assert (tmp_path / f"linkis-{task}-7.csv").read_text().splitlines() == ["v", "seven"]
    assert f"Result set 7 of Linkis job {task}" in capsys.readouterr().out
    linkis.run_line_magic("linkis", f"download {task} {tmp_path / 'three.csv'} --index 3")
    assert (tmp_path / "three.csv").read_text().splitlines() == ["v", "three"]
    linkis.run_line_magic("linkis", f"download {task} {tmp_path / 'first.csv'}")
    assert (tmp_path / "first.csv").read_text().splitlines() == ["v", "zero"]
    with pytest.raises(UsageError, match=r"has 3 result set\(s\), --index must be one of 0, 3, 7"):
        linkis.run_line_magic("linkis", f"download {task} {tmp_path / 'x.csv'} --index 1")


def test_download_xlsx_holds_every_row(linkis: Any, tmp_path: Path) -> None:
    task = run_job(linkis, "select i from range(5500) t(i) order by i")
    target = tmp_path / "rows.xlsx"
    linkis.run_line_magic("linkis", f"download {task} {target}")
    assert xlsx_rows(target) == [("i",)] + [(str(i),) for i in range(5500)]
    other = tmp_path / "named.bin"
    linkis.run_line_magic("linkis", f"download {task} {other} --format xlsx --max-rows 10")
    assert xlsx_rows(other) == [("i",)] + [(str(i),) for i in range(10)]


def xlsx_rows(path: Path) -> list[tuple[Any, ...]]:
    """The first sheet's rows as openpyxl reads them (whatever the file is named)."""
    with path.open("rb") as stream:
        book = openpyxl.load_workbook(stream, read_only=True)
        try:
            return list(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()


def test_an_export_error_raises_and_writes_no_file(ip: Any, gateway: Any, proxy: Any, tmp_path: Path) -> None:
    ip.run_line_magic("linkis", f"connect {proxy.url} --user {gateway.user} --token {gateway.token}")
    task = run_job(ip, "select 1 as a")
    # Linkis' answer to any failure inside the export: HTTP 200, text, "error(错误):<message>".
    proxy.answer(r"/filesystem/resultsetToExcel", 200, "text/plain; charset=utf-8",
                 "error(错误):The user: alice has no permission to view the contents of the directory")
    folder = tmp_path / "downloads"
    folder.mkdir()
    with pytest.raises(APIError, match="has no permission to view"):
        ip.run_line_magic("linkis", f"download {task} {folder / 'out.csv'}")
    assert list(folder.iterdir()) == []
