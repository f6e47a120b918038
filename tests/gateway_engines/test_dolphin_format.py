"""Dolphin result-set files: Linkis' byte layout, round trips, paging big files."""
from __future__ import annotations

from pathlib import Path

import pytest

from linkis_jupyter.gateway import dolphin
from linkis_jupyter.gateway.dolphin import (
    DolphinError, ResultSetFile, ResultSetWriter, write_result_set,
)


def int10(n: int) -> bytes:
    return b"%010d" % n


def table_line(values: list[bytes]) -> bytes:
    """A table record exactly as Linkis' TableResultSerializer.lineToBytes lays it out."""
    lengths = b"".join(b"%d," % len(v) for v in values)
    data = b"".join(values)
    return int10(len(data) + len(lengths) + 10) + int10(len(lengths)) + lengths + data


def test_table_file_has_linkis_byte_layout(tmp_path: Path) -> None:
    path = tmp_path / "_0.dolphin"
    write_result_set(path, dolphin.TABLE,
                     [{"columnName": "id", "comment": None, "dataType": "int"},
                      {"columnName": "name", "comment": "who", "dataType": "string"}],
                     [["1", "é"], ["2", None]])
    expected = (
        b"dolphin" + b"0000000002"
        + table_line([b"id", b"int", b"LINKIS_NULL", b"name", b"string", b"who"])
        + table_line([b"1", "é".encode()])
        + table_line([b"2", b"LINKIS_NULL"])
    )
    assert path.read_bytes() == expected


def test_text_file_has_linkis_byte_layout(tmp_path: Path) -> None:
    path = tmp_path / "_0.dolphin"
    write_result_set(path, dolphin.TEXT, None, [["hello"], ["wörld"], [""]])
    assert path.read_bytes() == (
        b"dolphin0000000001" + int10(4) + b"NULL" + int10(5) + b"hello"
        + int10(6) + "wörld".encode() + int10(0)
    )


def test_reads_a_file_laid_out_by_linkis(tmp_path: Path) -> None:
    # Built by hand from Linkis' serializers; older Linkis wrote NULL values as `NULL`.
    path = tmp_path / "_1.dolphin"
    path.write_bytes(
        b"dolphin0000000002"
        + table_line([b"k", b"bigint", b"LINKIS_NULL", b"v", b"double", b"NULL"])
        + table_line([b"7", b"1.0E20"]) + table_line([b"8", b"NULL"])
        + table_line([b"9", b"LINKIS_NULL"]) + table_line([b"10", b"2.5"])
    )
    f = ResultSetFile(path)
    assert f.type == "2"
    assert f.metadata == [{"columnName": "k", "comment": "NULL", "dataType": "bigint"},
                          {"columnName": "v", "comment": "NULL", "dataType": "double"}]
    # openFile shows doubles as Linkis' NumberFormat does, and every NULL as "NULL".
    assert f.page(1, 10) == [["7", "100000000000000000000"], ["8", "NULL"], ["9", "NULL"],
                             ["10", "2.5"]]
    assert f.page(1, 10, null_value=None)[1:3] == [["8", None], ["9", None]]
    assert f.page(2, 3) == [["10", "2.5"]]
    assert f.page(3, 3) == []


def test_round_trip_keeps_awkward_values(tmp_path: Path) -> None:
    awkward = [
        ["tab\there", "new\nline", "comma, and ; semi", "", "NULL-ish", "中文 ✓ 𝄞"],
        [None, "quote ' \" `", "back\\slash", " lead and trail ", "\r\n", "0000000010"],
    ]
    meta = [{"columnName": f"c{i}", "comment": None, "dataType": "string"} for i in range(6)]
    path = tmp_path / "_0.dolphin"
    assert write_result_set(path, dolphin.TABLE, meta, awkward) == 2
    f = ResultSetFile(path)
    assert f.page(1, 5000, null_value=None) == awkward
    assert [c["columnName"] for c in f.metadata] == [f"c{i}" for i in range(6)]
    assert f.count() == 2


def test_text_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "_0.dolphin"
    lines = [["plain"], ["with\ttab"], ["ünïcode"], [""], ["x" * 100_000]]
    write_result_set(path, dolphin.HTML, "meta", lines)
    f = ResultSetFile(path)
    assert (f.type, f.metadata) == ("5", "meta")
    assert f.page(1, 100) == lines
    assert f.page(2, 2) == lines[2:4]


def test_twenty_thousand_rows_read_page_by_page(tmp_path: Path) -> None:
    path = tmp_path / "_0.dolphin"
    meta = [{"columnName": "n", "comment": None, "dataType": "int"},
            {"columnName": "s", "comment": None, "dataType": "string"}]

    def row(i: int) -> list[str]:
        return [str(i), f"row {i}" if i % 3 else "NULL"]

    write_result_set(path, dolphin.TABLE, meta,
                     ([str(i), f"row {i}" if i % 3 else None] for i in range(20_000)))
    f = ResultSetFile(path)
    pages, page = [], 1
    while rows := f.page(page, 5000):
        pages.append(rows)
        page += 1
    assert [len(p) for p in pages] == [5000, 5000, 5000, 5000]
    every = [row for p in pages for row in p]
    assert every[0] == ["0", "NULL"]
    assert every[19_999] == ["19999", "row 19999"]
    assert [int(r[0]) for r in every] == list(range(20_000))
    # Page sizes that do not line up with the row index step, from a fresh reader.
    again = ResultSetFile(path)
    assert again.page(13, 777) == [row(i) for i in range(12 * 777, 13 * 777)]
    assert again.page(26, 777) == [row(i) for i in range(25 * 777, 20_000)]
    assert again.page(27, 777) == []
    assert len(list(again.iter_rows(chunk=3000))) == 20_000


def test_rewritten_file_is_read_afresh(tmp_path: Path) -> None:
    path = tmp_path / "_0.dolphin"
    meta = [{"columnName": "n", "comment": None, "dataType": "int"}]
    write_result_set(path, dolphin.TABLE, meta, [["1"], ["2"]])
    assert ResultSetFile(path).count() == 2
    write_result_set(path, dolphin.TABLE, meta, [[str(i)] for i in range(600)])
    assert ResultSetFile(path).count() == 600
    assert ResultSetFile(path).page(2, 500)[-1] == ["599"]


def test_unfinished_writer_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "_0.dolphin"
    with pytest.raises(RuntimeError):
        with ResultSetWriter(path, dolphin.TEXT, None) as writer:
            writer.write_rows([["partial"]])
            raise RuntimeError("stopped")
    assert list(tmp_path.iterdir()) == []


def test_not_a_result_set_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.dolphin"
    path.write_bytes(b"hello world, not dolphin")
    with pytest.raises(DolphinError, match="not a result-set file"):
        ResultSetFile(path)
    path.write_bytes(b"dolphin0000000002" + b"00000000zz")
    with pytest.raises(DolphinError):
        ResultSetFile(path)
