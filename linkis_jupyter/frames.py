"""Linkis TABLE rows as typed pandas columns: the leaf of result reading (no package imports).

`openFile` hands every value over as a string (Linkis' `DataType.valueToString`); the column types
come from the result set's metadata (`dataType`, a Linkis type name). The conversion is done a
column at a time with numpy/pandas, never a row at a time, so a million rows take about a second.

| Linkis type                                            | pandas dtype                     |
|--------------------------------------------------------|----------------------------------|
| tinyint, smallint, short, int, integer, bigint, long    | Int64 (nullable)                 |
| float, double, real                                    | float64 (missing is NaN)         |
| decimal, decimal(p,s), bigdecimal                      | float64 by default; `decimal="exact"` gives objects of `decimal.Decimal` |
| boolean                                                | boolean (nullable)               |
| date, timestamp, datetime                              | datetime64 (missing is NaT)      |
| string, varchar, char and anything else                | string (nullable)                |

Missing values: the client asks `openFile` for `nullValue=LINKIS_NULL`, with which Linkis 1.5+
sends a NULL as a JSON null and a text cell holding the four letters `NULL` as that text
(ResultsetFileSource). Older gateways ignore the parameter and send both as the text `NULL`, so
until a result set shows a JSON null, `NULL` (and `LINKIS_NULL`) read as missing; a JSON null
settles it for the rest of the job's result sets. A `LinkisClient.null_value` of the user's is
sent instead, and Linkis then writes it for a NULL, the text `NULL` and an empty string alike:
all read as missing. A column whose values do not all parse as its declared type is kept as
strings, so no value is ever lost to a conversion.

decimal defaults to float64 because that is what arithmetic and plotting want; money-like columns
where every digit counts can ask for `decimal="exact"`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:
    import pandas

__all__ = [
    "Column",
    "NULL_MARKERS",
    "NULL_TEXT",
    "KEEP_NULLS",
    "Reconvert",
    "TableBuilder",
    "columns_from_metadata",
    "pandas_dtype_for",
    "table_to_dataframe",
]

NULL_MARKERS = ("NULL", "LINKIS_NULL")
# How Linkis (before 1.5, or asked for no other nullValue) sends a SQL NULL, and the nullValue that
# makes 1.5+ send it as a JSON null instead, leaving the text NULL as it is (ResultsetFileSource).
NULL_TEXT = "NULL"
KEEP_NULLS = "LINKIS_NULL"

_INT_TYPES = {"tinyint", "smallint", "short", "int", "integer", "bigint", "long", "int2", "int4", "int8"}
_FLOAT_TYPES = {"float", "double", "real", "float4", "float8", "double precision"}
_DECIMAL_TYPES = {"decimal", "bigdecimal", "numeric", "number"}
_BOOL_TYPES = {"boolean", "bool"}
_DATETIME_TYPES = {"date", "timestamp", "datetime", "timestamp_ntz", "timestamp without time zone"}
_TRUE = frozenset({"true", "True", "TRUE", "1", "t", "T"})
_FALSE = frozenset({"false", "False", "FALSE", "0", "f", "F"})


@dataclass(frozen=True)
class Column:
    """One column of a TABLE result set, as the metadata gives it."""

    name: str
    data_type: str
    comment: str | None = None


def _kept(markers: tuple[str, ...]) -> tuple[str, ...]:
    """The null markers of a gateway that keeps NULLs apart: the text NULL is text there."""
    return tuple(m for m in markers if m != NULL_TEXT)


def _base_type(data_type: str) -> str:
    # "decimal(10,2)" -> "decimal", "varchar(20)" -> "varchar", "array<int>" -> "array"
    return re.split(r"[(<\s]", data_type.strip().lower(), maxsplit=1)[0] if data_type else "string"


def pandas_dtype_for(data_type: str, decimal: str = "float") -> str:
    """The pandas dtype a column of this Linkis type becomes (before any fallback to strings)."""
    base = _base_type(data_type)
    if base in _INT_TYPES:
        return "Int64"
    if base in _FLOAT_TYPES or data_type.strip().lower() in _FLOAT_TYPES:
        return "float64"
    if base in _DECIMAL_TYPES:
        return "float64" if decimal == "float" else "object"
    if base in _BOOL_TYPES:
        return "boolean"
    if base in _DATETIME_TYPES or data_type.strip().lower() in _DATETIME_TYPES:
        return "datetime64"
    return "string"


def _to_object_matrix(rows: Sequence[Sequence[Any]], width: int) -> "Any":
    import numpy as np

    matrix = np.empty((len(rows), width), dtype=object)
    if not rows:
        return matrix
    try:
        matrix[:, :] = rows
        return matrix
    except ValueError:
        pass
    # Ragged rows (a malformed page): pad short rows with None, cut long ones.
    for i, row in enumerate(rows):
        cells = list(row)[:width]
        cells.extend([None] * (width - len(cells)))
        matrix[i, :] = cells
    return matrix


def _convert_column(values: "Any", data_type: str, null_markers: Iterable[str], decimal: str) -> "Any":
    """One column (a numpy object array of str|None) -> a pandas array of the column's type."""
    return _convert(values, pandas_dtype_for(data_type, decimal), tuple(null_markers))[0]


