"""The filesystem service as strict as a stock Linkis 1.8: resultsetToExcel's cap, errors, separators
and xlsx; openFile's nullValue; openLog's size limit; result-set names with aliases."""
from __future__ import annotations

import io
import os

import pytest
from gateway_wire import Api, err, ok

from linkis_jupyter.gateway import dolphin

COLUMNS = [{"columnName": "n", "comment": "NULL", "dataType": "int"},
           {"columnName": "s", "comment": "NULL", "dataType": "string"}]


def login(gw) -> Api:
    api = Api(gw)
    api.login("alice", gw.password)
    return api


def table(gw, name: str = "_0.dolphin", rows=None) -> str:
    """A TABLE result set in alice's area: n, and s with a null, "NULL", "" and commas."""
    path = gw.data_dir / "users" / "alice" / "results" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if rows is None:
        rows = [["1", None], ["2", "NULL"], ["3", ""], ["4", "a,b"]] + [[str(i), f"row {i}"] for i in range(5, 21)]
    dolphin.write_result_set(path, dolphin.TABLE, COLUMNS, rows)
    return "file://" + str(path)


def download(api: Api, path: str, **params):
    return api.s.get(api.base + "/filesystem/resultsetToExcel", params={"path": path, **params}, timeout=30)


# -- resultsetToExcel ---------------------------------------------------------------------------

def test_download_is_capped_unless_limit_is_given(gateway_factory):
    gw = gateway_factory(download_max_rows=5)
    api = login(gw)
    path = table(gw)
    r = download(api, path, outputFileName="part")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/plain"
    assert r.headers["Content-Disposition"] == "attachment;filename=part.csv"
    # Linkis' csv: no quoting; nulls, "NULL" and "" all become the nullValue (default NULL).
    assert r.text == "n,s\n1,NULL\n2,NULL\n3,NULL\n4,a,b\n5,row 5\n"
    assert len(download(api, path, limit=12).text.splitlines()) == 13
    assert len(download(api, path, limit=100).text.splitlines()) == 21
    assert download(api, path, limit=2, nullValue="LINKIS_NULL").text == "n,s\n1,null\n2,NULL\n"
    assert download(api, path, limit=3, nullValue="BLANK").text == "n,s\n1,\n2,\n3,\n"


@pytest.mark.parametrize(("params", "separator"), [
    ({"csvSeparator": ";"}, ";"),
    ({"csvSeperator": ";"}, ";"),
    ({"csvSeparator": ";", "csvSeperator": "|"}, ";"),
    ({"csvSeparator": ",", "csvSeperator": "|"}, "|"),
    ({"csvSeparator": "t"}, "\t"),
])
def test_both_separator_spellings(gateway, alice, params, separator):
    path = table(gateway)
    assert download(alice, path, limit=1, **params).text == f"n{separator}s\n1{separator}NULL\n"


def test_errors_are_http_200_text(gateway, alice):
    text = gateway.data_dir / "users" / "alice" / "results" / "_1.dolphin"
    text.parent.mkdir(parents=True, exist_ok=True)
    dolphin.write_result_set(text, dolphin.TEXT, None, [["hello"], ["world"]])
    cases = {
        (): "error(错误):errCode: 80004 ,desc: The path:",
        (("path", "file:///etc/passwd"),): "error(错误):errCode: 80010 ,desc: The user: alice has no permission",
        (("path", "file://" + str(text)), ("outputFileType", "xlsx")):
            "error(错误):errCode: 80024 ,desc: Non-tabular result sets cannot be downloaded as excel",
        (("path", "file://" + str(text.with_name("_7.dolphin"))),): "error(错误):" + str(text.with_name("_7.dolphin"))
        + " (No such file or directory)",
        (("path", "file://" + str(text)), ("outputFileType", "pdf")): "error(错误):null",
        (("path", "file://" + str(text.with_name("x.exe"))),): "error(错误):errCode: 54001 ,desc: Unsupported open file type",
    }
    for params, start in cases.items():
        r = alice.s.get(alice.base + "/filesystem/resultsetToExcel", params=dict(params), timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert "Content-Disposition" not in r.headers
        assert r.text.startswith(start), r.text
        assert r.text.endswith(",serviceKind: linkis-ps-publicservice") or "No such file" in r.text or r.text.endswith(":null")
    # A TEXT result set as csv: its lines.
    assert download(alice, "file://" + str(text)).text == "hello\nworld\n"


def test_xlsx_has_a_header_row_and_the_capped_rows(gateway_factory):
    from openpyxl import load_workbook

    gw = gateway_factory(download_max_rows=3)
    api = login(gw)
    path = table(gw)
    r = download(api, path, outputFileType="xlsx", sheetName="numbers", outputFileName="book")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["Content-Disposition"] == "attachment;filename=book.xlsx"
    sheet = load_workbook(io.BytesIO(r.content))["numbers"]
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        ["n", "s"], ["1", "NULL"], ["2", "NULL"], ["3", "NULL"]]
    typed = load_workbook(io.BytesIO(download(api, path, outputFileType="xlsx", limit=20, autoFormat="true").content))
    rows = list(typed["result"].iter_rows(values_only=True))
    assert len(rows) == 21 and rows[4] == (4, "a,b")


