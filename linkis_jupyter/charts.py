"""The data of each `%linkis plot` kind: its queries, and the aggregated frame they make.

    chart = build(runner, PlotRequest("hist", ["amount"], bins=30))
    chart.frame          # bin, left, right, count: what plots.py draws and -o keeps

Every kind is one or two jobs, each returning at most `MAX_ROWS` rows:

- hist: MIN/MAX/COUNT, then COUNT(*) per bin (`--by`: per group and bin, the `--top` largest groups);
- box: the quartiles (approximate), MIN, MAX, AVG, COUNT; then the whisker ends and the number of
  points beyond them, only when some point lies beyond 1.5 IQR;
- bar: the `--top` values with their counts and the total, in one job (a window over the
  groups), "other" being the total minus theirs;
- line: COUNT(*) per hour, day or month (`--by`: first the largest groups), the latest periods;
- heatmap: MIN/MAX of both columns, then COUNT(*) per cell of a bins x bins grid: a scatter plot
  of any number of rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from IPython.core.error import UsageError

from .dialect import Dialect
from .frames import pandas_dtype_for
from .explore import MAX_ROWS, Runner, as_float, as_text, group_filter, numbers_of, where

if TYPE_CHECKING:
    import pandas

__all__ = ["KINDS", "Chart", "PlotRequest", "build", "check_request"]

KINDS = ("hist", "box", "bar", "line", "heatmap")
DEFAULT_BINS = {"hist": 30, "heatmap": 30}
MAX_BINS = {"hist": 500, "heatmap": 60}  # heatmap: bins x bins cells
DEFAULT_TOP = {"bar": 20}  # bar: values; the others: groups of --by
DEFAULT_GROUPS = 10
MAX_GROUPS = 50
MAX_PERIODS = 2000
_COLUMNS = {"hist": 1, "box": 1, "bar": 1, "line": 1, "heatmap": 2}
_KINDS_OF = {"hist": ("number",), "box": ("number",), "heatmap": ("number",), "line": ("time", "text"),
             "bar": ("number", "time", "text", "bool")}


@dataclass(frozen=True)
class PlotRequest:
    kind: str
    columns: Sequence[str]
    where: str | None = None
    by: str | None = None
    bins: int | None = None
    top: int | None = None
    grain: str = "day"

    @property
    def n_bins(self) -> int:
        return self.bins if self.bins is not None else DEFAULT_BINS.get(self.kind, 30)

    @property
    def n_top(self) -> int:
        if self.top is not None:
            return self.top
        return DEFAULT_TOP.get(self.kind, DEFAULT_GROUPS)


@dataclass
class Chart:
    kind: str
    frame: pandas.DataFrame
    title: str
    x: str
    y: str | None = None
    by: str | None = None
    notes: list[str] = field(default_factory=list)


def check_request(req: PlotRequest, prog: str) -> None:
    """Mistakes the line alone shows, before anything is sent."""
    if req.kind not in KINDS:
        raise UsageError(f"{prog}: unknown plot kind {req.kind!r}; one of {', '.join(KINDS)}")
    wanted = _COLUMNS[req.kind]
    if len(req.columns) != wanted:
        raise UsageError(f"{prog} {req.kind} takes {wanted} column{'s' if wanted > 1 else ''}, "
                         f"not {len(req.columns)}: {', '.join(req.columns) or 'none'}")
    if req.by is not None and req.kind in ("bar", "heatmap"):
        raise UsageError(f"{prog} {req.kind} has no --by (hist, box and line have)")
    if req.bins is not None and req.kind not in MAX_BINS:
        raise UsageError(f"{prog} {req.kind} has no --bins (hist and heatmap have)")
    bins, most = req.n_bins, MAX_BINS.get(req.kind, 0)
    if req.kind in MAX_BINS and not 1 <= bins <= most:
        raise UsageError(f"{prog} {req.kind}: --bins must be 1 to {most} (each query returns at most "
                         f"{MAX_ROWS} rows), not {bins}")
    top = req.n_top
    if top < 1:
        raise UsageError(f"{prog} {req.kind}: --top must be at least 1, not {top}")
    if req.kind == "bar" and top > MAX_ROWS:
        raise UsageError(f"{prog} bar: --top must be at most {MAX_ROWS}, not {top}")
    if req.by is not None and top > MAX_GROUPS:
        raise UsageError(f"{prog} {req.kind}: --top (groups of --by) must be at most {MAX_GROUPS}, not {top}")
    if req.by is not None and req.kind == "hist" and bins * top > MAX_ROWS:
        raise UsageError(f"{prog} hist: --bins x --top must be at most {MAX_ROWS} (one row per bin and group), "
                         f"not {bins} x {top}")


def build(runner: Runner, req: PlotRequest, types: dict[str, str]) -> Chart:
    """Check the columns against their types, run the jobs, and assemble the chart's frame."""
    kinds = _KINDS_OF[req.kind]
    columns = runner.pick(types, req.columns, kinds, f"{req.kind}")
    by = runner.pick(types, [req.by], ("number", "time", "text", "bool"), "--by")[0] if req.by else None
    return _BUILDERS[req.kind](runner, req, columns, by, types)


