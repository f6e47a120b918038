"""The embedded gateway in its own process, as a real Linkis gateway is, counting the requests
it serves.

    python -m tests.benchmarks.server DATA_DIR [HISTORY_LAG]

prints one JSON line (`url`, `user`, `password`, `token`), then answers commands on stdin, one
JSON line each: `counts` (requests since the last `reset`, by path, and the time the gateway
spent on them), `reset`; end of input stops the gateway. The count comes from the gateway's own
access log (one record per request it answered), so it sees every client alike.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from linkis_jupyter.gateway import EmbeddedGateway

USER = "bench"

# /api/rest_j/v1/entrance/<execID>/log -> /entrance/{id}/log: one row per kind of request.
_ID = re.compile(r"/(?:[0-9]+|exec_id[^/]*)(?=/|$)")


def endpoint(path: str) -> str:
    path = path.split("/api/rest_j/v1", 1)[-1]
    return _ID.sub("/{id}", path)


class AccessCounter(logging.Handler):
    """Counts the gateway's access-log records: (status, method, path, milliseconds)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._lock = threading.Lock()
        self.by_path: Counter[str] = Counter()
        self.server_ms = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        args: Any = record.args
        if not isinstance(args, tuple) or len(args) != 4:
            return
        _status, method, path, took = args
        with self._lock:
            self.by_path[f"{method} {endpoint(str(path))}"] += 1
            self.server_ms += float(took)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": sum(self.by_path.values()), "by_path": dict(self.by_path),
                    "server_ms": round(self.server_ms, 1)}

    def reset(self) -> None:
        with self._lock:
            self.by_path.clear()
            self.server_ms = 0.0


def main(argv: list[str]) -> int:
    data_dir = Path(argv[0])
    history_lag = float(argv[1]) if len(argv) > 1 else 1.0
    password, token = secrets.token_urlsafe(12), secrets.token_urlsafe(16)
    counter = AccessCounter()
    access = logging.getLogger("tornado.access")
    access.setLevel(logging.INFO)
    access.propagate = False
    access.addHandler(counter)
    gw = EmbeddedGateway(data_dir, port=0, users={USER: password}, tokens={token: "*"},
                         evict_after=60.0, max_running_per_user=4, history_lag=history_lag)
    gw.start()
    try:
        print(json.dumps({"url": gw.url, "user": USER, "password": password, "token": token}), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "counts":
                print(json.dumps(counter.snapshot()), flush=True)
            elif command == "reset":
                counter.reset()
                print("{}", flush=True)
            elif command == "quit":
                break
    finally:
        gw.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
