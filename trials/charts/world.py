"""The world map of countries with sites: Natural Earth's countries (world_map.json, made by make_world_map.py;
source and licence in WORLD_MAP.md), each shaded by the number of trials with a site there."""

import functools
import json
from pathlib import Path
from typing import Any

MAP_FILE = Path(__file__).resolve().parent / "world_map.json"
SOURCE = "Natural Earth (public domain), 1:110m countries, via world-atlas (ISC licence); Equal Earth projection"

# (fewest trials, the legend's words); a country falls in the last bin whose fewest it reaches.
BINS = [(1, "1 trial"), (2, "2–4 trials"), (5, "5–9 trials"), (10, "10–19 trials"), (20, "20 or more trials")]


@functools.cache
def world_map() -> dict[str, Any]:
    """The map's shapes: {"width", "height", "countries": [{"code", "name", "d"}]} (read once per process)."""
    return json.loads(MAP_FILE.read_text())


def shade(count: int) -> int:
    """The bin of a country with `count` trials: 0 for none, else 1 to len(BINS)."""
    return sum(1 for fewest, _ in BINS if count >= fewest)


def world(countries: list[tuple[str, str, int]]) -> dict[str, Any]:
    """The map with each country's shade, and whether it is drawn: {"width", "height", "outline" (the edge of the
    world, a path), "shapes": [{"code",
    "name", "d", "count", "shade"}], "legend": [(shade, words)], "not_drawn": [names of countries with trials
    too small to have a shape at this scale]}."""
    counts = {code: (name, count) for code, name, count in countries}
    data = world_map()
    drawn = {country["code"] for country in data["countries"]}
    shapes = [
        {
            **country,
            "count": counts.get(country["code"], ("", 0))[1],
            "shade": shade(counts.get(country["code"], ("", 0))[1]),
        }
        for country in data["countries"]
    ]
    return {
        "width": data["width"],
        "height": data["height"],
        "outline": data["outline"],
        "shapes": shapes,
        "legend": [(number, words) for number, (_, words) in enumerate(BINS, start=1)],
        "not_drawn": [name for code, name, count in countries if code not in drawn],
        "source": SOURCE,
    }
