"""`opendata import --ckan`: the ward's existing CKAN organization into dataset folders.

The organization lives in the real CKAN 2.12 of tests/ckan_site.py, seeded through its API
with datasets shaped like the ward's: a cp932 CSV ending in a `Ver20260714` row, an XLSX with
a title row, a GeoJSON and a PDF, a dataset of 20 monthly files, a private one. CKAN lists an
organization's datasets with package_search, which needs Solr; Solr cannot run here, so the
test plugin answers that one query from CKAN's database (its docstring says so)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import requests
import yaml
from pypdf import PdfWriter
from test_publish_ckan import release_of

from catalog.ckanimport import STATE_FILE, _file_name, definition_from

from ckan_site import CkanSite
from conftest import on_a_terminal, opendata

AED_ROWS = [
    "施設名,住所,緯度,経度,設置場所",
    "港区役所,港区芝公園1-5-25,35.6581,139.7516,1階ロビー",
    "芝公園区民センター,港区芝公園2-4-1,35.6537,139.7494,受付",
    "麻布区民センター,港区六本木5-16-45,35.6594,139.7337,2階",
]
AED_CSV = ("\r\n".join([*AED_ROWS, "Ver20260714"]) + "\r\n").encode("cp932")
SHELTERS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [139.7516, 35.6581]},
            "properties": {"name": "港区役所"},
        }
    ],
}
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)] + [f"2026-{m:02d}" for m in range(1, 9)]


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["港区 地区別人口（令和6年1月1日現在）"])
    sheet.append([])
    sheet.append(["地区", "人口", "世帯数"])
    for row in (["芝", 41234, 23456], ["麻布", 61234, 33456], ["赤坂", 39876, 22345]):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass(frozen=True)
class Upload:
    file: str
    body: bytes
    format: str
    title: str


def _described(title: str, notes: str, title_en: str, tags: list[str], **more: Any) -> dict[str, Any]:  # fmt: skip
    """A dataset as complete as the ward's catalog keeps them (a release refuses less)."""
    return {
        "title": title,
        "notes": notes,
        "tags": [{"name": t} for t in tags],
        "license_id": "CC-BY-4.0",
        "author": "港区 防災課",
        "url": "https://www.city.minato.tokyo.jp/",
        "extras": [
            {"key": "title_en", "value": title_en},
            {"key": "notes_en", "value": f"{title_en}, as the ward publishes it."},
            {"key": "frequency", "value": "monthly"},
        ],
        **more,
    }


# The legacy catalog: dataset → (package fields, its files).
LEGACY: dict[str, tuple[dict[str, Any], list[Upload]]] = {
    "aed-sites": (
        _described(
            "AED設置場所一覧",
            "区の施設に設置しているAED（自動体外式除細動器）の場所です。施設名、住所、緯度・経度、"
            "施設内の設置場所を収録しています。",
            "AED locations",
            ["AED", "防災"],
            groups=[{"name": "safety"}],
            extras=[
                {"key": "title_en", "value": "AED locations"},
                {"key": "notes_en", "value": "Where the ward's AEDs are, by facility."},
                {"key": "更新頻度", "value": "毎月"},
                {"key": "contact", "value": "03-3578-2111"},
            ],
        ),
        [Upload("aed.csv", AED_CSV, "CSV", "AED設置場所")],
    ),
    "population-by-area": (
        _described(
            "地区別人口",
            "芝・麻布・赤坂など地区ごとの人口と世帯数です。住民基本台帳による毎月1日現在の"
            "数値で、Excel ファイルで公開しています。",
            "Population by area",
            ["人口", "世帯数"],
            license_id="cc-by-4.0",
        ),
        [Upload("population.xlsx", _xlsx(), "XLSX", "地区別人口（Excel）")],
    ),
    "shelter-map": (
        _described(
            "避難所マップ",
            "区内の避難所の位置（GeoJSON）と、避難所の使い方をまとめた案内（PDF）です。"
            "地図アプリで表示したり、印刷して使ったりできます。",
            "Evacuation shelters map",
            ["避難所", "防災"],
        ),
        [
            Upload("shelters.geojson", json.dumps(SHELTERS).encode(), "GeoJSON", "避難所"),
            Upload("guide.pdf", _pdf(), "PDF", "避難所の案内"),
        ],
    ),
    "monthly-visitors": (
        _described(
            "図書館の月別来館者数",
            "区立図書館の来館者数を月ごとにまとめたものです。1か月分を1つの CSV ファイルで"
            "公開しており、毎月ファイルが1つ増えます。",
            "Library visitors by month",
            ["図書館", "来館者数"],
        ),
        [
            Upload(f"visitors-{m}.csv", f"日付,来館者数\n{m}-01,{100 + i}\n".encode(), "CSV", m)
            for i, m in enumerate(MONTHS)
        ],
    ),
}
PRIVATE = "internal-draft"


