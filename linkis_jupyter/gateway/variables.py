"""`${name}` substitution as Linkis' entrance does it before a job runs.

Follows Linkis' VariableUtils.replace (linkis-commons/linkis-common: utils/VariableUtils.scala,
variable/VariableType.scala, variable/CustomDateType.scala, variable/DateTypeUtils.scala,
utils/VariableOperationUtils.java) and its "built-in time variable" documentation:

- Custom variables come from `--@set name=value` lines in SQL code (`#@set` in Python and shell),
  then from the job's `params.variable`; a value defined in the code wins. Numbers (not starting
  with 0) take `+ - * /`, strings take `+` (concatenation): `${f*2}`, `${name+_x}`.
- `run_date` (yyyyMMdd, by default yesterday; the user may set it) and the family derived from it:
  run_date_std, run_today[_std], run_mon[_std|_start|_end...], run_month_begin/end[_std],
  run_month_now_begin/end[_std], run_quarter_*, run_half_year_*, run_year_*, run_today_h[_std],
  run_today_hour[_std], run_last_mon_now[_std], run_current_mon_now[_std], run_mon_now[_std].
  Date-like variables take `+ n` / `- n` in their own unit: `${run_date-1}` is the day before,
  `${run_month_begin-1}` the first day of the month before, `${run_year_end+1}` a year later.
- Date patterns `&{yyyy-MM-dd%-1d}`: run_date (at the current time of day) shifted by each
  `%±N<y|M|d|H|m|s>` part, then formatted with the Java DateTimeFormatter pattern.
- A `${name}` nobody defined stays as it is, as Linkis leaves it. The result is stripped of
  surrounding whitespace, as Linkis strips it.
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, DecimalException, localcontext

# Linkis' `linkis.codeType.language.relation` default: which run types share a variable syntax.
_LANGUAGE = {
    **dict.fromkeys(("sql", "hql", "jdbc", "hive", "psql", "fql", "tsql", "nebula", "ngql", "aisql",
                     "starrocks"), "sql"),
    **dict.fromkeys(("python", "py", "pyspark", "py3"), "python"),
    "java": "java", "scala": "scala",
    **dict.fromkeys(("sh", "shell"), "shell"),
    **dict.fromkeys(("json", "data_calc"), "json"),
}
_SET_PREFIX = {"sql": "--", "python": "#", "shell": "#", "scala": "//", "java": "!!"}

_CODE_RE = re.compile(r"\$\{\s*[A-Za-z][A-Za-z0-9_.]*\s*[+\-*/]?\s*[A-Za-z0-9_.]*\s*\}")
_CAL_RE = re.compile(r"(\s*[A-Za-z][A-Za-z0-9_.]*\s*)([+\-*/]?)(\s*[A-Za-z0-9_.]*\s*)")
_PATTERN_RE = re.compile(r"&\{([^}]*)\}")

RUN_DATE = "run_date"
RUN_TODAY_H = "run_today_h"
RUN_TODAY_HOUR = "run_today_hour"

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


class VariableError(ValueError):
    """Substitution failed; the job must not run. `.code` is Linkis' error code for it."""

    def __init__(self, message: str, code: int = 20050) -> None:
        super().__init__(message)
        self.code = code

    @classmethod
    def wrap(cls, reason: str, code: int) -> VariableError:
        # VarSubstitutionInterceptor reports every failure as 20050 with this prefix.
        return cls(f"Variable replacement failed!(变量替换失败！){reason}", code)


# -- calendar helpers (java.util.Calendar / commons-lang DateUtils semantics) ----------------------

def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def _fmt(d: date, std: bool) -> str:
    return d.strftime("%Y-%m-%d") if std else d.strftime("%Y%m%d")


def _parse_day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def _parse_run_date(text: str) -> date:
    for pattern in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            pass
    raise VariableError.wrap(f"run_date must be a date as yyyyMMdd, not {text!r}", 20050)


# -- variable types ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Var:
    """A variable's value and how `${name + n}` / `${name - n}` moves it."""

    value: str
    shift: Callable[[int], str] | None = None   # date-like: +n / -n in its unit
    kind: str = "date"

    def calculate(self, sign: str, right: str) -> str:
        if self.shift is not None:
            if sign not in "+-":
                raise VariableError.wrap(
                    f"{self.kind} is not supported to use:{sign}", 20046)
            try:
                n = int(right)
            except ValueError:
                raise VariableError.wrap(f"For input string: \"{right}\"", 20050) from None
            return self.shift(n if sign == "+" else -n)
        raise VariableError.wrap(f"String class is not supported to use:{sign}", 20049)


@dataclass(frozen=True)
class _StringVar(_Var):
    kind: str = "String"

    def calculate(self, sign: str, right: str) -> str:
        if sign == "+":
            return self.value + right
        raise VariableError.wrap(f"String class is not supported to use:{sign}", 20049)


