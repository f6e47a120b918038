"""The long-lived Python process behind the embedded gateway's `python`/`py` engine.

Started by engines.py as `python pyworker.py CMD_FD EVENT_FD`, one per (user, creator), so that
variables survive from one job to the next as in a Linkis Python engine. It is a plain script:
it imports nothing from the gateway except dolphin.py, loaded by path.

Protocol. The gateway writes jobs as frames (8-byte big-endian length + JSON) on CMD_FD; the
worker answers on EVENT_FD with frames `{"event": "ready" | "log" | "table" | "done", ...}`.
fd 1 and fd 2 stay the job's own stdout and stderr (print, C extensions, child processes all
write there); the gateway reads them as raw bytes, so nothing a job prints can break the
protocol. To cut those byte streams the worker writes markers holding a random per-job token:
`\\x1e<token>s000001\\x1e` where `show()` made table 1, and `\\x1e<token>e\\x1e` where a job
ends.
SIGINT interrupts the running job (KeyboardInterrupt) and leaves the namespace intact.
"""
from __future__ import annotations

import builtins
import importlib.util
import json
import linecache
import logging
import os
import re
import signal
import struct
import sys
import threading
import time
import traceback
from typing import Any

_HEADER = struct.Struct(">Q")
_ALIAS = re.compile(r"[\w-]{1,64}")
_LEVELS = {"DEBUG": "INFO", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR",
           "CRITICAL": "ERROR"}


def _load_dolphin() -> Any:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dolphin.py")
    spec = importlib.util.spec_from_file_location("_linkis_dolphin", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Channel:
    """Frames in from the gateway, frames out to it (from any thread)."""

    def __init__(self, cmd_fd: int, event_fd: int) -> None:
        self.cmd_fd = cmd_fd
        self.event_fd = event_fd
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, ensure_ascii=True, default=str).encode("ascii")
        _write_all(self.event_fd, _HEADER.pack(len(data)) + data, self._lock)

    def receive(self) -> dict[str, Any] | None:
        header = self._read_exact(_HEADER.size)
        if header is None:
            return None
        body = self._read_exact(_HEADER.unpack(header)[0])
        return None if body is None else json.loads(body)

    def _read_exact(self, n: int) -> bytes | None:
        chunks = []
        while n:
            chunk = os.read(self.cmd_fd, n)
            if not chunk:
                return None
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)


def _write_all(fd: int, data: bytes, lock: threading.Lock | None = None) -> None:
    view = memoryview(data)
    if lock is not None:
        lock.acquire()
    try:
        while view:
            view = view[os.write(fd, view):]
    finally:
        if lock is not None:
            lock.release()


