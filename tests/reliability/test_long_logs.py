"""A log of 100,000 lines followed live by a client that falls behind, while other jobs run: every
line once and in order, live (what `Job.wait`'s on_update sees), in `Job.log_lines()` and in
`Job.log()`.

The embedded gateway keeps the log as Linkis 1.6+'s entrance does (gateway/entrance_log.py): a
cache of 500 lines in front of the file, a flush line written twice to the file at every flush,
so that the file's line numbers drift one further from the cache's at each flush. A follower that
lets more than 500 lines pass between two reads reads from the file, where a read repeats as many
lines as the drift, and where it meets the cache skips as many."""
from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest

from linkis_jupyter.client import LinkisClient
from linkis_jupyter.job import Job, JobSnapshot, JobSpec

pytestmark = pytest.mark.timeout(150)

LINES = 100_000
# The job's stderr, one number a line, in bursts of 2,000 (the gateway logs it as WARN lines).
LONG_JOB = (f"for b in $(seq 0 {LINES // 2000 - 1}); do "
            "seq $((b * 2000 + 1)) $((b * 2000 + 2000)) >&2; sleep 0.03; done")
_NUMBER = re.compile(r" WARN (\d+)$")


def numbers(texts: list[str]) -> list[int]:
    """The job's own lines (its numbers), in the order given; Linkis' own lines left out."""
    return [int(m.group(1)) for m in map(_NUMBER.search, texts) if m]


def faults(seen: list[int], count: int) -> dict[str, int]:
    """Duplicates, gaps and lines out of order of `seen` against 1..count."""
    doubled = len(seen) - len(set(seen))
    gaps = len(set(range(1, count + 1)) - set(seen))
    out_of_order = sum(1 for a, b in zip(seen, seen[1:]) if b <= a)
    return {"duplicates": doubled, "gaps": gaps, "out of order": out_of_order}


def test_a_long_log_followed_by_a_slow_reader_shows_every_line_once(gateway: Any, output: Any) -> None:
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, password=gateway.password)
    others = LinkisClient(gateway_url=gateway.url, user="bob", password="bob-Secret-2")
    done = threading.Event()
    ran: list[int] = []
    failed: list[BaseException] = []

    def other_jobs(n: int) -> None:
        # Short SQL and shell jobs, one after another, until the long one ends.
        k = 0
        while not done.is_set():
            spec = (JobSpec(code=f"select {n} * {k} as v", engine="spark") if (n + k) % 2
                    else JobSpec(code=f"echo {n} {k} >&2; echo {k}", engine="shell"))
            try:
                Job.submit(others, spec).wait(timeout=60)
                ran.append(n)
            except BaseException as exc:  # reported by the assert below
                failed.append(exc)
                return
            k += 1

    workers = [threading.Thread(target=other_jobs, args=(n,), daemon=True) for n in range(4)]
    for t in workers:
        t.start()
    live: list[str] = []

    def slow_reader(snap: JobSnapshot) -> None:
        # A display that takes its time: the job writes thousands of lines between two polls,
        # so the reads start in the entrance's file, past several flushes.
        live.extend(line.text for line in snap.new_log)
        if snap.new_log:
            time.sleep(0.15)

    try:
        job = Job.submit(client, JobSpec(code=LONG_JOB, engine="shell"))
        job.wait(on_update=slow_reader, timeout=120)
    finally:
        done.set()
        for t in workers:
            t.join(60)
    assert not failed, failed
    assert len(ran) >= 4
    clean = {"duplicates": 0, "gaps": 0, "out of order": 0}
    assert faults(numbers(live), LINES) == clean, "live"
    assert faults(numbers([line.text for line in job.log_lines()]), LINES) == clean, "log_lines()"
    assert faults(numbers(job.log().split("\n")), LINES) == clean, "log()"
    client.close()
    others.close()
