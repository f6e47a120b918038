"""Result conversion: Linkis type names -> pandas dtypes, NULLs as missing, no value lost."""
from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd
import pytest

from linkis_jupyter.results import Column, ResultSet, ResultType, pandas_dtype_for, table_to_dataframe

TYPES = ["tinyint", "smallint", "int", "bigint", "long", "float", "double", "decimal(10,2)", "boolean",
         "date", "timestamp", "string", "varchar(10)"]


def typed_frame(**kwargs: object) -> pd.DataFrame:
    columns = [Column(f"c_{t.split('(')[0]}", t) for t in TYPES]
    rows = [
        ["1", "2", "3", "9007199254740993", "-5", "1.5", "2.25", "12.34", "true", "2024-02-29",
         "2024-02-29 13:14:15.5", "hello", "x"],
        ["NULL"] * len(TYPES),
        ["-1", "-2", "-3", "-9007199254740993", "5", "Infinity", "NaN", "0.01", "false", "1970-01-01",
         "1970-01-01 00:00:00.0", "", "LINKIS_NULL"],
    ]
    return table_to_dataframe(columns, rows, **kwargs)  # type: ignore[arg-type]


def test_dtypes_follow_linkis_type_names() -> None:
    frame = typed_frame()
    dtypes = {c: str(t) for c, t in frame.dtypes.items()}
    for name in ("c_tinyint", "c_smallint", "c_int", "c_bigint", "c_long"):
        assert dtypes[name] == "Int64"
    assert dtypes["c_float"] == dtypes["c_double"] == dtypes["c_decimal"] == "float64"
    assert dtypes["c_boolean"] == "boolean"
    assert dtypes["c_date"].startswith("datetime64") and dtypes["c_timestamp"].startswith("datetime64")
    assert dtypes["c_string"] == dtypes["c_varchar"] == "string"
    # bigint keeps every digit (a float64 would round 2**53 + 1).
    assert frame["c_bigint"][0] == 9007199254740993
    assert frame["c_timestamp"][0] == pd.Timestamp("2024-02-29 13:14:15.5")
    assert math.isinf(frame["c_float"][2]) and math.isnan(frame["c_double"][2])
    assert frame["c_boolean"].tolist()[0] is True


def test_nulls_are_missing_in_every_column_and_empty_text_is_not() -> None:
    frame = typed_frame()
    assert frame.iloc[1].isna().all()
    assert frame["c_string"][2] == ""
    assert pd.isna(frame["c_varchar"][2])  # LINKIS_NULL


def test_exact_decimals_on_request() -> None:
    frame = typed_frame(decimal="exact")
    assert frame["c_decimal"][0] == Decimal("12.34") and frame["c_decimal"][2] == Decimal("0.01")
    assert frame["c_decimal"][1] is None
    with pytest.raises(ValueError):
        typed_frame(decimal="round")


def test_values_that_do_not_parse_keep_the_column_as_strings() -> None:
    frame = table_to_dataframe(
        [Column("n", "int"), Column("b", "boolean"), Column("d", "date")],
        [["1", "yes", "2024-01-01"], ["1.5", "no", "someday"]],
    )
    assert str(frame.dtypes["n"]) == "string" and frame["n"].tolist() == ["1", "1.5"]
    assert frame["b"].tolist() == ["yes", "no"]
    assert frame["d"].tolist() == ["2024-01-01", "someday"]


def test_duplicate_names_ragged_rows_and_json_nulls() -> None:
    frame = table_to_dataframe([Column("a", "int"), Column("a", "string")], [["1", "x"], ["2"], [None, "y", "extra"]])
    assert list(frame.columns) == ["a", "a"]
    assert frame.shape == (3, 2)
    assert pd.isna(frame.iloc[1, 1]) and pd.isna(frame.iloc[2, 0])


def test_empty_table_keeps_its_columns() -> None:
    frame = table_to_dataframe([Column("x", "int"), Column("y", "string")], [])
    assert list(frame.columns) == ["x", "y"] and len(frame) == 0


def test_non_table_result_sets() -> None:
    text = ResultSet.from_rows(1, "p/_1.dolphin", ResultType.TEXT, "NULL", [["line 1"], ["line 2"]])
    assert text.data == "line 1\nline 2" and text.metadata is None and not text.is_table
    html = ResultSet.from_rows(2, "p/_2.dolphin", ResultType.HTML, None, [["<b>x</b>"]])
    assert html.text == "<b>x</b>"
    picture = ResultSet.from_rows(3, "p/_3.dolphin", ResultType.PICTURE, None, [["data:image/png;base64,iVBORw0KGgo="]])
    assert picture.image_bytes().startswith(b"\x89PNG")
    with pytest.raises(TypeError):
        text.dataframe  # noqa: B018
    assert ResultType.from_wire("2") is ResultType.TABLE and ResultType.from_wire(5) is ResultType.HTML


def test_table_result_set_from_wire_metadata() -> None:
    meta = [{"columnName": "id", "comment": "NULL", "dataType": "bigint"}, {"columnName": "v", "comment": "NULL", "dataType": "double"}]
    rs = ResultSet.from_rows(0, "p/_0.dolphin", ResultType.TABLE, meta, [["1", "0.5"]], truncated=True)
    assert rs.columns[0].data_type == "bigint" and rs.truncated
    assert rs.dataframe["id"].dtype == "Int64"
    assert "truncated" in repr(rs) and "1 rows x 2 columns" in repr(rs)


def test_type_name_mapping() -> None:
    assert pandas_dtype_for("DECIMAL(38, 10)") == "float64"
    assert pandas_dtype_for("decimal", "exact") == "object"
    assert pandas_dtype_for("array<int>") == "string"
    assert pandas_dtype_for("map<string,int>") == "string"
    assert pandas_dtype_for("") == "string"


def test_timestamps_with_an_offset_keep_their_instant() -> None:
    frame = table_to_dataframe([Column("t", "timestamp")], [["2024-01-02T03:04:05+08:00"], ["NULL"]])
    assert frame["t"][0] == pd.Timestamp("2024-01-01T19:04:05Z")
    assert pd.isna(frame["t"][1])