# -- pieces every kind uses --------------------------------------------------------------------

def bin_expr(d: Dialect, expr: str, low: float, high: float, width: float, bins: int) -> str:
    """The bin (0 .. bins-1) of `expr`; the top edge falls in the last bin."""
    if bins == 1:
        return "0"
    return (f"CASE WHEN {expr} >= {d.number(high)} THEN {bins - 1} "
            f"ELSE CAST(FLOOR(({expr} - {d.number(low)}) / {d.number(width)}) AS INT) END")


def binning(low: float, high: float, bins: int, integers: bool) -> tuple[float, int]:
    """(width, bins): integer columns of a small range get one bin per value, [v, v+1)."""
    if integers and high - low + 1 <= bins:
        return 1.0, int(high - low) + 1
    if high <= low:
        return 1.0, 1
    return (high - low) / bins, bins


def _top_groups(runner: Runner, req: PlotRequest, by: str, not_null: str, extra: str = "") -> tuple[list[Any], Any]:
    """The `--top` largest groups (as text, None for NULL) and the frame the query returned."""
    d = runner.dialect
    g = d.as_string(d.ident(by))
    frame = runner.query(f"SELECT {g} AS grp{extra}, COUNT(*) AS n FROM {runner.source.sql}"
                         f"{where(not_null, req.where)} GROUP BY {g} ORDER BY n DESC, grp LIMIT {req.n_top}")
    return [as_text(v) for v in frame["grp"]], frame


# -- hist ---------------------------------------------------------------------------------------

def _hist(runner: Runner, req: PlotRequest, columns: list[str], by: str | None,
         types: dict[str, str]) -> Chart:
    import pandas as pd

    d, src, column = runner.dialect, runner.source.sql, columns[0]
    x = d.ident(column)
    xd = d.as_double(x)
    not_null = f"{x} IS NOT NULL"
    groups: list[Any] = [None]
    if by is not None:
        groups, ranges = _top_groups(runner, req, by, not_null, f", MIN({xd}) AS lo, MAX({xd}) AS hi")
    else:
        ranges = runner.query(f"SELECT MIN({xd}) AS lo, MAX({xd}) AS hi, COUNT({x}) AS n FROM {src}{where(req.where)}")
    lows = [v for v in map(as_float, ranges["lo"]) if v is not None]
    highs = [v for v in map(as_float, ranges["hi"]) if v is not None]
    if not lows:
        raise UsageError(f"{runner.prog} hist: {column} has no values in {runner.source.label}")
    low, high = min(lows), max(highs)
    width, bins = binning(low, high, req.n_bins, pandas_dtype_for(types[column]) == "Int64")
    b = bin_expr(d, xd, low, high, width, bins)
    g = d.as_string(d.ident(by)) if by else None
    select = f"{g} AS grp, " if g else ""
    filtered = group_filter(d, g, groups) if g else None
    counts = runner.query(f"SELECT {select}{b} AS b, COUNT(*) AS n FROM {src}{where(not_null, req.where, filtered)} "
                          f"GROUP BY {g + ', ' if g else ''}{b}")
    rows = []
    for group in groups:
        mine = counts if g is None else counts[[as_text(v) == group for v in counts["grp"]]]
        per_bin = [0] * bins
        for index, n in zip(mine["b"], mine["n"]):
            per_bin[min(max(int(index), 0), bins - 1)] += int(n)
        for i, n in enumerate(per_bin):
            row = {"group": "NULL" if group is None else group} if g else {}
            row.update({"bin": i, "left": low + i * width, "right": low + (i + 1) * width, "count": n})
            rows.append(row)
    frame = pd.DataFrame(rows)
    notes = [f"the {len(groups)} largest groups of {by}"] if by else []
    return Chart("hist", frame, f"{column} in {runner.source.label}", column, "rows", by, notes)


# -- box ----------------------------------------------------------------------------------------

