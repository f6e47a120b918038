"""Benchmarks of linkis-jupyter, side by side with linkis-python-sdk 0.2.0, on the embedded gateway.

    python -m tests.benchmarks            # full size, about 12-14 minutes on 2 cores
    python -m tests.benchmarks --size smoke

prints one table: cell overhead, HTTP requests per job, a 1,000,000 x 8 result to a DataFrame
(against the plain requests + json floor and the SDK), kernel start to the first table, a
kernel's memory over 1,000 cells, and exploring a 10,000,000 x 8 table on the engine (profile and
plots, against pulling it into the kernel; tests/benchmarks/explore.py). Every time is a median over several runs taken in the same
run, alternating the contenders, so a busy machine slows them alike; the ratios are what to read.
The gateway runs in its own process (tests/benchmarks/server.py) and counts the requests it
answers; each result read runs in a fresh process (tests/benchmarks/fetch.py) so that its peak
memory is its own. Needs the `bench` extra (linkis-python-sdk 0.2.0); installs nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tests.benchmarks.explore import bench_explore
from tests.benchmarks.table import Row, mb, median, ms, render, verdict
from tests.fixtures.gateway import gateway_env

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Size:
    runs: int                      # runs per job length and contender
    job_seconds: tuple[float, ...]  # the job lengths (0 = `select 1`)
    rows: int                      # the big result
    result_runs: int
    kernel_starts: int
    cells: int
    cells_warmup: int
    sdk_execute_big: bool          # also run the big query through the SDK's execute_code
    explore_rows: int              # the table profiled and plotted
    explore_runs: int


SIZES = {
    "full": Size(runs=5, job_seconds=(0.0, 1.5, 3.0, 10.0, 30.0), rows=1_000_000,
                 result_runs=3, kernel_starts=3, cells=1000, cells_warmup=100, sdk_execute_big=True,
                 explore_rows=10_000_000, explore_runs=2),
    "smoke": Size(runs=1, job_seconds=(0.0, 0.3, 2.0), rows=20_000,
                  result_runs=1, kernel_starts=1, cells=10, cells_warmup=3, sdk_execute_big=False,
                  explore_rows=20_000, explore_runs=1),
}


def overhead_target(seconds: float) -> float:
    """The most our overhead may be, as a share of the SDK's, for a job of about `seconds`."""
    return 0.2 if seconds <= 0 else 0.5 if seconds < 2 else 0.75 if seconds < 6 else 1.0


def request_budget(seconds: float) -> float | None:
    """The most requests per second of job time, from submit to DataFrame (None: no bound)."""
    return 1.5 if seconds >= 20 else 2.0 if seconds >= 6 else None


BIG_SQL = """select i::bigint as id, case when i % 7 = 0 then null else (i % 1000)::int end as n,
 (i * 0.25)::double as x, ((i % 100000) / 100.0)::decimal(12,2) as amount, 'name_' || i as name,
 i % 3 = 0 as flag, date '2020-01-01' + (i % 3650)::int as day,
 timestamp '2024-01-01 00:00:00' + to_seconds(i) as ts from range({rows}) t(i)"""
BIG_COLUMNS = ["id", "n", "x", "amount", "name", "flag", "day", "ts"]


def job_code(seconds: float, ticks: bool = False) -> tuple[str, str, str]:
    """(engine, run type, code) of a job that takes about `seconds` and makes a one-row table."""
    if seconds <= 0:
        return "spark", "sql", "select 1 as x"
    if ticks:
        # A log line a second, stamped with when it was written, for the log-latency check.
        code = ("import logging, time\nimport pandas as pd\n"
                f"end = time.time() + {seconds}\ni = 0\n"
                "while True:\n    logging.warning('tick %d %.3f', i, time.time())\n    i += 1\n"
                "    left = end - time.time()\n    if left <= 0:\n        break\n    time.sleep(min(1.0, left))\n"
                "show(pd.DataFrame({'x': [1]}))\n")
    else:
        code = f"import time\nimport pandas as pd\ntime.sleep({seconds})\nshow(pd.DataFrame({{'x': [1]}}))\n"
    return "python", "python", code


# -- the gateway process ----------------------------------------------------------------------


