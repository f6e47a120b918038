"""The entrance's SQL limit: SELECTs of creator IDE capped at 5000 rows, as Linkis rewrites them.

Ported from Linkis' entrance (linkis-computation-governance/linkis-entrance/.../interceptor/impl/:
SQLLimitEntranceInterceptor.scala, Explain.scala `SQLExplain`, CommentInterceptor.scala
`SQLCommentHelper`), as release-1.8.0 has them, and from 0.11.0 for the 0.x profile. The
interceptor runs after variable substitution and before the job is scheduled; what it rewrites is
what the engine runs and what job history keeps as executionCode (QueryPersistenceManager
updates the record with the intercepted JobRequest). Its log lines reach the job's log as one
entry, before the scheduler's lines (EntranceServer.execute: `onLogUpdate(job,
logAppender.toString.trim)`).

Release 1.8.0, for a creator that `wds.linkis.sql.limit.creator` (default "IDE") contains and a
run type of the SQL language family:

- comments are removed (`--`, `/* */` and `#`, outside single quotes), `;` inside
  `comment '...'` is escaped as `\\;`, and the code is cut at `;`;
- a statement whose first word contains "select" and whose last-but-one word is not "limit" gets
  " limit 5000" appended; one ending in `limit N` with N > 5000 gets its limit lowered to 5000;
- the statements are joined again with ";\\n".

The decisions are Linkis' own, quirks included; each helper names the Scala it follows. Java's
`String.trim`, `split` and `\\s` differ from Python's, so the helpers below behave as Java's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

__all__ = [
    "DEFAULT_CREATORS", "DEFAULT_LIMIT", "SqlLimitError", "Intercepted", "intercept",
    "deal_sql_limit", "deal_sql_limit_0x", "deal_comment", "replace_comment",
]

DEFAULT_CREATORS = "IDE"     # EntranceConfiguration.SQL_LIMIT_CREATOR, wds.linkis.sql.limit.creator
DEFAULT_LIMIT = 5000         # SQLExplain.SQL_DEFAULT_LIMIT, wds.linkis.sql.default.limit

# CodeAndRunTypeUtils.CODE_TYPE_AND_RUN_TYPE_RELATION at release-1.8.0, the "sql=>" part
# (master adds aisql and starrocks). The interceptor asks for the language of the codeType label.
SQL_CODE_TYPES = ("sql", "hql", "jdbc", "hive", "psql", "fql", "tsql", "nebula", "ngql")
# 0.11.0 SQLLimitEntranceInterceptor matched the task's engineType, which the 0.x parser set to
# the runType (CommonEntranceParser).
SQL_CODE_TYPES_0X = ("hql", "sql", "jdbc", "hive", "psql", "essql")

# The log texts, word for word. Linkis writes "5000" whatever wds.linkis.sql.default.limit says.
NOT_LIMITED = "The code you submit will not be limited by the limit"
ADDED = "You submitted a sql without limit, DSS will add limit 5000 to your sql"
LOWERED = ("You submitted a sql with limit exceeding 5000, it is not allowed. "
           "DSS will change your limit to 5000")
FULL_EXPORT = "please pay attention ,SQL full export mode opened(请注意,SQL全量导出模式打开)"
CHECK_PASSED = "SQL code check has passed"
ADDED_0X = "You submitted a sql {sql} without limit, program will add limit 5000 to your sql"
LOWERED_0X = ("You submitted a sql {sql} with limit exceeding 5000, it is not allowed. "
              "Program will change your limit to 5000")

# EntranceErrorCode.EXECUTION_CODE_ISNULL, and EntranceServer's wrapping of any other exception
# an interceptor throws (EntranceErrorCodeSummary.FAILED_ANALYSIS_TASK; 0.11.0 EntranceServer).
EMPTY_CODE = (20015, "execute code is null, nothing will be execute!(执行代码为空，没有任何代码会被执行)")
FAILED_ANALYSIS = (20039, "Failed to analysis task,because:{0}(分析任务失败)!")
FAILED_ANALYSIS_0X = (20039, "解析task失败！原因：{0}")

# Java's `\s` (no Unicode spaces) and `.` (no line terminators) in the patterns Linkis compiles.
_WS = r"[ \t\n\x0B\f\r]"
_DOT = r"[^\n\r\u0085\u2028\u2029]"
_EOL = r"(?=[\n\r\u0085\u2028\u2029]|\Z)"    # Java's `$` in MULTILINE mode
_WORDS = re.compile(_WS + "+")
# SQLExplain.IDE_ALLOW_NO_LIMIT_REGEX, searched in the code before its comments are removed (the
# opt-out is itself a comment).
NO_LIMIT_ALLOWED = re.compile(rf"--set{_WS}*ide{_DOT}engine{_DOT}no{_DOT}limit{_DOT}allow{_WS}*={_WS}*true")
NO_LIMIT_ALLOWED_0X = "--set wds.linkis.engine.no.limit.allow=true"   # 0.11.0: a plain contains
# SQLCommentHelper.comment: a single-quoted string is kept, `--` and `#` to the end of the line
# and `/* */` go. Double quotes are no protection: `select "--x"` loses the rest of its line.
_COMMENT = re.compile(rf"('(?:''|[^'])*')|--.*?{_EOL}|/\*.*?\*/|#.*?{_EOL}|", re.S)
# SQLCommentHelper.comment_sem (Java's (?i) folds ASCII only).
_COMMENT_CLAUSE = re.compile(rf"(comment){_WS}+'([^']*)'", re.I | re.A)
_LIMIT_TAIL = re.compile(rf"limit{_WS}+[0-9]+{_WS}*;?")
_INT_MAX = 2**31 - 1


class SqlLimitError(Exception):
    """The interceptor refuses the job: Linkis' errCode and desc."""

    def __init__(self, code: int, desc: str) -> None:
        super().__init__(desc)
        self.code = code
        self.desc = desc


