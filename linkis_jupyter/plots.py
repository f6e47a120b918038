"""Drawing a chart's aggregated frame (charts.py) as a PNG with matplotlib.

A PNG shows offline, in a saved notebook, in nbconvert's HTML and on GitHub alike. The figure is
a bare `matplotlib.figure.Figure` on an Agg canvas: pyplot is never imported, so no GUI backend
is chosen, no global figure list grows, and the user's own `%matplotlib` setting is left alone.
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

if TYPE_CHECKING:
    from .charts import Chart

__all__ = ["require_matplotlib", "draw", "png"]

_EXTRA = 'pip install "linkis-jupyter[plot]"'


def require_matplotlib(prog: str) -> None:
    """A one-line UsageError naming the extra when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(f"{prog} draws with matplotlib, which is not installed: {_EXTRA}") from None


def draw(chart: Chart) -> Any:
    """The chart as a matplotlib Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    _DRAW[chart.kind](ax, chart, figure)
    ax.set_title(chart.title, fontsize=11, loc="left")
    if chart.notes:
        ax.set_title("; ".join(chart.notes), fontsize=8, color="0.4", loc="right")
    return figure


def png(chart: Chart) -> bytes:
    figure = draw(chart)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    figure.clear()
    return buffer.getvalue()


def _hist(ax: Any, chart: Chart, figure: Any) -> None:
    frame = chart.frame
    if chart.by:
        for group, rows in frame.groupby("group", sort=False):
            edges = [*rows["left"], rows["right"].iloc[-1]]
            ax.stairs(rows["count"].to_numpy(), edges, label=str(group))
        ax.legend(title=chart.by, fontsize=8)
    else:
        ax.bar(frame["left"], frame["count"], width=frame["right"] - frame["left"], align="edge",
               color="#4c72b0", edgecolor="white", linewidth=0.5)
    ax.set_xlabel(chart.x)
    ax.set_ylabel("rows")


def _box(ax: Any, chart: Chart, figure: Any) -> None:
    stats = []
    for _, row in chart.frame.iterrows():
        # The points beyond the whiskers are not fetched, only counted; the extremes are real points.
        fliers = [v for v in (row["min"], row["max"]) if v < row["whislo"] or v > row["whishi"]]
        label = str(row["group"]) if chart.by else chart.x
        stats.append({"med": row["median"], "q1": row["q1"], "q3": row["q3"], "whislo": row["whislo"],
                      "whishi": row["whishi"], "mean": row["mean"], "fliers": fliers, "label": label})
    try:
        ax.bxp(stats, showmeans=True, orientation="horizontal")
    except TypeError:  # matplotlib before 3.10 spells it vert=False
        ax.bxp(stats, showmeans=True, vert=False)
    ax.set_xlabel(chart.x)
    if chart.by:
        ax.set_ylabel(chart.by)


def _bar(ax: Any, chart: Chart, figure: Any) -> None:
    frame = chart.frame.iloc[::-1]
    other = chart.frame.attrs.get("other", 0) > 0  # the last row is "other": first once reversed
    colors = ["0.7" if other and i == 0 else "#4c72b0" for i in range(len(frame))]
    ax.barh([str(v) for v in frame["value"]], frame["count"], color=colors)
    ax.set_xlabel("rows")
    ax.set_ylabel(chart.x)
    ax.tick_params(axis="y", labelsize=8)


def _line(ax: Any, chart: Chart, figure: Any) -> None:
    frame = chart.frame
    if chart.by:
        for group, rows in frame.groupby("group", sort=False):
            ax.plot(rows["period"], rows["count"], marker=".", label=str(group))
        ax.legend(title=chart.by, fontsize=8)
    else:
        ax.plot(frame["period"], frame["count"], marker=".", color="#4c72b0")
    ax.set_ylabel("rows")
    figure.autofmt_xdate()


def _heatmap(ax: Any, chart: Chart, figure: Any) -> None:
    import numpy as np

    frame = chart.frame
    xbins, ybins = int(frame["x_bin"].max()) + 1, int(frame["y_bin"].max()) + 1
    grid = np.zeros((ybins, xbins))
    grid[frame["y_bin"].to_numpy(), frame["x_bin"].to_numpy()] = frame["count"].to_numpy()
    x_edges = [*sorted(set(frame["x_left"])), frame["x_right"].max()]
    y_edges = [*sorted(set(frame["y_left"])), frame["y_right"].max()]
    mesh = ax.pcolormesh(x_edges, y_edges, np.ma.masked_equal(grid, 0), cmap="viridis")
    figure.colorbar(mesh, ax=ax, label="rows")
    ax.set_xlabel(chart.x)
    ax.set_ylabel(chart.y or "")


_DRAW = {"hist": _hist, "box": _box, "bar": _bar, "line": _line, "heatmap": _heatmap}