def _box(runner: Runner, req: PlotRequest, columns: list[str], by: str | None,
        types: dict[str, str]) -> Chart:
    import pandas as pd

    d, src, column = runner.dialect, runner.source.sql, columns[0]
    x = d.ident(column)
    xd = d.as_double(x)
    not_null = f"{x} IS NOT NULL"
    stats_sql = (f"{d.quantiles(x, (0.25, 0.5, 0.75))} AS q, MIN({xd}) AS lo, MAX({xd}) AS hi, "
                 f"AVG({xd}) AS mean")
    g = d.as_string(d.ident(by)) if by else None
    if g is not None:
        groups, stats = _top_groups(runner, req, by, not_null, ", " + stats_sql)  # type: ignore[arg-type]
    else:
        groups = [None]
        stats = runner.query(f"SELECT {stats_sql}, COUNT({x}) AS n FROM {src}{where(req.where)}")
    rows = []
    for i, group in enumerate(groups):
        q1, median, q3 = (numbers_of(stats["q"].iloc[i]) + [None, None, None])[:3]
        low, high = as_float(stats["lo"].iloc[i]), as_float(stats["hi"].iloc[i])
        if low is None or q1 is None:
            continue
        iqr = q3 - q1
        rows.append({"group": "NULL" if group is None else group, "count": int(stats["n"].iloc[i]),
                     "mean": as_float(stats["mean"].iloc[i]), "min": low, "q1": q1, "median": median, "q3": q3,
                     "max": high, "fence_low": q1 - 1.5 * iqr, "fence_high": q3 + 1.5 * iqr,
                     "whislo": low, "whishi": high, "outliers": 0})
    if not rows:
        raise UsageError(f"{runner.prog} box: {column} has no values in {runner.source.label}")
    frame = pd.DataFrame(rows)
    if ((frame["min"] < frame["fence_low"]) | (frame["max"] > frame["fence_high"])).any():
        _whiskers(runner, req, frame, x, xd, g, groups)
    if g is None:
        frame = frame.drop(columns=["group"])
    notes = ["quartiles ≈ (approximate)"] + ([f"the {len(groups)} largest groups of {by}"] if by else [])
    return Chart("box", frame, f"{column} in {runner.source.label}", column, None, by, notes)


def _whiskers(runner: Runner, req: PlotRequest, frame: Any, x: str, xd: str, g: str | None,
              groups: list[Any]) -> None:
    """The last points inside the fences, and how many lie beyond them (a second job)."""
    d = runner.dialect

    def fence(name: str) -> str:
        if g is None:
            return d.number(float(frame[name].iloc[0]))
        cases = " ".join(
            f"WHEN {g} IS NULL THEN {d.number(float(value))}" if group == "NULL" and None in groups
            else f"WHEN {g} = {d.string(group)} THEN {d.number(float(value))}"
            for group, value in zip(frame["group"], frame[name]))
        return f"CASE {cases} END"

    low, high = fence("fence_low"), fence("fence_high")
    select = f"{g} AS grp, " if g else ""
    answer = runner.query(
        f"SELECT {select}MIN(CASE WHEN {xd} >= {low} THEN {xd} END) AS whislo, "
        f"MAX(CASE WHEN {xd} <= {high} THEN {xd} END) AS whishi, "
        f"SUM(CASE WHEN {xd} < {low} OR {xd} > {high} THEN 1 ELSE 0 END) AS outliers "
        f"FROM {runner.source.sql}{where(f'{x} IS NOT NULL', req.where, group_filter(d, g, groups) if g else None)}"
        + (f" GROUP BY {g}" if g else ""))
    for _, row in answer.iterrows():
        key = "NULL" if g is None or as_text(row["grp"]) is None else as_text(row["grp"])
        at = frame.index[frame["group"] == key] if g else frame.index
        for name in ("whislo", "whishi"):
            value = as_float(row[name])
            if value is not None:
                frame.loc[at, name] = value
        frame.loc[at, "outliers"] = int(row["outliers"] or 0)


# -- bar ----------------------------------------------------------------------------------------

def _bar(runner: Runner, req: PlotRequest, columns: list[str], by: str | None,
        types: dict[str, str]) -> Chart:
    import pandas as pd

    d, column = runner.dialect, columns[0]
    x = d.ident(column)
    # The total comes with the top values: a window over the groups, in the same job.
    top = runner.query(
        f"SELECT v, n, total FROM (SELECT {x} AS v, COUNT(*) AS n, SUM(COUNT(*)) OVER () AS total "
        f"FROM {runner.source.sql}{where(req.where)} GROUP BY {x}) top_values ORDER BY n DESC, v LIMIT {req.n_top}")
    values = ["NULL" if as_text(v) is None else as_text(v) for v in top["v"]]
    counts = [int(n) for n in top["n"]]
    total = int(top["total"].iloc[0]) if len(top) else 0
    rows = [{"value": v, "count": n} for v, n in zip(values, counts)]
    other = total - sum(counts)
    if other > 0:
        rows.append({"value": "other", "count": other})
    frame = pd.DataFrame(rows, columns=["value", "count"])
    frame.attrs["total"], frame.attrs["other"] = total, max(other, 0)
    notes = [f"top {len(values)} values of {total:,} rows" + (f"; other = {other:,}" if other > 0 else "")]
    return Chart("bar", frame, f"{column} in {runner.source.label}", column, "rows", None, notes)


