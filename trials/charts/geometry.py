"""The charts' shapes, in the units of each SVG's view box: horizontal bars (plain or stacked) with their label
above them, and columns along a timeline. Pure functions of counts; the templates draw what they return.

A chart's view box is narrow (WIDTH units) so that its text stays readable when a phone shrinks it to the
screen's width; on a desktop it is drawn at most about 1.4 times larger (static/css/site.css, `.chart svg`).
"""

import textwrap
from dataclasses import dataclass, field
from typing import Any

WIDTH = 400
LINE = 17  # height of a line of label text (font-size 14px)
LABEL_CHARACTERS = 50  # a label line's length at that size (font-size 14px), in the view box's width
BAR = 16  # height of a bar
GAP = 12  # between one bar and the next label
COUNT_ROOM = 44  # right of the longest bar, for its count


def wrap(label: str, width: int = LABEL_CHARACTERS) -> list[str]:
    return textwrap.wrap(label, width) or [""]


@dataclass
class Segment:
    code: str
    label: str
    count: int
    x: float
    width: float
    colour: str = ""  # a class name (the palette is in the CSS)
    dark: bool = False  # white text on it

    @property
    def count_shown(self) -> bool:
        """Its count is written on it when it is wide enough for the number."""
        return self.width >= 8 * len(str(self.count)) + 6

    @property
    def center(self) -> float:
        return round(self.x + self.width / 2, 1)


@dataclass
class Bar:
    label: str
    count: int
    lines: list[tuple[float, str]]  # (baseline y, text)
    y: float  # the bar's top
    width: float
    segments: list[Segment] = field(default_factory=list)

    @property
    def count_x(self) -> float:
        return self.width + 5

    @property
    def count_y(self) -> float:
        return self.y + BAR - 3


def bars(rows: list[tuple[str, int, list[Segment]]], *, width: int = WIDTH) -> dict[str, Any]:
    """Horizontal bars, each under its label: rows are (label, count, segments); segments (of a stacked bar) get
    their x and width here. Returns {"width", "height", "bars"}."""
    longest = max((count for _, count, _ in rows), default=0) or 1
    room = width - COUNT_ROOM
    y = 0.0
    drawn = []
    for label, count, segments in rows:
        lines = []
        for text in wrap(label):
            y += LINE
            lines.append((y - 4, text))
        y += 2
        bar_width = round(room * count / longest, 1) if count else 0
        x = 0.0
        for segment in segments:
            segment.x = round(x, 1)
            segment.width = round(room * segment.count / longest, 1)
            x += room * segment.count / longest
        drawn.append(Bar(label=label, count=count, lines=lines, y=y, width=max(bar_width, 2 if count else 0),
                         segments=[s for s in segments if s.count]))  # fmt: skip
        y += BAR + GAP
    return {"width": width, "height": round(y - GAP + 2), "bars": drawn}


@dataclass
class Column:
    year: int
    count: int
    x: float
    y: float
    width: float
    height: float
    label: bool  # the year is written under it

    @property
    def center(self) -> float:
        return round(self.x + self.width / 2, 1)

    @property
    def count_y(self) -> float:
        return self.y - 4


TIMELINE_HEIGHT = 190
PLOT_TOP, PLOT_BOTTOM = 22, 160
MAX_COLUMN = 36


def columns(years: list[tuple[int, int]], *, width: int = WIDTH) -> dict[str, Any]:
    """A column per year (zeros included), the year written under every few. Returns {"width", "height",
    "columns", "baseline", "step", "counts_shown"}: counts are written above the columns when they are wide
    enough for them."""
    if not years:
        return {"width": width, "height": TIMELINE_HEIGHT, "columns": [], "baseline": PLOT_BOTTOM}
    highest = max(count for _, count in years) or 1
    step = width / len(years)
    every = next(n for n in (1, 2, 5, 10, 20, 50) if step * n >= 34)
    column_width = min(step * 0.8, MAX_COLUMN)  # a few years do not make slabs
    drawn = []
    for index, (year, count) in enumerate(years):
        height = round((PLOT_BOTTOM - PLOT_TOP) * count / highest, 1)
        drawn.append(
            Column(
                year=year,
                count=count,
                x=round(index * step + (step - column_width) / 2, 1),
                y=round(PLOT_BOTTOM - height, 1),
                width=round(column_width, 1),
                height=height,
                label=year % every == 0 or len(years) == 1,
            )
        )
    return {
        "width": width,
        "height": TIMELINE_HEIGHT,
        "columns": drawn,
        "baseline": PLOT_BOTTOM,
        "step": step,
        "counts_shown": step >= 11,
        "year_y": PLOT_BOTTOM + 18,
    }
