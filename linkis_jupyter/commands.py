"""The `%linkis` subcommands: the connection, and jobs by their task id.

Each is a function of the `LinkisMagics` it runs in and of its parsed line (arguments.py holds
the parsers); `run(magics, line)` picks it by the subcommand's name. A job submitted elsewhere is
followed and delivered by the magic's own `follow` and `deliver`, as a cell's would be.
"""
from __future__ import annotations

import dataclasses
import getpass
import keyword
import re
import sys
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from IPython.core.error import UsageError
from traitlets import TraitError

from .arguments import LINE_PARSER, SUBCOMMANDS, CellOptions, expand_value, parse
from .client import LinkisClient
from .display import format_duration, format_error, format_state, format_task, format_time, frontend
from .errors import ConfigError, LinkisError, MetadataUnavailableError
from .job import Job
from .logview import LogView

if TYPE_CHECKING:
    from .magics import LinkisMagics

__all__ = ["run"]


def run(magics: LinkisMagics, line: str) -> Any:
    """`%linkis SUBCOMMAND ...`: what the subcommand returns (a DataFrame for some), or None."""
    if not line.strip():
        raise UsageError(f"%linkis needs a subcommand: {', '.join(SUBCOMMANDS)} (see %linkis?)")
    args = parse(LINE_PARSER, line)
    return _COMMANDS[args.command](magics, args)


def config(magics: LinkisMagics, args: Namespace) -> Any:
    import pandas as pd

    rows = [(f"LinkisMagics.{name}", _show_setting(getattr(magics, name)), _setting_source(magics, name))
            for name in sorted(magics.trait_names(config=True))]
    rows += [(f"LinkisClient.{name}", value, source) for name, value, source in magics.client.describe_config()]
    return pd.DataFrame(rows, columns=["setting", "value", "source"])


def _setting_source(magics: LinkisMagics, name: str) -> str:
    if name in magics.config.get(type(magics).__name__, {}):
        return "config"
    trait = magics.traits()[name]
    return "default" if getattr(magics, name) == trait.default() else "set"


def connect(magics: LinkisMagics, args: Namespace) -> None:
    token = expand_value("--token", "token", args.token, magics.user_ns) if args.token else None
    try:
        client = LinkisClient(parent=magics, gateway_url=args.url, user=args.user, token=token,
                              proxy_user=args.proxy_user)
        if token is not None:
            client.auth = "token"
    except (TraitError, ConfigError) as e:
        raise UsageError(f"%linkis connect: {e}") from None
    if client.auth_method == "token" and not client.user:
        raise UsageError("%linkis connect: a token needs a user too (--user NAME)")
    if client.auth_method == "none":
        magics.use_client(client)
        how = "`%linkis login`" if client.user else "`%linkis login --user NAME`"
        print(f"Gateway {client.gateway_url}: run {how} to log in")
        return
    # Checked before it replaces the current connection, so a failed connect changes nothing.
    try:
        client.check()
    except BaseException:
        client.close()
        raise
    magics.use_client(client)
    print(f"Connected to {client.gateway_url} as {client.execute_user} ({client.auth_method})")


def login(magics: LinkisMagics, args: Namespace) -> None:
    client = magics.client
    user = args.user or client.user
    if not user:
        raise UsageError("%linkis login: no user is configured; use %linkis login --user NAME")
    # Looked up on the module at call time: ipykernel replaces getpass.getpass with a version
    # that asks the frontend for it in a password box; the answer is never part of the notebook.
    password = getpass.getpass(f"Linkis password for {user} at {client.gateway_url}: ")
    if not password:
        raise UsageError("%linkis login: no password given; nothing changed")
    before = (client.user, client.password, client.auth)
    client.user, client.password, client.auth = user, password, "password"
    try:
        client.login()
    except BaseException:
        client.user, client.password, client.auth = before
        raise
    print(f"Logged in to {client.gateway_url} as {client.execute_user}")


def logout(magics: LinkisMagics, args: Namespace) -> None:
    client = magics.client
    client.logout()
    client.password = ""
    print(f"Logged out of {client.gateway_url}")


def status(magics: LinkisMagics, args: Namespace) -> None:
    job = Job.attach(magics.client, args.task)
    info = job.info
    if job.state is not info.state:
        # Job history learns the end after the entrance, which has said so already.
        info = dataclasses.replace(info, state=job.state, status=job.state.value)
    print(format_task(info))
    try:
        job.log()  # the log names the YARN application and the engine
    except LinkisError:
        pass  # job history's engine instance is still worth showing
    where = job.runs_on.describe(magics.client.yarn_web_url)
    if where:
        print(f"runs on {where}")


def log(magics: LinkisMagics, args: Namespace) -> None:
    job = Job.attach(magics.client, args.task)
    job.log()
    LogView(args.log, frontend(magics.shell).tty).show(job.log_lines())


