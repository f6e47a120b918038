"""resultsetToExcel's writers: Linkis' csv (StorageCSVWriter) and xlsx (StorageExcelWriter).

An `Export` is one download as gateway/routes_files.py checked it; it reads the result set a
page at a time and streams the file out, so memory stays bounded whatever `limit` asks for.
"""
from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from . import dolphin

if TYPE_CHECKING:
    from .web import GatewayHandler

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_PAGE = 10000


class ExportError(Exception):
    """A resultsetToExcel failure: its message follows `error(错误):`."""


@dataclass
class Export:
    """One resultsetToExcel download, written a page at a time."""

    path: Path
    reader: dolphin.ResultSetFile | None
    table: bool
    file_type: str
    name: str
    charset: str
    separator: str
    nulls: dolphin.Nulls
    cap: int
    quote: bool
    keep_newline: bool
    auto_format: bool
    sheet: str

    def rows(self) -> Iterator[list[Any]]:
        """The first `cap` rows (FileSource.page(1, cap)); lines of a non-table file."""
        if self.reader is None:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                for i, line in enumerate(f):
                    if i >= self.cap:
                        return
                    yield [line.rstrip("\r\n")]
            return
        page, size, left = 1, min(EXPORT_PAGE, self.cap), self.cap
        while left > 0:
            rows = self.reader.page(page, size, self.nulls)
            yield from rows[:left]
            left -= len(rows)
            if len(rows) < size:
                return
            page += 1

    async def send(self, handler: GatewayHandler) -> None:
        # The file name goes out as Linkis sends it: its UTF-8 bytes read as ISO-8859-1.
        filename = self.name.encode("utf-8").decode("latin-1")
        handler.set_header("Content-Disposition", f"attachment;filename={filename}.{self.file_type}")
        if self.file_type == "xlsx":
            handler.set_header("Content-Type", XLSX_CONTENT_TYPE)
            with tempfile.TemporaryFile() as f:
                await handler.blocking(self._xlsx, f)
                f.seek(0)
                while chunk := await handler.blocking(f.read, 1 << 20):
                    handler.write(chunk)
                    await handler.flush()
            handler.finish()
            return
        handler.set_header("Content-Type", "text/plain")
        lines = self._csv_lines() if self.table else (row[0] + "\n" for row in self.rows())
        while batch := await handler.blocking(lambda: list(itertools.islice(lines, 2000))):
            handler.write("".join(batch).encode(self.charset, errors="replace"))
            await handler.flush()
        handler.finish()

    def _csv_lines(self) -> Iterator[str]:
        """StorageCSVWriter: values joined by the separator, no quoting; a blank value as it is;
        quoteRetouchEnable wraps the others in quotes (theirs removed); newlines become spaces."""
        separator = "\t" if self.separator in ("t", "") else self.separator
        assert self.reader is not None and isinstance(self.reader.metadata, list)

        def value(v: str | None) -> str:
            if v is None:
                return "null"
            if not v.strip():
                return v
            if self.quote:
                v = '"' + v.replace('"', "") + '"'
            return v if self.keep_newline else v.replace("\n", " ")

        yield separator.join(value(c["columnName"]) for c in self.reader.metadata) + "\n"
        for row in self.rows():
            yield separator.join(map(value, row)) + "\n"

    def _xlsx(self, out: BinaryIO) -> None:
        """StorageExcelWriter: a header row of column names, then every value as text (with
        autoFormat, numbers as numbers); openpyxl's write-only mode keeps memory bounded."""
        from openpyxl import Workbook

        assert self.reader is not None and isinstance(self.reader.metadata, list)
        types = [c.get("dataType", "string") for c in self.reader.metadata]
        book = Workbook(write_only=True)
        sheet = book.create_sheet(self.sheet)
        sheet.append([c["columnName"] for c in self.reader.metadata])
        for row in self.rows():
            sheet.append([_excel_value(v, t, self.auto_format) for v, t in zip(row, types)])
        book.save(out)


def _excel_value(value: str | None, data_type: str, auto_format: bool) -> Any:
    if value is None or not auto_format:
        return value
    try:
        if data_type in ("short", "int", "long", "bigint"):
            return int(value)
        if data_type in ("float", "double", "decimal", "bigdecimal"):
            return float(value)
    except ValueError:
        pass
    return value
