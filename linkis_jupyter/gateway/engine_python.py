"""Python run types (python, py): one long-lived worker process per (user, creator).

The worker (gateway/pyworker.py) keeps the job namespace between jobs, as a Linkis Python engine
does. Printed output becomes TEXT result sets and `show(df)` TABLE ones, in the order the job
made them; a traceback fails the job. Kill sends SIGINT so the namespace survives; a job that
does not stop within INTERRUPT_GRACE loses its process, and the next job starts a new one.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import dolphin
from .engine_base import (
    PYTHON_EXECUTE_ERROR, PYTHON_STOPPED, Control, EngineError, JobContext, LineLog,
    Results, TextSpool, clip, has_exited, job_env, kill_group, killed_error, read_chunk,
    stderr_level, write_all,
)

# After SIGINT a Python job gets this long to stop before its process is killed.
INTERRUPT_GRACE = 0.5
PYTHON_START_TIMEOUT = 60.0
_FRAME = struct.Struct(">Q")
# A show() alias becomes part of a file name: the characters pyworker.py accepts.
_ALIAS = re.compile(r"[\w-]{1,64}")
_WORKER = Path(__file__).with_name("pyworker.py")


class MarkedStream:
    """Splits a worker's output stream at the markers of the current job (see pyworker.py)."""

    def __init__(self, token: str, on_data: Callable[[bytes], None],
                 on_marker: Callable[[bytes], None]) -> None:
        self.prefix = b"\x1e" + token.encode("ascii")
        self.on_data = on_data
        self.on_marker = on_marker
        self.buffer = bytearray()
        self.ended = False

    def feed(self, data: bytes) -> None:
        if self.ended:
            return
        self.buffer += data
        prefix = self.prefix
        while True:
            at = self.buffer.find(prefix)
            if at < 0:
                # Hold back only a tail that may be the start of a marker cut by the pipe.
                cut = self.buffer.rfind(b"\x1e", max(0, len(self.buffer) - len(prefix) + 1))
                if cut < 0 or not prefix.startswith(self.buffer[cut:]):
                    cut = len(self.buffer)
                if cut:
                    self.on_data(bytes(self.buffer[:cut]))
                    del self.buffer[:cut]
                return
            if at:
                self.on_data(bytes(self.buffer[:at]))
                del self.buffer[:at]
            end = self.buffer.find(b"\x1e", len(prefix))
            if end < 0:
                return
            kind = bytes(self.buffer[len(prefix):end])
            del self.buffer[:end + 1]
            self.on_marker(kind)
            if kind == b"e":
                self.ended = True
                return

    def flush(self) -> None:
        if self.buffer and not self.ended:
            self.on_data(bytes(self.buffer))
        self.buffer.clear()