def kill(magics: LinkisMagics, args: Namespace) -> None:
    job = Job.attach(magics.client, args.task)
    if job.state.is_terminal:
        # Nothing is sent for a job known to have ended (Linkis would only answer that it has).
        print(f"Linkis job {args.task} already ended {job.state.value}; nothing to kill")
        return
    if job.kill(confirm_timeout=magics.kill_timeout):
        print(f"Linkis job {args.task} cancelled")
    else:
        print(f"Kill sent, but Linkis job {args.task} is not confirmed Cancelled yet ({job.state.value}); "
              f"check with `%linkis status {args.task}`", file=sys.stderr)


def attach(magics: LinkisMagics, args: Namespace) -> Any:
    options = CellOptions.from_args(args, magics)
    job = Job.attach(magics.client, args.task)
    magics.follow(job, options)
    return magics.deliver(job, options)


def history(magics: LinkisMagics, args: Namespace) -> Any:
    import pandas as pd

    limit = magics.history_limit if args.limit is None else args.limit
    if limit < 1:
        raise UsageError("%linkis history: -n must be at least 1")
    rows = [
        {
            "task": info.task_id,
            "state": format_state(info),
            "engine": info.engine_type or "",
            "run type": info.run_type or "",
            "created": format_time(info.created),
            "duration": format_duration(info),
            "error": format_error(info),
        }
        for info in magics.client.list_jobs(limit=limit)
    ]
    columns = ["task", "state", "engine", "run type", "created", "duration", "error"]
    return pd.DataFrame(rows, columns=columns)


def result(magics: LinkisMagics, args: Namespace) -> Any:
    if args.skip < 0:
        raise UsageError(f"%linkis result: --skip must be 0 or more rows, not {args.skip}")
    options = CellOptions.from_args(args, magics)
    job = Job.attach(magics.client, args.task)
    if not job.state.is_terminal:
        raise UsageError(f"%linkis result: Linkis job {args.task} is still {job.state.value}; "
                         f"`%linkis attach {args.task}` follows it and shows its results")
    return magics.deliver(job, options, skip=args.skip)


def download(magics: LinkisMagics, args: Namespace) -> None:
    fmt = args.format or ("xlsx" if args.path.lower().endswith(".xlsx") else "csv")
    if args.max_rows == 0 or args.max_rows < -1:
        raise UsageError("%linkis download: --max-rows must be 1 or more, or -1 for every row")
    # Job.attach asks the entrance too: job history says Running for a moment after a job ends.
    job = Job.attach(magics.client, args.task)
    info, state = job.info, job.state
    if not state.is_success:
        raise UsageError(f"%linkis download: Linkis job {args.task} is {state.value}, it has no results")
    files = magics.client.result_files(info.result_location) if info.result_location else []
    if not files:
        raise UsageError(f"%linkis download: Linkis job {args.task} has no result sets")
    # --index is the number a cell shows on a result set (ResultSet.index, from its file
    # name), not a position: numbers can have gaps (Linkis' SQLSession.setResultSetNum).
    chosen = files[0] if args.index is None else next((f for f in files if f.index == args.index), None)
    if chosen is None:
        numbers = [f.index for f in files]
        allowed = (f"{numbers[0]}..{numbers[-1]}" if numbers == list(range(numbers[0], numbers[-1] + 1))
                   else "one of " + ", ".join(map(str, numbers)))
        raise UsageError(
            f"%linkis download: Linkis job {args.task} has {len(files)} result set(s), --index must be {allowed}"
        )
    dest = Path(args.path).expanduser()
    if not dest.is_dir() and not dest.parent.is_dir():
        raise UsageError(f"%linkis download: the folder {str(dest.parent)!r} does not exist")
    written = magics.client.download_result(
        chosen.path, dest, output_type=fmt, separator=args.sep, charset=args.charset,
        null_value=args.null, limit=None if args.max_rows == -1 else args.max_rows,
        file_name=f"linkis-{args.task}-{chosen.index}",
    )
    print(f"Result set {chosen.index} of Linkis job {args.task} written to {written} "
          f"({written.stat().st_size:,} bytes)")


def databases(magics: LinkisMagics, args: Namespace) -> Any:
    import pandas as pd

    _check_output(args)
    names = _metadata("databases", magics.client.databases)
    return _store(magics, args, pd.DataFrame({"database": names}, columns=["database"]))


def tables(magics: LinkisMagics, args: Namespace) -> Any:
    import pandas as pd

    _check_output(args)
    database = args.database.strip().strip("`")
    if not database:
        raise UsageError("%linkis tables: the database name is empty")
    found = _metadata("tables", lambda: magics.client.tables(database))
    if not found and database.lower() not in {name.lower() for name in _metadata("tables", magics.client.databases)}:
        raise UsageError(f"%linkis tables: there is no database {database!r} (or you may not see it); "
                         f"`%linkis databases` lists those you may")
    if args.like is not None:
        match = _glob(args.like)
        found = [info for info in found if match(info.name)]
    rows = [
        {"table": info.name, "view": info.is_view, "created by": info.created_by or "",
         "created": format_time(info.created)}
        for info in found
    ]
    return _store(magics, args, pd.DataFrame(rows, columns=["table", "view", "created by", "created"]))


