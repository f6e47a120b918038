"""A submit whose answer was lost: was the job started, and which one is it?

The answer to a submit can be lost after the gateway made the job (a dropped connection, no
answer in time, a 502 from a proxy in front of it). Sending the submit again could start the job
twice, so job history is asked first: the submit carries a key in its `source`, which Linkis
keeps in job history (`sourceJson`); a gateway that keeps no source is matched on the code and the
time the job was created.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from .errors import LinkisTimeoutError, TransportError
from .transport import Outage
from .wire import TaskInfo

__all__ = ["LostSubmit"]

_SUBMIT_KEY = "clientSubmitKey"


@dataclass(frozen=True)
class LostSubmit:
    """What identifies a submit in job history if its answer is lost."""

    code: str
    creator: str
    key: str
    sent_at: float  # epoch seconds

    def mark(self, body: dict[str, Any]) -> dict[str, Any]:
        # Linkis keeps a submit's `source` map in job history (sourceJson); linkis-cli sends
        # arbitrary source.* keys the same way.
        source = dict(body.get("source") or {})
        source[_SUBMIT_KEY] = self.key
        return {**body, "source": source}

    def matches(self, task: TaskInfo) -> bool:
        source = str(task.raw.get("sourceJson") or "")
        if _SUBMIT_KEY in source:
            return self.key in source
        # A gateway that keeps no source: the same code, created since this submit began.
        if task.execution_code is None or task.execution_code.strip() != self.code.strip():
            return False
        return task.created is None or task.created.timestamp() >= self.sent_at - 60

    def find(self, exc: TransportError, list_jobs: Callable[..., list[TaskInfo]], known: Callable[[], set[int]],
             read_timeout: float, outage: Callable[[float], Outage]) -> dict[str, Any] | None:
        """The submit data (execID, taskID) of the job from job history; None when it is not
        there. A gateway slow to answer may create the job late, so after a timeout history is
        watched for another read timeout; while it cannot be read, `outage(since)` decides how
        long to go on. `known` gives the task ids the client has already (never this one)."""
        window = read_timeout if isinstance(exc, LinkisTimeoutError) else 1.0
        deadline = time.monotonic() + window
        down = outage(deadline)
        since = datetime.fromtimestamp(self.sent_at - 600, tz=timezone.utc)
        while True:
            began = time.monotonic()
            try:
                tasks = list_jobs(limit=20, creator=self.creator, start=since)
            except TransportError as failure:
                if down.failed(failure, began) is None:
                    raise TransportError(
                        f"{exc}; the job may have started, but job history could not be read to find out "
                        f"(`%linkis history` shows it): {failure}",
                        url=exc.url, http_status=exc.http_status,
                    ) from None
                down.pause()
                continue
            ours = known()
            for task in tasks:
                if task.task_id not in ours and self.matches(task):
                    exec_id = task.stronger_exec_id or task.exec_id or str(task.task_id)
                    return {"execID": exec_id, "taskID": task.task_id}
            if began >= deadline:
                return None
            time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))
