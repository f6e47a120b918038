"""Tab and Shift+Tab in the Linkis SQL kernels, from Linkis' metadata endpoints.

Tab completes SQL keywords, database names, `db.` to the database's tables, and the columns of
the tables the statement names (after `select`, `where`, `on`, `group by` ..., and after an
alias or a table followed by a dot). Shift+Tab on a table shows its columns and their types.
The same Tab works in a `%%linkis` cell of a SQL engine in any IPython (`cell_matcher`, one of
IPython's completion matchers).

What the gateway says is kept `lifetime` seconds (`%linkis refresh` drops it). A completion never
waits more than `budget` seconds for the gateway: a lookup that takes longer goes on in the
background and serves the next Tab, and a gateway that cannot be reached gives no names, never a
hang. Nothing here raises: a completion either has names or has none.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from IPython.core.completer import SimpleCompletion, context_matcher

from .arguments import CellOptions
from .spec import RUN_TYPE_LANGUAGE, JobSpec
from .wire import ColumnInfo

__all__ = ["MetadataCache", "SqlCompleter", "KEYWORDS", "cell_matcher"]

KEYWORDS = (
    "select", "from", "where", "group by", "order by", "having", "limit", "join", "left join", "right join",
    "inner join", "full outer join", "cross join", "on", "as", "and", "or", "not", "in", "is", "null", "like",
    "between", "case", "when", "then", "else", "end", "distinct", "union", "union all", "with", "insert into",
    "insert overwrite table", "values", "create table", "drop table", "alter table", "show tables",
    "show databases", "describe", "partition", "count", "sum", "avg", "min", "max", "cast", "asc", "desc",
)
# The word the cursor is in: names, dots and backquotes.
_WORD_BEFORE = re.compile(r"[\w.`]*$")
_WORD_AFTER = re.compile(r"^[\w`]*")
# The keyword that says what may come next: a table, or a column.
_CONTEXT = re.compile(r"\b(select|from|join|where|on|by|having|into|table|update|set|and|or|when|then|else)\b",
                      re.IGNORECASE)
_TABLE_CONTEXT = {"from", "join", "into", "table", "update"}
# A table the statement names: `from db.table alias`, `join table as alias`.
_NOT_ALIAS = ("where", "on", "join", "left", "right", "inner", "outer", "full", "cross", "group", "order",
              "limit", "union", "having", "select", "lateral", "using", "set", "partition")
_NAMED = re.compile(
    r"\b(?:from|join|update|into|table)\s+((?:`?\w+`?\.)?`?\w+`?)"
    r"(?:\s+(?:as\s+)?(?!(?:" + "|".join(_NOT_ALIAS) + r")\b)`?(\w+)`?)?",
    re.IGNORECASE,
)
DEFAULT_DATABASE = "default"


def _plain(name: str) -> str:
    return name.replace("`", "")


@dataclass
class _Entry:
    value: Any
    until: float


class MetadataCache:
    """Databases, tables and columns as the gateway last said, each for `lifetime` seconds."""

    def __init__(self, client: Callable[[], Any], lifetime: float = 60.0, failure_lifetime: float = 10.0) -> None:
        self._client = client
        self.lifetime = lifetime
        self.failure_lifetime = failure_lifetime
        self._entries: dict[tuple[str, ...], _Entry] = {}
        self._pending: dict[tuple[str, ...], threading.Event] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def databases(self, deadline: float) -> list[str]:
        return self._get(("dbs",), lambda client: client.databases(), deadline) or []

    def tables(self, database: str, deadline: float) -> list[str]:
        found = self._get(("tables", database.lower()), lambda client: [t.name for t in client.tables(database)],
                          deadline)
        return found or []

    def columns(self, database: str, table: str, deadline: float) -> list[ColumnInfo]:
        found = self._get(("columns", database.lower(), table.lower()),
                          lambda client: client.columns(database, table) or [], deadline)
        return found or []

    def _get(self, key: tuple[str, ...], fetch: Callable[[Any], Any], deadline: float) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.until > time.monotonic():
                return entry.value
            done = self._pending.get(key)
            if done is None:
                done = self._pending[key] = threading.Event()
                threading.Thread(target=self._fetch, args=(key, fetch, done), daemon=True,
                                 name="linkis-metadata").start()
        done.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            entry = self._entries.get(key)
            return entry.value if entry is not None else None

    def _fetch(self, key: tuple[str, ...], fetch: Callable[[Any], Any], done: threading.Event) -> None:
        try:
            value, life = fetch(self._client()), self.lifetime
        except Exception:  # noqa: BLE001 - a completion must never break the kernel
            # No metadata service, no rights, no gateway (a LinkisError), or any other failure:
            # no names, asked again a little later.
            value, life = None, self.failure_lifetime
        with self._lock:
            self._entries[key] = _Entry(value, time.monotonic() + life)
            self._pending.pop(key, None)
        done.set()


class SqlCompleter:
    """Completions and inspections of SQL text; `budget` is the most one request waits."""

    def __init__(self, cache: MetadataCache, budget: float = 1.0, database: str = DEFAULT_DATABASE) -> None:
        self.cache = cache
        self.budget = budget
        self.database = database

    # -- Tab ----------------------------------------------------------------------------------

    def complete(self, code: str, cursor: int) -> tuple[list[str], int, int]:
        """(matches, start, end): what may replace code[start:end]."""
        deadline = time.monotonic() + self.budget
        before = code[:cursor]
        word = _WORD_BEFORE.search(before).group(0)  # type: ignore[union-attr]
        start = cursor - len(word)
        end = cursor + len(_WORD_AFTER.match(code[cursor:]).group(0))  # type: ignore[union-attr]
        statement = _statement(code, cursor)
        if "." in word:
            qualifier, _, partial = word.rpartition(".")
            names = self._after_dot(_plain(qualifier), statement, deadline)
            return _matching([f"{qualifier}.{name}" for name in names], word), start, end
        context = _context(before[:start])
        names: list[str] = []
        if context in _TABLE_CONTEXT:
            names += self.cache.tables(self.database, deadline)
            names += self.cache.databases(deadline)
        elif context is not None:
            for database, table in dict.fromkeys(_named_tables(statement).values()):
                names += [c.name for c in self.cache.columns(database, table, deadline)]
            names += [match.group(2) for match in _NAMED.finditer(statement) if match.group(2)]
        else:
            names += self.cache.databases(deadline)
        return _matching(names + [_case_like(k, word) for k in KEYWORDS], word), start, end

    def _after_dot(self, qualifier: str, statement: str, deadline: float) -> list[str]:
        """Names after `qualifier.`: an alias's or a table's columns, or a database's tables."""
        table = _named_tables(statement).get(qualifier.lower())
        if table is not None:
            return [c.name for c in self.cache.columns(*table, deadline)]
        if "." not in qualifier and qualifier.lower() in {d.lower() for d in self.cache.databases(deadline)}:
            return self.cache.tables(qualifier, deadline)
        if "." in qualifier:
            database, _, name = qualifier.partition(".")
            return [c.name for c in self.cache.columns(database, name, deadline)]
        return []

    # -- Shift+Tab ----------------------------------------------------------------------------

    def inspect(self, code: str, cursor: int) -> str | None:
        """A table's columns and types, for the table, alias or column under the cursor (a column:
        its table's); None otherwise."""
        deadline = time.monotonic() + self.budget
        word = _WORD_BEFORE.search(code[:cursor]).group(0) + _WORD_AFTER.match(code[cursor:]).group(0)  # type: ignore[union-attr]
        name = _plain(word).strip(".")
        if not name:
            return None
        named = _named_tables(_statement(code, cursor))
        first, _, rest = name.lower().partition(".")
        if name.lower() in named:  # a table or alias of the statement
            database, table = named[name.lower()]
        elif first in named and rest:  # alias.column, table.column: that table
            database, table = named[first]
        elif rest:  # db.table, db.table.column
            database, table = name.split(".")[:2]
        else:
            database, table = self.database, name
        columns = self.cache.columns(database, table, deadline)
        if not columns:
            return None
        width = max(len(c.name) for c in columns)
        lines = [f"{database}.{table}"]
        for column in columns:
            note = "  (partition)" if column.partitioned else ""
            comment = f"  -- {column.comment}" if column.comment else ""
            lines.append(f"  {column.name.ljust(width)}  {column.type}{note}{comment}")
        return "\n".join(lines)


