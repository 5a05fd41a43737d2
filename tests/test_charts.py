"""The field at a glance: the charts' counts (trials/chart_counts.py), their shapes (trials/charts/) and the SVG the
home page and each mechanism's page draw (templates/includes/charts.html): accessible, with their numbers in a
table, no script, nothing from another site, only published trials."""

import datetime
import json
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.factories import trial_with
from trials.chart_counts import chart_counts
from trials.charts.geometry import bars, columns
from trials.charts.world import BINS, MAP_FILE, shade, world, world_map
from trials.models import Country
from trials.vocabularies import CellSource, CurationState, OverallStatus, Phase

pytestmark = pytest.mark.django_db

CHART_TITLES = [
    "Trials by mechanism and phase",
    "Trials by status",
    "Trials started per year",
    "Trials by cell source",
    "Countries with trial sites",
]


@pytest.fixture
def field():
    """Three published trials and a draft that would change every count if it leaked."""
    trial_with(
        mechanisms=["beta-cell-regeneration", "immune-regulation"],
        phase=Phase.PHASE1_PHASE2,
        start_date=datetime.date(2019, 5, 1),
        start_date_precision="MONTH",
        cell_source=CellSource.EMBRYONIC,
        countries=["US", "CA"],
    )
    trial_with(
        mechanisms=["immune-regulation"],
        phase=Phase.PHASE2,
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date.today(),
        start_date=datetime.date(2022, 1, 10),
        start_date_precision="DAY",
        cell_source=CellSource.MSC_UMBILICAL_CORD,
        countries=["CN"],
    )
    trial_with(mechanisms=["immune-regulation"], phase="", cell_source="", countries=["CN", "SE"])
    trial_with(
        mechanisms=["angiogenesis"],
        phase=Phase.PHASE3,
        start_date=datetime.date(2001, 1, 1),
        start_date_precision="YEAR",
        countries=["BR"],
        curation_state=CurationState.DRAFT,
    )


def test_the_counts_over_published_trials(field):
    counts = chart_counts()
    by_mechanism = {m["slug"]: {code: n for code, _, n in m["phases"] if n} for m in counts["mechanism_phase"]}
    assert by_mechanism == {
        "beta-cell-regeneration": {"PHASE1_PHASE2": 1},
        "immune-regulation": {"PHASE1_PHASE2": 1, "PHASE2": 1, "": 1},
        "angiogenesis": {},  # the draft's mechanism
        "trophic-support": {},
    }
    assert counts["start_year"] == {"years": [(2019, 1), (2020, 0), (2021, 0), (2022, 1)], "not_recorded": 1}
    assert [(code, n) for code, _, n in counts["cell_source"]] == [("ESC", 1), ("MSC_UC", 1), ("", 1)]
    assert [(code, n) for code, _, n in counts["country"]] == [("CA", 1), ("CN", 2), ("SE", 1), ("US", 1)]
    assert {code: n for code, _, n in counts["status"]} == {"RECRUITING": 1, "COMPLETED": 2}
    assert [(code, n) for code, _, n in counts["phase"]] == [("PHASE1_PHASE2", 1), ("PHASE2", 1), ("", 1)]


def test_no_trial_at_all():
    counts = chart_counts()
    assert counts["start_year"] == {"years": [], "not_recorded": 0}
    assert counts["country"] == [] and counts["status"] == [] and counts["cell_source"] == []
    html = charts_html_of("/")
    assert html.count('role="img"') == 5 and "No trial has a recorded start date." in html


def svgs(html):
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)


def charts_html_of(url):
    cache.clear()
    html = Client().get(url).content.decode()
    return html.split('id="at-a-glance"', 1)[1]