def test_0x_download_reads_only_the_old_spelling_and_no_limit(gateway_factory):
    gw = gateway_factory(profile="0.x", download_max_rows=2)
    api = login(gw)
    path = table(gw)
    assert download(api, path, csvSeparator=";", limit=10).text == "n,s\n1,NULL\n2,NULL\n"
    assert download(api, path, csvSeperator=";").text == "n;s\n1;NULL\n2;NULL\n"
    r = download(api, "file:///etc/passwd")
    assert r.status_code == 200 and r.text == "resultset to excel/csv error(结果集导出出错)"


# -- openFile nullValue, openLog size -------------------------------------------------------------

def test_open_file_null_values(gateway, alice):
    path = table(gateway)

    def first_three(**params):
        return [row[1] for row in alice.read(path, **params)["fileContent"][:3]]

    assert first_three() == ["NULL", "NULL", ""]
    assert first_three(nullValue="-") == ["-", "-", "-"]
    assert first_three(nullValue="BLANK") == ["NULL", "NULL", ""]
    assert first_three(nullValue="LINKIS_NULL") == [None, "NULL", ""]


def test_0x_open_file_ignores_null_value(gateway_factory):
    gw = gateway_factory(profile="0.x")
    api = login(gw)
    path = table(gw)
    rows = ok(api.get("/filesystem/openFile", path=path, nullValue="LINKIS_NULL"))["fileContent"]
    assert [row[1] for row in rows[:3]] == ["NULL", "NULL", ""]


def test_open_log_over_the_limit_is_80033(gateway_factory):
    gw = gateway_factory(log_size_limit=100)
    api = login(gw)
    log = gw.data_dir / "users" / "alice" / "logs" / "big.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("2024-01-01 00:00:00.000 INFO x\n" * 10)
    message = err(api.get("/filesystem/openLog", path=str(log)))
    assert message == (f"error code(错误码): 80033, error message(错误信息): The log file exceeds 30MB and is too "
                       f"large and cannot be opened, path : {log} (日志文件超过30M，文件太大暂不支持打开查看，文件地址：{log}).")
    log.write_text("2024-01-01 00:00:00.000 INFO x\n")
    ok(api.get("/filesystem/openLog", path=str(log)))


# -- result-set names --------------------------------------------------------------------------

def test_show_alias_names_and_listing_order(alice):
    code = ("import pandas as pd\n"
            "for i in range(11):\n"
            "    show(pd.DataFrame({'i': [i]}))\n"
            "show(pd.DataFrame({'x': [1]}), alias='t2')\n")
    exec_id, task_id = alice.submit(code, run_type="python", engine="python-python3")
    assert alice.wait(exec_id) == "Succeed", alice.full_log(exec_id)
    location = alice.task(task_id)["resultLocation"]
    tree = ok(alice.get("/filesystem/getDirFileTrees", path=location))["dirFileTrees"]
    names = [child["name"] for child in tree["children"]]
    assert sorted(names) == sorted([f"_{i}.dolphin" for i in range(11)] + ["t2_11.dolphin"])
    # Listed as the filesystem lists them, not sorted by number.
    assert names == [entry.name for entry in os.scandir(location[len("file://"):])]
    alias = next(c["path"] for c in tree["children"] if c["name"] == "t2_11.dolphin")
    assert alice.read(alias)["fileContent"] == [["1"]]
    bad, _ = alice.submit("import pandas as pd\nshow(pd.DataFrame({'x': [1]}), alias='../up')",
                          run_type="python", engine="python-python3")
    assert alice.wait(bad) == "Failed"
