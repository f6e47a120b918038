"""`%linkis profile`: every column's figures from one scan of the source, computed in the engine.

Job 1 reads the source once for all columns: COUNT(*), and per column COUNT(c), a distinct count
(approximate where the engine has one: Spark's approx_count_distinct, Trino's approx_distinct;
Hive 2.x has none, so COUNT(DISTINCT c), exact), MIN and MAX, and for numbers AVG, STDDEV_SAMP
and the quartiles (percentile_approx, fetched as one array). Job 2, only when some column has at
most `LOW_CARDINALITY` distinct values, is one UNION ALL of a top-k subquery per such column.
JupySQL's profile, by comparison, runs about six queries per column and fetches every distinct
value (ploomber/jupysql src/sql/inspect.py).

Histograms per column would cost a second scan (a bin needs the min and max first): the inline
picture is a box sketch drawn from the figures job 1 returns.
"""
from __future__ import annotations

import html
import math
from typing import Any, Sequence

import pandas as pd
from IPython.core.error import UsageError

from .explore import MAX_ROWS, Runner, as_float, as_text, column_kind, numbers_of, where

__all__ = ["LOW_CARDINALITY", "ProfileFrame", "profile"]

LOW_CARDINALITY = 50  # top values are fetched for columns with at most this many distinct values
DEFAULT_TOP = 5
FIGURES = ["type", "rows", "non-null", "distinct", "min", "max", "mean", "std", "25%", "50%", "75%", "top"]


class ProfileFrame(pd.DataFrame):
    """The profile as a DataFrame, shown as the profile's own HTML table (approximate figures
    marked); anything derived from it is a plain DataFrame."""

    _metadata = ["profile_html"]

    @property
    def _constructor(self) -> type:
        return pd.DataFrame

    def _repr_html_(self) -> str | None:  # type: ignore[override]
        return getattr(self, "profile_html", None) or super()._repr_html_()


