"""Make world_map.json, the world map the charts draw, from Natural Earth's 1:110m country boundaries.

Run once, by hand, when the map should change (the page never fetches anything):

    npm pack world-atlas@2.0.2 i18n-iso-countries@7.14.0   # Natural Earth 4.1.0 as TopoJSON; ISO code table
    tar xzf world-atlas-2.0.2.tgz package/countries-110m.json && mv package/countries-110m.json .
    tar xzf i18n-iso-countries-7.14.0.tgz package/codes.json && mv package/codes.json .
    python trials/charts/make_world_map.py countries-110m.json codes.json > trials/charts/world_map.json

It decodes the TopoJSON's arcs, leaves out Antarctica (no trial site there; it would take a fifth of the
height), projects each country on the Equal Earth projection (Šavrič, Patterson and Jenny, 2018), and writes one
SVG path per country, keyed by its ISO 3166-1 alpha-2 code (from its numeric code), in whole units of a 1000-wide
view box with relative moves. Sources and licences: WORLD_MAP.md beside this file.
"""

import json
import math
import sys
from pathlib import Path
from typing import Any

WIDTH = 1000
ANTARCTICA = "010"
SOUTHMOST = -60  # latitude where the map ends, below Tierra del Fuego
A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
M = math.sqrt(3) / 2


def equal_earth(longitude: float, latitude: float) -> tuple[float, float]:
    """Equal Earth, in units where the equator is 2 × 2.7066 long; y grows southwards, as SVG's does."""
    lam, phi = math.radians(longitude), math.radians(latitude)
    theta = math.asin(M * math.sin(phi))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = 2 * math.sqrt(3) * lam * math.cos(theta) / (3 * (9 * A4 * t6 * t2 + 7 * A3 * t6 + 3 * A2 * t2 + A1))
    y = theta * (A4 * t6 * t2 + A3 * t6 + A2 * t2 + A1)
    return x, -y


def decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """The topology's arcs as [(longitude, latitude)], undoing the quantisation and the delta encoding."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_points(ring: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for index in ring:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def across_the_antimeridian(ring: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A ring that crosses the 180th meridian (Russia's Chukotka, Fiji) made continuous, east of it pressed onto
    it: the map ends at 180°, and at this scale the few degrees beyond it are lost, not drawn across the world."""
    if not any(abs(b[0] - a[0]) > 180 for a, b in zip(ring, ring[1:], strict=False)):
        return ring
    return [(180.0 if longitude < 0 else longitude, latitude) for longitude, latitude in ring]


def polygons(geometry: dict[str, Any]) -> list[list[list[int]]]:
    if geometry["type"] == "Polygon":
        return [geometry["arcs"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["arcs"])
    return []


def main(topology_file: str, codes_file: str) -> None:
    topology = json.loads(Path(topology_file).read_text())
    codes = json.loads(Path(codes_file).read_text())
    alpha2 = {row[2]: row[0] for row in codes}  # [alpha-2, alpha-3, numeric, ...]
    arcs = decode_arcs(topology)
    shapes = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        numeric = str(geometry.get("id", ""))
        if numeric == ANTARCTICA:
            continue
        rings = [
            [equal_earth(*point) for point in across_the_antimeridian(ring_points(ring, arcs))]
            for polygon in polygons(geometry)
            for ring in polygon
        ]
        shapes.append((alpha2.get(numeric, ""), geometry.get("properties", {}).get("name", ""), rings))

    # The edge of the world on this projection, down to SOUTHMOST (the oceans are drawn inside it).
    edge = [equal_earth(-180, lat / 2) for lat in range(2 * SOUTHMOST, 181)]
    edge += [equal_earth(180, lat / 2) for lat in range(180, 2 * SOUTHMOST - 1, -1)]
    xs = [x for x, _ in edge] + [x for _, _, rings in shapes for ring in rings for x, _ in ring]
    ys = [y for _, y in edge] + [y for _, _, rings in shapes for ring in rings for _, y in ring]
    scale = WIDTH / (max(xs) - min(xs))
    left, top = min(xs), min(ys)
    height = math.ceil((max(ys) - top) * scale)

    def path_of(points: list[tuple[int, int]]) -> str:
        kept = [points[0], *[p for previous, p in zip(points, points[1:], strict=False) if p != previous]]
        if len(kept) < 3:
            return ""  # an island smaller than a unit of the view box
        moves = [f"M{kept[0][0]} {kept[0][1]}"]
        moves += [f"l{x - px} {y - py}" for (px, py), (x, y) in zip(kept, kept[1:], strict=False)]
        return "".join(moves).replace(" -", "-") + "z"

    def units(ring: list[tuple[float, float]]) -> list[tuple[int, int]]:
        return [(round((x - left) * scale), round((y - top) * scale)) for x, y in ring]

    countries = []
    for code, name, rings in shapes:
        if path := "".join(path_of(units(ring)) for ring in rings):
            countries.append({"code": code, "name": name, "d": path})
    countries.sort(key=lambda country: (country["code"] or "~", country["name"]))
    json.dump(
        {
            "source": "Natural Earth 1:110m Admin 0 countries, version 4.1.0, via world-atlas 2.0.2",
            "projection": "Equal Earth",
            "width": WIDTH,
            "height": height,
            "outline": path_of(units(edge)),
            "countries": countries,
        },
        sys.stdout,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
