"""Spot checks of the published basic-plan datasets against the upstream document."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline import cells

from conftest import ROOT, SHARED

UPSTREAM = SHARED / "sources/minato-basic-plan-policies-24-26.txt"


def _upstream() -> str:
    if not UPSTREAM.exists():
        pytest.skip("../shared/sources is not present")
    return UPSTREAM.read_text(encoding="utf-8")


def _lines(first: int, last: int) -> str:
    """Lines first..last of the upstream text (1-based, inclusive), joined without breaks."""
    return "".join(_upstream().splitlines()[first - 1 : last])


def _field(site: Path, dataset: str, resource: str, name: str) -> dict:
    package = json.loads((site / "datasets" / dataset / "datapackage.json").read_text("utf-8"))
    (res,) = [r for r in package["resources"] if r["name"] == resource]
    (fld,) = [f for f in res["schema"]["fields"] if f["name"] == name]
    return fld


def _rows(site: Path, dataset: str, resource: str) -> list[dict]:
    return pq.read_table(site / "datasets" / dataset / f"{resource}.parquet").to_pylist()


def test_wifi_sites_are_published_as_the_plan_states(built_site: Path) -> None:
    wifi = [
        r
        for r in _rows(built_site, "facility-counts", "facility-counts")
        if "Wi-Fi" in r["facility"]
    ]
    by_year = {(r["fiscal_year"], r["kind"]): (r["count"], r["estimated"]) for r in wifi}
    assert by_year == {
        (2020, "actual"): (42, False),
        (2023, "actual"): (63, True),  # 見込
        (2026, "target"): (172, False),
    }


def test_every_outcome_indicator_is_there(built_site: Path) -> None:
    indicators = _rows(built_site, "plan-indicators", "indicators")
    assert len(indicators) == 31
    assert sum(r["measure_no"] is None for r in indicators) == 3  # policy-level
    assert {r["policy_no"] for r in indicators} == {24, 25, 26}
    by_id = {r["indicator_id"]: r for r in indicators}
    assert by_id["P26-2-2"]["name"] == "財政力指数" and by_id["P26-2-2"]["unit"] is None
    assert by_id["P25-6-1"]["direction"] == "decrease"
    assert by_id["P25-3-1"]["midterm_status"] == "not_achieved"
    assert by_id["P24-2-2"]["midterm_status"] is None  # a new indicator: no mid-term target


def test_ranges_bounds_groups_and_estimates_are_kept(built_site: Path) -> None:
    values = _rows(built_site, "plan-indicators", "indicator-values")
    key = {
        (r["indicator_id"], r["fiscal_year"], r["kind"], r["respondent_group"]): r for r in values
    }
    ratio = key[("P26-2-1", 2026, "target", "all")]
    assert (ratio["value"], ratio["comparator"], ratio["value_max"]) == (70.0, "between", 80.0)
    index = key[("P26-2-2", 2023, "midterm_target", "all")]
    assert (index["value"], index["comparator"]) == (1.0, ">=")
    downloads = key[("P24-2-1", 2023, "actual", "all")]
    assert (downloads["value"], downloads["estimated"], downloads["fiscal_year_label"]) == (
        150000.0,
        True,
        "令和5年度",
    )
    assert key[("P25-3-2", 2020, "actual", "worker")]["value"] == 16.4
    assert key[("P24", 2019, "actual", "all")]["fiscal_year_label"] == "令和元年度"
    assert ("P24", 2019, "target", "all") not in key  # printed 「―」: missing, not zero


def test_no_published_number_is_missing_from_the_upstream_text(built_site: Path) -> None:
    if not UPSTREAM.exists():
        pytest.skip("../shared/sources is not present")
    text = UPSTREAM.read_text(encoding="utf-8")
    for row in _rows(built_site, "plan-indicators", "indicator-values"):
        for number in (row["value"], row["value_max"]):
            if number is None:
                continue
            spellings = {
                f"{number:,.1f}",
                f"{number:,.2f}",
                f"{number:,.0f}" if number == int(number) else "",
            }
            assert any(s and s in text for s in spellings), (row, number)
    for row in _rows(built_site, "survey-results", "survey-results"):
        if row["comparator"] == ">":  # 「8割を超えており」: a bound, not a figure
            assert row["percentage"] == 80.0, row
            continue
        assert row["comparator"] == "=" and f"{row['percentage']:.1f}" in text, row


def test_p25_3_2_final_target_is_printed_once_for_residents_and_workers(built_site: Path) -> None:
    assert _lines(968, 970) == "達成 在住及び在勤40.0％"
    values = [r for r in _rows(built_site, "plan-indicators", "indicator-values")]
    final = [
        (r["fiscal_year"], r["respondent_group"], r["value"])
        for r in values
        if r["indicator_id"] == "P25-3-2" and r["kind"] == "target"
    ]
    assert final == [(2026, "resident_and_worker", 40.0)]  # one value, not one per group
    groups = _field(built_site, "plan-indicators", "indicator-values", "respondent_group")
    assert "resident_and_worker" in groups["constraints"]["enum"]
    assert "在住及び在勤40.0％" in groups["description"]


def test_notes_hold_only_the_plans_own_notes(built_site: Path) -> None:
    """`note` is the text of the plan's ※ notes, nothing a transcriber added."""
    text = _upstream().replace("\n", "")
    notes = {
        r["indicator_id"]: r["note"] for r in _rows(built_site, "plan-indicators", "indicators")
    }
    assert notes["P25-3-2"] is None  # the plan has no ※ there
    for indicator, note in notes.items():
        for part in (note or "").split("\u3000") if note else []:
            assert re.search(r"※\d? " + re.escape(part), text), (indicator, part)