# How a column's conversion went: the target type's own value-by-value parse (OK), the fallback
# to strings because some value did not parse (TEXT), or another whole-column way (WHOLE: text
# dates that numpy could not read, e.g. with UTC offsets). Only OK and TEXT give the same answer
# page by page as for the whole column at once.
_OK, _TEXT, _WHOLE = "ok", "text", "whole"


def _rejected(target: str, markers: tuple[str | None, ...]) -> bool:
    """Whether every marker fails to parse as `target`: then a column can be parsed as it is, and a
    marker in it shows up as a parse error instead of having to be looked for first."""
    import numpy as np

    kind = {"Int64": np.int64, "float64": np.float64, "datetime64": "datetime64[us]"}.get(target)
    if kind is None:
        return False
    for marker in markers:
        try:
            np.array([marker], dtype=object).astype(kind)
        except (ValueError, TypeError, OverflowError):
            continue
        return False
    return True


def _missing(values: "Any", markers: tuple[str | None, ...]) -> "Any":
    """The cells equal to a marker (None: a JSON null)."""
    import numpy as np

    missing = np.zeros(len(values), dtype=bool)
    for marker in markers:
        missing |= np.equal(values, None) if marker is None else values == marker
    return missing


def _convert(values: "Any", target: str, markers: tuple[str | None, ...],
             absent: frozenset[str | None] = frozenset()) -> tuple["Any", str]:
    """One column to the pandas type `target` (pandas_dtype_for), and how that went (_OK,
    _TEXT, _WHOLE). `absent`: markers known not to be in the column, so not looked for."""
    import numpy as np
    import pandas as pd

    look_for = tuple(m for m in (None, *markers) if m not in absent)
    if target in ("Int64", "float64", "datetime64") and _rejected(target, look_for):
        # Parse first; only a column that fails (a NULL, or a bad value) is looked at closely.
        try:
            if target == "Int64":
                parsed = np.array(values.tolist(), dtype=np.int64)
                return pd.arrays.IntegerArray(parsed, np.zeros(len(values), dtype=bool)), _OK
            if target == "float64":
                return np.array(values.tolist(), dtype=np.float64), _OK
            return _numpy_datetime(values), _OK
        except (ValueError, TypeError, OverflowError, UserWarning, DeprecationWarning):
            pass
    missing = _missing(values, look_for)
    try:
        if target == "Int64":
            filled = values.copy()
            filled[missing] = "0"
            return pd.arrays.IntegerArray(filled.astype(np.int64), missing), _OK
        if target == "float64":
            filled = values.copy()
            filled[missing] = "nan"
            return filled.astype(np.float64), _OK
        if target == "object":  # exact decimals
            out = np.empty(len(values), dtype=object)
            out[missing] = None
            out[~missing] = [Decimal(v) for v in values[~missing]]
            return out, _OK
        if target == "boolean":
            # Java writes "true"/"false": two comparisons settle it; other spellings are rarer.
            is_true = values == "true"
            known = is_true | (values == "false") | missing
            if not known.all():
                rest = ~known
                others = pd.Series(values[rest], dtype=object)
                if not others.isin(_TRUE | _FALSE).all():
                    raise ValueError("not a boolean")
                is_true[rest] = others.isin(_TRUE).to_numpy()
            return pd.arrays.BooleanArray(is_true & ~missing, missing), _OK
        if target == "datetime64":
            filled = values.copy()
            filled[missing] = None
            try:
                return _numpy_datetime(filled), _OK
            except (ValueError, TypeError, UserWarning, DeprecationWarning):
                return pd.to_datetime(pd.Series(filled), format="ISO8601").array, _WHOLE
    except (ValueError, TypeError, OverflowError, InvalidOperation, pd.errors.OutOfBoundsDatetime):
        pass
    if missing.any():
        values = values.copy()
        values[missing] = None
    return pd.array(values, dtype="string"), (_OK if target == "string" else _TEXT)


def _numpy_datetime(values: "Any") -> "Any":
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        # numpy would shift a text with a UTC offset to UTC with only a warning: let pandas do it.
        warnings.simplefilter("error")
        return pd.array(values.astype("datetime64[us]"))


class Reconvert(Exception):
    """A later page showed that a column needs converting as a whole (as text, or all at once),
    or that the text NULL on earlier pages was text (`nulls_kept`): read the result set again so."""

    def __init__(self, as_text: frozenset[int], whole: frozenset[int], nulls_kept: bool = False) -> None:
        super().__init__(f"columns {sorted(as_text | whole)} need the whole result set")
        self.as_text, self.whole, self.nulls_kept = as_text, whole, nulls_kept


