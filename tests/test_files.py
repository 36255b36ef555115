"""Files published as they are (`type: file`): GTFS feeds, GeoJSON, PDF, images.

Every fixture is made here (a GTFS zip written with csv, a PDF with pypdf, a PNG with Pillow)
and never published. Each broken file is a located error, like a bad cell; a valid one arrives
byte for byte in dist/ with its sha256 in datapackage.json, CKAN's package.json and DCAT.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from PIL import Image
from pypdf import PdfWriter
from rdflib import Literal, Namespace, URIRef

from conftest import (
    PUBLISHABLE,
    frictionless_report,
    opendata,
    rdf_graph,
    report,
    shacl_violations,
    write_dataset,
)

SPDX = Namespace("http://spdx.org/rdf/terms#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
NAME = "minato-files"
EPOCH = 1764400000


def _txt(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


STOPS = [
    ["stop_id", "stop_name", "stop_lat", "stop_lon"],
    ["s1", "港区役所", "35.6581", "139.7516"],
    ["s2", "田町駅東口", "35.6457", "139.7476"],
]


def gtfs(stops: list[list[str]] = STOPS, leave_out: str | None = None) -> bytes:
    """A tiny GTFS Schedule feed: one agency, one route, one trip over the stops."""
    stop_ids = [row[0] for row in stops[1:]]
    feed = {
        "agency.txt": [
            ["agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang"],
            ["minato", "港区", "https://www.city.minato.tokyo.jp/", "Asia/Tokyo", "ja"],
        ],
        "stops.txt": stops,
        "routes.txt": [
            ["route_id", "agency_id", "route_short_name", "route_type"],
            ["chii", "minato", "ちぃばす", "3"],
        ],
        "trips.txt": [["route_id", "service_id", "trip_id"], ["chii", "weekday", "t1"]],
        "stop_times.txt": [
            ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"],
            *[
                ["t1", f"08:{i:02d}:00", f"08:{i:02d}:00", stop, str(i + 1)]
                for i, stop in enumerate(stop_ids)
            ],
        ],
        "calendar.txt": [
            [
                *("service_id", "monday", "tuesday", "wednesday", "thursday", "friday"),
                *("saturday", "sunday", "start_date", "end_date"),
            ],
            ["weekday", "1", "1", "1", "1", "1", "0", "0", "20250401", "20260331"],
        ],
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in feed.items():
            if name != leave_out:
                info = zipfile.ZipInfo(name, date_time=(2025, 4, 1, 0, 0, 0))
                archive.writestr(info, _txt(rows), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


AREA = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "shiba",
            "properties": {"name": "芝地区"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [139.74, 35.64],
                        [139.76, 35.64],
                        [139.76, 35.66],
                        [139.74, 35.66],
                        [139.74, 35.64],
                    ]
                ],
            },
        },
        {
            "type": "Feature",
            "properties": {"name": "港区役所"},
            "geometry": {"type": "Point", "coordinates": [139.7516, 35.6581]},
        },
    ],
}


def geojson_text(document: dict[str, Any] = AREA) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def definition(*resources: dict[str, Any]) -> dict[str, Any]:
    return PUBLISHABLE | {"name": NAME, "title": "港区のファイル", "resources": list(resources)}


FILES = {
    "chiibus.zip": gtfs(),
    "plan.pdf": pdf(2),
    "area.geojson": geojson_text(),
    "logo.png": png(),
}
RESOURCES = [
    {"name": "chiibus-gtfs", "path": "chiibus.zip", "title": "ちぃばす GTFS"},
    {"name": "plan", "path": "plan.pdf", "title": "基本計画（PDF）", "type": "file"},
    {"name": "districts", "path": "area.geojson", "title": "地区の区域"},
    {"name": "logo", "path": "logo.png", "title": "ロゴ"},
]


def build(root: Path, resources: list[dict[str, Any]], content: dict[str, bytes]) -> Any:
    shutil.rmtree(root / "datasets", ignore_errors=True)
    write_dataset(root, definition(*resources), dict(content))
    return report("build", "--datasets", str(root / "datasets"), "--out", str(root / "dist"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("files")
    code, result = build(root, RESOURCES, FILES)
    assert code == 0, json.dumps(result, ensure_ascii=False)[:3000]
    return root


def _package(root: Path, file: str = "datapackage.json") -> dict[str, Any]:
    return json.loads((root / "dist/datasets" / NAME / file).read_text("utf-8"))


def _errors(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for d in result["datasets"] for e in d["errors"]] + result["errors"]


def _warnings(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for d in result["datasets"] for w in d["warnings"]]


# -- the published files --------------------------------------------------------------------------
def test_each_file_arrives_byte_identical_with_its_sha256_everywhere(site: Path) -> None:
    folder = site / "dist/datasets" / NAME
    described = {r["path"]: r for r in _package(site)["resources"]}
    ckan = {r["url"].rsplit("/", 1)[-1]: r for r in _package(site, "package.json")["resources"]}
    graph = rdf_graph(folder / "dataset.ttl")
    for name, content in FILES.items():
        assert (folder / name).read_bytes() == content
        sha = hashlib.sha256(content).hexdigest()
        resource = described[name]
        assert "type" not in resource  # Data Package v2 keeps `type` for tables
        assert resource["hash"] == f"sha256:{sha}" and resource["bytes"] == len(content)
        assert "schema" not in resource
        assert ckan[name]["hash"] == sha and ckan[name]["size"] == len(content)
        distribution = next(graph.subjects(DCAT.downloadURL, URIRef(ckan[name]["url"])))
        checksum = graph.value(distribution, SPDX.checksum)
        assert str(graph.value(checksum, SPDX.checksumValue)) == sha
        assert int(graph.value(distribution, DCAT.byteSize)) == len(content)


def test_formats_and_media_types(site: Path) -> None:
    described = {r["name"]: r for r in _package(site)["resources"]}
    assert {n: (r["format"], r["mediatype"]) for n, r in described.items()} == {
        "chiibus-gtfs": ("gtfs", "application/zip"),  # a .zip holding a feed is a feed
        "plan": ("pdf", "application/pdf"),
        "districts": ("geojson", "application/geo+json"),
        "logo": ("png", "image/png"),
    }
    assert described["plan"]["x-opendata"] == {"kind": "file", "pages": 2}
    assert described["chiibus-gtfs"]["x-opendata"]["gtfs"] == {
        "agencies": 1,
        "routes": 1,
        "stops": 2,
        "trips": 1,
    }
    ckan = {r["name"]: r["format"] for r in _package(site, "package.json")["resources"]}
    assert ckan == {
        "ちぃばす GTFS（GTFS）": "GTFS",
        "基本計画（PDF）（PDF）": "PDF",
        "地区の区域（GeoJSON）": "GeoJSON",
        "ロゴ（PNG）": "PNG",
        "データパッケージ定義 / Data Package descriptor（JSON）": "JSON",
    }
    # the stops and the polygons give the dataset its extent (CKAN's `spatial`)
    assert _package(site)["x-opendata"]["extent"] == [139.74, 35.64, 139.76, 35.66]


def test_dcat_file_types_media_types_and_the_gtfs_standard(site: Path) -> None:
    graph = rdf_graph(site / "dist/datasets" / NAME / "dataset.ttl")
    eu = "http://publications.europa.eu/resource/authority/file-type/"
    iana = "http://www.iana.org/assignments/media-types/"
    found = {}
    for distribution in graph.subjects(DCAT.downloadURL, None):
        url = str(graph.value(distribution, DCAT.downloadURL)).rsplit("/", 1)[-1]
        found[url] = (
            str(graph.value(distribution, DCT["format"])).removeprefix(eu),
            str(graph.value(distribution, DCAT.mediaType)).removeprefix(iana),
        )
    assert found["chiibus.zip"] == ("ZIP", "application/zip")
    assert found["plan.pdf"] == ("PDF", "application/pdf")
    assert found["logo.png"] == ("PNG", "image/png")
    assert found["area.geojson"] == ("GEOJSON", "application/geo+json")
    feed = URIRef(f"{_url(site, 'chiibus.zip')}#distribution")
    standard = URIRef("https://gtfs.org/documentation/schedule/reference/")
    assert (feed, DCT.conformsTo, standard) in graph
    label = URIRef("http://www.w3.org/2000/01/rdf-schema#label")
    # one label per file type: a GTFS feed and a plain ZIP share the ZIP node
    assert list(graph.objects(URIRef(f"{eu}ZIP"), label)) == [Literal("ZIP")]
    assert list(graph.objects(URIRef(f"{eu}PDF"), label)) == [Literal("PDF")]


def _url(site: Path, path: str) -> str:
    ckan = _package(site, "package.json")
    return next(r["url"] for r in ckan["resources"] if r["url"].endswith("/" + path))


def test_the_dcat_ap_shapes_hold(site: Path) -> None:
    graph = rdf_graph(site / "dist/catalog.ttl")
    assert shacl_violations(graph, "shapes.ttl") == []
    assert shacl_violations(graph, "range.ttl") == []


def test_frictionless_and_the_data_package_v2_schema_accept_the_package(site: Path) -> None:
    descriptor = site / "dist/datasets" / NAME / "datapackage.json"
    outcome = frictionless_report(descriptor)
    assert outcome["valid"], json.dumps(outcome, ensure_ascii=False)[:2000]
    schema = json.loads(files("dplib").joinpath("profiles/2.0/datapackage.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    assert list(validator.iter_errors(_package(site))) == []


def test_frictionless_catches_a_tampered_file(site: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(site / "dist/datasets" / NAME, copy)
    data = bytearray((copy / "plan.pdf").read_bytes())
    data[-20] ^= 1
    (copy / "plan.pdf").write_bytes(bytes(data))
    assert not frictionless_report(copy / "datapackage.json")["valid"]


def test_the_dataset_page_lists_the_files_without_a_preview(site: Path) -> None:
    page = (site / "dist/datasets" / NAME / "index.html").read_text("utf-8")
    for name, content in FILES.items():
        assert f'href="{name}"' in page
        assert hashlib.sha256(content).hexdigest() in page
    assert "停留所 2" in page and "2 ページ" in page
    assert "<caption>" not in page.split('id="downloads"')[1].split("</section>")[0]
    assert "chiibus.zip" in page and "sha256sum -c" in page  # the download snippet


def test_the_build_is_deterministic(site: Path, tmp_path: Path) -> None:
    code, _ = build(tmp_path, RESOURCES, FILES)
    assert code == 0
    for name in [*FILES, "datapackage.json", "package.json", "dataset.ttl", "dataset.jsonld"]:
        ours = (tmp_path / "dist/datasets" / NAME / name).read_bytes()
        assert ours == (site / "dist/datasets" / NAME / name).read_bytes(), name


# -- broken files are located errors --------------------------------------------------------------
def _only(resources: list[dict[str, Any]], content: dict[str, bytes], tmp_path: Path) -> Any:
    code, result = build(tmp_path, resources, content)
    assert code == 1 or not _errors(result), result
    return result


def test_a_feed_without_stop_times_names_the_file(tmp_path: Path) -> None:
    result = _only([RESOURCES[0]], {"chiibus.zip": gtfs(leave_out="stop_times.txt")}, tmp_path)
    errors = _errors(result)
    assert [(e["type"], e["file"], e["value"]) for e in errors] == [
        ("gtfs-error", f"{NAME}/chiibus.zip", "stop_times.txt")
    ]
    assert "stop_times.txt" in errors[0]["message"] and errors[0]["resource"] == "chiibus-gtfs"
    assert not (tmp_path / "dist").exists()  # nothing published


def test_a_feed_declared_as_gtfs_checks_its_calendar(tmp_path: Path) -> None:
    resource = {"name": "chiibus-gtfs", "path": "feed.zip", "format": "gtfs"}
    result = _only([resource], {"feed.zip": gtfs(leave_out="calendar.txt")}, tmp_path)
    assert [e["value"] for e in _errors(result)] == ["calendar.txt または calendar_dates.txt"]


def test_a_stop_in_osaka_is_a_warning_outside_the_area(tmp_path: Path) -> None:
    stops = [*STOPS, ["s3", "大阪駅", "34.7025", "135.4959"]]
    code, result = build(tmp_path, [RESOURCES[0]], {"chiibus.zip": gtfs(stops)})
    assert code == 0 and not _errors(result)
    [warning] = _warnings(result)
    assert warning["file"] == f"{NAME}/chiibus.zip/stops.txt"
    assert (warning["row"], warning["column"], warning["value"]) == (
        4,
        "stop_lat",
        "34.7025, 135.4959",
    )
    assert "outside the publisher's area" in warning["message"]


def test_a_stop_at_latitude_135_is_an_error(tmp_path: Path) -> None:
    stops = [*STOPS[:2], ["s2", "田町駅東口", "135.6457", "139.7476"]]
    result = _only([RESOURCES[0]], {"chiibus.zip": gtfs(stops)}, tmp_path)
    [error] = _errors(result)
    assert (error["file"], error["row"], error["column"], error["value"]) == (
        f"{NAME}/chiibus.zip/stops.txt",
        3,
        "stop_lat",
        "135.6457",
    )
    assert "latitude outside Japan" in error["message"]
    assert error["hint_ja"] and error["hint_en"]


def test_swapped_stop_coordinates_name_both_values(tmp_path: Path) -> None:
    stops = [*STOPS[:2], ["s2", "田町駅東口", "139.7476", "35.6457"]]
    [error] = _errors(_only([RESOURCES[0]], {"chiibus.zip": gtfs(stops)}, tmp_path))
    assert error["fix"] == "stop_lat 35.6457, stop_lon 139.7476"


def test_a_bad_date_and_a_dangling_stop_are_located(tmp_path: Path) -> None:
    content = gtfs()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info).decode()
            if info.filename == "calendar.txt":
                data = data.replace("20260331", "2026-03-31")
            if info.filename == "stop_times.txt":
                data = data.replace(",s2,", ",s9,")
            target.writestr(info, data)
    errors = _errors(_only([RESOURCES[0]], {"chiibus.zip": out.getvalue()}, tmp_path))
    assert sorted(
        (e["file"].rsplit("/", 1)[-1], e["row"], e["column"], e["value"]) for e in errors
    ) == [
        ("calendar.txt", 2, "end_date", "2026-03-31"),
        ("stop_times.txt", 3, "stop_id", "s9"),
    ]


def test_a_zip_that_is_not_a_zip_is_an_error(tmp_path: Path) -> None:
    resource = {"name": "chiibus-gtfs", "path": "feed.zip", "format": "gtfs"}
    [error] = _errors(_only([resource], {"feed.zip": b"PK\x03\x04 broken"}, tmp_path))
    assert error["type"] == "file-error" and error["file"] == f"{NAME}/feed.zip"


def test_a_polygon_ring_not_closed_is_a_located_error(tmp_path: Path) -> None:
    broken = json.loads(geojson_text())
    broken["features"][0]["geometry"]["coordinates"][0].pop()  # the ring no longer closes
    result = _only([RESOURCES[2]], {"area.geojson": geojson_text(broken)}, tmp_path)
    [error] = _errors(result)
    assert error["type"] == "geometry-error"
    assert (error["file"], error["column"]) == (f"{NAME}/area.geojson", "features[0]")
    assert "id shiba" in error["message"]


def test_geojson_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    text = geojson_text().decode().replace('"features":', '"features":\n', 1) + "}"
    [error] = _errors(_only([RESOURCES[2]], {"area.geojson": text.encode()}, tmp_path))
    assert error["type"] == "file-error" and error["row"] == 2


def test_a_position_that_is_not_degrees_is_an_error(tmp_path: Path) -> None:
    broken = json.loads(geojson_text())
    broken["features"][1]["geometry"]["coordinates"] = [-139975.2, 35.6]  # metres, not degrees
    [error] = _errors(_only([RESOURCES[2]], {"area.geojson": geojson_text(broken)}, tmp_path))
    assert error["column"] == "features[1]" and error["value"] == "[-139975.2, 35.6]"


def test_a_corrupt_pdf_is_an_error(tmp_path: Path) -> None:
    broken = pdf()[:100]
    [error] = _errors(_only([RESOURCES[1]], {"plan.pdf": broken}, tmp_path))
    assert error["type"] == "file-error" and error["file"] == f"{NAME}/plan.pdf"
    assert "cannot open the PDF" in error["message"]


def test_an_encrypted_pdf_is_an_error(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    [error] = _errors(_only([RESOURCES[1]], {"plan.pdf": out.getvalue()}, tmp_path))
    assert "encrypted" in error["message"]


def test_an_image_that_is_not_what_its_name_says(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (2, 2)).save(out, format="JPEG")
    [error] = _errors(_only([RESOURCES[3]], {"logo.png": out.getvalue()}, tmp_path))
    assert "JPEG" in error["message"]
    [error] = _errors(_only([RESOURCES[3]], {"logo.png": png()[:30]}, tmp_path))
    assert error["type"] == "file-error"


def test_a_file_over_the_size_limit_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENDATA_MAX_FILE_MB", "1")
    big = pdf() + b"%" * (1 << 20)
    [error] = _errors(_only([RESOURCES[1]], {"plan.pdf": big}, tmp_path))
    assert error["type"] == "size-error" and "OPENDATA_MAX_FILE_MB" in error["message"]


# -- definitions ----------------------------------------------------------------------------------
def test_definitions_a_file_resource_cannot_make(tmp_path: Path) -> None:
    cases = [
        ({"name": "sheet", "path": "a.docx", "type": "file"}, {"a.docx": b"x"}, "a.docx"),
        (
            {
                "name": "plan",
                "path": "plan.pdf",
                "schema": {"fields": [{"name": "id"}]},
                "type": "file",
            },
            {"plan.pdf": pdf()},
            "schema",
        ),
        (
            {"name": "plan", "path": "package.json", "format": "json"},
            {"package.json": b"{}"},
            "package.json",
        ),
        ({"name": "plan", "path": "plan.pdf", "type": "picture"}, {"plan.pdf": pdf()}, "picture"),
    ]
    for resource, content, value in cases:
        result = _only([resource], content, tmp_path)
        assert [e["value"] for e in _errors(result)] == [value], resource
    # a file named like a table's output is refused before anything is built
    table = {
        "name": "items",
        "path": "items.csv",
        "schema": {"fields": [{"name": "id", "title": "番号", "type": "integer"}]},
    }
    resource = {"name": "plan", "path": "items.parquet", "format": "pdf"}
    result = _only(
        [table, resource],
        {"items.csv": b"\xe7\x95\xaa\xe5\x8f\xb7\n1\n", "items.parquet": pdf()},
        tmp_path,
    )
    assert [e["value"] for e in _errors(result)] == ["items.parquet"]


def test_tables_and_files_together(tmp_path: Path) -> None:
    table = {
        "name": "items",
        "path": "items.csv",
        "schema": {"fields": [{"name": "id", "title": "番号", "type": "integer"}]},
    }
    code, result = build(
        tmp_path, [table, RESOURCES[1]], {"items.csv": "番号\n1\n".encode(), "plan.pdf": pdf()}
    )
    assert code == 0, result
    described = _package(tmp_path)
    assert [r["name"] for r in described["resources"]] == ["items", "items-parquet", "plan"]
    page = (tmp_path / "dist/datasets" / NAME / "index.html").read_text("utf-8")
    assert "plan.pdf" in page and "items.csv" in page


# -- releases ---------------------------------------------------------------------------------------
def _release(root: Path, epoch: int) -> dict[str, Any]:
    done = opendata(
        "release", "--site", str(root / "dist"), "--datasets", str(root / "datasets"), "--json",
        env={"SOURCE_DATE_EPOCH": str(epoch)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_releases_carry_files_and_a_changed_file_is_a_minor_version(tmp_path: Path) -> None:
    assert build(tmp_path, RESOURCES, FILES)[0] == 0
    first = _release(tmp_path, EPOCH)["release"]["datasets"][NAME]
    assert first["version"] == "1.0.0"
    kept = {Path(f["path"]).name: f["sha256"] for f in first["files"]}
    assert kept["plan.pdf"] == hashlib.sha256(FILES["plan.pdf"]).hexdigest()
    assert kept["chiibus.zip"] == hashlib.sha256(FILES["chiibus.zip"]).hexdigest()

    changed = dict(FILES, **{"plan.pdf": pdf(3)})
    assert build(tmp_path, RESOURCES, changed)[0] == 0
    diff = opendata("diff", "--site", str(tmp_path / "dist"), "--json")
    [dataset] = [d for d in json.loads(diff.stdout) if d["name"] == NAME]
    [resource] = dataset["resources"]
    assert (resource["name"], resource["kind"]) == ("plan", "file")
    assert resource["file"]["old_sha256"] == hashlib.sha256(FILES["plan.pdf"]).hexdigest()
    assert resource["file"]["new_sha256"] == hashlib.sha256(changed["plan.pdf"]).hexdigest()
    second = _release(tmp_path, EPOCH + 3600)["release"]["datasets"][NAME]
    assert (second["version"], second["change"]) == ("1.1.0", "minor")
    assert any("[plan] file changed" in r for r in second["reasons"])
    folder = tmp_path / "dist/datasets" / NAME
    assert (folder / "1.0.0/plan.pdf").read_bytes() == FILES["plan.pdf"]
    assert (folder / "1.1.0/plan.pdf").read_bytes() == changed["plan.pdf"]
    assert (folder / "plan.pdf").read_bytes() == changed["plan.pdf"]
    package = _package(tmp_path, "package.json")
    modified = {e["key"]: e["value"] for e in package["extras"]}["data_modified"]
    assert modified.startswith("2025-11-29T17:06:40")  # the file's change moved data_modified

    # a file removed is a major version
    assert build(tmp_path, [r for r in RESOURCES if r["name"] != "logo"], changed)[0] == 0
    third = _release(tmp_path, EPOCH + 7200)["release"]["datasets"][NAME]
    assert (third["version"], third["change"]) == ("2.0.0", "major")
    assert "[logo] resource removed" in third["reasons"]


@pytest.mark.skipif(
    not os.path.isdir("/dev/shm")
    or os.stat("/dev/shm").st_dev == os.stat(tempfile.gettempdir()).st_dev,
    reason="needs a second file system (/dev/shm) for a hard link to fail for real",
)
def test_where_no_link_can_be_made_the_file_is_copied(tmp_path: Path) -> None:
    from pipeline.files import link_file

    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        source = Path(other) / "new.csv"
        source.write_text("new\n", encoding="utf-8")
        os.utime(source, ns=(1_700_000_000_000_000_000,) * 2)
        link_file(source, tmp_path / "copy.csv")
        assert (tmp_path / "copy.csv").read_text(encoding="utf-8") == "new\n"
        assert (tmp_path / "copy.csv").stat().st_mtime_ns == source.stat().st_mtime_ns


def test_a_copy_never_writes_into_a_file_a_release_links_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mock of `os.link`: Linux reports an existing target before a cross-device link, so
    only another kernel's order of checks reaches the copy with the target there; the copy
    is then a new file renamed over it, and the release's file keeps its bytes."""
    import errno

    from pipeline.files import link_file

    released, target = tmp_path / "released.csv", tmp_path / "target.csv"
    released.write_text("old\n", encoding="utf-8")
    os.link(released, target)
    (tmp_path / "new.csv").write_text("new\n", encoding="utf-8")

    def cross_device(_source: object, _target: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    link_file(tmp_path / "new.csv", target)
    assert target.read_text(encoding="utf-8") == "new\n"
    assert released.read_text(encoding="utf-8") == "old\n"
