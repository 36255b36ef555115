"""Standard datasets as presets: the registry, the published Japanese header in the standard's
order, and the value rules with their computed fixes. Fixtures are made here, never published."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline import rules
from pipeline.presets import RULE_CONSTRAINTS, find, registry

from conftest import (
    WIFI_HEADER,
    WIFI_ROWS,
    errors_of,
    frictionless_report,
    report,
    wifi_case,
    write_dataset,
)

REFERENCE = Path(__file__).resolve().parents[2] / "shared/reference/standard-datasets.md"


def _build(tmp_path: Path, case: dict) -> tuple[int, dict, Path]:
    write_dataset(tmp_path, case["definition"], case["files"])
    out = tmp_path / "dist"
    code, result = report("build", "--datasets", str(tmp_path / "datasets"), "--out", str(out))
    return code, result, out / "datasets" / case["definition"]["name"]


# -- the registry -----------------------------------------------------------------------------
def test_the_registry_covers_every_legacy_kind_of_the_reference_item_by_item() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    listed = dict(re.findall(r"^- \*\*(.+?)\*\*: (.+)$", text, re.M))
    assert len(listed) == 14
    for name, items in listed.items():
        preset = find(name, "legacy")
        typed = r"\s*\((number|string/\w+)\)$"  # the item's type, after its name
        expected = [re.sub(typed, "", i).replace("*", "").strip() for i in items.split(", ")]
        assert [item.name for item in preset.items] == expected, name
        starred = [re.sub(typed, "", i).replace("*", "") for i in items.split(", ") if "*" in i]
        assert [i.name for i in preset.items if i.required] == starred, name


def test_the_current_layout_starts_with_the_common_head_and_splits_the_address() -> None:
    hydrants = find("14")  # the current layout is the default where the registry has it
    assert hydrants.layout == "current"
    names = [i.name for i in hydrants.items]
    assert names[:3] == ["全国地方公共団体コード", "ID", "地方公共団体名"]
    assert names[4:12] == [
        "所在地_全国地方公共団体コード", "町字ID", "所在地_連結表記", "所在地_都道府県",
        "所在地_市区町村", "所在地_町字", "所在地_番地以下", "建物名等(方書)",
    ]  # fmt: skip
    assert names[-4:] == ["緯度", "経度", "口径", "備考"]
    assert find("公衆無線LANアクセスポイント一覧").layout == "legacy"  # no current layout known
    assert all(len({i.name for i in s.items}) == len(s.items) for s in registry().values())
    assert all(i.rule in (None, *RULE_CONSTRAINTS) for s in registry().values() for i in s.items)


def test_an_unknown_kind_or_layout_is_a_located_problem(tmp_path: Path) -> None:
    case = wifi_case(WIFI_ROWS)
    case["definition"]["resources"][0]["standard"] = "公衆電話一覧"
    code, result, _ = _build(tmp_path, case)
    (error,) = errors_of(result)
    assert code == 1 and "公衆電話一覧" in error["message"] and "07 公衆無線LAN" in error["message"]
    case["definition"]["resources"][0] |= {"standard": "07", "layout": "current"}
    code, result, _ = _build(tmp_path, case)
    assert code == 1 and "legacy" in errors_of(result)[0]["message"]


# -- what is published ------------------------------------------------------------------------
def test_the_standard_header_is_published_in_its_order_with_extra_columns_after(
    tmp_path: Path,
) -> None:
    code, result, folder = _build(tmp_path, wifi_case(WIFI_ROWS))
    assert code == 0, errors_of(result)
    standard = [i.name for i in find("07").items]
    with (folder / "wifi-spots.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [*standard, "整理番号"]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (
        first["名称_カナ"] == "ミナトクヤクショ"
        and first["SSID"] == ""
        and first["整理番号"] == "A-1"
    )
    parquet = pq.read_table(folder / "wifi-spots.parquet")
    assert parquet.column_names == [*rows[0], "geometry"]  # GeoParquet: the points as WKB
    assert parquet.column("緯度").to_pylist() == [35.658, 35.6725]
    package = json.loads((folder / "datapackage.json").read_text("utf-8"))
    assert {"自治体標準ODS", "公衆無線LAN", "公衆無線LANアクセスポイント一覧"} <= set(
        package["keywords"]
    )
    assert package["x-opendata"]["standard_dataset"] == "公衆無線LANアクセスポイント一覧"
    fields = package["resources"][0]["schema"]["fields"]
    assert [f["name"] for f in fields] == rows[0] and "x-opendata" not in fields[0]
    parquet_fields = package["resources"][1]["schema"]["fields"]
    assert [f["name"] for f in parquet_fields] == [*rows[0], "geometry"]
    outcome = frictionless_report(folder / "datapackage.json")
    assert outcome["valid"], json.dumps(outcome, ensure_ascii=False)[:2000]


def test_every_missing_required_item_is_named_in_one_error(tmp_path: Path) -> None:
    header = WIFI_HEADER.replace(",名称,名称＿カナ,住所,", ",")
    rows = [",".join(r.split(",")[:4] + r.split(",")[7:]) for r in WIFI_ROWS]
    code, result, _ = _build(tmp_path, wifi_case(rows, header))
    (error,) = errors_of(result)
    assert code == 1 and error["type"] == "missing-label"
    assert "名称、名称_カナ、住所" in error["message"] and error["file"] == "wifi-spots/wifi.csv"


# -- the value rules --------------------------------------------------------------------------
def _cell_problems(tmp_path: Path, row: str) -> list[dict]:
    code, result, _ = _build(tmp_path, wifi_case([WIFI_ROWS[0], row]))
    assert code == 1
    return [e for e in errors_of(result) if e.get("row") == 3]


@pytest.mark.parametrize(
    ("change", "column", "fix"),
    [
        (
            ("131032,", "13103,"),
            "都道府県コード又は市区町村コード",
            "131032",
        ),  # check digit dropped
        (("131032,", "131035,"), "都道府県コード又は市区町村コード", "131032"),  # a wrong one
        (("03-5413-7011", "03(5413)7011"), "電話番号", "03-5413-7011"),
        (("03-5413-7011", "０３－５４１３－７０１１"), "電話番号", "03-5413-7011"),
        (("35.6725,139.7355", "139.7355,35.6725"), "緯度", "緯度 35.6725, 経度 139.7355"),
        ((",,A-2", ",www.city.minato.tokyo.jp,A-2"), "URL", None),
    ],
)
def test_each_broken_value_is_located_with_its_fix(
    tmp_path: Path, change: tuple[str, str], column: str, fix: str | None
) -> None:
    (problem,) = _cell_problems(tmp_path, WIFI_ROWS[1].replace(*change))
    assert problem["column"] == column and problem["value"] == change[1].strip(",").split(",")[0]
    assert problem.get("fix") == fix


def test_a_point_outside_the_ward_is_a_warning_not_an_error(tmp_path: Path) -> None:
    shinjuku = WIFI_ROWS[1].replace("35.6725,139.7355", "35.6896,139.6917")
    code, result, _ = _build(tmp_path, wifi_case([WIFI_ROWS[0], shinjuku]))
    assert code == 0, errors_of(result)
    (warning,) = [w for d in result["datasets"] for w in d["warnings"]]
    assert warning["row"] == 3 and warning["column"] == "緯度" and "extent" in warning["message"]
    outside_japan = WIFI_ROWS[1].replace("35.6725,139.7355", "51.5,-0.12")
    assert {p["column"] for p in _cell_problems(tmp_path, outside_japan)} == {"緯度", "経度"}


def test_check_digits() -> None:
    assert rules.code_check_digit("13103") == 2  # 港区 131032
    assert rules.fix_local_government_code("11002") == "011002"  # the leading zero dropped
    assert rules.fix_local_government_code("1100") == "011002"  # and the check digit too
    assert rules.fix_local_government_code("１３１０３") == "131032"
    assert rules.corporate_check_digit("000012050002") == 7  # 国税庁 7000012050002
    assert rules.fix_corporate_number("7-0000-1205-0002") == "7000012050002"
    assert rules.fix_corporate_number("8000012050002") is None  # a wrong check digit: no guess


@pytest.mark.parametrize(
    ("rule", "value", "fixed"),
    [
        ("time", "9時30分", "09:30"),
        ("time", "０９：３０", "09:30"),
        ("time", "午後1時", "13:00"),
        ("time", "25:00", None),
        ("weekdays", "月～金", "月,火,水,木,金"),
        ("weekdays", "月・水・金曜日、祝", "月,水,金,祝"),
        ("weekdays", "平日", None),
        ("yes_no", "あり", "有"),
        ("yes_no", "○", "有"),
        ("yes_no", "たぶん", None),
        ("phone", "(03)3578-2111", "03-3578-2111"),
        ("url", "ｈｔｔｐｓ：／／example.jp/", "https://example.jp/"),
    ],
)
def test_text_rule_fixes(rule: str, value: str, fixed: str | None) -> None:
    assert rules.FIXES[rule](value) == fixed


def test_the_checks_are_columnar_over_many_rows() -> None:
    """100,000 codes checked as columns: the wrong check digits found, none of the right."""
    import numpy as np
    import pyarrow as pa

    good = [f"{n:05d}{rules.code_check_digit(f'{n:05d}')}" for n in range(10000, 60000, 1)]
    bad = [c[:5] + str((int(c[5]) + 1) % 10) for c in good[:50000]]
    column = pa.array(good + bad)
    findings = rules.text_rule("code", "local_government_code", column)
    flagged = np.flatnonzero(findings[1].mask)
    assert len(flagged) == len(bad) and flagged.min() == len(good)
    assert not findings[0].mask.any()  # every value is six digits
