"""The charts of a page, from its counts (trials/chart_counts.py): for each, its title, its description (what a
screen reader says of the picture), its shapes (trials/charts/geometry.py, world.py) and the table of its
numbers, with links to the list filtered to each row. Drawn by templates/includes/charts.html, once for each
version of the registry (`drawn_charts`)."""

from typing import Any
from urllib.parse import urlencode

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

from trials.charts.geometry import Segment, bars, columns
from trials.charts.world import world
from trials.vocabularies import Phase

PHASE_CODES = [*Phase.values, ""]
DARK_PHASES = {Phase.PHASE2, Phase.PHASE2_PHASE3, Phase.PHASE3, Phase.PHASE4}


def list_url(**params: Any) -> str:
    return reverse("trials:list") + "?" + urlencode({k: v for k, v in params.items() if v}, doseq=True)


def listed(rows: list[tuple[str, str, int]]) -> str:
    return "; ".join(f"{label}: {count}" for _, label, count in rows) or "none"


def table(caption: str, head: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """{"caption", "head", "rows": [{"label", "href", "cells"}]}: the numbers behind a chart."""
    return {"caption": caption, "head": head, "rows": rows}


def bar_chart(key: str, title: str, intro: str, rows: list[tuple[str, str, int]], parameter: str, base: dict) -> dict:
    """A plain bar chart of [(code, label, count)], each row linking to the list filtered by `parameter`."""
    return {
        "id": f"chart-{key}",
        "kind": "bars",
        "title": title,
        "desc": f"{intro} {listed(rows)}.",
        "shape": bars([(label, count, []) for _, label, count in rows]),
        "table": table(
            title,
            [title.split(" by ")[-1].capitalize(), "Trials"],
            [
                {"label": label, "href": list_url(**base, **{parameter: code}) if code else "", "cells": [count]}
                for code, label, count in rows
            ],
        ),
    }


def mechanism_phase_chart(mechanisms: list[dict[str, Any]]) -> dict[str, Any]:
    """One stacked bar per mechanism, a segment per phase (earliest lightest); the table has a column per phase
    that any mechanism has."""
    phases = [
        (index, code, label)
        for index, (code, label, _) in enumerate(mechanisms[0]["phases"] if mechanisms else [])
        if any(m["phases"][index][2] for m in mechanisms)
    ]
    rows = []
    for mechanism in mechanisms:
        segments = [
            Segment(
                code=code,
                label=label,
                count=count,
                x=0,
                width=0,
                colour=f"phase-{PHASE_CODES.index(code)}",
                dark=code in DARK_PHASES,
            )  # fmt: skip
            for code, label, count in mechanism["phases"]
        ]
        rows.append((mechanism["name"], sum(s.count for s in segments), segments))
    described = "; ".join(
        f"{m['name']}: " + ", ".join(f"{label} {count}" for _, label, count in m["phases"] if count)
        if any(count for _, _, count in m["phases"])
        else f"{m['name']}: none"
        for m in mechanisms
    )
    return {
        "id": "chart-mechanism-phase",
        "kind": "bars",
        "title": "Trials by mechanism and phase",
        "desc": f"Stacked bar chart: for each mechanism, its trials by phase, earliest phase first. {described}.",
        "shape": bars(rows),
        "legend": [(f"phase-{PHASE_CODES.index(code)}", label) for _, code, label in phases],
        "note": "A trial may test more than one mechanism: it is counted in each.",
        "table": table(
            "Trials by mechanism and phase",
            ["Mechanism", *[label for _, _, label in phases]],
            [
                {
                    "label": m["name"],
                    "href": list_url(mechanism=m["slug"]),
                    "cells": [m["phases"][index][2] for index, _, _ in phases],
                }
                for m in mechanisms
            ],
        ),
    }


def timeline_chart(start_year: dict[str, Any], base: dict) -> dict[str, Any]:
    years = start_year["years"]
    shown = [f"{year}: {count}" for year, count in years if count]
    missing = start_year["not_recorded"]
    return {
        "id": "chart-start-year",
        "kind": "columns",
        "title": "Trials started per year",
        "desc": "Column chart of the trials by the year they started or plan to start"
        + (f", from {years[0][0]} to {years[-1][0]}: " + "; ".join(shown) if years else ": none")
        + (f". Start year not recorded: {missing}." if missing else "."),
        "shape": columns(years),
        "note": "By the start date the sources give: a year still to come counts planned starts."
        + (f" Trials with no recorded start date are not drawn: {missing}." if missing else ""),
        "table": table(
            "Trials started per year",
            ["Year", "Trials"],
            [
                {
                    "label": str(year),
                    "href": list_url(**base, started_after=f"{year}-01-01", started_before=f"{year}-12-31"),
                    "cells": [count],
                }
                for year, count in years
                if count
            ]
            + ([{"label": "Not recorded", "href": "", "cells": [missing]}] if missing else []),
        ),
    }


def map_chart(countries: list[tuple[str, str, int]], base: dict) -> dict[str, Any]:
    shape = world(countries)
    return {
        "id": "chart-countries",
        "kind": "map",
        "title": "Countries with trial sites",
        "desc": f"World map shading each country by the number of trials with a site there: {listed(countries)}.",
        "shape": shape,
        "legend": shape["legend"],
        "note": "Map: "
        + shape["source"]
        + " (see trials/charts/WORLD_MAP.md)."
        + (f" Too small to draw at this scale: {', '.join(shape['not_drawn'])}." if shape["not_drawn"] else ""),
        "table": table(
            "Trials by country with a site",
            ["Country", "Trials"],
            [
                {"label": name, "href": list_url(**base, country=code), "cells": [count]}
                for code, name, count in countries
            ],
        ),
    }


def charts(counts: dict[str, Any], mechanism: Any = None) -> list[dict[str, Any]]:
    """The charts of the home page (every published trial), or of a mechanism's page (its trials only)."""
    base = {"mechanism": mechanism.slug} if mechanism else {}
    first = (
        bar_chart(
            "phase", "Trials by phase", "Bar chart of this mechanism's trials by phase:", counts["phase"], "phase", base
        )
        if mechanism
        else mechanism_phase_chart(counts["mechanism_phase"])
    )
    return [
        first,
        bar_chart(
            "status",
            "Trials by status",
            "Bar chart of the trials by status as shown:",
            counts["status"],
            "status",
            base,
        ),
        timeline_chart(counts["start_year"], base),
        bar_chart(
            "cell-source",
            "Trials by cell source",
            "Bar chart of the trials by the source of their cells:",
            counts["cell_source"],
            "cell_source",
            base,
        ),  # fmt: skip
        map_chart(counts["country"], base),
    ]


def drawn_charts(mechanism: Any = None) -> SafeString:
    """The HTML of the home page's charts, or of `mechanism`'s page's: drawn when the registry changes, with the
    counts (trials/facets.py: refresh_counts), and read from their cache after that, so that the first reader after a
    change does not draw them (about 20 ms at 100,000 trials). No query when the facet index is counted."""
    from trials.chart_counts import chart_counts
    from trials.facets import cached_counts

    def draw() -> SafeString:
        return render_to_string("includes/charts.html", {"charts": charts(chart_counts(mechanism), mechanism)})

    return cached_counts("charts", mechanism.slug if mechanism else "", draw)
