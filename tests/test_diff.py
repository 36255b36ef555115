"""`opendata diff`: what changed between two builds, on crafted changes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from conftest import MINIMAL, MINIMAL_CSV, opendata, write_dataset


def _build(root: Path, definition: dict, csv_text: str) -> Path:
    write_dataset(root, definition, {"items.csv": csv_text})
    out = root / "dist"
    done = opendata(
        "build", "--datasets", str(root / "datasets"), "--out", str(out), "--no-catalog"
    )
    assert done.returncode == 0, done.stderr
    return out


def _diff(old: Path, new: Path) -> dict:
    done = opendata("diff", str(old), str(new), "--json")
    assert done.returncode == 0, done.stderr
    return {d["name"]: d for d in json.loads(done.stdout)}


def test_rows_added_removed_and_changed_cells(tmp_path: Path) -> None:
    old = _build(tmp_path / "a", MINIMAL, MINIMAL_CSV)
    changed = (
        MINIMAL_CSV.replace("3200", "3300").replace("2,情報化推進,150.5,2023\n", "")
        + "3,新規事業,10,2024\n"
    )
    new = _build(tmp_path / "b", MINIMAL, changed)
    resource = _diff(old, new)["sample-budget"]["resources"][0]
    assert (resource["added"], resource["removed"], resource["changed"]) == (1, 1, 1)
    assert resource["added_rows"][0]["label"] == "新規事業"
    assert resource["removed_rows"][0]["id"] == 2
    assert resource["changed_rows"] == [
        {"key": {"id": 1}, "cells": {"amount": {"old": 3200.0, "new": 3300.0}}}
    ]


def test_unchanged_builds_have_no_changes(tmp_path: Path) -> None:
    old = _build(tmp_path / "a", MINIMAL, MINIMAL_CSV)
    new = _build(tmp_path / "b", MINIMAL, MINIMAL_CSV)
    assert _diff(old, new)["sample-budget"]["status"] == "unchanged"
    assert "変更はありません" in opendata("diff", str(old), str(new)).stdout


def test_a_renamed_field_and_metadata_change(tmp_path: Path) -> None:
    old = _build(tmp_path / "a", MINIMAL, MINIMAL_CSV)
    renamed = copy.deepcopy(MINIMAL)
    renamed["title"] = "予算の例（改）"
    renamed["resources"][0]["schema"]["fields"][1]["name"] = "item_name"
    new = _build(tmp_path / "b", renamed, MINIMAL_CSV)
    dataset = _diff(old, new)["sample-budget"]
    assert {"key": "title", "old": "予算の例", "new": "予算の例（改）"} in dataset["metadata"]
    assert dataset["resources"][0]["schema"] == [
        {"change": "renamed", "field": "label", "new_name": "item_name"}
    ]


def test_a_changed_primary_key_is_reported_and_rows_are_not_matched(tmp_path: Path) -> None:
    old = _build(tmp_path / "a", MINIMAL, MINIMAL_CSV)
    rekeyed = copy.deepcopy(MINIMAL)
    rekeyed["resources"][0]["schema"]["primaryKey"] = ["label"]
    new = _build(tmp_path / "b", rekeyed, MINIMAL_CSV)
    resource = _diff(old, new)["sample-budget"]["resources"][0]
    assert {"change": "primaryKey", "old": ["id"], "new": ["label"]} in resource["schema"]
    assert resource["note"] and resource["added"] == resource["removed"] == 0


def test_datasets_added_and_removed(tmp_path: Path) -> None:
    old = _build(tmp_path / "a", MINIMAL, MINIMAL_CSV)
    other = copy.deepcopy(MINIMAL) | {"name": "other-budget"}
    write_dataset(tmp_path / "b", other, {"items.csv": MINIMAL_CSV})
    new = _build(tmp_path / "b", MINIMAL, MINIMAL_CSV)
    diffs = _diff(old, new)
    assert (
        diffs["other-budget"]["status"] == "added"
        and diffs["sample-budget"]["status"] == "unchanged"
    )
