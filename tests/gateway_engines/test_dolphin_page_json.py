"""openFile's pages made in bulk (ResultSetFile.page_json) say exactly what the row-by-row reader
says, for every kind of value, page size and NULL setting."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from linkis_jupyter.gateway import dolphin
from linkis_jupyter.gateway.dolphin import ResultSetFile, write_result_set

META = [
    {"columnName": "id", "comment": "NULL", "dataType": "long"},
    {"columnName": "x", "comment": "NULL", "dataType": "double"},
    {"columnName": "s", "comment": "NULL", "dataType": "string"},
    {"columnName": "y", "comment": "NULL", "dataType": "double"},
]
DOUBLES = ["1.0", "-0.0", "2.5", "1e-05", "1.5e+300", "nan", "inf", "-inf", "", "10.0", "0", "3.25"]
TEXTS = ["plain", "", "NULL", "LINKIS_NULL", "NULLS", "a,b", "[x]", "tab", "1.0"]


def same(f: ResultSetFile, page: int, size: int, null_value: str = "NULL") -> list:
    count, content = f.page_json(page, size, null_value)
    expected = f.page(page, size, null_value)
    assert json.loads(content) == expected
    assert count == len(expected)
    assert content == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode()
    return expected


def rows(n: int, texts: list[str]) -> list[list[str | None]]:
    return [[str(i), DOUBLES[i % len(DOUBLES)], None if i % 5 == 0 else texts[i % len(texts)],
             None if i % 7 == 0 else DOUBLES[(i * 3) % len(DOUBLES)]] for i in range(n)]


@pytest.mark.parametrize("null_value", ["NULL", "", "-"])
def test_ascii_pages_match_row_reader(tmp_path: Path, null_value: str) -> None:
    path = tmp_path / "_0.dolphin"
    write_result_set(path, dolphin.TABLE, META, rows(3000, TEXTS))
    f = ResultSetFile(path)
    assert same(f, 1, 1000, null_value)[0][2] == null_value  # row 0's text is a NULL
    same(f, 3, 1000, null_value)
    same(f, 2, 1777, null_value)
    same(f, 1, 5000, null_value)
    assert f.page_json(4, 1000, null_value) == (0, b"[]")


def test_unicode_and_escapes_match_row_reader(tmp_path: Path) -> None:
    path = tmp_path / "_0.dolphin"
    write_result_set(path, dolphin.TABLE, META, rows(600, ["数据", "naïve", "emoji \U0001f600", "x"]))
    same(ResultSetFile(path), 1, 600)
    # Values that JSON must escape: the page goes the value-at-a-time way, with the same answer.
    other = tmp_path / "_1.dolphin"
    write_result_set(other, dolphin.TABLE, META, rows(300, ['say "hi"', "back\\slash", "new\nline", "\x01"]))
    same(ResultSetFile(other), 1, 300)


def test_damaged_utf8_matches_row_reader(tmp_path: Path) -> None:
    path = tmp_path / "_0.dolphin"
    write_result_set(path, dolphin.TABLE, META[:1], [[b"\xff\xfe".decode("latin-1")]])
    data = path.read_bytes().replace("\xff\xfe".encode(), b"\xff\xfe\xfd\xfc")
    bad = tmp_path / "_1.dolphin"
    bad.write_bytes(data)
    same(ResultSetFile(bad), 1, 10)


def test_text_result_sets_and_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "_0.dolphin"
    write_result_set(path, dolphin.TEXT, None, [["line one"], ['"quoted"'], [""]])
    same(ResultSetFile(path), 1, 10)
    empty = tmp_path / "_1.dolphin"
    write_result_set(empty, dolphin.TABLE, META, [])
    assert ResultSetFile(empty).page_json(1, 10) == (0, b"[]")


def test_paging_a_file_being_written_and_counting(tmp_path: Path) -> None:
    path = tmp_path / "_0.dolphin"
    write_result_set(path, dolphin.TABLE, META, rows(1200, TEXTS))
    f = ResultSetFile(path)
    # Page 2 first (the index has not reached it), then page 1, then the count.
    same(f, 2, 500)
    same(f, 1, 500)
    assert f.count() == 1200
    same(ResultSetFile(path), 3, 500)
    # A record cut short at the end is not a row yet.
    cut = tmp_path / "_1.dolphin"
    cut.write_bytes(path.read_bytes()[:-5])
    assert ResultSetFile(cut).count() == 1199
    assert ResultSetFile(cut).page_json(3, 500)[0] == 199


@pytest.mark.parametrize("nulls", [dolphin.Nulls(), dolphin.Nulls.param("LINKIS_NULL"), dolphin.Nulls.param("-"),
                                   dolphin.Nulls.param("1.0"), dolphin.Nulls(None, None, None)])
def test_null_value_rules_match_row_reader(tmp_path: Path, nulls: dolphin.Nulls) -> None:
    # openFile's nullValue (ResultsetFileSource.scala): a SQL null, the text "NULL" and "" each
    # have their own rule; a bare JSON null drops the quotes around the value.
    path = tmp_path / "_0.dolphin"
    write_result_set(path, dolphin.TABLE, META, rows(2500, TEXTS))
    f = ResultSetFile(path)
    page = same(f, 1, 2500, nulls)
    texts = {TEXTS[i % len(TEXTS)]: row[2] for i, row in enumerate(page) if i % 5}
    assert page[0][2] == nulls.sql and page[0][3] == nulls.sql
    assert texts["NULL"] == nulls.text and texts[""] == nulls.empty and texts["plain"] == "plain"
    same(f, 2, 777, nulls)
