"""What the gateway keeps on disk, so job history, logs and results survive a restart.

Layout of the data dir::

    <data_dir>/history.sqlite3                      job history (one row per task, table `task`)
    <data_dir>/users/<user>/                        the user's own area: engines keep their state
                                                    here (DuckDB database, ...), and the filesystem
                                                    endpoints serve nothing outside it
    <data_dir>/users/<user>/logs/<yyyy-MM-dd>/<creator>/<taskID>.log
    <data_dir>/users/<user>/results/<yyyy-MM-dd>/<creator>/<taskID>/_0.dolphin, _1.dolphin, ...

Jobs found unfinished when the history is opened were running when the gateway stopped; they are
marked Failed, with a line saying so at the end of their log.
"""
from __future__ import annotations

import re
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

HISTORY_FILE = "history.sqlite3"
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
UNFINISHED = ("Inited", "WaitForRetry", "Scheduled", "Running")
RESTART_ERR_CODE = 21304
RESTART_ERR_DESC = "The gateway stopped while the job was running"

COLUMNS = {
    "task_id": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "instance": "TEXT",
    "exec_id": "TEXT",
    "submit_user": "TEXT NOT NULL",
    "execute_user": "TEXT NOT NULL",
    "creator": "TEXT",
    "engine_type": "TEXT",
    "run_type": "TEXT",
    "execute_application_name": "TEXT",
    "request_application_name": "TEXT",
    "execution_code": "TEXT",
    "status": "TEXT NOT NULL",
    "progress": "TEXT NOT NULL DEFAULT '0.0'",
    "log_path": "TEXT",
    "result_location": "TEXT",
    "err_code": "INTEGER",
    "err_desc": "TEXT",
    "created_time": "INTEGER NOT NULL",
    "updated_time": "INTEGER NOT NULL",
    "engine_start_time": "INTEGER",
    "end_time": "INTEGER",
    "params_json": "TEXT",
    "source_json": "TEXT",
    "labels_json": "TEXT",
}


def now_ms() -> int:
    return int(time.time() * 1000)


def valid_user_name(user: str) -> bool:
    return bool(USER_NAME.fullmatch(user)) and user not in (".", "..")


def log_line(level: str, text: str, when: float | None = None) -> str:
    """One line in Linkis' log format: `yyyy-MM-dd HH:mm:ss.SSS LEVEL text`."""
    t = time.time() if when is None else when
    stamp = datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp}.{int(t * 1000) % 1000:03d} {level} {text}"


class Storage:
    """The history database and the per-user directories; thread-safe."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.users_dir = self.data_dir / "users"
        self.users_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.data_dir / HISTORY_FILE, check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        self._db.execute(f"CREATE TABLE IF NOT EXISTS task ({columns})")
        self._db.execute("CREATE INDEX IF NOT EXISTS task_user ON task (execute_user, task_id)")
        self._db.execute("CREATE INDEX IF NOT EXISTS task_submit ON task (submit_user, task_id)")
        self._fail_interrupted()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- directories ---------------------------------------------------------------------------

    def user_area(self, user: str) -> Path:
        if not valid_user_name(user):
            raise ValueError(f"invalid user name: {user!r}")
        area = self.users_dir / user
        area.mkdir(parents=True, exist_ok=True)
        return area

    def job_paths(self, user: str, creator: str, task_id: int, created_ms: int) -> tuple[Path, Path]:
        """(log file, result dir) of a new job; the log's directory is created."""
        day = datetime.fromtimestamp(created_ms / 1000).strftime("%Y-%m-%d")
        safe_creator = creator if valid_user_name(creator) else "unknown"
        area = self.user_area(user)
        log_path = area / "logs" / day / safe_creator / f"{task_id}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        result_dir = area / "results" / day / safe_creator / str(task_id)
        return log_path, result_dir

    # -- job history ---------------------------------------------------------------------------

    def insert_task(self, **fields: Any) -> int:
        ms = now_ms()
        fields.setdefault("created_time", ms)
        fields.setdefault("updated_time", ms)
        names = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        with self._lock:
            cur = self._db.execute(f"INSERT INTO task ({names}) VALUES ({marks})", tuple(fields.values()))
            return int(cur.lastrowid or 0)

    def update_task(self, task_id: int, **fields: Any) -> None:
        fields.setdefault("updated_time", now_ms())
        for name in fields:
            if name not in COLUMNS:
                raise KeyError(name)
        sets = ", ".join(f"{name} = ?" for name in fields)
        with self._lock:
            self._db.execute(f"UPDATE task SET {sets} WHERE task_id = ?", (*fields.values(), task_id))

    def get_task(self, task_id: int, with_code: bool = True) -> dict[str, Any] | None:
        """One job's row; without `with_code` its `execution_code` is not read (None)."""
        columns = "*" if with_code else ", ".join(
            name if name != "execution_code" else "NULL AS execution_code" for name in COLUMNS)
        with self._lock:
            row = self._db.execute(f"SELECT {columns} FROM task WHERE task_id = ?", (task_id,)).fetchone()
        return dict(row) if row is not None else None

    def list_tasks(
        self,
        user: str,
        *,
        status: list[str] | None = None,
        task_id: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        creator: str | None = None,
        engine: str | None = None,
        run_type: str | None = None,
        execute_user: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[dict[str, Any]], int]:
        """A user's jobs (submitted by or run as them), newest first, and how many match."""
        where = ["(submit_user = ? OR execute_user = ?)"]
        args: list[Any] = [user, user]
        if status:
            where.append(f"status IN ({', '.join('?' for _ in status)})")
            args.extend(status)
        if task_id is not None:
            where.append("task_id = ?")
            args.append(task_id)
        if start_ms is not None:
            where.append("created_time >= ?")
            args.append(start_ms)
        if end_ms is not None:
            where.append("created_time <= ?")
            args.append(end_ms)
        if creator:
            where.append("creator = ?")
            args.append(creator)
        if engine:
            where.append("(execute_application_name = ? OR engine_type LIKE ?)")
            args.extend([engine, engine + "-%"])
        if run_type:
            where.append("run_type = ?")
            args.append(run_type)
        if execute_user:
            where.append("execute_user = ?")
            args.append(execute_user)
        clause = " AND ".join(where)
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM task WHERE {clause}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM task WHERE {clause} ORDER BY task_id DESC LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        return [dict(r) for r in rows], int(total)

    def _fail_interrupted(self) -> None:
        marks = ", ".join("?" for _ in UNFINISHED)
        with self._lock:
            rows = self._db.execute(
                f"SELECT task_id, log_path, status FROM task WHERE status IN ({marks})", UNFINISHED
            ).fetchall()
            ms = now_ms()
            for row in rows:
                self._db.execute(
                    "UPDATE task SET status = 'Failed', err_code = ?, err_desc = ?, "
                    "updated_time = ?, end_time = ? WHERE task_id = ?",
                    (RESTART_ERR_CODE, RESTART_ERR_DESC, ms, ms, row["task_id"]),
                )
        for row in rows:
            if not row["log_path"]:
                continue
            path = row["log_path"]
            if path.startswith("file://"):
                path = path[len("file://"):]
            try:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(log_line("ERROR", f"Sorry, your job executed failed with reason: {RESTART_ERR_DESC}") + "\n")
                    f.write(log_line("INFO", END_FAILED.format(state="Failed")) + "\n")
            except OSError:
                pass


END_SUCCESS = "Congratulations. Your job completed with status Success."
END_FAILED = "Sorry. Your job completed with a status {state}. You can view logs for the reason."
