"""The catalog metadata app builders consume: CKAN package dicts and catalog.json."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
import uuid
from pathlib import Path

import pytest
import yaml
from frictionless_ckan_mapper import ckan_to_frictionless

from catalog.model import Resource

from conftest import MINIMAL, MINIMAL_CSV, ROOT, opendata, report, write_dataset

PACKAGE_KEYS = {
    "id", "name", "title", "type", "state", "private", "notes", "url", "version", "author",
    "author_email", "maintainer", "maintainer_email", "license_id", "license_title",
    "license_url", "isopen", "owner_org", "organization", "groups", "tags", "num_tags", "extras",
    "metadata_created", "metadata_modified", "resources", "num_resources",
    "relationships_as_subject", "relationships_as_object",
}  # fmt: skip
RESOURCE_KEYS = {
    "id", "package_id", "url", "name", "description", "format", "mimetype", "size", "hash",
    "created", "last_modified", "metadata_modified", "position", "url_type", "resource_type", "state",
}  # fmt: skip
NAMES = ["facility-counts", "opendata-list", "plan-indicators", "survey-results"]


def _package(site: Path, name: str) -> dict:
    return json.loads((site / "datasets" / name / "package.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", NAMES)
def test_package_dict_has_ckan_shape(built_site: Path, name: str) -> None:
    package = _package(built_site, name)
    assert set(package) == PACKAGE_KEYS
    assert uuid.UUID(package["id"]).version == 5
    assert package["license_id"] == "CC-BY-4.0" and package["isopen"] is True
    assert package["license_url"] == "https://creativecommons.org/licenses/by/4.0/"
    assert (
        package["organization"]["name"] == "minatoku" and package["organization"]["title"] == "港区"
    )
    assert {"key": "local_government_code", "value": "131032"} in package["organization"]["extras"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00", package["metadata_modified"])
    assert all(len(t["name"]) >= 2 for t in package["tags"]) and package["num_tags"] == len(
        package["tags"]
    )
    extras = {e["key"]: e["value"] for e in package["extras"]}
    assert extras["spatial_code"] == "131032" and extras["frequency"] == "irregular"
    # `spatial` is the ward's extent as a GeoJSON Polygon (what ckanext-spatial accepts): a
    # closed ring around Minato City Hall (35.6581 N, 139.7516 E).
    extent = json.loads(extras["spatial"])
    ring = extent["coordinates"][0]
    assert extent["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) == 5
    lons, lats = zip(*ring, strict=True)
    assert min(lons) < 139.7516 < max(lons) and min(lats) < 35.6581 < max(lats)
    assert all(isinstance(v, str) for v in extras.values())
    assert [r["position"] for r in package["resources"]] == list(range(package["num_resources"]))
    for resource in package["resources"]:
        assert set(resource) == RESOURCE_KEYS
        assert resource["size"] > 0 and re.fullmatch(r"[0-9a-f]{64}", resource["hash"])
        assert resource["last_modified"] and resource["url"].startswith("https://")
        assert resource["format"] in {"CSV", "Parquet", "JSON"}


def test_resource_urls_come_from_base_url_and_point_at_real_files(tmp_path: Path) -> None:
    from conftest import ROOT

    out = tmp_path / "dist"
    done = opendata(
        "build",
        "--datasets",
        str(ROOT / "datasets"),
        "--out",
        str(out),
        "--base-url",
        "http://example.test/od",
    )
    assert done.returncode == 0, done.stderr
    package = _package(out, "plan-indicators")
    for resource in package["resources"]:
        assert resource["url"].startswith("http://example.test/od/datasets/plan-indicators/")
        local = out / resource["url"].removeprefix("http://example.test/od/")
        assert local.stat().st_size == resource["size"]


def test_a_base_url_that_is_no_iri_is_refused_before_building(tmp_path: Path) -> None:
    from conftest import ROOT

    out = tmp_path / "dist"
    args = ("build", "--datasets", str(ROOT / "datasets"), "--out", str(out))
    for url in (
        "https://example.test/a b/",
        "https://example.test/<a>/",
        "example.test",
        "https://",
    ):
        done = opendata(*args, "--base-url", url)
        assert done.returncode == 2 and "--base-url は http://" in done.stderr, done.stderr
    assert not out.exists()


def test_ids_are_stable_across_builds(built_site: Path, tmp_path: Path) -> None:
    from conftest import ROOT

    other = tmp_path / "dist"
    assert (
        opendata("build", "--datasets", str(ROOT / "datasets"), "--out", str(other)).returncode == 0
    )
    assert _package(other, "survey-results")["id"] == _package(built_site, "survey-results")["id"]


def test_catalog_json_is_a_package_search_result(built_site: Path) -> None:
    catalog = json.loads((built_site / "catalog.json").read_text(encoding="utf-8"))
    assert catalog["count"] == len(catalog["results"]) == 4
    assert sorted(p["name"] for p in catalog["results"]) == NAMES
    facets = catalog["search_facets"]
    assert set(facets) == {"tags", "organization", "groups", "res_format", "license_id"}
    formats = {i["name"]: i["count"] for i in facets["res_format"]["items"]}
    assert formats == {"CSV": 4, "Parquet": 4, "JSON": 4}
    assert facets["organization"]["items"] == [
        {"name": "minatoku", "display_name": "港区", "count": 4}
    ]
    assert catalog["facets"]["license_id"] == {"CC-BY-4.0": 4}


def test_standard_dataset_carries_bodik_tags(built_site: Path) -> None:
    tags = {t["name"] for t in _package(built_site, "opendata-list")["tags"]}
    assert {"自治体標準ODS", "オープンデータ一覧"} <= tags


@pytest.mark.parametrize("name", NAMES)
def test_package_round_trips_through_the_ckan_mapper(built_site: Path, name: str) -> None:
    """A well-kept mapper turns our CKAN dict back into the datapackage.json we published."""
    mapped = ckan_to_frictionless.dataset(_package(built_site, name))
    ours = json.loads(
        (built_site / "datasets" / name / "datapackage.json").read_text(encoding="utf-8")
    )
    assert mapped["title"] == ours["title"]
    assert mapped["description"] == ours["description"]
    assert mapped["keywords"] == ours["keywords"]
    assert mapped["licenses"] == ours["licenses"]
    published = {
        (r.path, r.bytes, r.sha256, r.mediatype)
        for r in (Resource.of(raw) for raw in ours["resources"])
    }
    mapped_files = {
        (r["path"].rsplit("/", 1)[1], r["bytes"], r["hash"], r["mediatype"])
        for r in mapped["resources"]
        if not r["path"].endswith("datapackage.json")
    }
    assert mapped_files == published


def test_opendata_list_follows_the_national_layout(built_site: Path) -> None:
    import pyarrow.csv as pacsv

    package = json.loads(
        (built_site / "datasets/opendata-list/datapackage.json").read_text(encoding="utf-8")
    )
    # Published under the standard's own item names (current layout), as aggregators read it.
    names = [f["name"] for f in package["resources"][0]["schema"]["fields"]]
    assert names == [
        "全国地方公共団体コード", "地方公共団体名", "データセット_ID", "データセット_タイトル",
        "データセット_概要", "データセット_キーワード", "データセット_分類", "データセット_URL",
        "データセット_更新頻度", "データセット_公開日", "データセット_最終更新日", "ファイル形式",
        "ファイル_ライセンス", "ファイル_ステータス",
    ]  # fmt: skip
    options = pacsv.ConvertOptions(column_types={"全国地方公共団体コード": "string"})
    path = built_site / "datasets/opendata-list/opendata-list.csv"
    rows = pacsv.read_csv(path, convert_options=options).to_pylist()
    assert {(r["データセット_ID"], r["ファイル形式"]) for r in rows} == {
        (n, f) for n in NAMES for f in ("CSV", "Parquet")
    }
    assert {r["全国地方公共団体コード"] for r in rows} == {"131032"}
    assert {"自治体標準ODS", "オープンデータ一覧"} <= set(package["keywords"])


def test_metadata_not_fit_to_publish_warns_but_builds(minimal: Path) -> None:
    done = opendata(
        "build", "--datasets", str(minimal / "datasets"), "--out", str(minimal / "dist")
    )
    assert done.returncode == 0
    assert "[metadata-warning]" in done.stderr and "説明（description）がありません" in done.stderr
    assert "Traceback" not in done.stderr


def test_html_escapes_every_title(tmp_path: Path) -> None:
    definition = json.loads(json.dumps(MINIMAL))
    definition["title"] = "<script>alert('x')</script>予算"
    definition["description"] = "</script><b>bold</b> " * 5
    write_dataset(
        tmp_path,
        definition,
        {"items.csv": "番号,名称,金額,年度\n1,<img src=x onerror=alert(1)>,1,2022\n"},
    )
    out = tmp_path / "dist"
    assert (
        opendata("build", "--datasets", str(tmp_path / "datasets"), "--out", str(out)).returncode
        == 0
    )
    for page in (out / "index.html", out / "datasets/sample-budget/index.html"):
        html = page.read_text(encoding="utf-8")
        assert "<script>alert" not in html and "&lt;script&gt;alert" in html
        assert "<img src=x" not in html and "<b>bold</b>" not in html


def _copy_of_plan_indicators(root: Path, name: str, chart: str | None) -> Path:
    """The plan's indicators under another name, with or without `x-opendata.chart`."""
    folder = root / "datasets" / name
    shutil.copytree(ROOT / "datasets/plan-indicators", folder)
    definition = yaml.safe_load((folder / "dataset.yaml").read_text(encoding="utf-8"))
    definition["name"] = name
    definition["x-opendata"].pop("chart", None)
    if chart:
        definition["x-opendata"]["chart"] = chart
    (folder / "dataset.yaml").write_text(yaml.safe_dump(definition, allow_unicode=True), "utf-8")
    return folder


