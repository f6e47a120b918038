"""The filesystem endpoints: result sets, logs and downloads, only from the user's own area.

As Linkis' FsRestfulApi: a path outside the user's area is error 80010 (never the file), a missing
path 80004, a page size over 100000 rows 80034; `getDirFileTrees` lists children in filesystem
order and answers `dirFileTrees: null` for a directory that does not exist.
"""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Any

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
    80033: "The log file exceeds 30MB and is too large and cannot be opened, path : {0} "
           "(日志文件超过30M，文件太大暂不支持打开查看，文件地址：{0})",
    80034: "The result set exceeds {0} rows and page viewing is currently not supported. Please "
           "download to view or view in the shared directory(结果集行数超过{0}行，暂不支持页面查看。"
           "请下载查看或在共享目录中查看)",
}
RESULTSET_ROW_LIMIT = 100000
FILE_SIZE_LIMIT = 30 * 1024 * 1024


def workspace_error(code: int, *args: Any) -> ApiError:
    desc = WORKSPACE_ERRORS[code]
    for i, a in enumerate(args):
        desc = desc.replace("{%d}" % i, str(a))
    return error_code_error(code, desc)


def read_page(path: Path, page: int, page_size: int, null_value: str) -> tuple[str, Any, list[list[str]]]:
    """One page of a result set; the reader keeps a row index across calls, so paging a big file
    does not re-read it."""
    try:
        reader = dolphin.ResultSetFile(path)
        return reader.type, reader.metadata, reader.page(page, page_size, null_value)
    except dolphin.DolphinError as e:
        raise ApiError(1, f"Failed to read the result set(读取结果集失败): {e}") from None


def read_page_json(path: Path, page: int, page_size: int, null_value: str) -> tuple[str, Any, int, bytes]:
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
        null_value = self.get_query_argument("nullValue", "") or "NULL"
        null_value = "" if null_value.upper() == "BLANK" else null_value
        if path.name.endswith(".dolphin"):
            type_, metadata, count, content = await self.blocking(
                read_page_json, path, page, page_size, null_value)
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
        if path.stat().st_size > FILE_SIZE_LIMIT:
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
        raw = self.get_query_argument("path", None)
        path = self.user_file(raw)
        if not path.is_file():
            raise workspace_error(80011, raw)
        file_type = (self.get_query_argument("outputFileType", "csv") or "csv").lower()
        if file_type != "csv":
            raise workspace_error(80015)
        sep = self.get_query_argument("csvSeparator", None) or self.get_query_argument("csvSeperator", ",")
        sep = {"\\t": "\t", "tab": "\t"}.get(sep, sep)
        if len(sep) != 1:
            raise ApiError(1, "csvSeparator must be one character")
        null_value = self.get_query_argument("nullValue", "NULL")
        null_value = "" if null_value.upper() == "BLANK" else null_value
        limit = self.int_arg("limit", 0) or 0
        name = self.get_query_argument("outputFileName", "downloadResultset") or "downloadResultset"
        name = re.sub(r"[^\w.\-]", "_", name)
        charset = self.get_query_argument("charset", "utf-8") or "utf-8"
        try:
            "".encode(charset)
        except LookupError:
            raise ApiError(1, f"Unsupported charset: {charset}") from None
        if not path.name.endswith(".dolphin"):
            raise ApiError(1, "error code(错误码): 80024, error message(错误信息): Only result sets can be "
                              "downloaded(只能下载结果集).")
        page_size = 20000
        type_, metadata, rows = await self.blocking(read_page, path, 1, page_size, null_value)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Disposition", f'attachment; filename="{name}.csv"')
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
        if isinstance(metadata, list):
            writer.writerow([c.get("columnName", "") for c in metadata])
        written, page = 0, 1
        while rows:
            if limit > 0:
                rows = rows[: limit - written]
            writer.writerows(rows)
            written += len(rows)
            self.write(buf.getvalue().encode(charset, errors="replace"))
            buf.seek(0)
            buf.truncate()
            await self.flush()
            if (limit > 0 and written >= limit) or len(rows) < page_size:
                break
            page += 1
            _t, _m, rows = await self.blocking(read_page, path, page, page_size, null_value)
        if buf.getvalue():
            self.write(buf.getvalue().encode(charset, errors="replace"))
        self.finish()