def test_the_home_page_draws_five_accessible_charts_with_their_numbers(client, field):
    html = client.get("/").content.decode()
    drawn = svgs(html)
    assert len(drawn) == 5
    for svg, title in zip(drawn, CHART_TITLES, strict=True):
        opening = re.match(r"<svg[^>]*>", svg).group(0)
        assert 'role="img"' in opening
        labelled = re.search(r'aria-labelledby="([^"]+)"', opening).group(1).split()
        assert [f'id="{name}"' in svg for name in labelled] == [True, True]
        assert f'<title id="{labelled[0]}">{title}</title>' in svg
        assert re.search(r"<desc id=\"[^\"]+\">[^<]{20,}</desc>", svg)
    # The description says the numbers; a table behind each chart gives them, with links to the trials.
    assert "Immune regulation: Phase 1/2 1, Phase 2 1, Not recorded 1" in html
    assert html.count('<details class="chart-data">') == 5
    assert '<a href="/trials/?country=CN">China</a></th><td>2</td>' in html
    assert '<a href="/trials/?started_after=2019-01-01&amp;started_before=2019-12-31">2019</a></th><td>1</td>' in html
    assert (
        '<a href="/trials/?mechanism=immune-regulation">Immune regulation</a></th><td>1</td><td>1</td><td>1</td>'
        in html
    )
    # The map: every country with a site shaded, the others not; its source and licence named.
    assert re.search(r'class="shade-1"><title>Sweden: 1 trial</title>', html)
    assert re.search(r'class="shade-2"><title>China: 2 trials</title>', html)
    assert "Brazil" not in html  # the draft's country
    assert "Natural Earth (public domain)" in html and "ISC licence" in html
    # No script, nothing from another site.
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', "".join(drawn))


def test_a_mechanisms_page_draws_its_own_trials_only(client, field):
    html = client.get(reverse("mechanisms:detail", args=["beta-cell-regeneration"])).content.decode()
    drawn = svgs(html)
    assert [re.search(r"<title[^>]*>([^<]+)</title>", svg).group(1) for svg in drawn] == [
        "Trials by phase",
        *CHART_TITLES[1:],
    ]
    assert "Bar chart of this mechanism&#x27;s trials by phase: Phase 1/2: 1." in html
    assert '<a href="/trials/?mechanism=beta-cell-regeneration&amp;country=US">United States</a>' in html
    assert "country=CN" not in html  # another mechanism's trials' country
    empty = client.get(reverse("mechanisms:detail", args=["trophic-support"])).content.decode()
    assert svgs(empty) == [] and "No published trial tests this idea yet." in empty


def test_the_charts_are_counted_once_per_data_version(client, field, django_assert_max_num_queries):
    client.get("/")
    # A request the page cache does not keep: the data version (three times: for the facet index, which gives the
    # open trials' ids, the counts and the charts), the open trials and their 4 prefetches; the counts, the charts
    # and the facet index are cached.
    with django_assert_max_num_queries(8):
        assert client.get("/", {"nocache": 1}).status_code == 200
    trial_with(mechanisms=["trophic-support"], countries=["BR"])  # a write: a new data version
    assert '<a href="/trials/?country=BR">Brazil</a>' in client.get("/").content.decode()


