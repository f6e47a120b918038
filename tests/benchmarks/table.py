"""The benchmark's table: one Row per measure, and how it is printed."""
from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass
class Row:
    measure: str
    ours: str
    sdk: str = ""
    floor: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def mb(n: float) -> str:
    return f"{n / 2**20:.0f} MB"


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "NO")


def render(rows: list[Row], header: str) -> str:
    cols = ["measure", "linkis-jupyter", "linkis-python-sdk 0.2.0", "floor", "ratio", "target", "met"]
    cells = [[r.measure, r.ours, r.sdk, r.floor, r.ratio, r.target, r.met] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(cols)]
    line = lambda xs: "| " + " | ".join(x.ljust(w) for x, w in zip(xs, widths)) + " |"  # noqa: E731
    out = [header, "", line(cols), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(x) for x in cells]
    return "\n".join(out)


def median(xs: list[float]) -> float:
    return statistics.median(xs)
