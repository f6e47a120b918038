"""A long log followed live: a shell job writes `lines` numbered lines to its log in bursts while
the follower's display takes its time after each poll, so the reads start in the entrance's file,
many cache flushes behind (linkis_jupyter/joblog.py). Counted, not timed: duplicates, gaps and
lines out of order, live (what `Job.wait`'s on_update saw) and in `Job.log()`."""
from __future__ import annotations

import re
import time
from typing import Any, Callable

from tests.benchmarks.table import Row, verdict

_NUMBER = re.compile(r" WARN (\d+)$")


def _faults(texts: list[str], lines: int) -> tuple[int, int, int]:
    seen = [int(m.group(1)) for m in map(_NUMBER.search, texts) if m]
    doubled = len(seen) - len(set(seen))
    gaps = len(set(range(1, lines + 1)) - set(seen))
    out_of_order = sum(1 for a, b in zip(seen, seen[1:]) if b <= a)
    return doubled, gaps, out_of_order


def bench_longlog(gw: Any, lines: int, say: Callable[[str], None]) -> list[Row]:
    from linkis_jupyter.client import LinkisClient
    from linkis_jupyter.job import Job, JobSnapshot, JobSpec

    client = LinkisClient(gateway_url=gw.url, user=gw.user, token=gw.token)
    burst = 2000
    code = (f"for b in $(seq 0 {(lines + burst - 1) // burst - 1}); do "
            f"seq $((b * {burst} + 1)) $((b * {burst} + {burst})) | head -n $(({lines} - b * {burst})) >&2; "
            "sleep 0.03; done")
    live: list[str] = []
    polls = 0

    def slow(snap: JobSnapshot) -> None:
        nonlocal polls
        polls += 1
        live.extend(line.text for line in snap.new_log)
        if snap.new_log:
            time.sleep(0.15)

    began = time.perf_counter()
    job = Job.submit(client, JobSpec(code=code, engine="shell"))
    job.wait(on_update=slow, timeout=600)
    took = time.perf_counter() - began
    whole = job.log().split("\n")
    client.close()
    rows = []
    for where, texts in (("live", live), ("Job.log()", whole)):
        doubled, gaps, disorder = _faults(texts, lines)
        say(f"long log, {where}: {doubled} duplicates, {gaps} gaps, {disorder} out of order")
        rows.append(Row(f"{lines:,}-line log followed by a slow reader, {where}",
                        f"{doubled} duplicates / {gaps} gaps / {disorder} out of order",
                        target="0 / 0 / 0", met=verdict(doubled == gaps == disorder == 0)))
    rows[0].ours += f" ({polls} polls, {took:.1f} s)"
    return rows