@dataclass
class Intercepted:
    """The code the engine gets, and the interceptor's lines for the job's log: (level, text)."""

    code: str
    lines: list[tuple[str, str]] = field(default_factory=list)


def intercept(code: str, *, creator: str, run_type: str, creators: str = DEFAULT_CREATORS,
              limit: int = DEFAULT_LIMIT, release: str = "1.8.0") -> Intercepted:
    """SQLLimitEntranceInterceptor.apply for a job of `creator` and `run_type`.

    `creators` is the text of wds.linkis.sql.limit.creator: Linkis asks `LIMIT_CREATORS
    .contains(creator)`, a substring test, so with "IDE" the creators "ID" and "E" are limited
    too. Raises SqlLimitError where Linkis' interceptor throws."""
    if release == "0.11.0":
        # 0.11.0 asked no creator: every SQL job was limited.
        if run_type.lower() not in SQL_CODE_TYPES_0X:
            return Intercepted(code)
        return _guard(lambda: deal_sql_limit_0x(code, limit), FAILED_ANALYSIS_0X)
    if creator not in creators:
        # The warning is written for any run type, SQL or not.
        return Intercepted(code, [("WARN", NOT_LIMITED)])
    if run_type.lower() not in SQL_CODE_TYPES:
        return Intercepted(code)
    return _guard(lambda: deal_sql_limit(code, limit), FAILED_ANALYSIS)


def _guard(deal: Callable[[], Intercepted], failed: tuple[int, str]) -> Intercepted:
    """EntranceServer: an ErrorException reaches the client as it is, anything else as 20039
    with its root cause (ExceptionUtils.getRootCauseMessage: `<SimpleName>: <message>`)."""
    try:
        return deal()
    except SqlLimitError:
        raise
    except _JavaException as e:
        raise SqlLimitError(failed[0], failed[1].replace("{0}", f"{e.java_name}: {e}")) from None


class _JavaException(Exception):
    java_name = "Exception"


class _NumberFormatException(_JavaException):
    java_name = "NumberFormatException"


class _ArrayIndexOutOfBoundsException(_JavaException):
    java_name = "ArrayIndexOutOfBoundsException"


# -- release-1.8.0 ----------------------------------------------------------------------------

