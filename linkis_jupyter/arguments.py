"""The arguments of `%%linkis` and `%linkis`: their parsers, `CellOptions`, and the magic's help.

    CellOptions.from_line("-e hive -o df --var day=$today", defaults=magics, user_ns={"today": "2024-01-02"})

`CellOptions` is what the steps of a cell share: the job's engine, run type, creator, variables
and parameters, and how to follow and deliver it. It is built from the magic line and a defaults
object (the `LinkisMagics` traits), with every mistake raised as a one-line `UsageError`, so the
parse step needs no shell to be tried. The `%linkis` subcommands are parsed here too; commands.py
runs them.
"""
from __future__ import annotations

import keyword
import shlex
from argparse import HelpFormatter, Namespace
from dataclasses import dataclass
from typing import Any, Mapping

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

from .display import PROGRESS_KINDS
from .logview import LOG_FILTERS, LOG_LEVELS

__all__ = ["CELL_PARSER", "LINE_PARSER", "SUBCOMMANDS", "CellOptions", "expand_value", "magic_doc", "parse"]


def _parser(prog: str, description: str, **kwargs: Any) -> MagicArgumentParser:
    parser = MagicArgumentParser(prog=prog, description=description, formatter_class=HelpFormatter, **kwargs)
    # "--eng" must not silently mean "--engine" (nor a typo another option).
    parser.allow_abbrev = False
    return parser


def _cell_parser() -> MagicArgumentParser:
    p = _parser(
        "%%linkis",
        "Run the cell as an Apache Linkis job: a progress bar and the job's log while it runs, "
        "then every result set (tables as pandas DataFrames). Interrupting the cell kills the job. "
        "Every default comes from a LinkisMagics setting (%config LinkisMagics.<name> = ...).",
    )
    p.add_argument("-e", "--engine", metavar="ENGINE[-VERSION]",
                   help="engine, with an optional version: spark, spark-3.2.1, hive, python, shell, jdbc, "
                   "trino, presto (default: LinkisMagics.engine)")
    p.add_argument("-t", "--run-type", dest="run_type", metavar="TYPE",
                   help="run type (Linkis codeType): sql, hql, py, python, scala, shell, jdbc, tsql, psql ... "
                   "(default: the engine's own, or LinkisMagics.run_type)")
    p.add_argument("-c", "--creator", metavar="NAME",
                   help="the creator of the userCreator label (default: LinkisMagics.creator)")
    p.add_argument("--var", action="append", default=[], metavar="K=V",
                   help="a Linkis variable, used as ${K} in the cell; repeatable. V=$name takes the Python "
                   "variable `name` ($$ for a literal $)")
    p.add_argument("--startup", action="append", default=[], metavar="K=V",
                   help="an engine startup parameter, e.g. spark.executor.memory=4g; repeatable")
    p.add_argument("--runtime", action="append", default=[], metavar="K=V",
                   help="a runtime parameter, e.g. wds.linkis.rm.yarnqueue=q1; repeatable")
    p.add_argument("--label", action="append", default=[], metavar="K=V",
                   help="an extra Linkis label of the job; repeatable")
    p.add_argument("-o", "--output", metavar="NAME",
                   help="store the result in the Python variable NAME: the DataFrame (or text), or a list "
                   "of them when there are several result sets")
    p.add_argument("-n", "--max-rows", dest="max_rows", type=int, metavar="N",
                   help="read at most N rows of each result set; -1 reads all (default: LinkisMagics.max_rows)")
    p.add_argument("-q", "--quiet", action="store_true", default=None,
                   help="show no result (use with -o)")
    p.add_argument("--progress", choices=PROGRESS_KINDS,
                   help="progress display: widget, text (one line updated in place), none, or auto "
                   "(widget in a kernel, text in a terminal) (default: LinkisMagics.progress)")
    p.add_argument("--log", choices=LOG_LEVELS,
                   help="the job's log while it runs: fold (one bounded output: the newest "
                   "LinkisMagics.log_lines lines, folded away on success, the ERROR lines and the lines "
                   "around them kept on failure), or every line at or above a level: all (keeps every "
                   "line), info, warn, error; or none (default: LinkisMagics.log)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="stop waiting after SECONDS (the job keeps running); 0 waits as long as it takes "
                   "(default: LinkisMagics.timeout)")
    return p