def _plain(d: Decimal) -> str:
    if d == d.to_integral_value() and _LONG_MIN <= d <= _LONG_MAX:
        return str(int(d))
    return format(d, "f")


@dataclass(frozen=True)
class _NumberVar(_Var):
    number: Decimal = Decimal(0)
    kind: str = "BigDecimal"

    def calculate(self, sign: str, right: str) -> str:
        try:
            other = Decimal(right)
            # Scala's BigDecimal computes with MathContext.DECIMAL128: 34 significant digits.
            with localcontext() as ctx:
                ctx.prec = 34
                result = {"+": self.number.__add__, "-": self.number.__sub__,
                          "*": self.number.__mul__, "/": self.number.__truediv__}[sign](other)
        except (DecimalException, KeyError):
            raise VariableError.wrap(f"BigDecimal class is not supported to use:{sign} {right}",
                                     20050) from None
        return _plain(result)


def _user_var(value: str) -> _Var:
    # Linkis takes a value as a number when it parses as a BigDecimal and does not start with "0"
    # (so "007" stays a string; so, quirkily, does "0.5").
    if not value.startswith("0"):
        try:
            number = Decimal(value)
        except DecimalException:
            number = None
        if number is not None and number.is_finite():
            return _NumberVar(_plain(number), number=number)
    return _StringVar(value)


def _day_var(d: date, std: bool) -> _Var:
    return _Var(_fmt(d, std), lambda n: _fmt(d + timedelta(days=n), std), "DateType")


def _month_var(base: date, std: bool, end: bool) -> _Var:
    def at(d: date) -> str:
        first = d.replace(day=1)
        return _fmt(_month_end(first) if end else first, std)
    return _Var(at(base), lambda n: at(_add_months(base, n)), "MonthType")


