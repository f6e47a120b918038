"""The result grid: a table a cell shows as an itables DataTable (sort, search, pages), offline.

    %%linkis                 # the cell's table is a grid; its value stays the DataFrame
    select * from sales

    %config LinkisMagics.display = "pandas"   # pandas' own table again

The grid is only a display: the DataFrame a cell returns (its `_`, `Out[n]`, the `-o` variable)
is the plain DataFrame. `Grids` keeps the frames one LinkisMagics delivered (by id, through a
weak reference) and gives the shell's display formatter their grid's HTML; any other DataFrame
gets None there, and so pandas' own display. `Grids.prepare` shows itables' library once per
kernel, before the first grid (`init_notebook_mode(connected=False)`: no CDN; about 1 MB, kept in
the notebook, which the grids of a saved notebook need).

What itables would do silently is decided here: it cuts a table above its maxBytes (64 KB) to its
first and last rows, and hides columns past pandas' `display.max_columns`. The grid holds every
column, and as many of the first rows read as fit in LinkisMagics.grid_max_bytes; its caption
says which rows of the result set it holds, how many the set has, and the command that reads the
next rows from the stored result set (`%linkis result TASK --skip N`).

Saved notebooks: the grid's output holds itables' plain HTML preview of the first rows, which
the grid's script hides; where scripts do not run (an untrusted notebook, GitHub) the preview
and the caption show. text/plain stays pandas' repr, for nbconvert to text and papermill.
"""
from __future__ import annotations

import html
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import pandas

__all__ = ["DISPLAY_KINDS", "Grids", "GridRows", "available", "caption_html", "grid_html"]

DISPLAY_KINDS = ("grid", "pandas")


def available() -> bool:
    """Whether itables can be imported (without it, tables show as pandas shows them)."""
    try:
        import itables  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class GridRows:
    """Which rows of which result set a delivered frame holds: the caption's facts.

    `first_row`: rows of the set before the frame's first (a --skip); `read`: the frame's rows;
    `total`: the set's rows (None when unknown); `task`: the job's task id, for the next command."""

    task: int | None
    index: int
    first_row: int
    read: int
    total: int | None
    several: bool = False  # the job has more than one result set: the caption names this one


def caption_html(rows: GridRows, shown: int) -> str:
    """The grid's caption: the rows the grid holds, the rows the set has, the next command; and
    that the grid holds fewer rows than were read, when it does."""
    first, last = rows.first_row + 1, rows.first_row + rows.read
    where = f"result set {rows.index}: " if rows.several else ""
    if rows.read == 0:
        text = f"{where}no rows" + (f" after row {rows.first_row:,}" if rows.first_row else "")
        return html.escape(text[0].upper() + text[1:])
    total = rows.total
    if total is not None and rows.first_row == 0 and rows.read == total:
        parts = [f"{where}the one row of the result set" if total == 1 else f"{where}all {total:,} rows of the result set"]
    else:
        of = f"{total:,}" if total is not None else f"more than {last:,}"
        parts = [f"{where}rows {first:,}-{last:,} of {of}"]
    parts[0] = parts[0][0].upper() + parts[0][1:]
    if shown < rows.read:
        parts.append(f"the grid holds rows {first:,}-{rows.first_row + shown:,} "
                     f"(LinkisMagics.grid_max_bytes); the DataFrame (_, -o) has all {rows.read:,}")
    text = html.escape("; ".join(parts))
    if rows.task is not None and (total is None or last < total):
        text += f"; the next: <code>%linkis result {rows.task} --skip {last}</code>"
    return text


def grid_html(frame: "pandas.DataFrame", caption: Callable[[int], str], max_bytes: int) -> tuple[str, int]:
    """The grid of `frame`'s first rows that fit in `max_bytes` of HTML (0: every row), and how
    many rows it holds; `caption(rows held)` is its caption. Every column is kept."""
    from itables import to_html_datatable

    shown = frame
    while True:
        # maxBytes, maxRows, maxColumns 0: itables cuts nothing itself (the caption says what
        # was cut, here). A click anywhere on a header sorts, as in Scriptis' result table;
        # itables' default sorts on the header's arrows only, to let the names be selected. The
        # grid sits at the left, as pandas' tables do in JupyterLab, not centred.
        out = to_html_datatable(shown, caption=caption(len(shown)), connected=False, maxBytes=0, maxRows=0,
                                maxColumns=0, showIndex=False, text_in_header_can_be_selected=False,
                                style="table-layout:auto;width:auto;margin:0;caption-side:bottom")
        if not max_bytes or len(out) <= max_bytes or len(shown) <= 1:
            return out, len(shown)
        shown = frame.iloc[: max(1, int(len(shown) * max_bytes / len(out) * 0.95))]


def _init_html() -> str:
    """itables' offline library as one HTML output (what init_notebook_mode(connected=False)
    displays), leaving pandas' own display of other DataFrames as it was."""
    import itables
    import pandas as pd
    from IPython.utils.capture import capture_output
    from itables import javascript

    # all_interactive as it is: False would undo a user's own init_notebook_mode().
    interactive = pd.DataFrame._repr_html_ is getattr(javascript, "_datatables_repr_", None)
    with capture_output(stdout=False, stderr=False, display=True) as captured:
        itables.init_notebook_mode(all_interactive=interactive, connected=False)
    return "\n".join(output.data.get("text/html", "") for output in captured.outputs)


class Grids:
    """The grids of one LinkisMagics: the frames it delivered, the display formatter that shows
    them, and whether itables' library was shown in this kernel."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._frames: dict[int, tuple[weakref.ref[Any], GridRows, int]] = {}
        self._ready = False
        self._previous: Callable[[Any], Any] | None = None

    def prepare(self) -> None:
        """Register the formatter and show itables' library, the first time only."""
        if self._ready:
            return
        import pandas as pd
        from IPython.display import display

        formatter = self.shell.display_formatter.mimebundle_formatter
        # Another printer registered for DataFrames keeps the frames that are not grids.
        self._previous = formatter.for_type(pd.DataFrame, self._format)
        # text/plain empty: nbconvert to text and a terminal show nothing for it.
        display({"text/html": _init_html(), "text/plain": ""}, raw=True)
        self._ready = True

    def add(self, frame: "pandas.DataFrame", rows: GridRows, max_bytes: int) -> None:
        """Show `frame` as a grid from now on (until it is garbage collected)."""
        key = id(frame)
        self._frames[key] = (weakref.ref(frame, lambda _ref, key=key: self._frames.pop(key, None)), rows, max_bytes)

    def close(self) -> None:
        """Give DataFrames back to the printer before (or pandas')."""
        if not self._ready:
            return
        import pandas as pd

        formatter = self.shell.display_formatter.mimebundle_formatter
        if self._previous is None:
            formatter.pop(pd.DataFrame, None)
        else:
            formatter.for_type(pd.DataFrame, self._previous)
        self._frames.clear()
        self._ready = False

    def _format(self, frame: Any) -> Any:
        entry = self._frames.get(id(frame))
        if entry is None or entry[0]() is not frame:
            return self._previous(frame) if self._previous is not None else None
        _ref, rows, max_bytes = entry
        out, _shown = grid_html(frame, lambda shown: caption_html(rows, shown), max_bytes)
        return {"text/html": out}
