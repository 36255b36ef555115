"""Places: a resource with a latitude and a longitude is published as GeoJSON too, and its
Parquet carries a GeoParquet 1.1 `geometry` column — both built column by column (Arrow
string kernels and NumPy), never row by row in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .presets import standard_rule

GEOMETRY = "geometry"  # the GeoParquet column
# WKB of a point: byte order (1 = little-endian), geometry type (1 = Point), x, y.
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


@dataclass(frozen=True)
class Location:
    """Which fields of a resource hold its points (WGS 84 degrees)."""

    latitude: str
    longitude: str

    @classmethod
    def of(cls, fields: list[dict[str, Any]], options: dict[str, Any]) -> Location | None:
        """A standard's 緯度/経度 items, or the pair the resource declares under x-opendata."""
        declared = options.get("location")
        if isinstance(declared, dict):
            return cls(str(declared["latitude"]), str(declared["longitude"]))
        rules = {standard_rule(f): f["name"] for f in fields}
        if "latitude" in rules and "longitude" in rules:
            return cls(rules["latitude"], rules["longitude"])
        return None

    def points(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Longitudes, latitudes, and which rows have both."""
        lon = _degrees(table.column(self.longitude))
        lat = _degrees(table.column(self.latitude))
        return lon, lat, ~(np.isnan(lon) | np.isnan(lat))


def _degrees(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    as_float = pc.cast(column, pa.float64())
    return np.asarray(pc.fill_null(as_float, np.nan).to_numpy(zero_copy_only=False), dtype=float)


def wkb_points(lon: np.ndarray, lat: np.ndarray, present: np.ndarray) -> pa.Array:
    """WKB points (null where a row has no point), as GeoParquet's `geometry` column."""
    records = np.zeros(len(lon), dtype=_WKB_POINT)
    records["order"], records["type"], records["x"], records["y"] = 1, 1, lon, lat
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(21), len(lon), [None, pa.py_buffer(records.tobytes())]
    )
    return pc.if_else(pa.array(present), pc.cast(fixed, pa.binary()), None)


def geoparquet_metadata(bbox: list[float] | None) -> dict[str, Any]:
    """The file-level `geo` key of GeoParquet 1.1 (no `crs`: OGC:CRS84, lon/lat, by default)."""
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": ["Point"]}
    if bbox is not None:
        column["bbox"] = bbox
    return {"version": "1.1.0", "primary_column": GEOMETRY, "columns": {GEOMETRY: column}}


Box = tuple[float, float, float, float] | list[float]  # west, south, east, north


def box_geojson(box: Box) -> str:
    """A bounding box as GeoJSON (RFC 7946: [lon, lat], the ring anticlockwise); one point's
    box is that Point — the form CKAN's `spatial` extra takes (ckanext-spatial checks it)."""
    west, south, east, north = box
    if west == east and south == north:
        geometry: dict[str, Any] = {"type": "Point", "coordinates": [west, south]}
    else:
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        geometry = {"type": "Polygon", "coordinates": [ring]}
    return json.dumps(geometry, separators=(",", ":"))


def box_wkt(box: Box) -> str:
    """A bounding box as a WKT polygon (DCAT's dcat:bbox, a GeoSPARQL wktLiteral)."""
    west, south, east, north = box
    ring = [(west, south), (east, south), (east, north), (west, north), (west, south)]
    return "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"


class Extent:
    """The bounding box of every point seen, batch by batch."""

    def __init__(self) -> None:
        self.box: list[float] | None = None

    def add(self, lon: np.ndarray, lat: np.ndarray, present: np.ndarray) -> None:
        if not present.any():
            return
        found = [lon[present].min(), lat[present].min(), lon[present].max(), lat[present].max()]
        if self.box is None:
            self.box = [float(v) for v in found]
        else:
            w, s, e, n = self.box
            self.box = [min(w, found[0]), min(s, found[1]), max(e, found[2]), max(n, found[3])]


# -- GeoJSON text, column-wise ----------------------------------------------------------------
_ESCAPES = {
    ord("\\"): "\\\\",
    ord('"'): '\\"',
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}


def _json_text(text: pa.Array) -> pa.Array:
    """Strings as JSON string literals (quoted, escaped). The bytes are scanned once; only
    the characters that occur are replaced (UTF-8 never uses bytes below 0x80 inside a
    multi-byte character, so a byte scan finds exactly the ASCII ones)."""
    data = text.buffers()[2]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    found = np.unique(raw[(raw < 0x20) | (raw == ord('"')) | (raw == ord("\\"))])
    if ord("\\") in found:  # first, so that the escapes added below are not doubled
        text = pc.replace_substring(text, "\\", "\\\\")
    for byte in found:
        if byte != ord("\\"):
            escaped = _ESCAPES.get(int(byte), f"\\u{int(byte):04x}")
            text = pc.replace_substring(text, chr(byte), escaped)
    return pc.binary_join_element_wise('"', text, '"', "")


def json_values(column: pa.Array) -> pa.Array:
    """Each value as JSON text: numbers and booleans bare, text and dates quoted, null as null."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = pc.cast(column, pa.string()), pa.string()
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        text = pc.cast(column, pa.string())
    else:
        text = _json_text(pc.cast(column, pa.string()))
    return pc.fill_null(text, "null")


def features(table: pa.Table, location: Location) -> pa.Array:
    """One GeoJSON Feature (RFC 7946: [lon, lat]; properties = the other fields) per row."""
    lon, lat, present = location.points(table)
    coordinates = pc.binary_join_element_wise(
        '{"type":"Point","coordinates":[',
        json_values(pa.array(lon)),
        ",",
        json_values(pa.array(lat)),
        "]}",
        "",
    )
    geometry = pc.if_else(pa.array(present), coordinates, "null")
    parts: list[Any] = []
    for name in table.column_names:
        if name in (location.latitude, location.longitude):
            continue
        key = _json_text(pa.array([name])).to_pylist()[0]
        parts += [
            ("," if parts else "") + key + ":",
            json_values(table.column(name).combine_chunks()),
        ]
    properties = pc.binary_join_element_wise("{", *parts, "}", "") if parts else "{}"
    return pc.binary_join_element_wise(
        '{"type":"Feature","geometry":', geometry, ',"properties":', properties, "}", ""
    )
