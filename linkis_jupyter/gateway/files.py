"""The filesystem endpoints: result sets, logs and downloads, only from the user's own area.

As Linkis' FsRestfulApi: a path outside the user's area is error 80010 (never the file), a missing
path 80004, a page size over 100000 rows 80034, a log over `log_size_limit` 80033;
`getDirFileTrees` lists children in filesystem order and answers `dirFileTrees: null` for a
directory that does not exist. `resultsetToExcel` exports the first `download_max_rows` rows
unless `limit` > 0, as csv (Linkis' unquoted StorageCSVWriter format) or xlsx, and reports every
failure as HTTP 200 text `error(错误):<message>`.
"""
from __future__ import annotations

import itertools
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from . import dolphin
from .jobs import LOG_LEVEL
from .web import ApiError, BaseHandler, RawJSON, error_code_error, route

WORKSPACE_ERRORS = {
    80004: "The path:{0} is empty(路径:{0} 为空)!",
    80010: "The user: {0} has no permission to view the contents of the directory:{1}"
           "(该用户:{0}无权限查看该目录:{1}的内容).",
    80011: "Downloaded file: {0} does not exist(下载的文件:{0}不存在)",
    80013: "File: {0} does not exist(文件:{0}不存在)",
    80015: "Unsupported resultset output type(不支持的结果集输出类型)",
    80024: "Non-tabular result sets cannot be downloaded as excel(非table类型的结果集不能下载为excel)",
    80033: "The log file exceeds 30MB and is too large and cannot be opened, path : {0} "
           "(日志文件超过30M，文件太大暂不支持打开查看，文件地址：{0})",
    80034: "The result set exceeds {0} rows and page viewing is currently not supported. Please "
           "download to view or view in the shared directory(结果集行数超过{0}行，暂不支持页面查看。"
           "请下载查看或在共享目录中查看)",
}
RESULTSET_ROW_LIMIT = 100000
FILE_SIZE_LIMIT = 30 * 1024 * 1024
NULL = dolphin.NULL
# What FileSource opens (wds.linkis.storage.file.type); other files: error 54001.
READABLE_TYPES = ("dolphin", "sql", "scala", "py", "hql", "python", "out", "log", "text", "sh",
                  "jdbc", "ngql", "psql", "fql", "tsql", "txt")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_PAGE = 10000


def workspace_error(code: int, *args: Any) -> ApiError:
    desc = WORKSPACE_ERRORS[code]
    for i, a in enumerate(args):
        desc = desc.replace("{%d}" % i, str(a))
    return error_code_error(code, desc)


def read_page(path: Path, page: int, page_size: int,
              null_value: str | dolphin.Nulls) -> tuple[str, Any, list[list[str]]]:
    """One page of a result set; the reader keeps a row index across calls, so paging a big file
    does not re-read it."""
    try:
        reader = dolphin.ResultSetFile(path)
        return reader.type, reader.metadata, reader.page(page, page_size, null_value)
    except dolphin.DolphinError as e:
        raise ApiError(1, f"Failed to read the result set(读取结果集失败): {e}") from None


def read_page_json(path: Path, page: int, page_size: int,
                   null_value: str | dolphin.Nulls) -> tuple[str, Any, int, bytes]:
    """One page as openFile's `fileContent` JSON, with the type, metadata and row count."""
    try:
        reader = dolphin.ResultSetFile(path)
        count, content = reader.page_json(page, page_size, null_value)
        return reader.type, reader.metadata, count, content
    except dolphin.DolphinError as e:
        raise ApiError(1, f"Failed to read the result set(读取结果集失败): {e}") from None


