"""/filesystem: result sets, logs and downloads, only from the user's own area.

As Linkis' FsRestfulApi: a path outside the user's area is error 80010 (never the file), a missing
path 80004, a page size over 100000 rows 80034, a log over `log_size_limit` 80033;
`getDirFileTrees` lists children in filesystem order and answers `dirFileTrees: null` for a
directory that does not exist. `resultsetToExcel` exports the first `download_max_rows` rows
unless `limit` > 0, as csv (Linkis' unquoted StorageCSVWriter format) or xlsx, and reports every
failure as HTTP 200 text `error(错误):<message>`.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import dolphin
from .export import Export, ExportError
from .entrance_log import LOG_LEVEL
from .web import ApiError, RawJSON, error_code_error, exception_text

if TYPE_CHECKING:
    from .web import GatewayHandler

# FsRestfulApi's errors, by code.
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


def workspace_desc(code: int, *args: Any) -> str:
    desc = WORKSPACE_ERRORS[code]
    for i, a in enumerate(args):
        desc = desc.replace("{%d}" % i, str(a))
    return desc


def workspace_error(code: int, *args: Any) -> ApiError:
    return error_code_error(code, workspace_desc(code, *args))


def read_page_json(path: Path, page: int, page_size: int,
                   null_value: str | dolphin.Nulls) -> tuple[str, Any, int, bytes]:
    """One page as openFile's `fileContent` JSON, with the type, metadata and row count."""
    try:
        reader = dolphin.ResultSetFile(path)
        count, content = reader.page_json(page, page_size, null_value)
        return reader.type, reader.metadata, count, content
    except dolphin.DolphinError as e:
        raise ApiError(1, f"Failed to read the result set(读取结果集失败): {e}") from None



def user_file(req: GatewayHandler, raw: str | None) -> Path:
    """The path asked for, resolved, if it lies in the user's own area; otherwise 80010. A file
    with more than one hard link is refused as a symlink out of the area is: its other name may
    be another user's file, which no path check can see."""
    if raw is None or not raw.strip():
        raise workspace_error(80004, raw)
    text = raw.strip()
    if text.startswith("file://"):
        text = text[len("file://"):]
    elif re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        raise workspace_error(80010, req.user, raw)
    parts = text.split("/")
    if not text.startswith("/") or ".." in parts or "\x00" in text:
        raise workspace_error(80010, req.user, raw)
    area = os.path.realpath(req.gw.storage.user_area(req.user))
    real = os.path.realpath(text)
    if real != area and not real.startswith(area + os.sep):
        raise workspace_error(80010, req.user, raw)
    try:
        st = os.stat(real)
    except OSError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        raise workspace_error(80010, req.user, raw)
    return Path(real)


async def dir_file_trees(req: GatewayHandler) -> None:
    raw = req.get_query_argument("path", None)
    path = user_file(req, raw)
    tree = await req.blocking(_tree, path)
    req.ok({"dirFileTrees": tree})


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


async def open_file(req: GatewayHandler) -> None:
    raw = req.get_query_argument("path", None)
    if raw is None or not raw.strip():
        raise workspace_error(80004, raw)
    page = req.int_arg("page", 1) or 1
    page_size = req.int_arg("pageSize", 5000)
    path = user_file(req, raw)
    if not path.is_file():
        raise workspace_error(80013, raw)
    if page_size is None or page_size > RESULTSET_ROW_LIMIT:
        raise workspace_error(80034, RESULTSET_ROW_LIMIT)
    if page < 1 or page_size < 1:
        raise ApiError(1, "page and pageSize must be positive")
    # nullValue (1.5.0+; ResultsetFileSource.scala): "" and BLANK are no value at all.
    nulls = dolphin.Nulls()
    if req.gw.profile.null_value_param:
        null_value = req.get_query_argument("nullValue", "") or ""
        nulls = dolphin.Nulls.param("" if null_value.upper() == "BLANK" else null_value)
    if path.name.endswith(".dolphin"):
        type_, metadata, count, content = await req.blocking(
            read_page_json, path, page, page_size, nulls)
        data: dict[str, Any] = {"metadata": metadata, "fileContent": RawJSON(content), "type": type_,
                                "totalLine": count, "page": page, "totalPage": 0}
        if isinstance(metadata, list):
            data["totalColumn"] = len(metadata)
        req.ok(data)
        return
    if path.stat().st_size > FILE_SIZE_LIMIT:
        raise ApiError(1, "error code(错误码): 80032, error message(错误信息): The file size exceeds 30M "
                          "and page viewing is currently not supported.")
    text = await req.blocking(lambda: path.read_text(encoding="utf-8", errors="replace"))
    lines = text.splitlines()
    chunk = lines[(page - 1) * page_size: page * page_size]
    req.ok({"metadata": None, "fileContent": [[line] for line in chunk], "type": "script/text",
            "totalLine": len(chunk), "page": page, "totalPage": 0})