class EventLogHandler(logging.Handler):
    """Logging inside a job reaches the job's log as it happens."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(logging.NOTSET)
        self.channel = channel
        self.setFormatter(logging.Formatter("%(name)s - %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            self.channel.send({"event": "log", "level": _LEVELS.get(record.levelname, "INFO"),
                               "text": text})
        except Exception:
            self.handleError(record)


# -- show(df): a TABLE result set from a pandas DataFrame ------------------------------------------

def linkis_type(series: Any) -> str:
    """The Linkis type name for a pandas column (Linkis' DataType names)."""
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    size = getattr(dtype, "itemsize", 8)
    if kind == "b":
        return "boolean"
    if kind in "iu":
        if kind == "u" and size >= 8:
            return "decimal"
        return "long" if size >= 8 or (kind == "u" and size >= 4) else "int"
    if kind == "f":
        return "double" if size >= 8 else "float"
    if kind == "M":
        return "timestamp"
    if kind == "O":
        import datetime
        import decimal
        sample = next((v for v in series.dropna().head(1).tolist()), None)
        if isinstance(sample, bool):
            return "boolean"
        if isinstance(sample, int):
            return "long"
        if isinstance(sample, float):
            return "double"
        if isinstance(sample, decimal.Decimal):
            return "decimal"
        if isinstance(sample, datetime.datetime):
            return "timestamp"
        if isinstance(sample, datetime.date):
            return "date"
    return "string"


def column_texts(series: Any, data_type: str) -> list[str | None]:
    """A column's values as the strings a Linkis engine writes (None for NULL/NaN/NaT/NA)."""
    missing = series.isna().to_numpy()
    kind = getattr(series.dtype, "kind", "O")
    if data_type == "boolean":
        texts: list[Any] = ["true" if v is True or v == 1 else "false" for v in series.tolist()]
    elif kind == "M":
        texts = [t[:-7] if t.endswith(".000000") else t
                 for t in series.dt.strftime("%Y-%m-%d %H:%M:%S.%f").fillna("").tolist()]
    elif kind == "f" and getattr(series.dtype, "itemsize", 8) < 8:
        # numpy's shortest text of a float32: 1.1, not 1.100000023841858
        texts = [str(v) for v in series.to_numpy()]
    elif kind == "f":
        texts = [repr(v) for v in series.tolist()]
    else:
        texts = [v if isinstance(v, str) else str(v) for v in series.tolist()]
    if missing.any():
        for i in missing.nonzero()[0].tolist():
            texts[i] = None
    return texts


class Job:
    """The job being run: where its results go and the token of its markers."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.task_id = request["task_id"]
        self.token = request["token"].encode("ascii")
        self.result_dir = request["result_dir"]
        self.tables = 0

    def marker(self, kind: bytes) -> bytes:
        return b"\x1e" + self.token + kind + b"\x1e"


class Worker:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.dolphin = _load_dolphin()
        self.job: Job | None = None
        self.namespace: dict[str, Any] = {
            "__name__": "__main__", "__builtins__": builtins, "show": self.show,
        }

    def show(self, obj: Any, *args: Any, alias: str | None = None, **kwargs: Any) -> None:
        """Show a pandas DataFrame (or Series) as a table result set of this job; with an
        alias the file is `<alias>_<n>.dolphin`, as Linkis' showAlias names it."""
        job = self.job
        if job is None:
            raise RuntimeError("show() works only while a job runs")
        if alias is not None and not (isinstance(alias, str) and _ALIAS.fullmatch(alias)):
            raise ValueError(f"show() alias must be letters, digits, '_' or '-', not {alias!r}")
        if hasattr(obj, "to_pandas") and not hasattr(obj, "itertuples"):
            obj = obj.to_pandas()
        if type(obj).__name__ == "Series" and hasattr(obj, "to_frame"):
            obj = obj.to_frame()
        if not (hasattr(obj, "dtypes") and hasattr(obj, "columns") and hasattr(obj, "iloc")):
            raise TypeError(f"show() takes a pandas DataFrame or Series, not {type(obj).__name__}")
        columns, texts = [], []
        for i in range(obj.shape[1]):
            series = obj.iloc[:, i]
            data_type = linkis_type(series)
            columns.append({"columnName": str(obj.columns[i]), "comment": None,
                            "dataType": data_type})
            texts.append(column_texts(series, data_type))
        job.tables += 1
        os.makedirs(job.result_dir, exist_ok=True)
        path = os.path.join(job.result_dir, f".{job.token.decode()}-{job.tables}.dolphin")
        rows = self.dolphin.write_result_set(path, self.dolphin.TABLE, columns, zip(*texts))
        # Everything printed before this table must come before it in the job's results.
        for stream in (sys.stdout, sys.__stdout__):
            try:
                stream.flush()
            except Exception:
                pass
        _write_all(1, job.marker(b"s%06d" % job.tables))
        self.channel.send({"event": "table", "seq": job.tables, "path": path, "rows": rows,
                           "columns": len(columns), "alias": alias})

    def run(self, request: dict[str, Any]) -> None:
        self.job = job = Job(request)
        code = request["code"]
        filename = f"<linkis-job-{job.task_id}>"
        # Registered so that tracebacks show the lines of the job's code.
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        outcome: dict[str, Any] | None = None
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            try:
                exec(compile(code, filename, "exec"), self.namespace)
                outcome = {"status": "ok"}
            except KeyboardInterrupt:
                outcome = {"status": "cancelled"}
            except BaseException as e:
                outcome = {"status": "error", "traceback": self.format_error(e)}
            finally:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            outcome = outcome or {"status": "cancelled"}
        self.finish(job, outcome or {"status": "cancelled"})

    @staticmethod
    def format_error(error: BaseException) -> list[str]:
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        lines = traceback.format_exception(type(error), error, tb)
        return [line for chunk in lines for line in chunk.rstrip("\n").split("\n")]

    def finish(self, job: Job, outcome: dict[str, Any]) -> None:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:
                pass
        end = job.marker(b"e")
        for fd in (1, 2):
            try:
                _write_all(fd, end)
            except OSError:
                pass
        self.job = None
        self.channel.send({"event": "done", **outcome})

    def serve(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.channel.send({"event": "ready", "pid": os.getpid(), "python": sys.version.split()[0]})
        while True:
            request = self.channel.receive()
            if request is None:
                return
            self.run(request)


def watch_parent(parent: int) -> None:
    """Ends this process group if the gateway goes away, even in the middle of a job."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os.killpg(os.getpgrp(), signal.SIGKILL)


def main(argv: list[str]) -> None:
    channel = Channel(int(argv[1]), int(argv[2]))
    threading.Thread(target=watch_parent, args=(os.getppid(),), name="linkis-watchdog",
                     daemon=True).start()
    # Run user code as `python -c` would: no gateway directory on the import path, cwd first.
    sys.path[0] = ""
    sys.argv = [""]
    root = logging.getLogger()
    root.addHandler(EventLogHandler(channel))
    root.setLevel(logging.INFO)
    Worker(channel).serve()


if __name__ == "__main__":
    main(sys.argv)