def _quarter_start(d: date) -> date:
    return date(d.year, (d.month - 1) // 3 * 3 + 1, 1)


def _quarter_var(base: date, std: bool, end: bool) -> _Var:
    def at(d: date) -> str:
        first = _quarter_start(d)
        return _fmt(_month_end(_add_months(first, 2)) if end else first, std)
    return _Var(at(base), lambda n: at(_add_months(_quarter_start(base), 3 * n)), "QuarterType")


def _half_year_start(d: date) -> date:
    return date(d.year, 1 if d.month <= 6 else 7, 1)


def _half_year_var(base: date, std: bool, end: bool) -> _Var:
    def at(d: date) -> str:
        first = _half_year_start(d)
        return _fmt(_month_end(_add_months(first, 5)) if end else first, std)
    return _Var(at(base), lambda n: at(_add_months(_half_year_start(base), 6 * n)), "HalfYearType")


def _year_var(base: date, std: bool, end: bool) -> _Var:
    def at(d: date) -> str:
        return _fmt(date(d.year, 12, 31) if end else date(d.year, 1, 1), std)
    return _Var(at(base), lambda n: at(_add_months(base, 12 * n)), "YearType")


def _mon_var(base: date, std: bool, end: bool) -> _Var:
    # Linkis' CustomMonType: yyyyMM; its "end" form sets the month to December.
    def at(d: date) -> str:
        if end:
            d = d.replace(month=12)
        return d.strftime("%Y-%m") if std else d.strftime("%Y%m")
    return _Var(at(base), lambda n: at(_add_months(base, n)), "MonType")


def _hour_var(hour_text: str, std: bool) -> _Var:
    try:
        moment = datetime.strptime(hour_text, "%Y%m%d%H")
    except ValueError:
        raise VariableError.wrap(f"an hour variable must be yyyyMMddHH, not {hour_text!r}",
                                 20050) from None

    def at(m: datetime) -> str:
        return m.strftime("%Y-%m-%d %H") if std else m.strftime("%Y%m%d%H")
    return _Var(at(moment) if std else hour_text, lambda n: at(moment + timedelta(hours=n)),
                "HourType")


def _builtins(run_date: date, now: datetime, given: Mapping[str, _Var]) -> dict[str, _Var]:
    out: dict[str, _Var] = {}
    out["run_date_std"] = _day_var(run_date, True)
    for std, suffix in ((False, ""), (True, "_std")):
        out[f"run_month_begin{suffix}"] = _month_var(run_date, std, False)
        out[f"run_month_end{suffix}"] = _month_var(run_date, std, True)
        out[f"run_quarter_begin{suffix}"] = _quarter_var(run_date, std, False)
        out[f"run_quarter_end{suffix}"] = _quarter_var(run_date, std, True)
        out[f"run_half_year_begin{suffix}"] = _half_year_var(run_date, std, False)
        out[f"run_half_year_end{suffix}"] = _half_year_var(run_date, std, True)
        out[f"run_year_begin{suffix}"] = _year_var(run_date, std, False)
        out[f"run_year_end{suffix}"] = _year_var(run_date, std, True)

    run_today = run_date + timedelta(days=1)
    out["run_today"] = _day_var(run_today, False)
    out["run_today_std"] = _day_var(run_today, True)
    last_month = _add_months(run_today, -1).replace(day=1)
    for std, suffix in ((False, ""), (True, "_std")):
        out[f"run_month_now_begin{suffix}"] = _month_var(last_month, std, False)
        out[f"run_month_now_end{suffix}"] = _month_var(last_month, std, True)

    run_mon = run_date.replace(day=1)
    out["run_mon"] = _mon_var(run_mon, False, False)
    out["run_mon_std"] = _mon_var(run_mon, True, False)
    out["run_mon_start"] = _mon_var(run_mon, False, False)
    out["run_mon_start_std"] = _mon_var(run_mon, True, False)
    out["run_mon_end"] = _mon_var(run_mon, False, True)
    out["run_mon_end_std"] = _mon_var(run_mon, True, True)

    current_hour = run_today.strftime("%Y%m%d") + f"{now.hour:02d}"
    for name in (RUN_TODAY_H, RUN_TODAY_HOUR):
        hour = given.get(name) or _hour_var(current_hour, False)
        out[name] = hour
        out[f"{name}_std"] = _hour_var(hour.value, True)

    today_mon = run_today.replace(day=1)
    out["run_last_mon_now"] = _mon_var(_add_months(today_mon, -1), False, False)
    out["run_last_mon_now_std"] = _mon_var(_add_months(today_mon, -1), True, False)
    for name in ("run_current_mon_now", "run_mon_now"):
        out[name] = _mon_var(today_mon, False, False)
        out[f"{name}_std"] = _mon_var(today_mon, True, False)
    return out


def custom_variables(code: str, language: str | None) -> dict[str, str]:
    """`--@set name=value` (SQL) or `#@set name=value` (Python, shell) definitions in the code.

    As in Linkis (VariableUtils.getCustomVar) a definition may follow other text on its line,
    and a definition line must hold exactly one `=`.
    """
    prefixes = [_SET_PREFIX[language]] if language in _SET_PREFIX else (
        ["--", "#"] if language is None else [])
    if not prefixes:
        return {}
    definition = re.compile("|".join(re.escape(p) + r"@set\s*\S" for p in prefixes))
    found: dict[str, str] = {}
    for line in code.split("\n"):
        if not definition.search(line):
            continue
        clear = line[:-1] if line.endswith(";") else line
        parts = clear.split("=")
        if len(parts) != 2:
            raise VariableError.wrap(
                f"{line} var defined uncorrectly" if len(parts) > 2
                else f"var was defined uncorrectly:{line}", 20044 if len(parts) > 2 else 20045)
        name_part = parts[0].split("@set")
        if len(name_part) == 2 and name_part[1].strip():
            found[name_part[1].strip()] = parts[1].strip()
    return found


def substitute(code: str, variables: Mapping[str, str] | None = None,
               now: datetime | None = None, run_type: str | None = None) -> str:
    """The code with `${...}` and `&{...}` replaced as Linkis' entrance replaces them.

    `variables`: the job's `params.variable` (the gateway adds `user`, `execute_user`,
    `submit_user` as Linkis does). `now`: the time the job is submitted (default: now, local
    time). `run_type`: when given, selects the `@set` syntax; a run type Linkis does not group
    under a language gets no substitution at all, as in Linkis. Raises VariableError (Linkis
    code 20041-20050) for a malformed expression; the job must then fail.
    """
    variables = dict(variables or {})
    now = now or datetime.now()
    language: str | None = None
    if run_type is not None:
        language = _LANGUAGE.get(run_type.lower())
        if language is None:
            return code

    named: dict[str, _Var] = {}
    run_date: date | None = None

    def put(source: Mapping[str, object]) -> None:
        nonlocal run_date
        for key, raw in source.items():
            if raw is None or key in named:
                continue
            value = str(raw)
            if not value:
                continue
            if key == RUN_DATE:
                run_date = _parse_run_date(value)
                named[RUN_DATE] = _day_var(run_date, False)
            else:
                named[key] = _user_var(value)

    put(custom_variables(code, language))
    if "user" in variables:
        named["user"] = _StringVar(str(variables["user"]))
    put(variables)
    if run_date is None:
        run_date = now.date() - timedelta(days=1)
        named[RUN_DATE] = _day_var(run_date, False)
    given = {}
    for name in (RUN_TODAY_H, RUN_TODAY_HOUR):
        text = str(variables.get(name) or "").strip()
        if text:
            given[name] = _hour_var(text, False)
    named.update(_builtins(run_date, now, given))

    code = _CODE_RE.sub(lambda m: _expression(m.group(0), named), code)
    code = _replace_patterns(code, datetime.combine(run_date, now.time()))
    return code.strip()


def _expression(text: str, named: Mapping[str, _Var]) -> str:
    match = _CAL_RE.search(text)
    assert match is not None  # _CODE_RE only matches text _CAL_RE matches
    name, sign, right = match.group(1).strip(), match.group(2), match.group(3).strip()
    var = named.get(name)
    if var is None:
        return text
    if not sign:
        return var.value
    if not right:
        raise VariableError.wrap(f"[{text}] expression is not right, please check", 20042)
    if right in named:
        right = named[right].value
    return var.calculate(sign, right)


# -- &{pattern%offset} date patterns ------------------------------------------------------------

_SHIFTS = ("y", "M", "d", "H", "m", "s")


def _shift(moment: datetime, part: str) -> datetime:
    for cycle in _SHIFTS:
        if cycle in part:
            n = int(part.replace(cycle, ""))
            if cycle == "y":
                return _replace_date(moment, _add_months(moment.date(), 12 * n))
            if cycle == "M":
                return _replace_date(moment, _add_months(moment.date(), n))
            return moment + timedelta(**{{"d": "days", "H": "hours", "m": "minutes",
                                          "s": "seconds"}[cycle]: n})
    return moment


def _replace_date(moment: datetime, d: date) -> datetime:
    return moment.replace(year=d.year, month=d.month, day=d.day)


def _replace_patterns(code: str, moment: datetime) -> str:
    def one(match: re.Match[str]) -> str:
        content = match.group(1).strip()
        parts = content.split("%")
        try:
            shifted = moment
            for part in parts[1:]:
                if part:
                    shifted = _shift(shifted, part)
            return java_format(shifted, parts[0])
        except ValueError:
            # Linkis leaves a placeholder it cannot evaluate (IllegalArgumentException) as it is.
            return match.group(0)
    return _PATTERN_RE.sub(one, code)


_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _week_year(d: date) -> int:
    # Week-based year as java.time computes it for the US locale: weeks start on Sunday and week 1
    # is the one holding January 1st.
    saturday = d + timedelta(days=(5 - d.weekday()) % 7)
    return saturday.year if saturday.year > d.year else d.year


def _field(letter: str, count: int, m: datetime) -> str:
    def num(value: int) -> str:
        return str(value).zfill(count)
    if letter in "yu":
        return f"{m.year % 100:02d}" if count == 2 else str(m.year).zfill(count)
    if letter == "Y":
        year = _week_year(m.date())
        return f"{year % 100:02d}" if count == 2 else str(year).zfill(count)
    if letter in "ML":
        if count <= 2:
            return num(m.month)
        name = _MONTHS[m.month - 1]
        return name[:3] if count == 3 else name if count == 4 else name[0]
    if letter == "d":
        return num(m.day)
    if letter == "D":
        return num(m.timetuple().tm_yday)
    if letter == "H":
        return num(m.hour)
    if letter == "k":
        return num(m.hour or 24)
    if letter == "K":
        return num(m.hour % 12)
    if letter == "h":
        return num(m.hour % 12 or 12)
    if letter == "m":
        return num(m.minute)
    if letter == "s":
        return num(m.second)
    if letter == "S":
        return f"{m.microsecond:06d}000"[:count].ljust(count, "0")
    if letter == "E":
        name = _DAYS[m.weekday()]
        return name if count == 4 else name[0] if count == 5 else name[:3]
    if letter == "a":
        return "AM" if m.hour < 12 else "PM"
    if letter in "Qq":
        quarter = (m.month - 1) // 3 + 1
        return num(quarter) if count <= 2 else f"Q{quarter}" if count == 3 else (
            f"{quarter}{['st', 'nd', 'rd', 'th'][quarter - 1]} quarter")
    raise ValueError(f"pattern letter {letter!r} is not supported")


def java_format(moment: datetime, pattern: str) -> str:
    """`moment` formatted with a java.time DateTimeFormatter pattern (the letters dates use)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            if pattern.startswith("''", i):
                out.append("'")
                i += 2
                continue
            i += 1
            while True:
                if i >= len(pattern):
                    raise ValueError("unterminated quote in the pattern")
                if pattern.startswith("''", i):
                    out.append("'")
                    i += 2
                elif pattern[i] == "'":
                    i += 1
                    break
                else:
                    out.append(pattern[i])
                    i += 1
            continue
        if ch.isascii() and ch.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == ch:
                j += 1
            out.append(_field(ch, j - i, moment))
            i = j
            continue
        if ch in "[]{}#":
            raise ValueError(f"reserved pattern character {ch!r}")
        out.append(ch)
        i += 1
    return "".join(out)