def _create(ckan: CkanSite, organization: str, name: str, fields: dict[str, Any], files: list[Upload], private: bool = False, hash_of: bytes | None = None) -> None:  # fmt: skip
    session = requests.Session()
    session.headers["Authorization"] = ckan.token

    def act(action: str, **body: Any) -> Any:
        answer = session.post(f"{ckan.url}/api/3/action/{action}", **body, timeout=60).json()
        assert answer["success"], answer
        return answer["result"]

    package = act(
        "package_create",
        json={"name": name, "owner_org": organization, "private": private, **fields},
    )
    for upload in files:
        form = {"package_id": package["id"], "name": upload.title, "format": upload.format}
        if hash_of is not None:
            form["hash"] = hashlib.sha256(hash_of).hexdigest()
        act("resource_create", data=form, files={"upload": (upload.file, upload.body)})


@pytest.fixture(scope="module")
def legacy(ckan_site: CkanSite) -> CkanSite:
    for name, (fields, files) in LEGACY.items():
        _create(ckan_site, ckan_site.legacy_organization, name, fields, files)
    _create(ckan_site, ckan_site.legacy_organization, PRIVATE, {"title": "内部"}, [], True)
    return ckan_site


def _import(ckan: CkanSite, datasets: Path, *extra: str, token: str | None = None) -> Any:
    done = opendata(
        *("import", "--ckan", ckan.url, "--organization", ckan.legacy_organization),
        *("--datasets", str(datasets), "--json", *extra),
        env={"CKAN_API_TOKEN": token or ckan.token},
    )
    assert ckan.token not in done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def _kinds(result: dict[str, Any]) -> dict[str, str]:
    return {c["dataset"]: c["kind"] for c in result["changes"]}


