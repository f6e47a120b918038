"""Driving EngineManager directly, as gateway/jobs.py does: real DuckDB, Python processes, bash."""
from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from linkis_jupyter.gateway.dolphin import ResultSetFile
from linkis_jupyter.gateway.engines import EngineError, EngineManager, JobContext

WAIT = 30.0  # seconds any single wait in these tests may take before it fails


@dataclass
class Run:
    """One job: its context, what it logged and reported, and how it ended."""

    ctx: JobContext
    logs: list[tuple[str, str]] = field(default_factory=list)
    progress: list[tuple[float, list[dict[str, Any]]]] = field(default_factory=list)
    error: EngineError | None = None
    thread: threading.Thread | None = None

    def wait(self, timeout: float = WAIT) -> Run:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"job {self.ctx.task_id} did not return in {timeout} s"
        return self

    def ok(self) -> Run:
        assert self.error is None, \
            f"job failed: {self.error} (code {self.error.code})\n{self.log()}"
        return self

    def log(self, level: str | None = None) -> str:
        return "\n".join(t for lv, t in list(self.logs) if level is None or lv == level)

    def wait_for_log(self, text: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert time.monotonic() < deadline, f"no log line with {text!r}:\n{self.log()}"
            assert self.thread is None or self.thread.is_alive() or text in self.log(), \
                f"the job ended before logging {text!r}:\n{self.log()}"
            time.sleep(0.01)

    def files(self) -> list[Path]:
        folder = self.ctx.result_dir
        if not folder.exists():
            return []
        return sorted(folder.iterdir(), key=lambda p: int(p.name[1:].split(".")[0]))

    def results(self) -> list[ResultSetFile]:
        return [ResultSetFile(p) for p in self.files()]

    def rows(self, index: int = 0) -> list[list[str]]:
        return list(self.results()[index].iter_rows())

    def text(self, index: int = 0) -> str:
        return "\n".join(row[0] for row in self.rows(index))


class Jobs:
    """Starts jobs on one EngineManager, as gateway/jobs.py does."""

    def __init__(self, manager: EngineManager, root: Path) -> None:
        self.manager = manager
        self.root = root
        self._ids = itertools.count(1)

    def start(self, code: str, run_type: str = "sql", user: str = "alice",
              creator: str = "IDE", cancelled: bool = False) -> Run:
        task_id = next(self._ids)
        workspace = self.root / "users" / user
        workspace.mkdir(parents=True, exist_ok=True)
        run = Run(JobContext(task_id=task_id, user=user, creator=creator, run_type=run_type,
                             code=code, workspace=workspace,
                             result_dir=self.root / "results" / str(task_id)))
        run.ctx.log = lambda level, text: run.logs.append((level, text))
        run.ctx.set_progress = lambda value, info: run.progress.append((value, info))
        if cancelled:
            run.ctx.cancelled.set()

        def target() -> None:
            try:
                self.manager.execute(run.ctx)
            except EngineError as e:
                run.error = e

        run.thread = threading.Thread(target=target, name=f"test-job-{task_id}", daemon=True)
        run.thread.start()
        return run

    def run(self, code: str, run_type: str = "sql", **kwargs: Any) -> Run:
        return self.start(code, run_type, **kwargs).wait()

    def kill(self, run: Run) -> None:
        """What jobs.py does on kill: set the event, ask the engine to stop."""
        run.ctx.cancelled.set()
        self.manager.kill(run.ctx.task_id)


def alive(pid: int) -> bool:
    """Whether a process exists. A zombie counts as gone, once all its threads are: the leader
    of a threaded process turns zombie before the others have finished exiting."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                return True
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except FileNotFoundError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float = WAIT, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.02)