def deal_sql_limit(code: str, limit: int = DEFAULT_LIMIT) -> Intercepted:
    """SQLExplain.dealSQLLimit (release-1.8.0)."""
    out: list[str] = []
    lines: list[tuple[str, str]] = []
    temp = replace_comment(deal_comment(code))
    no_limit = NO_LIMIT_ALLOWED.search(code) is not None
    if no_limit:
        lines.append(("WARN", FULL_EXPORT))
    if "\\;" in temp:
        # An escaped semicolon (one replace_comment made, or the user's) is not a cut: the
        # statement keeps its `\;` as it is.
        statements = [temp[start:end] for start, end in _real_semicolon_spans(temp)]
    else:
        # Master cuts only outside quotes (splitSqlWithRealSemicolon); 1.8.0 cuts at every `;`,
        # so `select ';'` is cut in two, and a limit may land inside a string literal.
        statements = _java_split(temp, ";")
    added = lowered = False
    for single in statements:
        if _is_select_cmd(single):
            trimmed = _java_trim(single)
            if _is_select_cmd_no_limit(trimmed) and not no_limit:
                if not added:
                    lines.append(("WARN", ADDED))
                    added = True
                out.append(_clean_comment(trimmed) + f" limit {limit}")
            elif _is_select_over_limit(single, limit) and not no_limit:
                if not lowered:
                    lines.append(("WARN", LOWERED))
                    lowered = True
                out.append(_repair_select_over_limit(trimmed, limit))
            else:
                out.append(_java_trim(single))
        else:
            out.append(_java_trim(single))
    lines.append(("INFO", CHECK_PASSED))
    fixed = ";\n".join(out)
    if not fixed:
        raise SqlLimitError(*EMPTY_CODE)
    return Intercepted(fixed, lines)


def deal_comment(code: str) -> str:
    """SQLCommentHelper.dealComment: `replaceAll("$1")`, the quoted strings kept."""
    return _COMMENT.sub(lambda m: m.group(1) or "", code)


def replace_comment(code: str) -> str:
    """SQLCommentHelper.replaceComment: `;` in a `comment '...'` clause becomes `\\;`. The clause
    goes through Matcher.appendReplacement, which reads `\\x` and `$n` in it; a `$` it cannot
    read makes the whole call give the code back unchanged, as Linkis' catch does."""
    out: list[str] = []
    last = 0
    try:
        for m in _COMMENT_CLAUSE.finditer(code):
            # replaceAll(";", "\\\\\\\\;") leaves two backslashes; appendReplacement reads them as one.
            escaped = m.group(2).replace(";", "\\\\;")
            out.append(code[last:m.start()])
            out.append(_java_expand(f"{m.group(1)} '{escaped}'", m))
            last = m.end()
    except ValueError:
        return code
    out.append(code[last:])
    return "".join(out)


def _java_expand(template: str, m: re.Match[str]) -> str:
    """Matcher.appendReplacement's reading of a replacement: `\\c` is c, `$n` a group."""
    out: list[str] = []
    i = 0
    groups = len(m.groups())
    while i < len(template):
        c = template[i]
        if c == "\\":
            if i + 1 == len(template):
                raise ValueError("character to be escaped is missing")
            out.append(template[i + 1])
            i += 2
        elif c == "$":
            if i + 1 == len(template) or not "0" <= template[i + 1] <= "9":
                raise ValueError("Illegal group reference")
            ref = int(template[i + 1])
            i += 2
            while i < len(template) and "0" <= template[i] <= "9" and ref * 10 + int(template[i]) <= groups:
                ref = ref * 10 + int(template[i])
                i += 1
            if ref > groups:
                raise ValueError(f"No group {ref}")
            out.append(m.group(ref) or "")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _real_semicolon_spans(temp: str) -> list[tuple[int, int]]:
    """SQLExplain.findRealSemicolonIndex, and the substrings dealSQLLimit takes between them."""
    real = temp if temp.endswith(";") else temp + ";"
    spans = []
    start = 0
    for i in range(len(real) - 1):
        if real[i] != "\\" and real[i + 1] == ";":
            spans.append((start, i + 1))
            start = i + 2
    return spans


def _is_select_cmd(code: str) -> bool:
    """SQLExplain.isSelectCmd: the first word *contains* "select" (so `select*` counts)."""
    if not code:
        return False
    return "select" in _WORDS.split(_java_trim(_clean_comment(code)))[0].lower()


def _is_select_cmd_no_limit(cmd: str) -> bool:
    """SQLExplain.isSelectCmdNoLimit: only the last-but-one word is looked at, so `limit 10
    offset 5` counts as no limit, and `(1=1)LIMIT 1` as a limit."""
    if not cmd:
        return False
    words = _java_split(_java_trim(cmd), _WORDS)
    if len(words) <= 1:
        return False
    second_last = words[-2].lower()
    return not (second_last == "limit" or ")limit" in second_last)