def _definition(datasets: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((datasets / name / "dataset.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def imported(legacy: CkanSite, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    datasets = tmp_path_factory.mktemp("import") / "datasets"
    code, result = _import(legacy, datasets)
    assert code == 0, result
    return datasets, result


def test_dry_run_lists_what_it_would_do_and_writes_nothing(legacy: CkanSite, tmp_path: Path) -> None:  # fmt: skip
    datasets = tmp_path / "datasets"
    (datasets / "shelter-map").mkdir(parents=True)  # an officer's own folder of that name
    (datasets / "shelter-map" / "dataset.yaml").write_text("name: shelter-map\n")
    code, result = _import(legacy, datasets, "--dry-run")
    assert code == 0
    assert _kinds(result) == {
        "aed-sites": "new",
        "population-by-area": "new",
        "monthly-visitors": "new",
        "shelter-map": "skipped",  # not made by import: never touched
        PRIVATE: "skipped",  # the catalog publishes all it holds
    }
    assert sorted(p.name for p in datasets.iterdir()) == ["shelter-map"]
    assert (datasets / "shelter-map" / "dataset.yaml").read_text() == "name: shelter-map\n"


def test_metadata_is_mapped_back_from_ckan(imported: tuple[Path, Any]) -> None:
    datasets, result = imported
    aed = _definition(datasets, "aed-sites")
    assert aed["title"] == "AED設置場所一覧"
    assert aed["description"] == LEGACY["aed-sites"][0]["notes"]
    assert aed["keywords"] == ["AED", "防災"] and aed["license"] == "CC-BY-4.0"
    assert aed["x-opendata"] == {
        "title_en": "AED locations",
        "description_en": "Where the ward's AEDs are, by facility.",
        "department": "港区 防災課",
        "frequency": "monthly",  # 更新頻度: 毎月
        "themes": ["防災・安全"],
    }
    assert aed["sources"] == [
        {"title": "出典 / source", "path": "https://www.city.minato.tokyo.jp/"}
    ]
    assert "aed-sites: 取り込んでいない追加項目 / extras not carried: contact" in result["warnings"]
    assert _definition(datasets, "population-by-area")["license"] == "CC-BY-4.0"  # cc-by-4.0
    assert PRIVATE not in {p.name for p in datasets.iterdir()}
    [drafted] = [c for c in result["changes"] if c["dataset"] == "aed-sites/aed.csv"]
    assert drafted["kind"] == "drafted"  # what the officer should know of the file
    assert "cp932" in drafted["detail"] and "Ver20260714" in drafted["detail"]


def test_every_file_arrives_byte_for_byte_and_is_a_resource(imported: tuple[Path, Any]) -> None:
    datasets, _ = imported
    for name, (_, files) in LEGACY.items():
        definition = _definition(datasets, name)
        assert [r["title"] for r in definition["resources"]] == [u.title for u in files]
        for upload, resource in zip(files, definition["resources"], strict=True):
            assert (datasets / name / resource["path"]).read_bytes() == upload.body
    shelters = _definition(datasets, "shelter-map")["resources"]
    assert [(r["path"], r["type"]) for r in shelters] == [
        ("shelters.geojson", "file"),
        ("guide.pdf", "file"),
    ]
    assert len(_definition(datasets, "monthly-visitors")["resources"]) == 20
    aed = _definition(datasets, "aed-sites")["resources"][0]
    assert aed["x-opendata"]["footer_rows"] == 1  # Ver20260714, recognised
    population = _definition(datasets, "population-by-area")["resources"][0]
    assert population["x-opendata"]["header_row"] == 3  # under the title row
    state = json.loads((datasets / "aed-sites" / STATE_FILE).read_text())
    assert state["files"]["aed.csv"] == hashlib.sha256(AED_CSV).hexdigest()


def test_the_imported_folders_build_at_once(imported: tuple[Path, Any], tmp_path: Path) -> None:
    datasets, _ = imported
    done = opendata("build", "--datasets", str(datasets), "--out", str(tmp_path / "dist"), "--json")
    assert done.returncode == 0, done.stdout
    built = {d["name"]: d for d in json.loads(done.stdout)["datasets"]}
    [footer] = [w for w in built["aed-sites"]["warnings"] if w["type"] == "footer-row"]
    assert footer["value"] == "Ver20260714"  # left out, and said so
    assert built["monthly-visitors"]["rows"]["visitors-2026-08"] == 1


def _patch(ckan: CkanSite, name: str, **fields: Any) -> None:
    answer = requests.post(
        f"{ckan.url}/api/3/action/package_patch",
        json={"id": name, **fields},
        headers={"Authorization": ckan.token},
        timeout=60,
    ).json()
    assert answer["success"], answer


def test_a_rerun_changes_what_changed_upstream_and_keeps_local_edits(
    legacy: CkanSite, imported: tuple[Path, Any], tmp_path: Path
) -> None:
    datasets = tmp_path / "datasets"
    shutil.copytree(imported[0], datasets)
    code, result = _import(legacy, datasets)
    assert code == 0 and set(_kinds(result).values()) == {"unchanged", "skipped"}

    edited = (datasets / "aed-sites" / "dataset.yaml").read_text() + "# 担当者のメモ\n"
    (datasets / "aed-sites" / "dataset.yaml").write_text(edited)
    (datasets / "aed-sites" / "memo.txt").write_text("officer's own file")
    ckan = legacy
    updated = {
        name: LEGACY[name][0]["notes"] + "（更新）" for name in ("aed-sites", "population-by-area")
    }
    for name, notes in updated.items():
        _patch(ckan, name, notes=notes)
    code, result = _import(ckan, datasets)
    assert code == 0
    changes = {(c["kind"], c["dataset"]) for c in result["changes"]}
    assert {("update", "aed-sites"), ("kept", "aed-sites/dataset.yaml")} <= changes
    [kept] = [c for c in result["changes"] if c["kind"] == "kept"]
    assert "changed upstream too" in kept["detail"]  # its notes were patched in CKAN
    assert ("update", "population-by-area") in changes
    assert (datasets / "aed-sites" / "dataset.yaml").read_text() == edited  # not overwritten
    assert (datasets / "aed-sites" / "memo.txt").read_text() == "officer's own file"
    population = _definition(datasets, "population-by-area")
    assert population["description"] == updated["population-by-area"]
    code, result = _import(ckan, datasets)
    assert _kinds(result)["aed-sites"] == "unchanged"


def _csv_rows(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text)) if row]


def test_round_trip_into_a_second_organization(legacy: CkanSite, tmp_path: Path) -> None:
    """import → build → release → publish --ckan into another organization (the one the other
    publish tests use, whose catalog list this release may take over): the same titles,
    notes, tags and licence; files published as they are arrive byte for byte, tables with the
    same values (the CSV re-encoded as UTF-8, the footer row left out). CKAN names are global,
    so the second organization's datasets carry a prefix."""
    datasets = tmp_path / "imported"
    code, _ = _import(legacy, datasets)
    assert code == 0
    renamed = tmp_path / "datasets"
    for folder in sorted(p for p in datasets.iterdir() if p.is_dir()):
        definition = yaml.safe_load((folder / "dataset.yaml").read_text())
        shutil.copytree(folder, renamed / f"rt-{folder.name}")
        definition["name"] = f"rt-{folder.name}"
        (renamed / f"rt-{folder.name}" / "dataset.yaml").write_text(
            yaml.safe_dump(definition, allow_unicode=True)
        )
    site = release_of(tmp_path, renamed)
    done = opendata(
        *("publish", "--site", str(site), "--ckan", legacy.url),
        *("--organization", legacy.organization, "--json"),
        env={"CKAN_API_TOKEN": legacy.token},
    )
    assert done.returncode == 0, done.stdout + done.stderr

    def show(name: str) -> dict[str, Any]:
        answer = requests.get(f"{legacy.url}/api/3/action/package_show", params={"id": name})
        result: dict[str, Any] = answer.json()["result"]
        return result

    compared: list[str] = []
    for name in LEGACY:
        theirs, ours = show(name), show(f"rt-{name}")
        assert ours["organization"]["name"] == legacy.organization
        for key in ("title", "notes", "license_id"):
            assert ours[key] == theirs[key] or (key, theirs[key]) == ("license_id", "cc-by-4.0")
        assert sorted(t["name"] for t in ours["tags"]) == sorted(t["name"] for t in theirs["tags"])
        published = {r["url"].rsplit("/", 1)[-1]: r for r in ours["resources"]}
        for resource in theirs["resources"]:
            file = resource["url"].rsplit("/", 1)[-1]
            if file.endswith((".geojson", ".pdf")):  # files published as they are
                body = requests.get(resource["url"], timeout=30).content
                assert requests.get(published[file]["url"], timeout=30).content == body
                compared.append(file)
    assert compared == ["shelters.geojson", "guide.pdf"]
    aed = {r["url"].rsplit("/", 1)[-1]: r for r in show("rt-aed-sites")["resources"]}
    text = requests.get(aed["aed.csv"]["url"], timeout=30).content.decode("utf-8-sig")
    assert _csv_rows(text)[1:] == _csv_rows("\n".join(AED_ROWS))[1:]
    visitors = {r["url"].rsplit("/", 1)[-1]: r for r in show("rt-monthly-visitors")["resources"]}
    text = requests.get(visitors["visitors-2026-08.csv"]["url"], timeout=30).text
    assert _csv_rows(text.lstrip("\ufeff"))[1:] == [["2026-08-01", "119"]]


def test_a_download_that_differs_from_ckans_hash_is_refused(
    legacy: CkanSite, tmp_path: Path
) -> None:
    _create(
        legacy, legacy.organization, "altered-file", {"title": "改ざん"},
        [Upload("data.csv", b"a,b\n1,2\n", "CSV", "data")], hash_of=b"something else",
    )  # fmt: skip
    done = opendata(
        *("import", "--ckan", legacy.url, "--organization", legacy.organization),
        *("--dataset", "altered-file", "--datasets", str(tmp_path / "datasets"), "--json"),
        env={"CKAN_API_TOKEN": legacy.token},
    )
    assert done.returncode == 1
    [change] = json.loads(done.stdout)["changes"]
    assert change["kind"] == "failed" and "sha256" in change["detail"]
    assert not (tmp_path / "datasets" / "altered-file").exists()
    assert not [p for p in (tmp_path / "datasets").iterdir() if p.is_dir()]  # no staging left


def test_unknown_organization_and_dataset_are_clear_errors(legacy: CkanSite, tmp_path: Path) -> None:  # fmt: skip
    done = opendata(
        "import", "--ckan", legacy.url, "--organization", "no-such-org",
        "--datasets", str(tmp_path), env={"CKAN_API_TOKEN": legacy.token},
    )  # fmt: skip
    assert done.returncode == 1 and "no such organization" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://x/dataset/1/resource/2/download/aed.csv", "aed.csv"),
        ("http://x/download/%E9%81%BF%E9%9B%A3%E6%89%80.pdf", "避難所.pdf"),
        ("http://x/download/..%2F..%2Fetc%2Fpasswd.csv", "resource-3.csv"),
        ("http://x/download/.hidden.csv", "resource-3.csv"),
        ("http://x/download/dataset.yaml", "dataset-2.yaml"),
        ("http://x/api/file", "resource-3.pdf"),
    ],
)
def test_file_names_from_urls_stay_in_the_folder(url: str, expected: str) -> None:
    assert _file_name({"url": url, "format": "PDF"}, 2, set()) == expected


def test_licences_by_id_or_url_and_unknown_ones_reported() -> None:
    package = {"name": "x", "license_id": "odc-by", "license_url": ""}
    definition, warnings = definition_from(package, [])
    assert definition["license"] == "odc-by" and "odc-by" in warnings[-1]
    by_url = {
        "name": "x",
        "license_id": "cc-by",
        "license_url": "https://creativecommons.org/licenses/by/4.0",
    }
    assert definition_from(by_url, [])[0]["license"] == "CC-BY-4.0"
    assert definition_from({"name": "x", "license_id": "cc-zero"}, [])[0]["license"] == "CC0-1.0"


def test_import_shows_each_dataset_and_file_on_a_terminal(legacy: CkanSite, tmp_path: Path) -> None:  # fmt: skip
    code, shown = on_a_terminal(
        *("import", "--ckan", legacy.url, "--organization", legacy.legacy_organization),
        *("--dataset", "monthly-visitors", "--datasets", str(tmp_path / "datasets")),
        env={"CKAN_API_TOKEN": legacy.token},
    )
    assert code == 0 and "import: monthly-visitors: 2026-08" in shown, shown
    assert legacy.token not in shown