def test_direction_is_inferred_and_the_ratio_target_is_a_band(built_site: Path) -> None:
    assert "70～80％と言われる適正な水準" in _lines(1377, 1379)
    direction = _field(built_site, "plan-indicators", "indicators", "direction")
    assert "推定" in direction["description"] and "記載がなく" in direction["description"]
    by_id = {r["indicator_id"]: r for r in _rows(built_site, "plan-indicators", "indicators")}
    assert by_id["P26-2-1"]["direction"] == "within"  # 70～80％以内: neither more nor less
    assert [i for i, r in by_id.items() if r["direction"] == "within"] == ["P26-2-1"]
    ratio = [
        (r["kind"], r["value"], r["comparator"], r["value_max"])
        for r in _rows(built_site, "plan-indicators", "indicator-values")
        if r["indicator_id"] == "P26-2-1" and r["kind"] != "actual"
    ]
    assert ratio == [("midterm_target", 70.0, "between", 80.0), ("target", 70.0, "between", 80.0)]


def test_midterm_targets_are_exactly_the_previous_periods_targets(built_site: Path) -> None:
    """Each indicator table prints one 目標 line whose first two cells are 前期の成果 (当初,
    中間) and the rest 計画目標値: the 中間 cell is the midterm_target, never a plan target."""
    upstream = _upstream().splitlines()
    target_lines = [line for line in upstream if line.startswith("目標 ― ")]
    indicators = [r["indicator_id"] for r in _rows(built_site, "plan-indicators", "indicators")]
    assert len(target_lines) == len(indicators) == 31  # one table row a indicator, in order
    values = _rows(built_site, "plan-indicators", "indicator-values")
    for indicator, line in zip(indicators, target_lines, strict=True):
        midterm = [
            r for r in values if r["indicator_id"] == indicator and r["kind"] == "midterm_target"
        ]
        printed = line.split(" ")[2]
        if printed == "―":
            assert midterm == [], indicator
            continue
        if indicator == "P25-3-2":  # 在住30.5％ on this line, 在勤28.2％ on the next but one
            assert (printed, upstream[966]) == ("在住30.5％", "在勤28.2％")
            assert {(r["respondent_group"], r["value"]) for r in midterm} == {
                ("resident", 30.5),
                ("worker", 28.2),
            }
            continue
        bound = cells.parse_bound(pa.array([printed]), {"groupChar": ",", "bareNumber": False})
        expected = (bound.value[0].as_py(), bound.comparator[0].as_py(), bound.value_max[0].as_py())
        assert [(r["value"], r["comparator"], r["value_max"]) for r in midterm] == [expected]
        policy = "-" not in indicator
        assert midterm[0]["fiscal_year"] == (2022 if policy else 2023), indicator
    years = {
        (r["kind"], "-" not in r["indicator_id"], r["fiscal_year"])
        for r in values
        if r["kind"] != "actual"
    }
    assert years == {
        ("midterm_target", True, 2022),  # policies: 前期の成果 中間 令和4（2022）年度
        ("midterm_target", False, 2023),  # measures: 中間（見込） 令和5（2023）年度
        ("target", True, 2025),  # 計画目標値 中間
        ("target", True, 2026),  # 計画目標値 最終
        ("target", False, 2026),
    }