class TableBuilder:
    """A TABLE result set converted page by page, so that only the page at hand is held as
    strings: each page's columns are typed at once and the typed parts joined at the end.
    The result is what `table_to_dataframe` makes of all rows at once; when a later page shows
    a column needs the whole set (see _convert), `add` raises Reconvert.

    `nulls_kept`: the rows come from a gateway that sends a SQL NULL as a JSON null, so the text
    NULL is text. Until a page shows a JSON null, NULL reads as missing (an older gateway sends
    a SQL NULL so); a JSON null after pages that held NULL raises Reconvert."""

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        null_markers: Iterable[str] = NULL_MARKERS,
        decimal: str = "float",
        as_text: Iterable[int] = (),
        whole: Iterable[int] = (),
        nulls_kept: bool = False,
    ) -> None:
        if decimal not in ("float", "exact"):
            raise ValueError(f"decimal must be 'float' or 'exact', not {decimal!r}")
        self.columns = list(columns)
        self.all_markers = tuple(null_markers)
        self.nulls_kept = nulls_kept
        self.markers = _kept(self.all_markers) if nulls_kept else self.all_markers
        self._null_text_read = False
        self.as_text, self.whole = set(as_text), set(whole)
        self.targets = [pandas_dtype_for(c.data_type, decimal) for c in self.columns]
        self.rows = 0
        self._parts: list[list[Any]] = [[] for _ in self.columns]

    def _target(self, i: int) -> str:
        return "string" if i in self.as_text else self.targets[i]

    def add(self, rows: Sequence[Sequence[Any]], absent: frozenset[str | None] = frozenset()) -> None:
        if not rows:
            return
        import numpy as np

        matrix = _to_object_matrix(rows, len(self.columns))
        if not self.nulls_kept and NULL_TEXT in self.all_markers:
            if None not in absent and np.equal(matrix, None).any():
                if self._null_text_read:
                    raise Reconvert(frozenset(self.as_text), frozenset(self.whole), nulls_kept=True)
                self.nulls_kept = True
                self.markers = _kept(self.all_markers)
            else:
                self._null_text_read = self._null_text_read or NULL_TEXT not in absent
        text, whole = set(), set()
        for i, parts in enumerate(self._parts):
            values = matrix[:, i]
            if i in self.whole:
                parts.append(values.copy())
                continue
            array, how = _convert(values, self._target(i), self.markers, absent)
            if how == _TEXT:
                text.add(i)
            elif how == _WHOLE:
                whole.add(i)
                array = values.copy()
            parts.append(array)
        if self.rows and (text or whole):
            raise Reconvert(frozenset(text), frozenset(whole))
        # On the first page the column's fate is settled for the pages to come.
        self.as_text |= text
        self.whole |= whole
        self.rows += len(rows)

    def frame(self) -> "pandas.DataFrame":
        """The DataFrame; the builder gives its parts up to it."""
        import numpy as np
        import pandas as pd

        arrays = {}
        for i, parts in enumerate(self._parts):
            self._parts[i] = []
            target = self._target(i)
            if i in self.whole:
                raw = np.concatenate(parts) if parts else np.empty(0, dtype=object)
                arrays[i] = _convert(raw, target, self.markers)[0]
            elif not parts:
                arrays[i] = _convert(np.empty(0, dtype=object), target, self.markers)[0]
            elif len(parts) == 1:
                arrays[i] = parts[0]
            elif isinstance(parts[0], np.ndarray):
                arrays[i] = np.concatenate(parts)
            else:
                arrays[i] = pd.concat([pd.Series(p, copy=False) for p in parts], ignore_index=True).array
            del parts
        frame = pd.DataFrame(arrays, copy=False)
        # Assigned afterwards so that duplicate column names (SELECT a, a) survive.
        frame.columns = [col.name for col in self.columns]
        return frame


def columns_from_metadata(metadata: Any) -> tuple[Column, ...]:
    """TABLE metadata (`[{"columnName", "dataType", "comment"}]`) as Columns."""
    return tuple(
        Column(
            name=str(m.get("columnName", f"_c{i}")),
            data_type=str(m.get("dataType") or "string"),
            comment=m.get("comment"),
        )
        for i, m in enumerate(metadata if isinstance(metadata, list) else [])
        if isinstance(m, dict)
    )


def table_to_dataframe(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    *,
    null_markers: Iterable[str] = NULL_MARKERS,
    decimal: str = "float",
) -> "pandas.DataFrame":
    """Rows of strings (as `openFile` sends them) -> a DataFrame typed from the column metadata."""
    import pandas as pd

    if decimal not in ("float", "exact"):
        raise ValueError(f"decimal must be 'float' or 'exact', not {decimal!r}")
    markers = tuple(null_markers)
    width = len(columns) if columns else max((len(r) for r in rows), default=0)
    cols = list(columns) or [Column(f"_c{i}", "string") for i in range(width)]
    matrix = _to_object_matrix(rows, width)
    arrays = {i: _convert_column(matrix[:, i], col.data_type, markers, decimal) for i, col in enumerate(cols)}
    frame = pd.DataFrame(arrays, copy=False)
    # Assigned afterwards so that duplicate column names (SELECT a, a) survive.
    frame.columns = [col.name for col in cols]
    return frame