# -- line ---------------------------------------------------------------------------------------

def _line(runner: Runner, req: PlotRequest, columns: list[str], by: str | None,
         types: dict[str, str]) -> Chart:
    import pandas as pd

    d, src, column = runner.dialect, runner.source.sql, columns[0]
    x = d.ident(column)
    p = d.period(x, req.grain)
    not_null = f"{x} IS NOT NULL"
    g = d.as_string(d.ident(by)) if by else None
    groups: list[Any] = [None]
    if g is not None:
        groups, _ = _top_groups(runner, req, by, not_null)  # type: ignore[arg-type]
        cap = MAX_ROWS
        counts = runner.query(
            f"SELECT {g} AS grp, {p} AS p, COUNT(*) AS n FROM {src}"
            f"{where(not_null, req.where, group_filter(d, g, groups))} GROUP BY {g}, {p} ORDER BY p DESC LIMIT {cap}")
    else:
        cap = MAX_PERIODS + 1
        counts = runner.query(f"SELECT {p} AS p, COUNT(*) AS n FROM {src}{where(not_null, req.where)} "
                              f"GROUP BY {p} ORDER BY p DESC LIMIT {cap}")
    notes = []
    if len(counts) >= cap:
        # The oldest period may be cut part way: it goes.
        oldest = min(as_text(v) or "" for v in counts["p"])
        counts = counts[[as_text(v) != oldest for v in counts["p"]]]
        notes.append(f"the latest {counts['p'].nunique():,} {req.grain}s only")
    frame = pd.DataFrame({"period": pd.to_datetime([as_text(v) for v in counts["p"]], format="mixed"),
                          "count": [int(n) for n in counts["n"]]})
    if g is not None:
        frame.insert(0, "group", ["NULL" if as_text(v) is None else as_text(v) for v in counts["grp"]])
        notes.append(f"the {len(groups)} largest groups of {by}")
        frame = frame.sort_values(["group", "period"], ignore_index=True)
    else:
        frame = frame.sort_values("period", ignore_index=True)
    return Chart("line", frame, f"{column} per {req.grain} in {runner.source.label}", column, "rows", by, notes)


# -- heatmap ------------------------------------------------------------------------------------

def _heatmap(runner: Runner, req: PlotRequest, columns: list[str], by: str | None,
            types: dict[str, str]) -> Chart:
    import pandas as pd

    d, src = runner.dialect, runner.source.sql
    xs, ys = (d.ident(c) for c in columns)
    xd, yd = d.as_double(xs), d.as_double(ys)
    both = f"{xs} IS NOT NULL AND {ys} IS NOT NULL"
    ranges = runner.query(f"SELECT MIN({xd}) AS xlo, MAX({xd}) AS xhi, MIN({yd}) AS ylo, MAX({yd}) AS yhi, "
                          f"COUNT(*) AS n FROM {src}{where(both, req.where)}")
    bounds = [as_float(ranges[name].iloc[0]) for name in ("xlo", "xhi", "ylo", "yhi")]
    if any(v is None for v in bounds):
        raise UsageError(f"{runner.prog} heatmap: no row of {runner.source.label} has both {columns[0]} and {columns[1]}")
    xlo, xhi, ylo, yhi = bounds  # type: ignore[misc]
    xw, xbins = binning(xlo, xhi, req.n_bins, False)
    yw, ybins = binning(ylo, yhi, req.n_bins, False)
    bx, by_ = bin_expr(d, xd, xlo, xhi, xw, xbins), bin_expr(d, yd, ylo, yhi, yw, ybins)
    counts = runner.query(f"SELECT {bx} AS bx, {by_} AS byy, COUNT(*) AS n FROM {src}{where(both, req.where)} "
                          f"GROUP BY {bx}, {by_}")
    cells: dict[tuple[int, int], int] = {}
    for i, j, n in zip(counts["bx"], counts["byy"], counts["n"]):
        key = (min(max(int(i), 0), xbins - 1), min(max(int(j), 0), ybins - 1))
        cells[key] = cells.get(key, 0) + int(n)
    frame = pd.DataFrame([
        {"x_bin": i, "y_bin": j, "x_left": xlo + i * xw, "x_right": xlo + (i + 1) * xw,
         "y_left": ylo + j * yw, "y_right": ylo + (j + 1) * yw, "count": cells.get((i, j), 0)}
        for i in range(xbins) for j in range(ybins)])
    return Chart("heatmap", frame, f"{columns[1]} by {columns[0]} in {runner.source.label}", columns[0], columns[1])


_BUILDERS = {"hist": _hist, "box": _box, "bar": _bar, "line": _line, "heatmap": _heatmap}
