"""`opendata init`: a draft dataset.yaml from an officer's file builds at once, and agrees with
the hand-written definitions of the seed datasets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from pipeline.convert import header_key

from conftest import ROOT, WIFI_HEADER, WIFI_ROWS, opendata

WARD_CSV = (
    "港区 施設別利用件数（令和6年3月末現在）\n"
    ",,,,,\n"
    "番号,施設名,地区,年度,利用件数,開館日,備考\n"
    '1,芝公園区民センター,芝,令和4年度,"3,200件",令和4年4月1日,\n'
    "2,麻布区民センター,麻布,令和4年度,850件,令和4年4月2日,改修中\n"
    "3,赤坂区民センター,赤坂,令和5年度,―,令和5年4月1日,休館\n"
    '4,高輪区民センター,高輪,令和5年度,"１２，０００件",令和5年4月3日,\n'
)


def _init(tmp_path: Path, source: Path, *args: str) -> dict[str, Any]:
    ran = opendata("init", str(source), "--datasets", str(tmp_path / "datasets"), "--json", *args)
    assert ran.returncode == 0, ran.stderr
    result: dict[str, Any] = json.loads(ran.stdout)
    return result


def _build(tmp_path: Path) -> dict[str, Any]:
    ran = opendata(
        "build",
        "--datasets",
        str(tmp_path / "datasets"),
        "--out",
        str(tmp_path / "dist"),
        "--json",
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result: dict[str, Any] = json.loads(ran.stdout)
    return result


def _fields(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["title"]: f for f in result["inferred"]["fields"]}


def test_a_cp932_csv_with_a_title_row_units_and_wareki_builds_at_once(tmp_path: Path) -> None:
    source = tmp_path / "riyou.csv"
    source.write_bytes(WARD_CSV.encode("cp932"))
    result = _init(tmp_path, source, "--name", "facility-use")
    inferred = result["inferred"]
    assert inferred["encoding"] == "cp932"
    assert inferred["header_row"] == 3
    fields = _fields(result)
    assert {t: f["type"] for t, f in fields.items()} == {
        "番号": "integer",
        "施設名": "string",
        "地区": "string",
        "年度": "integer",
        "利用件数": "integer",
        "開館日": "date",
        "備考": "string",
    }
    assert fields["利用件数"]["bareNumber"] is False
    assert fields["利用件数"]["groupChar"] == ","
    assert fields["利用件数"]["missing"] == 1  # 「―」
    assert fields["番号"]["name"] == "id" and fields["年度"]["name"] == "fiscal_year"
    assert fields["地区"]["name"] == "area"
    assert fields["施設名"]["name"] == "facility_name"
    assert inferred["primaryKey"] == ["id"]
    folder = tmp_path / "datasets" / "facility-use"
    assert (folder / "riyou.csv").read_bytes() == source.read_bytes()
    definition = yaml.safe_load((folder / "dataset.yaml").read_text(encoding="utf-8"))
    assert definition["title"] == "港区 施設別利用件数（令和6年3月末現在）"
    assert definition["description"] == ""  # a blank for the officer, never invented
    built = _build(tmp_path)
    warnings = " ".join(w["message"] for w in built["datasets"][0]["warnings"])
    assert "description" in warnings and "department" in warnings and "title_en" in warnings


def test_an_xlsx_with_a_title_row_and_markers(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "集計"
    sheet.append(["港区 相談件数の推移"])
    sheet.append([])
    sheet.append(["相談種別", "年度", "件数", "割合"])
    sheet.append(["生活", "令和4年度", 120, "12.5％"])
    sheet.append(["生活", "令和5年度", "130（見込）", "80％超"])
    sheet.append(["住宅", "令和4年度", 40, "70～80％以内"])
    sheet.append(["住宅", "令和5年度", 45, "10.0％"])
    source = tmp_path / "soudan.xlsx"
    book.save(source)
    result = _init(tmp_path, source, "--name", "consultations")
    inferred = result["inferred"]
    assert inferred["sheet"] == "集計" and inferred["header_row"] == 3
    fields = _fields(result)
    assert fields["件数"]["type"] == "integer" and fields["件数"]["marker"] == "見込"
    assert fields["割合"]["type"] == "number" and fields["割合"]["ranges"] is True
    assert inferred["primaryKey"] == [fields["相談種別"]["name"], "fiscal_year"]
    definition = yaml.safe_load(
        (tmp_path / "datasets" / "consultations" / "dataset.yaml").read_text(encoding="utf-8")
    )
    options = definition["resources"][0]["x-opendata"]
    assert options["markers"] == {"見込": "estimated"}
    assert options["ranges"]["割合"] == ["percentage", "percentage_comparator", "percentage_max"]
    _build(tmp_path)


def test_a_standard_layout_is_recognised_from_the_header(tmp_path: Path) -> None:
    source = tmp_path / "wifi.csv"
    source.write_text("\n".join([WIFI_HEADER, *WIFI_ROWS]) + "\n", encoding="utf-8")
    result = _init(tmp_path, source, "--name", "wifi-spots")
    assert result["inferred"]["standard"] == "公衆無線LANアクセスポイント一覧"
    definition = yaml.safe_load(
        (tmp_path / "datasets" / "wifi-spots" / "dataset.yaml").read_text(encoding="utf-8")
    )
    resource = definition["resources"][0]
    assert resource["standard"] == "公衆無線LANアクセスポイント一覧"
    assert "fields" not in resource.get("schema", {})
    _build(tmp_path)


def test_refusals_are_clear(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    ran = opendata("init", str(empty), "--datasets", str(tmp_path / "datasets"))
    assert ran.returncode == 1 and "空" in ran.stderr and "empty" in ran.stderr
    assert "empty.csv" in ran.stderr
    binary = tmp_path / "broken.csv"
    binary.write_bytes(b"\x00\x01\x02" * 10)
    ran = opendata("init", str(binary), "--datasets", str(tmp_path / "datasets"))
    assert ran.returncode == 1 and "broken.csv" in ran.stderr
    source = tmp_path / "riyou.csv"
    source.write_bytes(WARD_CSV.encode("cp932"))
    _init(tmp_path, source, "--name", "facility-use")
    ran = opendata(
        "init", str(source), "--name", "facility-use", "--datasets", str(tmp_path / "datasets")
    )
    assert ran.returncode == 1 and "--force" in ran.stderr and "exists" in ran.stderr
    _init(tmp_path, source, "--name", "facility-use", "--force")


SEEDS = [
    ("facility-counts", "facility-counts", "facility-counts.xlsx"),
    ("plan-indicators", "indicators", "indicators.csv"),
    ("plan-indicators", "indicator-values", "indicator-values.csv"),
    ("survey-results", "survey-results", "survey-results.csv"),
]


def agreement(tmp_path: Path) -> tuple[int, int, list[str]]:
    """Fields of the hand-written definitions whose source column `init` typed alike, and
    resources whose primary key it proposed alike (field names compared through titles)."""
    agree, total, differences = 0, 0, []
    for dataset, resource_name, file_name in SEEDS:
        source = tmp_path / "src" / file_name
        source.parent.mkdir(exist_ok=True)
        shutil.copyfile(ROOT / "datasets" / dataset / file_name, source)
        result = _init(tmp_path, source, "--name", resource_name)
        inferred = {header_key(f["title"]): f for f in result["inferred"]["fields"]}
        hand = yaml.safe_load((ROOT / "datasets" / dataset / "dataset.yaml").read_text("utf-8"))
        resource = next(r for r in hand["resources"] if r["name"] == resource_name)
        titles = {}
        for fld in resource["schema"]["fields"]:
            got = inferred.get(header_key(fld["title"]))
            if got is None:
                continue  # a field the definition derives (labels, markers, ranges)
            titles[fld["name"]] = header_key(fld["title"])
            total += 1
            if got["type"] == fld["type"]:
                agree += 1
            else:
                differences.append(f"{resource_name}.{fld['name']}: {got['type']} ≠ {fld['type']}")
        by_title = {header_key(f["title"]): f["name"] for f in result["inferred"]["fields"]}
        key = {by_title.get(titles.get(n, ""), n) for n in resource["schema"]["primaryKey"]}
        total += 1
        if key == set(result["inferred"]["primaryKey"]):
            agree += 1
        else:
            differences.append(f"{resource_name} key: {result['inferred']['primaryKey']}")
    return agree, total, differences


def test_agreement_with_the_hand_written_seed_definitions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agree, total, differences = agreement(tmp_path)
    with capsys.disabled():
        print(f"\ninit agreement: {agree}/{total} = {agree / total:.1%}; {differences}")
    assert agree / total >= 0.95, differences
    _build(tmp_path)


@pytest.mark.parametrize("padded", [True, False], ids=["padded", "ragged"])
def test_a_version_stamp_under_the_table_is_left_out_and_reported(
    tmp_path: Path, padded: bool
) -> None:
    """The ward's files end with a `Ver20260714` row, padded with commas to the table's width or
    not: `init` proposes `footer_rows`, and `build` leaves the row out and says so."""
    stamp = "Ver20260714,,," if padded else "Ver20260714"
    rows = ["名称,住所,緯度,経度", "芝公園,港区芝公園4-2,35.6553,139.7486", stamp]
    source = tmp_path / "parks.csv"
    source.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp932"))
    result = _init(tmp_path, source, "--name", "parks")
    assert result["inferred"]["footer"] == ["Ver20260714"]
    assert result["inferred"]["rows"] == 1
    assert {f["title"]: f["type"] for f in result["inferred"]["fields"]}["緯度"] == "number"
    definition = yaml.safe_load(
        (tmp_path / "datasets" / "parks" / "dataset.yaml").read_text(encoding="utf-8")
    )
    assert definition["resources"][0]["x-opendata"]["footer_rows"] == 1
    built = _build(tmp_path)
    [parks] = [d for d in built["datasets"] if d["name"] == "parks"]
    [footer] = [w for w in parks["warnings"] if w["type"] == "footer-row"]
    assert (footer["row"], footer["value"], footer["file"]) == (3, "Ver20260714", "parks/parks.csv")
    published = (tmp_path / "dist/datasets/parks/parks.csv").read_text(encoding="utf-8-sig")
    assert "Ver2026" not in published and len(published.splitlines()) == 2


def test_a_note_under_an_xlsx_table_is_left_out(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["地区", "人口"])
    sheet.append(["芝", 12345])
    sheet.append(["麻布", 23456])
    sheet.append(["※令和6年1月1日現在"])
    source = tmp_path / "population.xlsx"
    book.save(source)
    result = _init(tmp_path, source, "--name", "population")
    assert result["inferred"]["footer"] == ["※令和6年1月1日現在"]
    assert _fields(result)["人口"]["type"] == "integer"
    _build(tmp_path)


def test_a_data_row_alone_in_its_row_is_not_taken_for_a_footer(tmp_path: Path) -> None:
    source = tmp_path / "names.csv"
    source.write_text("名称,備考\n芝公園,\n有栖川宮記念公園,\n", encoding="utf-8")
    assert _init(tmp_path, source, "--name", "names")["inferred"]["footer"] == []


def test_calendar_years_are_proposed_as_year_and_fiscal_years_stay_integers(
    tmp_path: Path,
) -> None:
    source = tmp_path / "survey.csv"
    source.write_text(
        "調査年,年,年度,件数\n令和5年,2023,令和5年度,10\n令和6年,2024,令和6年度,12\n",
        encoding="utf-8",
    )
    result = _init(tmp_path, source, "--name", "survey")
    types = {t: f["type"] for t, f in _fields(result).items()}
    assert types == {"調査年": "year", "年": "year", "年度": "integer", "件数": "integer"}
    built = _build(tmp_path)
    assert next(d for d in built["datasets"] if d["name"] == "survey")["valid"]
    published = (tmp_path / "dist/datasets/survey/survey.csv").read_text(encoding="utf-8-sig")
    assert published.splitlines()[1].startswith("2023,2023,2023,10")