def profile(runner: Runner, types: dict[str, str], columns: Sequence[str], where_sql: str | None,
            top: int) -> ProfileFrame:
    """The profile of `columns` (every column when empty): a ProfileFrame, one row per column."""
    chosen = runner.pick(types, columns) if columns else list(types)
    if not chosen:
        raise UsageError(f"{runner.prog}: {runner.source.label} has no columns")
    d, src = runner.dialect, runner.source.sql
    parts = ["COUNT(*) AS n_rows"]
    for i, name in enumerate(chosen):
        kind, c = column_kind(types[name]), d.ident(name)
        parts.append(f"COUNT({c}) AS c{i}_nn")
        if kind == "complex":
            continue
        parts.append(f"{d.distinct(c)} AS c{i}_nd")
        if kind == "bool":
            continue
        if kind == "number":
            cd = d.as_double(c)
            parts += [f"MIN({cd}) AS c{i}_min", f"MAX({cd}) AS c{i}_max", f"AVG({cd}) AS c{i}_mean",
                      f"STDDEV_SAMP({cd}) AS c{i}_std", f"{d.quantiles(c, (0.25, 0.5, 0.75))} AS c{i}_q"]
        else:
            parts += [f"MIN({c}) AS c{i}_min", f"MAX({c}) AS c{i}_max"]
    scan = runner.query(f"SELECT {', '.join(parts)} FROM {src}{where(where_sql)}").iloc[0]
    rows = int(scan["n_rows"])
    records = []
    for i, name in enumerate(chosen):
        def get(key: str) -> Any:
            return scan.get(f"c{i}_{key}")

        quartiles = (numbers_of(get("q")) + [None] * 3)[:3] if get("q") is not None else [None] * 3
        distinct = get("nd")
        records.append({
            "type": types[name], "rows": rows, "non-null": int(get("nn") or 0),
            "distinct": None if distinct is None or as_float(distinct) is None else int(distinct),
            "min": _value(get("min")), "max": _value(get("max")), "mean": as_float(get("mean")),
            "std": as_float(get("std")), "25%": quartiles[0], "50%": quartiles[1], "75%": quartiles[2],
            "top": None,
        })
    low = [i for i, r in enumerate(records) if r["distinct"] is not None and 0 < r["distinct"] <= LOW_CARDINALITY]
    # Each top-k subquery returns at most `top` rows: the union stays under MAX_ROWS.
    low = low[: max(1, MAX_ROWS // top)]
    if low:
        found = runner.query(_top_values_sql(runner, chosen, low, where_sql, top))
        for i in low:
            records[i]["top"] = {}
        ordered = found.sort_values(["col", "n"], ascending=[True, False])
        for col, value, n in zip(ordered["col"], ordered["v"], ordered["n"]):
            records[int(col)]["top"]["NULL" if as_text(value) is None else as_text(value)] = int(n)
    frame = ProfileFrame(records, index=list(chosen), columns=FIGURES)
    frame.index.name = "column"
    runner.keep(frame)
    frame.attrs["approximate"] = ["25%", "50%", "75%"] + ([] if d.exact_distinct else ["distinct"])
    frame.profile_html = to_html(frame, runner)
    return frame


def _top_values_sql(runner: Runner, chosen: Sequence[str], low: Sequence[int], where_sql: str | None,
                    top: int) -> str:
    d, src = runner.dialect, runner.source.sql
    return " UNION ALL ".join(
        f"SELECT {i} AS col, {d.as_string(d.ident(chosen[i]))} AS v, n FROM (SELECT {d.ident(chosen[i])}, "
        f"COUNT(*) AS n FROM {src}{where(where_sql)} GROUP BY {d.ident(chosen[i])} "
        f"ORDER BY n DESC, {d.ident(chosen[i])} LIMIT {top}) t{i}"
        for i in low)


def _value(value: Any) -> Any:
    text = as_text(value)
    if text is None:
        return None
    number = as_float(value)
    return number if number is not None and not isinstance(value, str) else value


# -- the HTML table ----------------------------------------------------------------------------

def _cell(value: Any) -> str:
    # A figure a column does not have (the mean of a string) is None, or NaN once in a float column.
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{html.escape(str(k))} ({n:,})" for k, n in value.items())
    return html.escape(str(value))


def _sketch(row: Any) -> str:
    """A box sketch (min, quartiles, max) as inline SVG: no scan more, no script, shows offline."""
    values = [row["min"], row["25%"], row["50%"], row["75%"], row["max"]]
    if any(not isinstance(v, float) for v in values) or values[4] <= values[0]:
        return ""
    low, span = values[0], values[4] - values[0]
    x = [2 + 96 * (v - low) / span for v in values]
    return (f'<svg width="100" height="14" role="img" aria-label="box sketch">'
            f'<line x1="{x[0]:.1f}" y1="7" x2="{x[4]:.1f}" y2="7" stroke="#888"/>'
            f'<rect x="{x[1]:.1f}" y="2" width="{max(x[3] - x[1], 1):.1f}" height="10" fill="#c6d4ea" stroke="#4c72b0"/>'
            f'<line x1="{x[2]:.1f}" y1="2" x2="{x[2]:.1f}" y2="12" stroke="#1f3b6b" stroke-width="2"/></svg>')


def to_html(frame: Any, runner: Runner) -> str:
    approximate = set(frame.attrs.get("approximate", []))
    mark = {name: "≈ " if name in approximate else "" for name in FIGURES}
    heads = ["column"] + [name for name in FIGURES if name != "rows"] + [""]
    if runner.dialect.exact_distinct:
        heads[heads.index("distinct")] = "distinct (exact)"
    body = []
    for name, row in frame.iterrows():
        cells = [f"<th>{html.escape(str(name))}</th>"]
        for figure in FIGURES:
            if figure == "rows":
                continue
            text = _cell(row[figure])
            cells.append(f"<td>{mark[figure] + text if text else ''}</td>")
        cells.append(f"<td>{_sketch(row)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    rows = int(frame["rows"].iloc[0]) if len(frame) else 0
    tasks = ", ".join(str(t) for t in frame.attrs.get("tasks", []))
    caption = (f"{html.escape(runner.source.label)}: {rows:,} rows, {len(frame)} columns; "
               f"{len(frame.attrs.get('tasks', []))} job(s) (task {tasks}); ≈ approximate")
    return ('<table class="linkis-profile"><caption style="text-align:left">' + caption + "</caption><thead><tr>"
            + "".join(f"<th>{html.escape(h)}</th>" for h in heads) + "</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")