def _task_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(text)
    return value


_task_id.__name__ = "task id"  # argparse names the type in "invalid task id value: 'x'"


def _follow_options(p: MagicArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="NAME", help="store the result in the Python variable NAME")
    p.add_argument("-n", "--max-rows", dest="max_rows", type=int, metavar="N",
                   help="read at most N rows of each result set; -1 reads all")
    p.add_argument("-q", "--quiet", action="store_true", default=None, help="show no result")


def _line_parser() -> tuple[MagicArgumentParser, dict[str, MagicArgumentParser]]:
    """The `%linkis` parser, and its subcommand parsers by name (in the order of the help)."""
    p = _parser("%linkis", "Linkis commands: the connection, and jobs by their task id.")
    sub = p.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=MagicArgumentParser)
    subcommands: dict[str, MagicArgumentParser] = {}

    def add(name: str, description: str, task: bool = False) -> MagicArgumentParser:
        parser = sub.add_parser(name, help=description, description=description, formatter_class=HelpFormatter)
        parser.allow_abbrev = False
        if task:
            parser.add_argument("task", type=_task_id, metavar="TASK", help="the job's task id")
        subcommands[name] = parser
        return parser

    add("config", "show the effective settings and where each comes from (secrets masked)")

    s = add("connect", "use another gateway (and user, token) from now on")
    s.add_argument("url", metavar="URL", help="the gateway, e.g. http://linkis-gateway:9001")
    s.add_argument("--user", metavar="USER", help="the Linkis user")
    s.add_argument("--token", metavar="TOKEN", help="a token (Token-Code) instead of a password; $name takes "
                   "it from a Python variable")
    s.add_argument("--proxy-user", dest="proxy_user", metavar="USER", help="run jobs as this user")

    s = add("login", "log in with a password, asked for without echo")
    s.add_argument("--user", metavar="USER", help="the Linkis user (default: the configured one)")

    add("logout", "end the gateway session and forget the password")

    add("status", "a job's state, progress, times and error", task=True)

    s = add("log", "a job's whole log (from job history once the entrance has dropped it)", task=True)
    s.add_argument("--log", choices=LOG_FILTERS, default="all", help="the lowest level shown (default: all)")

    add("kill", "kill a job and confirm it ended Cancelled", task=True)

    s = add("attach", "follow a running job (progress, log, then results), or show a finished job's results", task=True)
    _follow_options(s)
    s.add_argument("--progress", choices=PROGRESS_KINDS, help="progress display")
    s.add_argument("--log", choices=LOG_LEVELS, help="the job's log while it runs: fold, all, info, warn, error, "
                   "none (default: LinkisMagics.log)")

    s = add("history", "your recent jobs: task, state, engine, created, duration, error")
    s.add_argument("-n", "--limit", type=int, metavar="N", help="how many (default: LinkisMagics.history_limit)")

    s = add("result", "a finished job's result sets", task=True)
    _follow_options(s)
    s.add_argument("--skip", type=int, default=0, metavar="N",
                   help="start after the first N rows of each result set, read from the stored result set "
                   "(the query does not run again)")

    s = add("download", "stream a result set to a file with the server's export (nothing is loaded here)", task=True)
    s.add_argument("path", metavar="PATH", help="the file (or an existing directory) to write")
    s.add_argument("--index", type=int, default=None, metavar="N",
                   help="the result set the cell shows as N (default: the first)")
    s.add_argument("--format", choices=("csv", "xlsx"), default=None,
                   help="file format (default: from PATH's suffix, else csv)")
    s.add_argument("-n", "--max-rows", dest="max_rows", type=int, default=-1, metavar="N",
                   help="write at most N rows (default: -1, every row)")
    s.add_argument("--sep", default=",", metavar="SEP", help="CSV separator (default: ,)")
    s.add_argument("--charset", default="utf-8", metavar="CHARSET", help="file encoding, e.g. utf-8, gbk")
    s.add_argument("--null", default="NULL", metavar="TEXT", help="how NULL is written (default: NULL)")

    s = add("databases", "the databases you may see (Linkis' metadata service: the Hive metastore)")
    _store_option(s)

    s = add("tables", "the tables of a database: table, view, created by, created")
    s.add_argument("database", nargs="?", default="default", metavar="DB", help="the database (default: default)")
    s.add_argument("--like", metavar="PATTERN", help="only tables whose name matches PATTERN, a glob with * and ?, "
                   "ignoring case")
    _store_option(s)

    s = add("columns", "the columns of a table, then its partition keys: column, type, comment, partition")
    s.add_argument("table", metavar="DB.TABLE", help="the table; a name without a dot is in the database default")
    _store_option(s)

    add("refresh", "forget the databases, tables and columns Tab completion keeps, so it asks the gateway again")

    # plot and profile: computed in the engine (explore.py), only aggregates come back.
    s = add("plot", "plot a table or query computed in the engine: hist, box, bar, line, heatmap (a PNG)")
    s.add_argument("kind", metavar="KIND", help="hist, box, bar (top values and other), line (rows per "
                   "hour/day/month of a time column), heatmap (two numeric columns binned)")
    s.add_argument("names", nargs="*", metavar="SOURCE COLUMN", help="the table (db.table, or _ for the SQL of "
                   "the last %%linkis cell; none with --query), then the column(s)")
    _explore_options(s)
    s.add_argument("--by", metavar="COLUMN", help="one series per group of COLUMN, the --top largest "
                   "(hist, box, line)")
    s.add_argument("--bins", type=int, metavar="N", help="bins of hist (default 30, at most 500) and of each "
                   "axis of heatmap (default 30, at most 60)")
    s.add_argument("--top", type=int, metavar="K", help="bar: the K most frequent values (default 20); "
                   "with --by: the K largest groups (default 10)")
    s.add_argument("--grain", choices=("hour", "day", "month"), default="day", help="line: the period (default day)")

    s = add("profile", "per column: non-null, distinct, min, max, mean, std, quartiles, top values (one scan)")
    s.add_argument("source", nargs="?", metavar="SOURCE", help="the table (db.table), or _ for the SQL of the "
                   "last %%linkis cell; none with --query")
    _explore_options(s)
    s.add_argument("--columns", metavar="A,B", help="only these columns (default: all)")
    s.add_argument("--top", type=int, default=None, metavar="K",
                   help="top values shown per low-cardinality column (default 5)")
    return p, subcommands


