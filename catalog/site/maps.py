"""A map of every point of a resource with a location, drawn as SVG from the GeoParquet file.

It works with no network: the points are drawn from the data in Web Mercator; a background of
地理院タイル (or any XYZ tiles `catalog.yaml` names as `map_tiles`) lies under them when set.
The SVG is an image with a name for screen readers; the points themselves are listed as a
table beside it, which the keyboard reaches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pipeline.geo import GEOMETRY

from ..model import Resource

WIDTH, HEIGHT = 640, 400  # the SVG's viewBox
MARGIN = 24
TILE = 256
MAX_DRAWN = 5000  # points drawn (a larger dataset is thinned evenly; the count is stated)
MAX_LISTED = 100  # points listed in the table
NAME_FIELDS = ("名称", "name", "title", "label", "施設名")


@dataclass(frozen=True)
class Tile:
    href: str
    x: float
    y: float
    size: float


@dataclass(frozen=True)
class PointMap:
    resource: str
    title: str
    count: int  # points in the data
    path: str  # every drawn point as a round dot of one SVG path ("M x y h0"): one DOM node
    listed: list[tuple[str, float, float]]  # name, latitude, longitude
    tiles: list[Tile]
    attribution: str


def point_map(folder: Path, resource: Resource, tiles: str | None) -> PointMap | None:
    """The map of a CSV resource whose Parquet twin is a GeoParquet file; None otherwise."""
    parquet = folder / Path(resource.path).with_suffix(".parquet")
    footer = pq.read_metadata(parquet)
    schema = footer.schema.to_arrow_schema()
    if GEOMETRY not in schema.names or b"geo" not in (footer.metadata or {}):
        return None
    names = [n for n in schema.names if n in NAME_FIELDS][:1]
    table = pq.read_table(parquet, columns=[GEOMETRY, *names])
    lon, lat = _coordinates(table.column(GEOMETRY).to_numpy(zero_copy_only=False))
    labels = table.column(names[0]).to_pylist() if names else [None] * len(lon)
    if not len(lon):
        return None
    x, y = _mercator(lon, lat)
    zoom, scale, left, top = _frame(x, y)
    drawn = np.linspace(0, len(lon) - 1, min(len(lon), MAX_DRAWN)).astype(int)
    path = "".join(f"M{x[i] * scale - left:.1f} {y[i] * scale - top:.1f}h0" for i in drawn)
    listed = [
        (str(labels[i] or f"#{i + 1}"), float(lat[i]), float(lon[i]))
        for i in range(min(len(lon), MAX_LISTED))
    ]
    return PointMap(
        resource.name,
        resource.title,
        len(lon),
        path,
        listed,
        _tiles(tiles, zoom, left, top) if tiles else [],
        "出典：国土地理院（地理院タイル）" if tiles and "gsi.go.jp" in tiles else "",
    )


def _coordinates(wkb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of the WKB points that are there (nulls left out)."""
    points = [p for p in wkb if p is not None]
    if not points:
        return np.array([]), np.array([])
    raw = np.frombuffer(b"".join(points), dtype=np.dtype([("h", "V5"), ("x", "<f8"), ("y", "<f8")]))
    return raw["x"].astype(float), raw["y"].astype(float)


def _mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator at zoom 0, in tile pixels (0–256), as XYZ tiles are laid out."""
    x = (lon + 180.0) / 360.0 * TILE
    y = (1.0 - np.log(np.tan(np.radians(lat)) + 1.0 / np.cos(np.radians(lat))) / math.pi) / 2 * TILE
    return x, y


def _frame(x: np.ndarray, y: np.ndarray) -> tuple[int, float, float, float]:
    """The deepest zoom (≤ 18) at which every point fits; the scale and the top-left corner."""
    span_x = max(float(x.max() - x.min()), 1e-9)
    span_y = max(float(y.max() - y.min()), 1e-9)
    fit = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)
    zoom = max(0, min(18, math.floor(math.log2(fit))))
    scale = 2.0**zoom
    center_x = (float(x.max()) + float(x.min())) / 2 * scale
    center_y = (float(y.max()) + float(y.min())) / 2 * scale
    return zoom, scale, center_x - WIDTH / 2, center_y - HEIGHT / 2


def _tiles(template: str, zoom: int, left: float, top: float) -> list[Tile]:
    first_x, first_y = math.floor(left / TILE), math.floor(top / TILE)
    last_x, last_y = math.floor((left + WIDTH) / TILE), math.floor((top + HEIGHT) / TILE)
    return [
        Tile(
            template.format(z=zoom, x=tx, y=ty),
            round(tx * TILE - left, 1),
            round(ty * TILE - top, 1),
            TILE,
        )
        for ty in range(first_y, last_y + 1)
        for tx in range(first_x, last_x + 1)
    ]