class FilesystemRoutes(BaseHandler):
    """/filesystem/getDirFileTrees, openFile, openLog, resultsetToExcel."""

    def user_file(self, raw: str | None) -> Path:
        """The path asked for, resolved, if it lies in the user's own area; otherwise 80010."""
        if raw is None or not raw.strip():
            raise workspace_error(80004, raw)
        text = raw.strip()
        if text.startswith("file://"):
            text = text[len("file://"):]
        elif re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://", text):
            raise workspace_error(80010, self.user, raw)
        parts = text.split("/")
        if not text.startswith("/") or ".." in parts or "\x00" in text:
            raise workspace_error(80010, self.user, raw)
        area = os.path.realpath(self.gw.storage.user_area(self.user))
        real = os.path.realpath(text)
        if real != area and not real.startswith(area + os.sep):
            raise workspace_error(80010, self.user, raw)
        return Path(real)

    @route("GET", r"/filesystem/getDirFileTrees")
    async def dir_file_trees(self) -> None:
        raw = self.get_query_argument("path", None)
        path = self.user_file(raw)
        tree = await self.blocking(self._tree, path)
        self.ok({"dirFileTrees": tree})

    @staticmethod
    def _tree(path: Path) -> dict[str, Any] | None:
        if not path.exists():
            return None
        schema_path = "file://" + str(path)
        children = []
        if path.is_dir():
            with os.scandir(path) as entries:  # filesystem order, as Linkis lists it
                for entry in entries:
                    child: dict[str, Any] = {
                        "name": entry.name, "path": "file://" + os.path.join(path, entry.name),
                        "properties": {}, "children": None, "isLeaf": False, "parentPath": schema_path,
                    }
                    if not entry.is_dir():
                        st = entry.stat()
                        child["isLeaf"] = True
                        child["properties"] = {"size": str(st.st_size),
                                               "modifytime": str(int(st.st_mtime * 1000))}
                    children.append(child)
        return {"name": path.name, "path": schema_path, "properties": None, "children": children,
                "isLeaf": False, "parentPath": None}

    @route("GET", r"/filesystem/openFile")
    async def open_file(self) -> None:
        raw = self.get_query_argument("path", None)
        if raw is None or not raw.strip():
            raise workspace_error(80004, raw)
        page = self.int_arg("page", 1) or 1
        page_size = self.int_arg("pageSize", 5000)
        path = self.user_file(raw)
        if not path.is_file():
            raise workspace_error(80013, raw)
        if page_size is None or page_size > RESULTSET_ROW_LIMIT:
            raise workspace_error(80034, RESULTSET_ROW_LIMIT)
        if page < 1 or page_size < 1:
            raise ApiError(1, "page and pageSize must be positive")
        # nullValue (1.5.0+; ResultsetFileSource.scala): "" and BLANK are no value at all.
        nulls = dolphin.Nulls()
        if self.gw.profile.null_value_param:
            null_value = self.get_query_argument("nullValue", "") or ""
            nulls = dolphin.Nulls.param("" if null_value.upper() == "BLANK" else null_value)
        if path.name.endswith(".dolphin"):
            type_, metadata, count, content = await self.blocking(
                read_page_json, path, page, page_size, nulls)
            data: dict[str, Any] = {"metadata": metadata, "fileContent": RawJSON(content), "type": type_,
                                    "totalLine": count, "page": page, "totalPage": 0}
            if isinstance(metadata, list):
                data["totalColumn"] = len(metadata)
            self.ok(data)
            return
        if path.stat().st_size > FILE_SIZE_LIMIT:
            raise ApiError(1, "error code(错误码): 80032, error message(错误信息): The file size exceeds 30M "
                              "and page viewing is currently not supported.")
        text = await self.blocking(lambda: path.read_text(encoding="utf-8", errors="replace"))
        lines = text.splitlines()
        chunk = lines[(page - 1) * page_size: page * page_size]
        self.ok({"metadata": None, "fileContent": [[line] for line in chunk], "type": "script/text",
                 "totalLine": len(chunk), "page": page, "totalPage": 0})

    @route("GET", r"/filesystem/openLog")
    async def open_log(self) -> None:
        raw = self.get_query_argument("path", None)
        path = self.user_file(raw)
        if not path.is_file():
            raise workspace_error(80013, raw)
        if path.stat().st_size > self.gw.log_size_limit:
            raise workspace_error(80033, raw)
        levels = {x.strip().lower() for x in self.get_query_argument("logLevel", "all").split(",")}
        text = await self.blocking(lambda: path.read_text(encoding="utf-8", errors="replace"))
        out: list[list[str]] = [[], [], [], []]
        current = 2
        for line in text.splitlines():
            m = LOG_LEVEL.search(line)
            if m is not None:
                current = 0 if m.group(2) == "ERROR" else 1
            elif re.match(r"[0-9\-/]{10} [0-9:]{8}", line):
                current = 2
            if "all" in levels:
                out[current].append(line)
                out[3].append(line)
            elif ("error", "warn", "info")[current] in levels:
                out[current].append(line)
        self.ok({"log": ["".join(x + "\n" for x in bucket) for bucket in out]})

    @route("GET,POST", r"/filesystem/resultsetToExcel")
    async def resultset_to_excel(self) -> None:
        """FsRestfulApi.resultsetToExcel: a file, or HTTP 200 text `error(错误):<message>`."""
        try:
            export = self._export_request()
            await export.send(self)
        except ExportError as e:
            if self._finished:
                return
            self.clear()  # response.reset(): nothing set for the file stays
            self.set_status(200)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            if self.gw.profile.name == "0.x":
                self.finish("resultset to excel/csv error(结果集导出出错)")
            else:
                self.finish("error(错误):" + str(e))

    def _export_request(self) -> Export:
        """The export asked for, checked in the order Linkis checks (release-1.8.0)."""
        profile = self.gw.profile
        arg = self.get_query_argument
        raw = arg("path", None)
        separator = arg("csvSeperator", ",")
        if profile.csv_separator_param:
            # csvSeparator (1.3.2+) wins unless it is the default and the old spelling is not.
            newer = arg("csvSeparator", ",")
            separator = separator if newer == "," and separator != "," else newer
        limit = 0
        if profile.download_limit_param:
            try:
                limit = int(arg("limit", "0") or 0)
            except ValueError:
                limit = 0
        cap = limit if limit > 0 else self.gw.download_max_rows
        file_type = arg("outputFileType", "csv")
        null_value = arg("nullValue", "NULL")
        null_value = "" if null_value.upper() == "BLANK" else null_value
        if not raw:
            raise self.export_error(80004, raw)
        try:
            path = self.user_file(raw)
        except ApiError:
            raise self.export_error(80010, self.user, raw) from None
        if not any(path.name.endswith("." + t) for t in READABLE_TYPES):
            raise ExportError(self.linkis_message(54001, "Unsupported open file type(不支持打开的文件类型)"))
        if not path.is_file():
            raise ExportError(f"{raw[len('file://'):] if raw.startswith('file://') else raw} "
                              f"(No such file or directory)")
        try:
            reader = dolphin.ResultSetFile(path) if path.name.endswith(dolphin.SUFFIX) else None
        except dolphin.DolphinError as e:
            raise ExportError(str(e)) from None
        table = reader is not None and reader.type == dolphin.TABLE
        if file_type == "xlsx" and not table:
            raise self.export_error(80024)
        if file_type not in ("csv", "xlsx"):
            # Linkis builds the 80015 exception without throwing it; writing then fails.
            raise ExportError("null")
        name = arg("outputFileName", "downloadResultset") or "downloadResultset"
        charset = arg("charset", "utf-8") or "utf-8"
        try:
            "".encode(charset)
        except LookupError:
            raise ExportError(charset) from None
        nulls = dolphin.Nulls(None, NULL, "") if null_value == dolphin.LINKIS_NULL else \
            dolphin.Nulls(null_value, null_value, null_value)
        return Export(path=path, reader=reader, table=table, file_type=file_type, name=name,
                      charset=charset, separator=separator, nulls=nulls, cap=cap,
                      quote=arg("quoteRetouchEnable", "false").lower() == "true",
                      keep_newline=arg("keepNewline", "false").lower() == "true",
                      auto_format=arg("autoFormat", "false").lower() == "true",
                      sheet=arg("sheetName", "result") or "result")

    def linkis_message(self, code: int, desc: str) -> str:
        """An ErrorException's getMessage (LinkisException.java), as publicservice throws it."""
        host, _, port = (self.request.host or "").rpartition(":")
        return f"errCode: {code} ,desc: {desc} ,ip: {host or self.request.host} ,port: {port or 0} " \
               f",serviceKind: linkis-ps-publicservice"

    def export_error(self, code: int, *args: Any) -> ExportError:
        desc = WORKSPACE_ERRORS[code]
        for i, a in enumerate(args):
            desc = desc.replace("{%d}" % i, str(a))
        return ExportError(self.linkis_message(code, desc))


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

    async def send(self, handler: FilesystemRoutes) -> None:
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
