"""`%%linkis` and `%linkis`: Apache Linkis jobs from any IPython kernel.

    %load_ext linkis_jupyter

    %%linkis -e spark -t sql -o df --var day=$today
    select * from sales where dt = '${day}'

`LinkisMagics` only arranges a job, in five steps: the options (`CellOptions`, arguments.py), a
`JobSpec`, the submit, following the `Job` with a reporter from display.py, and delivering the
results. An interrupt kills the job (`_kill_on_interrupt`). The `%linkis` subcommands are in
commands.py; HTTP lives in client.py, the job's lifecycle in job.py, result reading in results.py.

Every default of `%%linkis` is a trait (`c.LinkisMagics.engine = "hive"` in ipython_config.py, or
`%config LinkisMagics.max_rows = 500`); the connection is a `LinkisClient` configured as
`c.LinkisClient.*` (or `%linkis connect`).
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.display import HTML, Image, display
from traitlets import Bool, Dict, Enum, Float, Int, TraitError, Unicode, observe, validate

from . import commands
from .arguments import SUBCOMMANDS, CellOptions, magic_doc
from .client import LinkisClient
from .completion import MetadataCache
from .display import PROGRESS_KINDS, JobReporter, frontend, make_reporter
from .errors import ConfigError, JobError, LinkisError, TransportError
from .grid import DISPLAY_KINDS, GridRows, Grids
from .grid import available as grid_available
from .job import Job, JobState
from .logview import LOG_LEVELS
from .spec import JobSpec
from .results import ResultSet, ResultType

__all__ = ["LinkisMagics", "SUBCOMMANDS"]


@contextmanager
def _interrupt_deferred() -> Iterator[list[int]]:
    """Hold a first SIGINT until the block ends (the list it yields then holds it); a second one
    raises KeyboardInterrupt at once. The handler before is put back after. Outside the main
    thread, or where SIGINT is ignored, nothing changes."""
    held: list[int] = []
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if previous is None or previous is signal.SIG_IGN:
        yield held
        return

    def hold(signum: int, frame: Any) -> None:
        if held:
            raise KeyboardInterrupt
        held.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield held
    finally:
        signal.signal(signal.SIGINT, previous)


@magics_class
class LinkisMagics(Magics):
    """The `%%linkis` cell magic and the `%linkis` line magic."""

    engine = Unicode("spark", help="Engine of a %%linkis job unless -e is given, with an optional version: "
                     "spark, spark-3.2.1, hive, python, shell, jdbc ...").tag(config=True)
    run_type = Unicode(None, allow_none=True, help="Run type unless -t is given; None takes the engine's own "
                       "(spark: sql, hive: hql, python: python, shell: shell ...). Applies only to "
                       "LinkisMagics.engine, not to an engine given with -e.").tag(config=True)
    creator = Unicode("IDE", help="The creator in the userCreator label (Linkis' own default is IDE).").tag(
        config=True)
    variables = Dict(help="Linkis variables sent with every job; --var adds and "
                     "overrides.").tag(config=True)
    startup = Dict(help="Engine startup parameters of every job; --startup adds and "
                   "overrides.").tag(config=True)
    runtime = Dict(help="Runtime parameters of every job; --runtime adds and "
                   "overrides.").tag(config=True)
    labels = Dict(help="Extra labels of every job; --label adds and overrides.").tag(
        config=True)
    max_rows = Int(5000, help="Rows read per result set unless -n is given; -1 reads all. The default is "
                   "Linkis' own SELECT limit for creator IDE (LinkisMagics.ide_limit), so a bare `select * from "
                   "huge` has the engine compute 5,000 rows, not the table; -n above that (or -n -1) lifts the "
                   "limit for the cell.").tag(config=True)
    ide_limit = Int(5000, help="The rows Linkis' entrance limits a SELECT to for creator IDE and a SQL run type "
                    "(its wds.linkis.sql.default.limit, 5000 unless the site changed it). A cell with -n above "
                    "it, or -n -1, sends `--set ide.engine.no.limit.allow=true` first (a comment the entrance "
                    "removes), which lifts the limit; a "
                    "result that stops at the limit gets a note. A setting of the magics, not of LinkisClient: "
                    "the cell's -n is what it is compared with; JobSpec(no_limit=True) asks the same in "
                    "Python.").tag(config=True)
    display = Enum(DISPLAY_KINDS, default_value="grid", help="How a cell shows a table: grid (an itables grid "
                   "to sort, search and page through every row read, offline; pandas' table when itables is "
                   "not installed, or in a terminal) or pandas (pandas' own table). Either way the cell's value "
                   "and -o are plain DataFrames.").tag(config=True)
    grid_max_bytes = Int(4_000_000, help="The most bytes of HTML one grid puts in the notebook (about 100 "
                         "bytes a row of 5 columns: 10,000 such rows take 1 MB); a grid holds the first rows "
                         "that fit, and its caption says so. 0: no limit.").tag(config=True)
    quiet = Bool(False, help="Show no results unless told otherwise (-q).").tag(config=True)
    progress = Enum(PROGRESS_KINDS, default_value="auto", help="Progress display: widget, text, none, or auto "
                    "(widget in a kernel, text in a terminal IPython).").tag(config=True)
    log = Enum(LOG_LEVELS, default_value="fold", help="The job's log while it runs: fold (one bounded display: "
               "the newest lines, folded away on success, the ERROR lines kept on failure; in a terminal the "
               "WARN and ERROR lines), or every line at or above a level: all, info, warn, error; or "
               "none.").tag(config=True)
    log_lines = Int(200, help="The most log lines the fold display (--log fold) keeps in the notebook; "
                    "`%linkis log TASK` shows the whole log.").tag(config=True)
    timeout = Float(0.0, help="Seconds to wait for a job before giving up on it (it keeps running); 0 waits "
                    "as long as it takes.").tag(config=True)
    kill_timeout = Float(5.0, help="Seconds to wait for Linkis to confirm a job Cancelled after an interrupt "
                         "or %linkis kill.").tag(config=True)
    history_limit = Int(20, help="Jobs listed by %linkis history unless -n is given.").tag(config=True)
    metadata_lifetime = Float(60.0, help="Seconds the databases, tables and columns completion offers are "
                              "kept before the gateway is asked again (%linkis refresh drops them).").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._client: LinkisClient | None = None
        self.metadata = MetadataCache(lambda: self.client, lifetime=self.metadata_lifetime)
        self._running: set[Job] = set()
        self._running_lock = threading.Lock()
        self._shutting_down = False
        self._grids = Grids(shell)
        self.last_cell: JobSpec | None = None

    @validate("max_rows")
    def _check_max_rows(self, proposal: Any) -> int:
        if proposal["value"] == 0 or proposal["value"] < -1:
            raise TraitError("max_rows must be a positive number of rows, or -1 for all")
        return proposal["value"]

    @validate("ide_limit")
    def _check_ide_limit(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError("ide_limit must be at least 1 row")
        return proposal["value"]

    @validate("grid_max_bytes")
    def _check_grid_max_bytes(self, proposal: Any) -> int:
        if proposal["value"] < 0:
            raise TraitError("grid_max_bytes must be 0 (no limit) or more bytes")
        return proposal["value"]

    @validate("timeout", "kill_timeout")
    def _check_seconds(self, proposal: Any) -> float:
        if proposal["value"] < 0:
            raise TraitError(f"{proposal['trait'].name} must be 0 or more seconds")
        return proposal["value"]

    @validate("log_lines")
    def _check_log_lines(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError("log_lines must be at least 1")
        return proposal["value"]

    @validate("history_limit")
    def _check_history_limit(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError("history_limit must be at least 1")
        return proposal["value"]

    # -- the connection ---------------------------------------------------------------------

    @property
    def client(self) -> LinkisClient:
        """The LinkisClient every command uses; built on first use from `c.LinkisClient.*`."""
        if self._client is None:
            self.use_client(LinkisClient(parent=self))
        assert self._client is not None
        return self._client

    def use_client(self, client: LinkisClient) -> None:
        """Make `client` the connection from now on (`%linkis connect`); the old one is closed."""
        old, self._client = self._client, client
        configurables = getattr(self.shell, "configurables", None)
        if configurables is not None:
            # So that `%config LinkisClient.read_timeout = 30` reaches it.
            if old is not None and old in configurables:
                configurables.remove(old)
            configurables.append(client)
        if old is not None:
            old.close()
        self.metadata.clear()  # another gateway or user sees other tables

    @observe("metadata_lifetime")
    def _metadata_lifetime_changed(self, change: Any) -> None:
        self.metadata.lifetime = change["new"]

    @property
    def user_ns(self) -> dict[str, Any] | None:
        """Where `$name` values come from."""
        return self.shell.user_ns if self.shell is not None else None

    # -- %%linkis and %linkis ---------------------------------------------------------------

    @no_var_expand
    @line_cell_magic
    def linkis(self, line: str, cell: str | None = None) -> Any:
        if cell is None:
            return commands.run(self, line)
        options = CellOptions.from_line(line, self, self.user_ns)
        spec = self._job_spec(options, cell)
        self.last_cell = spec  # `_` of %linkis plot and profile: this cell's SQL
        job = self._submit(spec)
        self.follow(job, options)
        return self.deliver(job, options)

    def kill_running_jobs(self, confirm_timeout: float = 2.0) -> None:
        """Kill every job a cell of this shell is waiting on (a kernel shutting down calls this
        from its control thread); errors are ignored, the kernel is going away. A submit still
        under way when this is called kills its job as soon as it returns (`_submit`)."""
        with self._running_lock:
            self._shutting_down = True
            jobs = list(self._running)
        for job in jobs:
            try:
                job.kill(confirm_timeout=confirm_timeout)
            except LinkisError:
                pass

    # -- the cell, step by step -------------------------------------------------------------

    def _job_spec(self, options: CellOptions, cell: str) -> JobSpec:
        if not cell.strip():
            raise UsageError("%%linkis: the cell is empty; write the code of the job below the %%linkis line")
        try:
            spec = JobSpec(
                code=cell,
                engine=options.engine,
                run_type=options.run_type,
                creator=options.creator,
                variables=options.variables,
                startup=options.startup,
                runtime=options.runtime,
                labels=options.labels,
                # More rows than Linkis' entrance lets a SELECT have: ask it not to limit them.
                no_limit=options.max_rows < 0 or options.max_rows > self.ide_limit,
            )
        except (ConfigError, ValueError) as e:
            raise UsageError(f"%%linkis: {e}") from None
        return spec

    def _submit(self, spec: JobSpec) -> Job:
        """Submit, and count the job as running at once, so a kernel shutdown finds it.

        An interrupt while the submit is on the wire is held until its answer arrives: the job
        may already exist on the gateway, and only the answer says which one to kill."""
        with _interrupt_deferred() as interrupted:
            job = Job.submit(self.client, spec)
            with self._running_lock:
                self._running.add(job)
                shutting_down = self._shutting_down
        if shutting_down or interrupted:
            try:
                self._kill_on_interrupt(job)
            finally:
                with self._running_lock:
                    self._running.discard(job)
            raise self._cell_interrupt()
        return job

    def follow(self, job: Job, options: CellOptions) -> None:
        """Wait for the job, showing progress and log; interrupting kills the job."""
        with self._running_lock:
            self._running.add(job)
        reporter: JobReporter | None = None
        try:
            # Building the reporter is inside the try: an interrupt during it (the first one
            # imports ipywidgets) must kill the job too.
            reporter = make_reporter(options.progress, options.log, self.shell, log_lines=self.log_lines,
                                     yarn_web_url=self.client.yarn_web_url)
            reporter.start(job.task_id)
            job.wait(on_update=reporter, timeout=options.timeout or None)
        except KeyboardInterrupt:
            self._kill_on_interrupt(job, reporter)
            raise self._cell_interrupt() from None
        except JobError as e:
            reporter.finish(JobState.from_wire(e.state))
            raise
        except LinkisError:
            # A wait timeout, or the gateway stopped answering: the job itself may well go on.
            reporter.finish(job.state, note=f"stopped waiting; `%linkis attach {job.task_id}` follows it again")
            raise
        finally:
            with self._running_lock:
                self._running.discard(job)

    def _kill_on_interrupt(self, job: Job, reporter: JobReporter | None = None) -> None:
        """The interrupt ladder: kill at once, confirm briefly, say what happened (in the progress
        display too, when there is one). A second interrupt only stops the waiting for the
        confirmation."""
        task = job.task_id
        try:
            confirmed = job.kill(confirm_timeout=self.kill_timeout)
            problem = "" if confirmed else f"Linkis did not confirm it within {self.kill_timeout:g} s"
        except KeyboardInterrupt:
            confirmed, problem = False, "stopped waiting for the kill to be confirmed"
        except TransportError:
            confirmed, problem = False, f"the gateway at {self.client.gateway_url} could not be reached"
        except LinkisError as e:
            confirmed, problem = False, f"the kill failed: {e}"
        if confirmed:
            if reporter is not None:
                reporter.finish(JobState.CANCELLED)
            print(f"Linkis job {task} cancelled", file=sys.stderr)
        else:
            if reporter is not None:
                reporter.finish(job.state, note="kill not confirmed")
            print(
                f"Linkis job {task} may still be running ({problem}); check it with `%linkis status {task}`, "
                f"stop it with `%linkis kill {task}`",
                file=sys.stderr,
            )

    @staticmethod
    def _cell_interrupt() -> KeyboardInterrupt:
        """The KeyboardInterrupt a cell ends with once its job is killed (or the kill given up on).

        A fresh one: the one caught may have come from deep inside an HTTP read. It is shown as
        the one line "KeyboardInterrupt": IPython renders an exception's `_render_traceback_`
        instead of its frames (InteractiveShell.showtraceback), and those frames would be only
        this package's polling code; what happened to the job is printed already. Still a plain
        KeyboardInterrupt, so the kernel's reply, nbclient and papermill see ename KeyboardInterrupt."""
        interrupt = KeyboardInterrupt()
        interrupt._render_traceback_ = lambda: ["KeyboardInterrupt"]  # type: ignore[attr-defined]
        return interrupt

    def deliver(self, job: Job, options: CellOptions, *, skip: int = 0) -> Any:
        """Fetch the result sets (from row `skip` on); store them (-o); show them unless quiet,
        tables as grids (LinkisMagics.display). The last result set, when it is a table, is the
        cell's value instead of being displayed. Says when Linkis' entrance limited a SELECT."""
        # The total of a cut set is counted only for the caption and note that show it.
        results = job.results(max_rows=None if options.max_rows < 0 else options.max_rows, skip=skip,
                              count=not options.quiet)
        if options.output:
            self.shell.user_ns[options.output] = _output_value(results)
        note = _limit_note(job, results, options.max_rows, self.ide_limit)
        if note:
            print(note, file=sys.stderr)
        if options.quiet:
            return None
        self._as_grids(job, results)
        value = None
        for i, result in enumerate(results):
            if result.is_table and i == len(results) - 1:
                value = result.data
            else:
                _show_result(result)
            if result.truncated:
                print(_truncation_note(result, job.task_id), file=sys.stderr)
        return value

    def _as_grids(self, job: Job, results: list[ResultSet]) -> None:
        """The tables of `results` show as grids from now on, when LinkisMagics.display says so,
        itables is there, and a frontend shows HTML (not a terminal)."""
        tables = [result for result in results if result.is_table]
        if not tables or self.display != "grid" or frontend(self.shell).terminal or not grid_available():
            return
        self._grids.prepare()
        for result in tables:
            rows = GridRows(job.task_id, result.index, result.first_row, result.rows_read, result.total_rows,
                            several=len(results) > 1)
            self._grids.add(result.dataframe, rows, self.grid_max_bytes)