def _clean_comment(sql: str) -> str:
    """SQLExplain.cleanComment: lines starting with `--` go."""
    kept = [line + "\n" for line in _java_split(_java_trim(sql), "\n")
            if not _java_trim(line).startswith("--")]
    return _java_trim("".join(kept))


def _is_select_over_limit(cmd: str, limit: int) -> bool:
    """SQLExplain.isSelectOverLimit: the text from the last "limit" on must be `limit N`."""
    if not cmd:
        return False
    code = _java_trim(cmd)
    if "limit" in code.lower():
        code = _java_trim(code[code.lower().rfind("limit"):])
    if not _LIMIT_TAIL.fullmatch(code.lower()):
        return False
    code = _java_trim(code[5:-1] if code.find(";") > 0 else code[5:])
    return _java_int(code) > limit


def _repair_select_over_limit(cmd: str, limit: int) -> str:
    """SQLExplain.repairSelectOverLimit: the text before the last "limit", and the new limit in
    upper case when the statement starts with upper-case SELECT."""
    code = _java_trim(cmd)
    lower = code.lower()
    pre = _java_trim(code[:lower.rfind("limit")]) if "limit" in lower else ""
    keyword = "LIMIT" if _java_trim(cmd).startswith("SELECT") else "limit"
    return f"{pre} {keyword} {limit}"


# -- 0.11.0 -----------------------------------------------------------------------------------

def deal_sql_limit_0x(code: str, limit: int = DEFAULT_LIMIT) -> Intercepted:
    """SQLExplain.dealSQLLimit (0.11.0): no comment handling, a warning per statement naming it,
    a plain-text opt-out that writes nothing."""
    out: list[str] = []
    lines: list[tuple[str, str]] = []
    no_limit = NO_LIMIT_ALLOWED_0X in code
    for single in _java_split(code, ";"):
        if _is_select_cmd_0x(single):
            trimmed = _java_trim(single)
            if _is_select_cmd_no_limit_0x(trimmed) and not no_limit:
                lines.append(("WARN", ADDED_0X.format(sql=trimmed)))
                # Comments stay: a trailing `-- note` swallows the limit.
                out.append(trimmed + f" limit {limit}")
            elif _is_select_over_limit(single, limit) and not no_limit:
                lines.append(("WARN", LOWERED_0X.format(sql=trimmed)))
                out.append(_repair_select_over_limit(trimmed, limit))
            else:
                out.append(_java_trim(single))
        else:
            out.append(_java_trim(single))
    lines.append(("INFO", CHECK_PASSED))
    return Intercepted(";\n".join(out), lines)


def _is_select_cmd_0x(code: str) -> bool:
    """0.11.0 isSelectCmd: the first word is "select", in any case."""
    if not code:
        return False
    return _WORDS.split(_java_trim(_clean_comment(code)))[0].lower() == "select"


def _is_select_cmd_no_limit_0x(cmd: str) -> bool:
    """0.11.0 isSelectCmdNoLimit: a one-word statement (`select`) fails on `a(length - 2)`."""
    if not cmd:
        return False
    words = _java_split(_java_trim(cmd), _WORDS)
    if len(words) < 2:
        raise _ArrayIndexOutOfBoundsException(str(len(words) - 2))
    return words[-2].lower() != "limit"


# -- Java's strings ---------------------------------------------------------------------------

def _java_trim(s: str) -> str:
    """String.trim: every char up to U+0020 goes from both ends, and nothing else."""
    start, end = 0, len(s)
    while start < end and s[start] <= " ":
        start += 1
    while end > start and s[end - 1] <= " ":
        end -= 1
    return s[start:end]


def _java_split(s: str, sep: str | re.Pattern[str]) -> list[str]:
    """String.split: trailing empty parts dropped, unless nothing matched at all."""
    parts = sep.split(s) if isinstance(sep, re.Pattern) else s.split(sep)
    if len(parts) == 1:
        return parts
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _java_int(s: str) -> int:
    """Integer.parseInt of a run of ASCII digits."""
    value = int(s)
    if value > _INT_MAX:
        raise _NumberFormatException(f'For input string: "{s}"')
    return value