def _explore_options(p: MagicArgumentParser) -> None:
    p.add_argument("--query", metavar="SQL", help="a query instead of a table (it runs as a subquery); "
                   "$name takes it from a Python variable")
    p.add_argument("--where", metavar="COND", help="only the rows where COND holds (SQL)")
    p.add_argument("-o", "--output", metavar="NAME", help="also store the aggregated table in the Python "
                   "variable NAME")


def _store_option(p: MagicArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="NAME", help="also store the table in the Python variable NAME")


CELL_PARSER = _cell_parser()
LINE_PARSER, _SUBCOMMAND_PARSERS = _line_parser()
SUBCOMMANDS = tuple(_SUBCOMMAND_PARSERS)


def parse(parser: MagicArgumentParser, line: str) -> Namespace:
    """The line split as a shell would, then parsed; mistakes raise UsageError."""
    try:
        argv = shlex.split(line, posix=True)
    except ValueError as e:
        raise UsageError(f"{parser.prog}: {e}: {line.strip()}") from None
    return parser.parse_args(argv)


# -- values from the user's namespace ----------------------------------------------------------

def _param_text(value: Any) -> str:
    """A Python value as the text Linkis expects in variables and parameters."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _texts(settings: Mapping[Any, Any]) -> dict[str, str]:
    return {str(key): _param_text(value) for key, value in settings.items()}


def expand_value(option: str, key: str, value: str, user_ns: Mapping[str, Any] | None) -> str:
    """`$name` as the text of the Python variable `name`, `$$...` as `$...`, anything else as it is."""
    if value.startswith("$$"):
        return value[1:]
    if value.startswith("$") and value[1:].isidentifier():
        name = value[1:]
        namespace = user_ns if user_ns is not None else {}
        if name not in namespace:
            raise UsageError(f"{option} {key}=${name}: there is no Python variable named {name!r}")
        return _param_text(namespace[name])
    return value


def _pairs(option: str, items: list[str], user_ns: Mapping[str, Any] | None) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or any(c.isspace() for c in key):
            raise UsageError(f"{option} expects KEY=VALUE, not {item!r}")
        pairs[key] = expand_value(option, key, value, user_ns)
    return pairs


# -- the options of a cell ---------------------------------------------------------------------

@dataclass(frozen=True)
class CellOptions:
    """Everything a `%%linkis` cell needs besides its code, every default filled in."""

    engine: str
    run_type: str | None
    creator: str
    variables: dict[str, str]
    startup: dict[str, str]
    runtime: dict[str, str]
    labels: dict[str, str]
    output: str | None
    max_rows: int
    quiet: bool
    progress: str
    log: str
    timeout: float

    @classmethod
    def from_line(cls, line: str, defaults: Any, user_ns: Mapping[str, Any] | None = None) -> CellOptions:
        """The options of a `%%linkis` line. `defaults` has an attribute for each field but
        `output` (a `LinkisMagics`, or another `CellOptions`); `$name` values come from `user_ns`."""
        return cls.from_args(parse(CELL_PARSER, line), defaults, user_ns)

    @classmethod
    def from_args(cls, args: Namespace, defaults: Any, user_ns: Mapping[str, Any] | None = None) -> CellOptions:
        """The options of a parsed line; those its parser does not have (`%linkis attach` has
        only -o, -n, -q, --progress and --log) are the defaults'."""
        given = getattr(args, "engine", None)
        engine = (defaults.engine if given is None else given).strip()
        if not engine and hasattr(args, "engine"):
            raise UsageError("%%linkis: the engine is empty (-e ENGINE)")
        run_type = getattr(args, "run_type", None)
        creator = getattr(args, "creator", None)
        options = dict(
            engine=engine,
            # LinkisMagics.run_type belongs to LinkisMagics.engine: -e alone takes that engine's own.
            run_type=defaults.run_type if run_type is None and given is None else run_type,
            creator=defaults.creator if creator is None else creator,
            variables={**_texts(defaults.variables), **_pairs("--var", getattr(args, "var", []), user_ns)},
            startup={**_texts(defaults.startup), **_pairs("--startup", getattr(args, "startup", []), user_ns)},
            runtime={**_texts(defaults.runtime), **_pairs("--runtime", getattr(args, "runtime", []), user_ns)},
            labels={**_texts(defaults.labels), **_pairs("--label", getattr(args, "label", []), user_ns)},
        )
        max_rows = defaults.max_rows if args.max_rows is None else args.max_rows
        if max_rows == 0 or max_rows < -1:
            raise UsageError(f"-n/--max-rows must be a positive number of rows or -1 for all, not {max_rows}")
        output = args.output
        if output is not None and (not output.isidentifier() or keyword.iskeyword(output)):
            raise UsageError(f"-o/--output needs a Python variable name, not {output!r}")
        timeout = getattr(args, "timeout", None)
        timeout = defaults.timeout if timeout is None else timeout
        if timeout < 0:
            raise UsageError("--timeout must be 0 or more seconds")
        return cls(
            **options,
            output=output,
            max_rows=max_rows,
            quiet=defaults.quiet if args.quiet is None else args.quiet,
            progress=getattr(args, "progress", None) or defaults.progress,
            log=getattr(args, "log", None) or defaults.log,
            timeout=timeout,
        )


# -- the help ----------------------------------------------------------------------------------

def magic_doc() -> str:
    """The docstring of the magic (`%%linkis?`, `%linkis?`): both parsers' help and an example."""
    summary = "\n".join(f"  {name:<9} {parser.description}" for name, parser in _SUBCOMMAND_PARSERS.items())
    usages = "\n".join(
        parser.format_usage().replace("usage: ", "  ").rstrip() for parser in _SUBCOMMAND_PARSERS.values()
    )
    return (
        "Run a cell as an Apache Linkis job (%%linkis), or manage the connection and jobs (%linkis).\n\n"
        + CELL_PARSER.format_help()
        + "\nExample:\n"
        "  %%linkis -e spark -t sql -o df --var day=$today\n"
        "  select * from sales where dt = '${day}'\n\n"
        "%linkis SUBCOMMAND:\n" + summary + "\n\n" + usages + "\n"
    )