async def open_log(req: GatewayHandler) -> None:
    raw = req.get_query_argument("path", None)
    path = user_file(req, raw)
    if not path.is_file():
        raise workspace_error(80013, raw)
    if path.stat().st_size > req.gw.log_size_limit:
        raise workspace_error(80033, raw)
    levels = {x.strip().lower() for x in req.get_query_argument("logLevel", "all").split(",")}
    text = await req.blocking(lambda: path.read_text(encoding="utf-8", errors="replace"))
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
    req.ok({"log": ["".join(x + "\n" for x in bucket) for bucket in out]})


async def resultset_to_excel(req: GatewayHandler) -> None:
    """FsRestfulApi.resultsetToExcel: a file, or HTTP 200 text `error(错误):<message>`."""
    try:
        export = _export_request(req)
        await export.send(req)
    except ExportError as e:
        if req.finished:
            return
        req.clear()  # response.reset(): nothing set for the file stays
        req.set_status(200)
        req.set_header("Content-Type", "text/plain; charset=utf-8")
        if req.gw.profile.name == "0.x":
            req.finish("resultset to excel/csv error(结果集导出出错)")
        else:
            req.finish("error(错误):" + str(e))


def _export_request(req: GatewayHandler) -> Export:
    """The export asked for, checked in the order Linkis checks (release-1.8.0)."""
    profile = req.gw.profile
    arg = req.get_query_argument
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
    cap = limit if limit > 0 else req.gw.download_max_rows
    file_type = arg("outputFileType", "csv")
    null_value = arg("nullValue", "NULL")
    null_value = "" if null_value.upper() == "BLANK" else null_value
    if not raw:
        raise export_error(req, 80004, raw)
    try:
        path = user_file(req, raw)
    except ApiError:
        raise export_error(req, 80010, req.user, raw) from None
    if not any(path.name.endswith("." + t) for t in READABLE_TYPES):
        raise ExportError(linkis_message(req, 54001, "Unsupported open file type(不支持打开的文件类型)"))
    if not path.is_file():
        raise ExportError(f"{raw[len('file://'):] if raw.startswith('file://') else raw} "
                          f"(No such file or directory)")
    try:
        reader = dolphin.ResultSetFile(path) if path.name.endswith(dolphin.SUFFIX) else None
    except dolphin.DolphinError as e:
        raise ExportError(str(e)) from None
    table = reader is not None and reader.type == dolphin.TABLE
    if file_type == "xlsx" and not table:
        raise export_error(req, 80024)
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


def linkis_message(req: GatewayHandler, code: int, desc: str) -> str:
    """An ErrorException's getMessage (LinkisException.java), as publicservice throws it."""
    host, _, port = (req.request.host or "").rpartition(":")
    return exception_text(code, desc, host or req.request.host, port or 0, "linkis-ps-publicservice")


def export_error(req: GatewayHandler, code: int, *args: Any) -> ExportError:
    return ExportError(linkis_message(req, code, workspace_desc(code, *args)))
