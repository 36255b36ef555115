"""Places: a resource with a location is published as GeoJSON and GeoParquet too, read back by
the libraries developers use (geojson, GeoPandas), and its extent reaches CKAN and DCAT."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import geojson
import geopandas
import pyarrow.parquet as pq
import pytest
from rdflib.namespace import DCAT
from shapely.geometry import Point, shape

from conftest import (
    PUBLISHABLE,
    WIFI_ROWS,
    errors_of,
    rdf_graph,
    report,
    shacl_violations,
    wifi_case,
    write_dataset,
)

OWN = PUBLISHABLE | {
    "name": "benches",
    "title": "ベンチの場所",
    "resources": [
        {
            "name": "benches",
            "path": "benches.csv",
            "schema": {
                "fields": [
                    {"name": "label", "title": "名前", "type": "string"},
                    {"name": "lat", "title": "緯度", "type": "number"},
                    {"name": "lon", "title": "経度", "type": "number"},
                    {"name": "seats", "title": "席数", "type": "integer"},
                ]
            },
            "x-opendata": {"location": {"latitude": "lat", "longitude": "lon"}},
        }
    ],
}
# Quotes, a backslash and a tab in text; a row without a point.
BENCHES = '名前,緯度,経度,席数\n"芝公園の""大""ベンチ",35.6545,139.7485,4\nC:\\\\path\tx,,,2\n'


def _build(root: Path, definition: dict, files: dict[str, str]) -> tuple[int, dict, Path]:
    write_dataset(root, definition, files)
    out = root / "dist"
    code, result = report("build", "--datasets", str(root / "datasets"), "--out", str(out))
    return code, result, out


@pytest.fixture(scope="module")
def wifi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = wifi_case(WIFI_ROWS)
    code, result, out = _build(tmp_path_factory.mktemp("wifi"), case["definition"], case["files"])
    assert code == 0, errors_of(result)
    return out


def test_geojson_is_a_valid_feature_collection_of_lon_lat_points(wifi: Path) -> None:
    folder = wifi / "datasets/wifi-spots"
    collection = geojson.loads((folder / "wifi-spots.geojson").read_text("utf-8"))
    assert collection.is_valid, collection.errors()
    assert [f["geometry"]["coordinates"] for f in collection["features"]] == [
        [139.7515, 35.658],
        [139.7355, 35.6725],
    ]  # RFC 7946: longitude first
    properties = collection["features"][0]["properties"]
    assert properties["名称"] == "港区役所" and properties["整理番号"] == "A-1"
    assert "緯度" not in properties and properties["SSID"] is None
    assert collection["bbox"] == [139.7355, 35.658, 139.7515, 35.6725]


def test_geoparquet_reads_as_a_geodataframe(wifi: Path) -> None:
    path = wifi / "datasets/wifi-spots/wifi-spots.parquet"
    frame = geopandas.read_parquet(path)
    assert isinstance(frame, geopandas.GeoDataFrame) and frame.crs.to_string() == "OGC:CRS84"
    assert list(frame.geometry) == [Point(139.7515, 35.658), Point(139.7355, 35.6725)]
    geo = json.loads(pq.read_metadata(path).metadata[b"geo"])
    assert geo["version"] == "1.1.0" and geo["columns"]["geometry"]["encoding"] == "WKB"
    assert geo["columns"]["geometry"]["bbox"] == [139.7355, 35.658, 139.7515, 35.6725]


def test_the_package_lists_the_geojson_and_validators_accept_it(wifi: Path) -> None:
    import subprocess
    import sys

    folder = wifi / "datasets/wifi-spots"
    package = json.loads((folder / "datapackage.json").read_text("utf-8"))
    geo = next(r for r in package["resources"] if r["format"] == "geojson")
    assert geo["mediatype"] == "application/geo+json" and "type" not in geo
    assert package["x-opendata"]["extent"] == [139.7355, 35.658, 139.7515, 35.6725]
    done = subprocess.run(
        [sys.executable, "-m", "frictionless", "validate", "--json", "datapackage.json"],
        capture_output=True, text=True, cwd=folder, check=False,
    )  # fmt: skip
    assert json.loads(done.stdout)["valid"], done.stdout[:2000]


def test_the_extent_reaches_ckan_and_dcat(wifi: Path) -> None:
    ckan = json.loads((wifi / "datasets/wifi-spots/package.json").read_text("utf-8"))
    extras = {e["key"]: e["value"] for e in ckan["extras"]}
    area = shape(json.loads(extras["spatial"]))
    assert area.bounds == (139.7355, 35.658, 139.7515, 35.6725)
    assert {r["format"] for r in ckan["resources"]} >= {"CSV", "Parquet", "GeoJSON"}
    graph = rdf_graph(wifi / "datasets/wifi-spots/dataset.ttl")
    boxes = {str(o) for o in graph.objects(None, DCAT.bbox)}
    points = "POLYGON((139.7355 35.658, 139.7515 35.658, 139.7515 35.6725, 139.7355 35.6725, 139.7355 35.658))"
    assert boxes == {
        points,
        "POLYGON((139.7 35.61, 139.79 35.61, 139.79 35.69, 139.7 35.69, 139.7 35.61))",
    }
    assert shacl_violations(rdf_graph(wifi / "catalog.ttl"), "shapes.ttl") == []
    assert shacl_violations(rdf_graph(wifi / "catalog.ttl"), "range.ttl") == []


def test_a_declared_location_and_text_that_needs_escaping(tmp_path: Path) -> None:
    code, result, out = _build(tmp_path, OWN, {"benches.csv": BENCHES})
    assert code == 0, errors_of(result)
    text = (out / "datasets/benches/benches.geojson").read_text("utf-8")
    features = json.loads(text)["features"]
    assert features[0]["properties"] == {"label": '芝公園の"大"ベンチ', "seats": 4}
    assert features[1]["properties"]["label"] == "C:\\\\path\tx"  # as the CSV has it
    assert features[1]["geometry"] is None  # a row without a point
    frame = geopandas.read_parquet(out / "datasets/benches/benches.parquet")
    assert frame.geometry.isna().tolist() == [False, True]


def test_a_location_must_name_number_fields(tmp_path: Path) -> None:
    definition = copy.deepcopy(OWN)
    definition["resources"][0]["x-opendata"]["location"]["latitude"] = "label"
    code, result, _ = _build(tmp_path, definition, {"benches.csv": BENCHES})
    assert code == 1 and any("location" in e["message"] for e in errors_of(result))