class PythonProcess:
    """One worker process: started, handed jobs one at a time, stopped."""

    def __init__(self, user: str, creator: str, workspace: Path) -> None:
        self.user = user
        self.creator = creator
        self.lock = threading.Lock()
        self.dead = False
        self.version = ""
        workspace.mkdir(parents=True, exist_ok=True)
        cmd_read, self.cmd_write = os.pipe()
        self.event_read, event_write = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, str(_WORKER), str(cmd_read), str(event_write)],
                cwd=workspace, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, pass_fds=(cmd_read, event_write), start_new_session=True,
                env=job_env(workspace, {"PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg"}),
            )
        except OSError as e:
            for fd in (cmd_read, event_write, self.cmd_write, self.event_read):
                os.close(fd)
            raise EngineError(f"The Python engine could not be started: {e}",
                              PYTHON_STOPPED) from None
        os.close(cmd_read)
        os.close(event_write)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.stdout = self.proc.stdout.fileno()
        self.stderr = self.proc.stderr.fileno()
        self.events = bytearray()
        self.carry = {self.stdout: b"", self.stderr: b""}
        self._await_ready()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _frames(self) -> list[dict[str, Any]]:
        out = []
        while len(self.events) >= _FRAME.size:
            size = _FRAME.unpack_from(self.events)[0]
            if len(self.events) < _FRAME.size + size:
                break
            body = bytes(self.events[_FRAME.size:_FRAME.size + size])
            del self.events[:_FRAME.size + size]
            try:
                out.append(json.loads(body))
            except ValueError:
                continue
        return out

    def _await_ready(self) -> None:
        deadline = time.monotonic() + PYTHON_START_TIMEOUT
        errors = bytearray()
        with selectors.DefaultSelector() as selector:
            selector.register(self.event_read, selectors.EVENT_READ)
            selector.register(self.stderr, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                for key, _ in selector.select(0.1):
                    data = read_chunk(key.fd)
                    if key.fd == self.stderr:
                        errors += data[: 1 << 16]
                        if not data:
                            selector.unregister(key.fd)
                        continue
                    if not data:
                        self.stop()
                        detail = errors.decode("utf-8", "replace").strip().splitlines()
                        raise EngineError("The Python engine exited while starting"
                                          + (f": {detail[-1]}" if detail else ""), PYTHON_STOPPED)
                    self.events += data
                    for frame in self._frames():
                        if frame.get("event") == "ready":
                            self.version = str(frame.get("python", ""))
                            return
        self.stop()
        raise EngineError("The Python engine did not start in time.", PYTHON_STOPPED)

    def run(self, ctx: JobContext, control: Control) -> None:
        token = secrets.token_hex(16)
        results = Results(ctx.result_dir)
        items: list[tuple[str, Any]] = []
        state = {"spool": TextSpool(results, f"{token}-t0"), "texts": 0}

        def on_out_marker(kind: bytes) -> None:
            if kind.startswith(b"s") and kind[1:].isdigit():
                writer = state["spool"].finish()
                if writer is not None:
                    items.append(("text", writer))
                items.append(("table", int(kind[1:])))
                state["texts"] += 1
                state["spool"] = TextSpool(results, f"{token}-t{state['texts']}")

        out = MarkedStream(token, lambda data: state["spool"].feed(data), on_out_marker)
        errors = LineLog(ctx.log, stderr_level)
        err = MarkedStream(token, errors.feed, lambda kind: None)
        tables: dict[int, str | None] = {}   # show() number -> its alias
        done: dict[str, Any] | None = None
        done_at = 0.0
        interrupted_at: float | None = None
        last_sigint = 0.0
        exited = False
        request = {"task_id": ctx.task_id, "token": token, "code": ctx.code,
                   "result_dir": str(results.dir)}
        body = json.dumps(request, ensure_ascii=True).encode("ascii")
        try:
            try:
                write_all(self.cmd_write, _FRAME.pack(len(body)) + body)
            except OSError:
                exited = True
            for stream, carry in ((out, self.carry[self.stdout]), (err, self.carry[self.stderr])):
                if carry:
                    stream.feed(carry)
            selector = selectors.DefaultSelector()
            selector.register(self.stdout, selectors.EVENT_READ, out)
            selector.register(self.stderr, selectors.EVENT_READ, err)
            selector.register(self.event_read, selectors.EVENT_READ, None)
            try:
                while not exited:
                    for key, _ in selector.select(0.05):
                        data = read_chunk(key.fd)
                        if not data:
                            selector.unregister(key.fd)
                            if key.fd == self.event_read:
                                exited = True
                            continue
                        if key.data is not None:
                            key.data.feed(data)
                            continue
                        self.events += data
                        for frame in self._frames():
                            event = frame.get("event")
                            if event == "log":
                                level = frame.get("level")
                                level = level if level in ("WARN", "ERROR") else "INFO"
                                for line in str(frame.get("text", "")).splitlines() or [""]:
                                    ctx.log(level, clip(line))
                            elif event == "table":
                                alias = frame.get("alias")
                                tables[int(frame.get("seq", 0))] = (
                                    alias if isinstance(alias, str) and _ALIAS.fullmatch(alias) else None)
                            elif event == "done" and done is None:
                                done, done_at = frame, time.monotonic()
                    now = time.monotonic()
                    if done is not None:
                        # Done; wait for the end markers so no output of this job is left unread.
                        if (out.ended and err.ended) or now - done_at > 2.0:
                            break
                        continue
                    if control.stop_requested():
                        if interrupted_at is None:
                            interrupted_at = now
                            ctx.log("INFO", "Interrupting the Python job (SIGINT).")
                        if now - last_sigint > 0.15:
                            last_sigint = now
                            try:
                                os.kill(self.pid, signal.SIGINT)
                            except ProcessLookupError:
                                pass
                        if now - interrupted_at > INTERRUPT_GRACE:
                            ctx.log("WARN", f"The Python job did not stop on SIGINT; its process "
                                    f"(pid {self.pid}) is killed.")
                            self.kill()
                            break
                    elif has_exited(self.proc):
                        exited = True
                if exited or self.dead:
                    self._drain(selector)
            finally:
                selector.close()
            if not self.dead:
                self.carry[self.stdout] = bytes(out.buffer) if out.ended else b""
                self.carry[self.stderr] = bytes(err.buffer) if err.ended else b""
            if not out.ended:
                out.flush()
            if not err.ended:
                err.flush()
            errors.flush()
            writer = state["spool"].finish()
            if writer is not None:
                items.append(("text", writer))
            self._publish(items, tables, results, token)
        finally:
            state["spool"].abort()
            results.tidy(token)

        if done is not None and done.get("status") == "ok":
            return
        if done is not None and done.get("status") == "error":
            lines = [str(line) for line in done.get("traceback", [])]
            for line in lines:
                ctx.log("ERROR", line)
            last = next((line for line in reversed(lines) if line.strip()), "Python error")
            raise EngineError(last.strip(), PYTHON_EXECUTE_ERROR)
        if control.stop_requested():
            raise killed_error()
        self.stop()
        code = self.proc.returncode
        raise EngineError("python process has stopped, query failed!(Python 进程已停止，查询失败！)"
                          + (f" exit code {code}" if code is not None else ""), PYTHON_STOPPED)

    @staticmethod
    def _publish(items: list[tuple[str, Any]], tables: dict[int, str | None], results: Results,
                 token: str) -> None:
        """Gives the job's result sets their final names, in the order the job made them."""
        for kind, item in items:
            if kind == "text":
                item.close(results.next_path())
                continue
            scratch = results.dir / f".{token}-{item}{dolphin.SUFFIX}"
            if item in tables and scratch.is_file():
                os.replace(scratch, results.next_path(tables[item]))

    def stop(self) -> None:
        """Ends the process (and anything it started in its process group)."""
        if self.dead:
            return
        self.dead = True
        try:
            os.close(self.cmd_write)  # an idle worker leaves its loop on end of input
        except OSError:
            pass
        deadline = time.monotonic() + 0.5
        while not has_exited(self.proc) and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.proc.returncode is None:
            kill_group(self.pid)
        self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        try:
            os.close(self.event_read)
        except OSError:
            pass

    @staticmethod
    def _drain(selector: selectors.BaseSelector) -> None:
        """What a stopped process wrote last, for its log and results."""
        deadline = time.monotonic() + 0.5
        while selector.get_map() and time.monotonic() < deadline:
            ready = selector.select(0.05)
            if not ready:
                break
            for key, _ in ready:
                data = read_chunk(key.fd)
                if not data:
                    selector.unregister(key.fd)
                elif key.data is not None:
                    key.data.feed(data)

    def kill(self) -> None:
        """Ends the process at once."""
        if not self.dead:
            kill_group(self.pid)
        self.stop()