class Gateway:
    def __init__(self, data_dir: Path, history_lag: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmarks.server", str(data_dir), str(history_lag)], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark gateway did not start")
        info = json.loads(line)
        self.url, self.user, self.password, self.token = info["url"], info["user"], info["password"], info["token"]

    def command(self, name: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def reset(self) -> None:
        self.command("reset")

    def counts(self) -> dict[str, Any]:
        return self.command("counts")

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# -- the contenders -----------------------------------------------------------------------------


def our_client(gw: Gateway) -> Any:
    from linkis_jupyter.client import LinkisClient

    return LinkisClient(gateway_url=gw.url, user=gw.user, token=gw.token)


def sdk_client(gw: Gateway) -> Any:
    from linkis_python_sdk.client import LinkisClient as SdkClient
    from linkis_python_sdk.config.config import LinkisConfig

    return SdkClient(LinkisConfig(gw.url + "/api/rest_j/v1", gw.user, gw.password))


@dataclass
class Run:
    wall: float
    cost: float
    requests: int
    rows: int
    by_path: dict[str, int] = field(default_factory=dict)
    log: list[tuple[float, float]] = field(default_factory=list)  # (latency, log poll interval)
    progress_gaps: list[float] = field(default_factory=list)  # between progress reads, from submit to the end

    @property
    def overhead(self) -> float:
        return self.wall - self.cost

    @property
    def rate(self) -> float:
        return self.requests / self.cost if self.cost > 0 else 0.0


def run_ours(gw: Gateway, client: Any, seconds: float) -> Run:
    from linkis_jupyter.job import Job, JobSpec

    engine, run_type, code = job_code(seconds, ticks=seconds >= 2)
    log_reads: list[float] = []
    progress_reads: list[float] = []
    seen: list[tuple[float, float]] = []  # (when on_update had the line, when it was written)

    def timed(method: Callable[..., Any], times: list[float]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            times.append(time.time())
            return result
        return call

    def on_update(snap: Any) -> None:
        now = time.time()
        for line in snap.new_log:
            m = re.search(r"tick \d+ (\d+\.\d+)", line.text)
            if m:
                seen.append((now, float(m.group(1))))

    # The client's reads are timed where they return; the client itself is untouched.
    client.log = timed(client.log, log_reads)
    client.progress = timed(client.progress, progress_reads)
    client.progress_with_resource = timed(client.progress_with_resource, progress_reads)
    try:
        gw.reset()
        submitted = time.time()
        start = time.perf_counter()
        job = Job.submit(client, JobSpec(code=code, engine=engine, run_type=run_type))
        job.wait(on_update=on_update, timeout=seconds + 60)
        ended = time.time()
        frame = job.results()[0].data
        wall = time.perf_counter() - start
        counts = gw.counts()
    finally:
        del client.log, client.progress, client.progress_with_resource
    log = []
    for at, written in seen:
        # The read that brought the line, and the one before it: the log poll interval in force.
        k = max(i for i, t in enumerate(log_reads) if t <= at)
        log.append((at - written, log_reads[k] - log_reads[k - 1] if k else 0.0))
    marks = [submitted, *progress_reads, ended]
    gaps = [b - a for a, b in zip(marks, marks[1:])] if seconds >= 2 else []
    return Run(wall, job_length(client, job.task_id), counts["requests"], len(frame), counts["by_path"], log, gaps)


def job_length(client: Any, task_id: int) -> float:
    """The job's own run time (costTime), once job history has it: the record is written about a
    second after the job's end (the gateway's history_lag, as Linkis' RPC), and costTime counts on
    until then. Read after the timed part, so the wait is in no one's time."""
    deadline = time.monotonic() + 30
    while True:
        info = client.job_info(task_id)
        if info.state.is_terminal or time.monotonic() > deadline:
            return info.cost_time / 1000.0
        time.sleep(0.1)


# The SDK sends its engine type as the engineType label of /entrance/submit, which needs the
# version the gateway has installed (linkis-jupyter leaves a versionless engine to the server).
SDK_ENGINE_TYPES = {"spark": "spark-3.2.1", "python": "python-python3"}


def run_sdk(gw: Gateway, sdk: Any, client: Any, seconds: float) -> Run:
    engine, run_type, code = job_code(seconds, ticks=seconds >= 2)
    gw.reset()
    start = time.perf_counter()
    data, _total, error = sdk.execute_code(code, {"columns": [{"column": "x"}]}, SDK_ENGINE_TYPES[engine], run_type)
    wall = time.perf_counter() - start
    counts = gw.counts()
    if error:
        raise RuntimeError(f"linkis-python-sdk failed: {error}")
    return Run(wall, job_length(client, client.list_jobs(limit=1)[0].task_id), counts["requests"], len(data),
               counts["by_path"])


# -- 1 and 2: overhead and requests -------------------------------------------------------------


def spread(seconds: float, i: int, runs: int) -> float:
    """Run i's length of an "about `seconds`" job: spread over +-1/6 across the runs, each moved
    by less than half a second so that the lengths' fractions of a second are spread too (the
    golden-ratio sequence), and no poll schedule gets a lucky phase: a 30.00 s job ends just
    before a 1 s poller's 31st poll, and lengths of 25, 30 and 35 s would give it three of five."""
    if seconds <= 0 or runs < 2:
        return seconds
    base = seconds * (1 + (i / (runs - 1) - 0.5) / 3)
    fraction = ((i + 0.5) * 0.6180339887) % 1
    return round(round(base - fraction) + fraction, 3)


def bench_overhead(gw: Gateway, size: Size, say: Callable[[str], None]) -> list[Row]:
    client = our_client(gw)
    sdk = sdk_client(gw)
    # Warm both engines (the Python worker imports pandas once) outside the measurement.
    run_ours(gw, client, 0.0)
    run_ours(gw, client, 0.01)
    ours: dict[float, list[Run]] = {s: [] for s in size.job_seconds}
    theirs: dict[float, list[Run]] = {s: [] for s in size.job_seconds}
    for i in range(size.runs):
        for s in size.job_seconds:
            d = spread(s, i, size.runs)
            # Alternate who goes first, so that neither always follows the other's load.
            pair = [(ours, lambda: run_ours(gw, client, d)), (theirs, lambda: run_sdk(gw, sdk, client, d))]
            for store, fn in pair if i % 2 == 0 else reversed(pair):
                store[s].append(fn())
            say(f"run {i + 1}/{size.runs}, {d:g} s job: overhead {ms(ours[s][-1].overhead)} "
                f"({ours[s][-1].requests} requests) vs SDK {ms(theirs[s][-1].overhead)} ({theirs[s][-1].requests})")
    rows = []
    for s in size.job_seconds:
        o = median([r.overhead for r in ours[s]])
        t = median([r.overhead for r in theirs[s]])
        share = overhead_target(s)
        short = s <= 0
        name = "select 1" if short else f"~{s:g} s Python job"
        rows.append(Row(
            f"cell overhead, {name} (median of {size.runs})", ms(o), ms(t), "", f"{o / t:.2f}x the SDK's",
            ("< 150 ms, " if short else "") + f"<= {share:g}x the SDK's",
            verdict((o < 0.150 or not short) and o <= share * t),
        ))
        budget = request_budget(s)
        rate = median([r.rate for r in ours[s]])
        rows.append(Row(
            "  requests, submit to DataFrame (per second of job time)",
            f"{median([r.requests for r in ours[s]]):.0f}" + (f" ({rate:.2f}/s)" if s > 0 else ""),
            f"{median([r.requests for r in theirs[s]]):.0f}"
            + (f" ({median([r.rate for r in theirs[s]]):.2f}/s)" if s > 0 else ""),
            target=f"<= {budget:g}/s" if budget else "", met=verdict(rate <= budget) if budget else "",
        ))
    longest = [r for r in ours[max(size.job_seconds)] if r.log]
    if longest:
        lines = [x for r in longest for x in r.log]
        late = max(lat - interval for lat, interval in lines)
        worst = max(lines)
        rows.append(Row(
            f"  log line to cell, ~{max(size.job_seconds):g} s job (worst of {len(lines)})",
            f"{worst[0]:.2f} s (poll {worst[1]:.2f} s)", target="within one poll interval", met=verdict(late <= 0.25),
        ))
        gap = max(g for r in longest for g in r.progress_gaps)
        reads = sum(len(r.progress_gaps) - 1 for r in longest)
        rows.append(Row(
            f"  longest time without a progress read, ~{max(size.job_seconds):g} s job ({reads} reads)",
            f"{gap:.2f} s", target="<= 3 s", met=verdict(gap <= 3.0 + 0.1),
        ))
    return rows


# -- 3: a big result ----------------------------------------------------------------------------


def bench_results(gw: Gateway, size: Size, say: Callable[[str], None]) -> list[Row]:
    from linkis_jupyter.job import Job, JobSpec

    client = our_client(gw)
    job = Job.submit(client, JobSpec(code=BIG_SQL.format(rows=size.rows), engine="spark"))
    job.wait(timeout=600)
    info = client.job_info(job.task_id)
    path = client.result_files(info.result_location)[0].path
    cfg = {"url": gw.url, "user": gw.user, "password": gw.password, "token": gw.token,
           "task_id": job.task_id, "path": path, "result_location": info.result_location,
           "page_size": client.page_size, "columns": BIG_COLUMNS, "rows": size.rows}
    say(f"big result written in {info.cost_time / 1000:.1f} s")
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "floor": [], "sdk": []}
    serving: list[float] = []
    for i in range(size.result_runs):
        order = ["ours", "floor", "sdk"] if i % 2 == 0 else ["floor", "ours", "sdk"]
        for mode in order:
            gw.reset()
            out = subprocess.run([sys.executable, "-m", "tests.benchmarks.fetch", mode, json.dumps(cfg)],
                                 cwd=ROOT, capture_output=True, text=True, timeout=600)
            if out.returncode != 0:
                raise RuntimeError(f"fetch {mode} failed:\n{out.stderr[-3000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            if mode == "floor":
                counts = gw.counts()
                pages = counts["by_path"].get("GET /filesystem/openFile", 0)
                serving.append(counts["server_ms"] / 1000.0 / max(1, pages) / (min(size.rows, cfg["page_size"]) / 1e5))
            runs[mode].append(result)
        say(f"result run {i + 1}/{size.result_runs}")
    out = subprocess.run([sys.executable, "-m", "tests.benchmarks.fetch", "page", json.dumps(cfg)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"fetch page failed:\n{out.stderr[-3000:]}")
    one_page = json.loads(out.stdout.strip().splitlines()[-1])
    scale = 1e5 / max(1, one_page["rows"])
    sdk_rows_public = None
    if size.sdk_execute_big:
        data, _total, error = sdk_client(gw).execute_code(
            BIG_SQL.format(rows=size.rows), {"columns": [{"column": c} for c in BIG_COLUMNS]},
            SDK_ENGINE_TYPES["spark"], "sql")
        if error:
            raise RuntimeError(f"linkis-python-sdk failed: {error}")
        sdk_rows_public = len(data)
    o = median([r["seconds"] for r in runs["ours"]])
    f = median([r["seconds"] for r in runs["floor"]])
    t = median([r["seconds"] for r in runs["sdk"]])
    rows_ours = runs["ours"][0]["rows"]
    rows_sdk = runs["sdk"][0]["rows"]
    peak = median([r["peak_bytes"] for r in runs["ours"]])
    frame = runs["ours"][0]["frame_bytes"]
    label = f"{size.rows:,} x 8"
    sdk_note = f"{rows_sdk:,} rows only" + (f" (execute_code: {sdk_rows_public:,})" if sdk_rows_public is not None else "")
    return [
        Row(f"{label} openFile to DataFrame, time", f"{o:.2f} s", f"{t:.2f} s, {sdk_note}", f"{f:.2f} s",
            f"{o / f:.2f}x floor", "<= 1.5x floor", verdict(o <= 1.5 * f and rows_ours == size.rows)),
        Row("  rows per second", f"{rows_ours / o:,.0f}", f"{rows_sdk / t:,.0f}", f"{size.rows / f:,.0f}"),
        Row("  peak memory over the DataFrame", f"{mb(peak)} / {mb(frame)}",
            f"{mb(median([r['peak_bytes'] for r in runs['sdk']]))}",
            f"{mb(median([r['peak_bytes'] for r in runs['floor']]))}",
            f"{peak / frame:.2f}x DataFrame", "< 3x DataFrame", verdict(peak < 3 * frame)),
        Row("  per 100,000-row page: gateway serving / client JSON parse / conversion",
            f"{median(serving) * 1000:.0f} / {one_page['parse'] * scale * 1000:.0f} / "
            f"{one_page['convert'] * scale * 1000:.0f} ms"),
    ]


# -- 4 and 5: the kernel ----------------------------------------------------------------------


def run_cell(kc: Any, code: str, timeout: float = 60.0, until_table: bool = False) -> bool:
    """Run a cell; True once a table came out (then returns at once when `until_table`)."""
    msg_id = kc.execute(code)
    deadline = time.monotonic() + timeout
    table = False
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no answer to {code!r} within {timeout} s") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "error":
            raise RuntimeError("cell failed: " + "\n".join(msg["content"]["traceback"])[-2000:])
        if kind in ("execute_result", "display_data") and "text/html" in msg["content"]["data"] \
                and "<table" in msg["content"]["data"]["text/html"]:
            table = True
            if until_table:
                return True
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            kc.get_shell_msg(timeout=max(1.0, deadline - time.monotonic()))
            return table


def bench_kernel(gw: Gateway, size: Size, tmp: Path, say: Callable[[str], None]) -> list[Row]:
    from jupyter_client.manager import KernelManager

    env = gateway_env(gw, tmp)
    starts = []
    for _ in range(size.kernel_starts):
        km = KernelManager(kernel_name="linkis-spark-sql")
        start = time.perf_counter()
        km.start_kernel(env=env)
        kc = km.client()
        try:
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            if not run_cell(kc, "select 1", until_table=True):
                raise RuntimeError("select 1 showed no table")
            starts.append(time.perf_counter() - start)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    say(f"kernel starts: {[round(s, 2) for s in starts]}")

    rows = [Row(f"kernel start to first table of select 1 (median of {size.kernel_starts})", f"{median(starts):.2f} s")]
    for mode, bound in MEMORY_BOUNDS.items():
        warm, last, took = cells_memory(env, size, mode, say)
        cells_after = size.cells - size.cells_warmup
        per_cell = (last - warm) / max(1, cells_after)
        rows.append(Row(
            f"kernel memory, cells {size.cells_warmup} -> {size.cells}, {mode} progress",
            f"{mb(warm)} -> {mb(last)} (+{per_cell / 1024:.1f} KB/cell)",
            target=f"<= {bound // 1024} KB/cell", met=verdict(per_cell <= bound),
        ))
        rows.append(Row(f"  time per select 1 cell, {mode} progress", ms(took / size.cells)))
    return rows


# What one `select 1` cell may leave behind in a kernel, by progress display. Every cell keeps
# IPython's own records: its input, the formatted output in history, its value in Out (the last
# 1,000) and its compiled code, a few KB. A widget display keeps its 8 ipywidgets models (bar,
# label, box, their layouts and styles) alive for as long as the notebook can show them.
MEMORY_BOUNDS = {"widget": 40 * 1024, "text": 12 * 1024}


def cells_memory(env: dict[str, str], size: Size, mode: str, say: Callable[[str], None]) -> tuple[int, int, float]:
    """A kernel's RSS after the warm-up cells and after all cells, and the time the cells took."""
    import psutil
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="linkis-spark-sql")
    km.start_kernel(env=env)
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        run_cell(kc, f'%config LinkisMagics.progress = "{mode}"')
        proc = psutil.Process(km.provisioner.pid)  # type: ignore[union-attr]
        warm = proc.memory_info().rss
        began = time.perf_counter()
        for i in range(size.cells):
            if not run_cell(kc, "select 1"):
                raise RuntimeError(f"cell {i + 1} showed no table")
            if i + 1 == size.cells_warmup:
                warm = proc.memory_info().rss
            if (i + 1) % 250 == 0:
                say(f"{mode} cells: {i + 1}, kernel RSS {mb(proc.memory_info().rss)}")
        return warm, proc.memory_info().rss, time.perf_counter() - began
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--only", default="overhead,results,kernel,explore",
                        help="comma-separated parts to run (default: all)")
    parser.add_argument("--history-lag", type=float, default=0.0,
                        help="seconds the gateway writes job history after a job's end (default 0: with it, "
                        "the SDK's best case, since it waits for job history; a stock Linkis lags by an RPC)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the table")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    parts = set(args.only.split(","))
    began = time.perf_counter()

    def say(text: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - began:6.1f} s] {text}", file=sys.stderr, flush=True)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="linkis-bench-") as tmp:
        gw = Gateway(Path(tmp) / "gateway", args.history_lag)
        try:
            if "overhead" in parts:
                rows += bench_overhead(gw, size, say)
            if "results" in parts:
                rows += bench_results(gw, size, say)
            if "kernel" in parts:
                rows += bench_kernel(gw, size, Path(tmp), say)
            if "explore" in parts:
                rows += bench_explore(gw, size.explore_rows, size.explore_runs, Path(tmp), say)
        finally:
            gw.close()
    header = (f"linkis-jupyter benchmarks ({args.size}, {os.cpu_count()} CPUs, "
              f"{time.perf_counter() - began:.0f} s; embedded gateway in its own process, "
              f"job history written {args.history_lag:g} s after a job's end)")
    print(render(rows, header))
    return 0
