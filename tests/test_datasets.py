"""Spot checks of the published basic-plan datasets against the upstream document."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from conftest import ROOT, SHARED

UPSTREAM = SHARED / "sources/minato-basic-plan-policies-24-26.txt"


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
    index = key[("P26-2-2", 2023, "target", "all")]
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
        assert f"{row['percentage']:.1f}" in text, row


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