# -- delivering and describing -------------------------------------------------------------

def _output_value(results: list[ResultSet]) -> Any:
    if not results:
        return None
    if len(results) == 1:
        return results[0].data
    return [result.data for result in results]


def _show_result(result: ResultSet) -> None:
    if result.type is ResultType.TABLE:
        display(result.data)
    elif result.type is ResultType.HTML:
        display(HTML(str(result.data)))
    elif result.type is ResultType.PICTURE:
        try:
            display(Image(data=result.image_bytes()))
        except (ValueError, TypeError):
            print(f"[result set {result.index}: a picture that could not be decoded]")
    else:
        print(result.data)


def _limit_note(job: Job, results: list[ResultSet], max_rows: int, limit: int) -> str | None:
    """One line when Linkis' entrance limited a SELECT (its WARN lines say so) and a result set
    has `limit` rows (LinkisMagics.ide_limit; the lines always say 5000), unless the cell asked
    for fewer rows anyway."""
    if job.sql_limit is None or 0 <= max_rows < limit:
        return None
    if not any(result.is_table and result.total_rows == limit for result in results):
        return None
    return (f"Linkis cut this SELECT at {limit:,} rows (the entrance's limit for creator IDE); "
            f"-n N or -n -1 asks for more")


def _truncation_note(result: ResultSet, task_id: int) -> str:
    first = result.first_row
    shows = (f"rows {first + 1:,}-{first + result.rows_read:,}" if first
             else f"only its first {result.rows_read:,} rows")
    total = f" of {result.total_rows:,}" if result.total_rows is not None else ""
    return (
        f"Result set {result.index} shows {shows}{total}. The next: `%linkis result {task_id} --skip "
        f"{first + result.rows_read}`. All rows: -n -1 on the cell, "
        f"`%linkis result {task_id} -n -1 -o NAME`, or `%linkis download {task_id} FILE.csv"
        + (f" --index {result.index}" if result.index else "") + "` for a file."
    )


LinkisMagics.linkis.__doc__ = magic_doc()