FOUR_MORE = [
    "インターネットによるプライバシーの侵害や名誉棄損",
    "様々なハラスメントによる人権侵害",
    "路上生活者（ホームレス）への差別",
    "学歴による差別",
]


def test_the_survey_items_stated_as_over_80_percent_are_bounds(built_site: Path) -> None:
    sentence = _lines(779, 783)
    assert "が存在するとの回答が8割を超えており" in sentence
    survey = [
        r
        for r in _rows(built_site, "survey-results", "survey-results")
        if r["survey"] == "人権に関する区民意識調査"
    ]
    stated = {r["category"]: (r["percentage"], r["comparator"]) for r in survey}
    assert stated == {
        "子どもへのいじめや虐待": (89.3, "="),  # lines 511–513 give these three figures
        "性の違いによる差別": (87.6, "="),
        "障害者への差別": (87.4, "="),
        **dict.fromkeys(FOUR_MORE, (80.0, ">")),  # no figure: 「8割を超えており」
    }
    for category in stated:
        assert category in sentence, category  # all seven are in the 8割 sentence
    assert len({r["question"] for r in survey}) == 1
    comparator = _field(built_site, "survey-results", "survey-results", "comparator")
    assert comparator["constraints"]["enum"] == ["=", ">"]


def test_upstream_checksum_is_recorded_and_true() -> None:
    if not UPSTREAM.exists():
        pytest.skip("../shared/sources is not present")
    digest = hashlib.sha256(UPSTREAM.read_bytes()).hexdigest()
    for definition in (ROOT / "datasets").glob("*/dataset.yaml"):
        upstream = yaml.safe_load(definition.read_text(encoding="utf-8"))["x-opendata"]["upstream"]
        assert upstream["sha256"] == digest, definition


def test_metadata_is_complete_for_each_dataset(built_site: Path) -> None:
    import json

    for name in ("plan-indicators", "facility-counts", "survey-results"):
        package_path = built_site / "datasets" / name / "datapackage.json"
        package = json.loads(package_path.read_text(encoding="utf-8"))
        meta = package["x-opendata"]
        assert package["title"] and meta["title_en"]
        assert len(package["description"]) >= 50 and meta["description_en"]
        assert all(len(k) >= 2 for k in package["keywords"])
        assert meta["spatial"] == "131032" and meta["temporal"]["start"] <= meta["temporal"]["end"]
        assert meta["frequency"] and meta["department"]
        assert package["sources"] and package["contributors"][0]["title"] == "港区"
        assert package["licenses"][0]["path"] == "https://creativecommons.org/licenses/by/4.0/"
        assert package["created"].endswith("+09:00")
