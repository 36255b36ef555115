"""Places: a resource with a location is published as GeoJSON and GeoParquet too, read back by
the libraries developers use (geojson, GeoPandas), and its extent reaches CKAN and DCAT."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import geojson
import geopandas
import pyarrow.parquet as pq
import pytest
from rdflib.namespace import DCAT
from shapely.geometry import Point, shape

from conftest import (
    PUBLISHABLE,
    ROOT,
    WIFI_ROWS,
    errors_of,
    frictionless_report,
    rdf_graph,
    report,
    require,
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
    folder = wifi / "datasets/wifi-spots"
    package = json.loads((folder / "datapackage.json").read_text("utf-8"))
    geo = next(r for r in package["resources"] if r["format"] == "geojson")
    assert geo["mediatype"] == "application/geo+json" and "type" not in geo
    assert package["x-opendata"]["extent"] == [139.7355, 35.658, 139.7515, 35.6725]
    outcome = frictionless_report(folder / "datapackage.json")
    assert outcome["valid"], json.dumps(outcome, ensure_ascii=False)[:2000]


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


def _tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """The XYZ tile holding a point (the slippy-map formula, written out here independently)."""
    import math

    n = 2**zoom
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def test_the_dataset_page_maps_every_point_over_gsi_tiles(wifi: Path) -> None:
    page = (wifi / "datasets/wifi-spots/index.html").read_text("utf-8")
    tiles = [
        tuple(int(v) for v in m.groups())
        for m in re.finditer(r"cyberjapandata\.gsi\.go\.jp/xyz/pale/(\d+)/(\d+)/(\d+)\.png", page)
    ]
    assert tiles and "出典：国土地理院" in page
    zoom = tiles[0][0]
    for lon, lat in [(139.7515, 35.658), (139.7355, 35.6725)]:
        assert (zoom, *_tile_of(lon, lat, zoom)) in tiles  # the background under each point


def test_the_map_works_offline_and_is_accessible(browser, tmp_path: Path) -> None:
    """Tiles off (catalog.yaml), no network: the points are drawn from the data, named for
    screen readers and listed in a table the keyboard reaches; axe finds nothing."""
    case = wifi_case(WIFI_ROWS)
    write_dataset(tmp_path, case["definition"], case["files"])
    (tmp_path / "datasets/catalog.yaml").write_text("publisher:\n  map_tiles: ''\n", "utf-8")
    out = tmp_path / "dist"
    code, result = report("build", "--datasets", str(tmp_path / "datasets"), "--out", str(out))
    assert code == 0, errors_of(result)
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto((out / "datasets/wifi-spots/index.html").as_uri())
        svg = page.locator("figure.map svg")
        assert svg.get_attribute("role") == "img"
        assert "2 地点" in (page.locator("figure.map svg title").text_content() or "")
        dots = page.locator("figure.map .map-points").get_attribute("d")
        assert dots is not None and dots.count("h0") == 2
        box = svg.bounding_box()
        assert box is not None and box["width"] <= 375
        names = page.locator("table.points tbody td:first-child").all_inner_texts()
        assert names == ["港区役所", "赤坂地区総合支所"]
        page.keyboard.press("Tab")
        focusable = page.locator("div[role=region]:has(table.points)")
        assert focusable.get_attribute("tabindex") == "0"
        assert all(url.startswith("file://") for url in requests), requests
        axe = ROOT / "node_modules/axe-core/axe.min.js"
        require(axe.is_file(), "axe-core (node_modules)", "`make audit-tools`")
        page.add_script_tag(path=str(axe))
        found = page.evaluate("async () => (await axe.run()).violations.map(v => v.id)")
        assert found == []
    finally:
        context.close()