@pytest.mark.parametrize("url", ["/", "/mechanisms/immune-regulation/"])
def test_the_charts_are_drawn_when_the_registry_changes_not_by_its_first_reader(
    client, url, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # as if committed: refresh_counts runs
        trial_with(mechanisms=["immune-regulation"], countries=["CN"])
    assert ">Brazil</a>" not in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        trial_with(mechanisms=["immune-regulation"], countries=["BR"])
    assert len(callbacks) == 1
    response = client.get(url)
    assert response["X-Page-Cache"] == "miss"
    drawn = [template.name for template in response.templates]
    assert "base.html" in drawn and "includes/charts.html" not in drawn  # the page is drawn, its charts are not
    assert re.search(r'country=BR">Brazil</a></th><td>1</td>', response.content.decode())  # drawn with the change


# --- Shapes ----------------------------------------------------------------------------------------------


def test_bars_are_proportional_and_labels_wrap():
    drawn = bars([("A short label", 10, []), ("A label " * 12, 5, []), ("None", 0, [])])
    first, second, none = drawn["bars"]
    assert first.width == 2 * second.width and none.width == 0
    assert len(first.lines) == 1 and len(second.lines) > 1
    assert second.y > first.y and drawn["height"] > none.y


def test_columns_write_every_few_years_under_them():
    drawn = columns([(year, year % 3) for year in range(2000, 2027)])
    labelled = [column.year for column in drawn["columns"] if column.label]
    assert labelled == [2000, 2005, 2010, 2015, 2020, 2025]
    assert max(c.height for c in drawn["columns"]) == drawn["baseline"] - 22
    assert columns([])["columns"] == []


def test_the_maps_shades_and_shapes():
    assert [shade(n) for n in (0, 1, 2, 4, 5, 9, 10, 19, 20, 500)] == [0, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert len(BINS) == 5
    data = world_map()
    codes = [country["code"] for country in data["countries"] if country["code"]]
    assert len(codes) > 150 and len(set(codes)) == len(codes) and "AQ" not in codes
    assert data["outline"].startswith("M") and data["height"] < data["width"] / 2
    known = set(Country.objects.values_list("code", flat=True))
    assert set(codes) - known <= {"XK", "TW", "EH", "PS"} or set(codes) <= known
    drawn = world([("SE", "Sweden", 3), ("SG", "Singapore", 1)])
    sweden = next(shape for shape in drawn["shapes"] if shape["code"] == "SE")
    assert sweden["shade"] == 2 and sweden["name"] == "Sweden"
    assert drawn["not_drawn"] == ["Singapore"]  # too small for 1:110m: in the table only


def test_the_map_names_its_source_and_licence_beside_it():
    notes = (MAP_FILE.parent / "WORLD_MAP.md").read_text()
    for words in ("Natural Earth", "public domain", "world-atlas", "ISC", "make_world_map.py"):
        assert words in notes
    assert json.loads(Path(MAP_FILE).read_text())["source"].startswith("Natural Earth")


def test_a_few_years_make_columns_not_slabs():
    drawn = columns([(2009, 1), (2010, 0), (2011, 0), (2012, 1)])
    first, *_, last = drawn["columns"]
    assert first.width == last.width == 36
    assert first.center == 50 and last.center == 350  # each in the middle of its year's quarter of the width


# --- The map's conversion (trials/charts/make_world_map.py), on a small topology of its own ---------------


def test_the_conversion_projects_keys_and_drops_what_it_should(tmp_path, capsys):
    from trials.charts import make_world_map

    topology = {
        "type": "Topology",
        "transform": {"scale": [1, 1], "translate": [-180, -90]},
        "arcs": [
            [[190, 145], [10, 0], [0, 10], [-10, 0], [0, -10]],  # a square around 10-20°E, 55-65°N
            [[0, 5], [360, 0], [0, 5], [-360, 0], [0, -5]],  # Antarctica
            [[355, 70], [-350, 0], [0, 5], [350, 0], [0, -5]],  # across the 180th meridian (175°E to 175°W)
        ],
        "objects": {
            "countries": {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "Polygon", "id": "752", "properties": {"name": "Sweden"}, "arcs": [[0]]},
                    {"type": "Polygon", "id": "010", "properties": {"name": "Antarctica"}, "arcs": [[1]]},
                    {"type": "MultiPolygon", "id": "242", "properties": {"name": "Fiji"}, "arcs": [[[~2]]]},
                    {"type": "Point", "id": "999", "properties": {"name": "A point"}},
                ],
            }
        },
    }
    (tmp_path / "topology.json").write_text(json.dumps(topology))
    (tmp_path / "codes.json").write_text(json.dumps([["SE", "SWE", "752", ""], ["FJ", "FJI", "242", ""]]))
    make_world_map.main(str(tmp_path / "topology.json"), str(tmp_path / "codes.json"))
    made = json.loads(capsys.readouterr().out)
    assert [country["code"] for country in made["countries"]] == ["FJ", "SE"]  # no Antarctica, no point
    assert made["width"] == 1000 and 0 < made["height"] < 500
    for country in made["countries"]:
        pair = r"-?\d+(?: |(?=-))-?\d+"
        assert re.fullmatch(rf"(M{pair}(l{pair})+z)+", country["d"]), country["d"]
    # Fiji's ring crossed the meridian: pressed onto it, it spans a few units, not the width of the world.
    start, *moves = [int(n) for n in re.findall(r"-?\d+", made["countries"][0]["d"])[::2]]
    xs = [start + sum(moves[:index]) for index in range(len(moves) + 1)]
    assert max(xs) - min(xs) < 50
    assert made["outline"].startswith("M")
