"""Exploring a big table where it lives: `%linkis profile` and `%linkis plot` against pulling
every row into the kernel and calling `DataFrame.describe()`, side by side in one kernel.

Each command runs as a cell of a real kernel (the magics loaded in ipykernel's python3), so the
times are what a notebook user waits. Jobs, the rows their results hold and the bytes of their
openFile answers are read back from the gateway afterwards, through its own API, for the jobs
each command submitted.
"""
from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tests.benchmarks.table import Row, median, verdict
from tests.fixtures.gateway import gateway_env

# Eight columns as a warehouse fact table has them: keys, measures with NULLs, a decimal, a
# high-cardinality string, a low-cardinality one, a flag and a date.
TABLE_SQL = """create or replace table big as
select i::bigint as id, case when i % 7 = 0 then null else (i % 1000)::int end as n,
 (i * 0.25)::double as x, ((i % 100000) / 100.0)::decimal(12,2) as amount, 'name_' || i as name,
 (['North', 'South', 'East', 'West', 'Central'])[1 + (i % 5)::int] as region, i % 3 = 0 as flag,
 date '2020-01-01' + (i % 3650)::int as day from range({rows}) t(i)"""

# What each command's row in the table runs.
COMMANDS = {
    "profile": "%linkis profile big -o result",
    "plot hist": "%linkis plot hist big x -o result",
    "plot box": "%linkis plot box big n -o result",
    "plot bar": "%linkis plot bar big region -o result",
    "plot line": "%linkis plot line big day --grain month -o result",
    "plot heatmap": "%linkis plot heatmap big x n -o result",
}
PULL = "%%linkis -n -1 -q -o frame\nselect * from big"
DESCRIBE = "described = frame.describe(include='all'); del frame"
HIST_BYTES = 100 * 1024


@dataclass
class Cost:
    seconds: float
    jobs: int
    rows: int
    bytes: int


def cell(kc: Any, code: str, timeout: float = 900.0) -> None:
    """Run one cell to its end; a failing cell raises with its traceback's end."""
    msg_id = kc.execute(code)
    deadline = time.monotonic() + timeout
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no answer to {code!r} within {timeout} s") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            raise RuntimeError(f"cell {code!r} failed: " + "\n".join(msg["content"]["traceback"])[-2000:])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            kc.get_shell_msg(timeout=max(1.0, deadline - time.monotonic()))
            return


def newest_task(client: Any) -> int:
    jobs = client.list_jobs(limit=1)
    return jobs[0].task_id if jobs else 0


def cost_since(client: Any, mark: int, seconds: float) -> Cost:
    """The jobs submitted after task `mark`, the rows their result sets hold and the bytes of
    the openFile answers that carry them (one page each: every result here is under 5,000 rows)."""
    from linkis_jupyter.job import Job

    jobs = [info for info in client.list_jobs(limit=50) if info.task_id > mark]
    rows = size = 0
    for info in jobs:
        for result in Job.attach(client, info.task_id).results():
            rows += result.rows_read
            answer = client.open_file_request(result.path, 1, client.page_size)
            size += len(answer.content)
    return Cost(seconds, len(jobs), rows, size)


def timed(kc: Any, code: str) -> float:
    began = time.perf_counter()
    cell(kc, code)
    return time.perf_counter() - began


def bench_explore(gw: Any, rows: int, runs: int, tmp: Path, say: Callable[[str], None]) -> list[Row]:
    from jupyter_client.manager import KernelManager

    from linkis_jupyter.client import LinkisClient

    client = LinkisClient(gateway_url=gw.url, user=gw.user, token=gw.token)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=gateway_env(gw, tmp, MPLBACKEND="Agg"))
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        cell(kc, "%load_ext linkis_jupyter\n%config LinkisMagics.progress = 'none'\n%config LinkisMagics.log = 'none'")
        written = timed(kc, "%%linkis -q\n" + TABLE_SQL.format(rows=rows))
        say(f"explore table: {rows:,} rows written in {written:.1f} s")
        profile: list[float] = []
        pulled: list[float] = []
        for i in range(runs):
            # Alternating, so that a busy machine slows both alike.
            for contender in (("profile", "pull") if i % 2 == 0 else ("pull", "profile")):
                if contender == "profile":
                    profile.append(timed(kc, COMMANDS["profile"]))
                else:
                    pulled.append(timed(kc, PULL) + timed(kc, DESCRIBE))
            say(f"explore run {i + 1}/{runs}: profile {profile[-1]:.1f} s, pull + describe {pulled[-1]:.1f} s")
        costs: dict[str, Cost] = {}
        for name, code in COMMANDS.items():
            mark = newest_task(client)
            costs[name] = cost_since(client, mark, timed(kc, code))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        client.close()

    p, f = median(profile), median(pulled)
    label = f"{rows:,} x 8"
    out = [Row(f"{label}: %linkis profile / -n -1 then describe() (median of {runs})", f"{p:.2f} s",
               floor=f"{f:.2f} s", ratio=f"{f / p:.1f}x faster", target=">= 10x faster", met=verdict(f >= 10 * p))]
    for name, cost in costs.items():
        target = met = ""
        if name == "plot hist":
            target, met = f"openFile <= {HIST_BYTES // 1024} KB", verdict(cost.bytes <= HIST_BYTES)
        out.append(Row(f"  {name}: time / jobs / rows fetched / openFile bytes",
                       f"{cost.seconds:.2f} s / {cost.jobs} / {cost.rows:,} / {cost.bytes / 1024:.1f} KB",
                       target=target, met=met))
    return out