def test_a_chart_is_drawn_where_the_metadata_asks_whatever_the_dataset_is_called(
    tmp_path: Path,
) -> None:
    _copy_of_plan_indicators(tmp_path, "kpi-charted", "indicators")
    _copy_of_plan_indicators(tmp_path, "kpi-plain", None)
    out = tmp_path / "dist"
    done = opendata("build", "--datasets", str(tmp_path / "datasets"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    charted = (out / "datasets/kpi-charted/index.html").read_text(encoding="utf-8")
    plain = (out / "datasets/kpi-plain/index.html").read_text(encoding="utf-8")
    assert charted.count('<figure id="chart-') == 31 and 'id="chart-P26-2-1"' in charted
    assert '<figure id="chart-' not in plain


def test_an_unknown_chart_is_a_metadata_warning_not_a_crash(tmp_path: Path) -> None:
    _copy_of_plan_indicators(tmp_path, "kpi-odd", "pie")
    out = tmp_path / "dist"
    code, result = report("build", "--datasets", str(tmp_path / "datasets"), "--out", str(out))
    assert code == 0
    warnings = [w["message"] for d in result["datasets"] for w in d["warnings"]]
    assert any("グラフ（chart）「pie」" in w and "indicators" in w for w in warnings), warnings
    assert '<figure id="chart-' not in (out / "datasets/kpi-odd/index.html").read_text("utf-8")


def test_the_opendata_list_names_the_municipality_of_catalog_yaml(tmp_path: Path) -> None:
    write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    (tmp_path / "datasets/catalog.yaml").write_text(
        "publisher:\n  name: 千代田区\n  name_en: Chiyoda City\n  code: '131016'\n"
        "  catalog_title: 千代田区オープンデータカタログ\n  catalog_department: 政策経営部\n",
        encoding="utf-8",
    )
    out = tmp_path / "dist"
    done = opendata("build", "--datasets", str(tmp_path / "datasets"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    own = json.loads((out / "datasets/opendata-list/datapackage.json").read_text("utf-8"))
    text = json.dumps(own, ensure_ascii=False)
    assert own["description"].startswith("千代田区オープンデータカタログで公開している")
    assert own["x-opendata"]["spatial"] == "131016"
    listing = json.loads((out / "datasets/opendata-list/package.json").read_text("utf-8"))
    extras = {e["key"]: e["value"] for e in listing["extras"]}
    assert extras["spatial_code"] == "131016" and "spatial" not in extras  # no extent stated
    assert own["x-opendata"]["department"] == "政策経営部"
    assert "Chiyoda City open data catalog" in own["x-opendata"]["title_en"]
    assert "港区" not in text and "Minato" not in text
    listed = (out / "datasets/opendata-list/opendata-list.csv").read_text("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(listed)))
    assert {(r["全国地方公共団体コード"], r["地方公共団体名"]) for r in rows} == {
        ("131016", "東京都千代田区")
    }


def test_every_chart_kind_the_definitions_may_name_is_drawn_by_the_site() -> None:
    from catalog.site.charts import CHARTS
    from pipeline.vocabulary import CHART_RESOURCES

    assert set(CHARTS) == set(CHART_RESOURCES)


def test_a_chart_without_its_resources_is_a_metadata_warning(tmp_path: Path) -> None:
    definition = {**MINIMAL, "x-opendata": {"chart": "indicators"}}
    write_dataset(tmp_path, definition, {"items.csv": MINIMAL_CSV})
    out = tmp_path / "dist"
    code, result = report("build", "--datasets", str(tmp_path / "datasets"), "--out", str(out))
    assert code == 0
    warnings = [w["message"] for d in result["datasets"] for w in d["warnings"]]
    assert any("indicators, indicator-values がありません" in w for w in warnings), warnings


def test_preview_rows_show_values_as_the_csv_has_them(tmp_path: Path) -> None:
    definition = copy.deepcopy(MINIMAL)
    definition["resources"][0]["schema"]["fields"].append(
        {"name": "open", "title": "公開", "type": "boolean"}
    )
    csv_text = "番号,名称,金額,年度,公開\n1,庁舎管理,3200,令和4年度,true\n"
    write_dataset(tmp_path, definition, {"items.csv": csv_text})
    out = tmp_path / "dist"
    assert (
        opendata("build", "--datasets", str(tmp_path / "datasets"), "--out", str(out)).returncode
        == 0
    )
    page = (out / "datasets/sample-budget/index.html").read_text(encoding="utf-8")
    preview = page[page.index('class="preview"') :]
    assert "<td>3200</td>" in preview and "<td>true</td>" in preview
    assert "3200.0" not in preview and "True" not in preview


def test_search_engines_get_a_sitemap_of_every_dataset_page_and_robots_points_at_it(
    built_site: Path,
) -> None:
    from xml.etree import ElementTree

    robots = (built_site / "robots.txt").read_text(encoding="utf-8")
    base = "https://opendata.city.minato.tokyo.jp/"
    assert f"Sitemap: {base}sitemap.xml" in robots
    namespace = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    root = ElementTree.parse(built_site / "sitemap.xml").getroot()
    urls = {u.findtext(f"{namespace}loc"): u.findtext(f"{namespace}lastmod") for u in root}
    assert set(urls) == {base} | {f"{base}datasets/{name}/" for name in NAMES}
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", stamp or "") for stamp in urls.values())