def columns(magics: LinkisMagics, args: Namespace) -> Any:
    import pandas as pd

    _check_output(args)
    database, dot, table = args.table.strip().partition(".")
    if not dot:
        database, table = "default", database
    database, table = database.strip().strip("`"), table.strip().strip("`")
    if not database or not table:
        raise UsageError(f"%linkis columns: {args.table!r} is not a table name; write DB.TABLE, or TABLE for "
                         f"one in the database default")
    found = _metadata("columns", lambda: magics.client.columns(database, table))
    name = f"{database}.{table}"
    if found is None:
        # Linkis answers a table the user may not read, and (checking permissions) a missing
        # one, with "columns": null: the two cannot be told apart.
        raise UsageError(f"%linkis columns: there is no table {name} (or you may not read it)")
    if not found:
        raise UsageError(f"%linkis columns: there is no table {name}")
    rows = [{"column": c.name, "type": c.type, "comment": c.comment or "", "partition": c.partitioned} for c in found]
    return _store(magics, args, pd.DataFrame(rows, columns=["column", "type", "comment", "partition"]))


def refresh(magics: LinkisMagics, args: Namespace) -> None:
    magics.metadata.clear()
    print("Completion will ask the gateway for databases, tables and columns again.")


# -- plot and profile: computed in the engine (explore.py, charts.py, profile.py) ---------------

def plot(magics: LinkisMagics, args: Namespace) -> None:
    from IPython.display import Image, display

    from . import charts, plots
    from .explore import Runner, Source

    prog = "%linkis plot"
    _check_output(args)
    query = _explore_query(args, magics, prog)
    names = list(args.names)
    source_name = None if query is not None or not names else names.pop(0)
    request = charts.PlotRequest(args.kind.lower(), names, args.where, args.by, args.bins, args.top, args.grain)
    source = Source.of(magics, source_name, query, prog=prog)
    charts.check_request(request, prog)
    plots.require_matplotlib(prog)
    runner = Runner(magics, source, prog)
    chart = charts.build(runner, request, runner.column_types())
    _store(magics, args, runner.keep(chart.frame))
    display(Image(data=plots.png(chart), format="png"))


def profile(magics: LinkisMagics, args: Namespace) -> Any:
    from .explore import Runner, Source
    from .profile import DEFAULT_TOP, profile as profile_of

    prog = "%linkis profile"
    _check_output(args)
    top = DEFAULT_TOP if args.top is None else args.top
    if top < 1:
        raise UsageError(f"{prog}: --top must be at least 1, not {top}")
    columns = [c.strip() for c in (args.columns or "").split(",") if c.strip()]
    if args.columns is not None and not columns:
        raise UsageError(f"{prog}: --columns names no column")
    query = _explore_query(args, magics, prog)
    runner = Runner(magics, Source.of(magics, args.source, query, prog=prog), prog)
    return _store(magics, args, profile_of(runner, runner.column_types(), columns, args.where, top))


def _explore_query(args: Namespace, magics: LinkisMagics, prog: str) -> str | None:
    if args.where is not None and not args.where.strip():
        raise UsageError(f"{prog}: --where is empty")
    if args.query is None:
        return None
    return expand_value("--query", "query", args.query, magics.user_ns)


def _metadata(command: str, call: Callable[[], Any]) -> Any:
    """A metadata call; a gateway without the metadata service, or one that refuses the user, is
    one line, not a traceback."""
    try:
        return call()
    except MetadataUnavailableError as e:
        raise UsageError(f"%linkis {command}: {e}") from None


def _glob(pattern: str) -> Callable[[str], bool]:
    """A case-insensitive glob: `*` any run of characters, `?` one; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    compiled = re.compile(regex, re.IGNORECASE | re.DOTALL)
    return lambda name: compiled.fullmatch(name) is not None


def _check_output(args: Namespace) -> None:
    output = args.output
    if output is not None and (not output.isidentifier() or keyword.iskeyword(output)):
        raise UsageError(f"-o/--output needs a Python variable name, not {output!r}")


def _store(magics: LinkisMagics, args: Namespace, frame: Any) -> Any:
    """`-o NAME`: the table also goes into the Python variable NAME; it is shown either way."""
    if args.output is not None:
        magics.shell.user_ns[args.output] = frame
    return frame


def _show_setting(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


_COMMANDS: dict[str, Callable[[LinkisMagics, Namespace], Any]] = {
    "config": config,
    "connect": connect,
    "login": login,
    "logout": logout,
    "status": status,
    "log": log,
    "kill": kill,
    "attach": attach,
    "history": history,
    "result": result,
    "download": download,
    "databases": databases,
    "tables": tables,
    "columns": columns,
    "refresh": refresh,
    "plot": plot,
    "profile": profile,
}
