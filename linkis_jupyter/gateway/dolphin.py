"""Linkis' result-set files ("Dolphin"): the on-disk format of `_0.dolphin`, `_1.dolphin`, ...

Layout, as Linkis' storage module writes it (linkis-commons/linkis-storage: `domain/Dolphin.scala`,
`resultset/StorageResultSet.scala`, `resultset/table/TableResultSerializer.scala`,
`resultset/txt/TextResultSerializer.scala`), all numbers ASCII decimal, zero-padded to 10 digits:

    "dolphin" TYPE               header: the magic, then the result type ("0000000002" = TABLE)
    LEN BODY                     the metadata record
    LEN BODY  LEN BODY  ...      one record per row (TABLE) or per line (TEXT, HTML, ...)

LEN is the byte length of BODY. A TEXT-like BODY is the UTF-8 line itself (a missing metadata is
the four bytes `NULL`). A TABLE BODY is `COLLEN` (10 digits) then the byte lengths of the values
as `n1,n2,...,` (COLLEN is the length of that list) then the values back to back. TABLE metadata
is one such record holding name, type, comment for every column. A NULL value is stored as
`LINKIS_NULL` (Linkis' default since `linkis.resultset.enable.null.replace` = false); readers
show it, a bare `NULL` and an empty value as `Nulls` says (ResultsetFileSource.scala).

This module writes them; dolphin_reader.py reads them (`ResultSetFile`, also reachable here).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

TEXT, TABLE, IO, PICTURE, HTML = "1", "2", "3", "4", "5"
TYPE_NAMES = {TEXT: "TEXT", TABLE: "TABLE", IO: "IO", PICTURE: "PICTURE", HTML: "HTML"}

MAGIC = b"dolphin"
SUFFIX = ".dolphin"
NULL = "NULL"
LINKIS_NULL = "LINKIS_NULL"
INT_LEN = 10
HEADER_LEN = len(MAGIC) + INT_LEN
# The 10-digit length fields are parsed as a Java int by Linkis' readers.
MAX_RECORD = 2**31 - 1

_NULL_BYTES = NULL.encode()
_LINKIS_NULL_BYTES = LINKIS_NULL.encode()


class Nulls(NamedTuple):
    """What a page shows for a SQL null (`LINKIS_NULL` in the file), the text "NULL" and an empty
    value of a TABLE row; None shows as JSON null. The default is what openFile shows without a
    `nullValue` parameter (ResultsetFileSource.scala: null and "NULL" -> "NULL", "" stays)."""

    sql: str | None = NULL
    text: str | None = NULL
    empty: str | None = ""

    @classmethod
    def param(cls, value: str | None) -> Nulls:
        """openFile's `nullValue` (1.5.0+): `LINKIS_NULL` keeps a null null and the texts as they
        are; any other value replaces all three; none (or "") changes nothing."""
        if not value:
            return cls()
        if value == LINKIS_NULL:
            return cls(None, NULL, "")
        return cls(value, value, value)

    @classmethod
    def of(cls, value: str | None | Nulls) -> Nulls:
        """A bare value replaces SQL nulls and "NULL" texts and leaves "" alone."""
        return value if isinstance(value, Nulls) else cls(value, value, "")


# Every INDEX_STEP-th row's byte offset is kept: a page seeks to the nearest one and skips at most
# INDEX_STEP - 1 records, so paging a million-row file costs the same at page 1 as at page 10.
INDEX_STEP = 512


class DolphinError(ValueError):
    """A file is not a well-formed Dolphin result set."""


def _int10(value: int) -> bytes:
    if value > MAX_RECORD:
        raise DolphinError(f"a result-set record of {value} bytes is over the format's limit")
    return b"%010d" % value


def _table_record(values: Sequence[bytes]) -> bytes:
    lengths = ",".join([str(len(v)) for v in values]).encode()
    if values:
        lengths += b","
    data = b"".join(values)
    return _int10(len(data) + len(lengths) + INT_LEN) + b"%010d" % len(lengths) + lengths + data


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # lone surrogates, e.g. from undecodable process output
        return text.encode("utf-8", "replace")


def _fast_table_record(row: Sequence[Any]) -> bytes:
    # The common row is all str and ASCII: then character counts are byte counts, and the whole
    # record is built from two joins and one encode instead of one encode per value.
    try:
        if None in row:
            row = [LINKIS_NULL if v is None else v for v in row]
        text = "".join(row)
        if text.isascii() and row:
            lengths = ",".join(map(str, map(len, row)))
            col_len = len(lengths) + 1
            total = len(text) + col_len + INT_LEN
            if total <= MAX_RECORD:
                return b"%010d%010d%b,%b" % (total, col_len, lengths.encode(), text.encode())
        else:
            return _table_record([_utf8(v) for v in row])
    except (TypeError, ValueError):
        pass
    return _table_record([_cell(v) for v in row])


def _line_record(line: str | None) -> bytes:
    body = _NULL_BYTES if line is None else _utf8(line)
    return _int10(len(body)) + body


def _cell(value: Any) -> bytes:
    if value is None:
        return _LINKIS_NULL_BYTES
    if isinstance(value, bytes):
        return value
    return _utf8(value if isinstance(value, str) else str(value))


def _column_meta(column: dict[str, Any] | Sequence[Any]) -> tuple[Any, Any, Any]:
    if isinstance(column, dict):
        return column["columnName"], column.get("dataType", "string"), column.get("comment")
    name, data_type, *rest = column
    return name, data_type, rest[0] if rest else None


class ResultSetWriter:
    """Streams one result set to `path`. The file appears under its name only once closed
    successfully, so a job stopped half-way never leaves a truncated `_N.dolphin` behind."""

    def __init__(self, path: str | os.PathLike[str], type_: str,
                 metadata: Sequence[dict[str, Any]] | Sequence[Sequence[Any]] | str | None) -> None:
        self.type = str(int(type_))
        if self.type not in TYPE_NAMES:
            raise DolphinError(f"unknown result-set type {type_!r}")
        self.path = Path(path)
        self.rows = 0
        self._tmp = self.path.with_name(f".{self.path.name}.part")
        self._file: BinaryIO | None = open(self._tmp, "wb")
        self._buffer: list[bytes] = [MAGIC, b"%010d" % int(self.type)]
        self._buffered = 0
        if self.type == TABLE:
            columns = [_column_meta(c) for c in (metadata or ())]
            self.columns = len(columns)
            self._buffer.append(_table_record([_cell(v) for col in columns for v in col]))
        else:
            self.columns = 1
            self._buffer.append(_line_record(None if metadata is None else str(metadata)))

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> int:
        """Appends rows: TABLE rows are sequences of str | None; other types `[line]` or a str."""
        assert self._file is not None, "the writer is closed"
        buffer = self._buffer
        count = 0
        size = self._buffered
        if self.type == TABLE:
            records = map(_fast_table_record, rows)
        else:
            records = (_line_record(row if isinstance(row, str) or row is None else row[0]) for row in rows)
        for record in records:
            buffer.append(record)
            size += len(record)
            count += 1
            if size > 1 << 20:
                self._file.write(b"".join(buffer))
                buffer.clear()
                size = 0
        self._buffered = size
        self.rows += count
        return count

    def close(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Finishes the file and gives it its name (or `path`, when given); returns where it is."""
        if self._file is None:
            if path is not None and Path(path) != self.path:
                os.replace(self.path, path)  # already finished: moved to its new name
                self.path = Path(path)
            return self.path
        if path is not None:
            self.path = Path(path)
        try:
            self._file.write(b"".join(self._buffer))
            self._buffer.clear()
            self._file.close()
            self._file = None
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Drops the unfinished file."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._buffer.clear()
        try:
            self._tmp.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> ResultSetWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_result_set(path: str | os.PathLike[str], type_: str,
                     metadata: Sequence[dict[str, Any]] | Sequence[Sequence[Any]] | str | None,
                     rows: Iterable[Sequence[Any]]) -> int:
    """Writes a whole result set; returns the number of rows (lines) written.

    TABLE metadata: `[{"columnName", "comment", "dataType"}]` (or `(name, dataType[, comment])`
    tuples); rows: sequences of `str | None` (other values are written as `str(value)`).
    Other types: metadata a str or None; rows `[[line], ...]`.
    """
    with ResultSetWriter(path, type_, metadata) as writer:
        writer.write_rows(rows)
    return writer.rows


def __getattr__(name: str) -> Any:
    # The reader lives in dolphin_reader.py; pyworker.py loads this file alone, for the writer.
    if name == "ResultSetFile":
        from .dolphin_reader import ResultSetFile

        return ResultSetFile
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