def cell_matcher(magics: Any) -> Callable[[Any], dict[str, Any]]:
    """An IPython completion matcher (API v2) for the SQL below a `%%linkis` line whose engine and
    run type are SQL; other text is left to IPython's own matchers."""
    completer = SqlCompleter(magics.metadata)

    def nothing() -> dict[str, Any]:
        return {"completions": [], "suppress": False}  # a new one each time: IPython fills it in

    @context_matcher()
    def linkis_sql(context: Any) -> dict[str, Any]:
        lines = context.full_text.split("\n")
        head = lines[0].strip()
        if context.cursor_line == 0 or not (head == "%%linkis" or head.startswith("%%linkis ")):
            return nothing()
        try:
            options = CellOptions.from_line(head[len("%%linkis"):], magics, magics.user_ns)
            run_type = JobSpec(code="-", engine=options.engine, run_type=options.run_type).run_type
        except Exception:  # noqa: BLE001 - a line the magic would refuse completes nothing
            return nothing()
        if RUN_TYPE_LANGUAGE.get(run_type) != "sql":
            return nothing()
        code = "\n".join(lines[1:])
        cursor = sum(len(line) + 1 for line in lines[1:context.cursor_line]) + context.cursor_position
        matches, start, _end = completer.complete(code, cursor)
        fragment = code[start:cursor]
        if not matches or not context.token.endswith(fragment):
            return nothing()
        return {"completions": [SimpleCompletion(text, type="linkis") for text in matches],
                "matched_fragment": fragment, "suppress": True, "ordered": True}

    return linkis_sql


def _statement(code: str, cursor: int) -> str:
    """The statement the cursor is in (statements end with ';')."""
    begin = code.rfind(";", 0, cursor) + 1
    end = code.find(";", cursor)
    return code[begin:end if end >= 0 else len(code)]


def _context(text: str) -> str | None:
    """The last keyword before the cursor that decides what comes next (lower case)."""
    last = None
    for match in _CONTEXT.finditer(text):
        last = match.group(1).lower()
    return last


def _named_tables(statement: str) -> dict[str, tuple[str, str]]:
    """Each table the statement names, by alias and by name (lower case): (database, table)."""
    named: dict[str, tuple[str, str]] = {}
    for match in _NAMED.finditer(statement):
        qualified, alias = _plain(match.group(1)), match.group(2)
        database, _, table = qualified.rpartition(".")
        target = (database or DEFAULT_DATABASE, table)
        named.setdefault(table.lower(), target)
        named.setdefault(qualified.lower(), target)
        if alias:
            named[alias.lower()] = target
    return named


def _case_like(keyword: str, word: str) -> str:
    return keyword.upper() if word[:1].isupper() else keyword


def _matching(names: list[str], word: str) -> list[str]:
    """The names that begin with `word` (any case), each once, in order."""
    prefix = _plain(word).lower()
    return list(dict.fromkeys(name for name in names if _plain(name).lower().startswith(prefix)))
