"""Nothing lost, nothing invented: every row the officer's file holds is published, or the
build says exactly why not (issue "Nothing lost, nothing stale", readers)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline import build

from conftest import MINIMAL, MINIMAL_CSV, opendata, report, write_dataset

BIG = "あ" * (2 << 20)  # 6 MB of UTF-8 in one cell: three times the 2 MB read block


def _build(root: Path, csv_text: str) -> tuple[int, dict]:
    write_dataset(root, MINIMAL, {"items.csv": csv_text})
    return report("build", "--datasets", str(root / "datasets"), "--out", str(root / "dist"))


def _published(root: Path) -> list[dict]:
    return pq.read_table(root / "dist/datasets/sample-budget/items.parquet").to_pylist()


def test_a_cell_of_several_mb_in_the_first_rows_is_read_not_dropped(tmp_path: Path) -> None:
    code, result = _build(tmp_path, f"番号,名称,金額,年度\n1,{BIG},1,2022\n2,b,2,2023\n")
    assert code == 0, result
    rows = _published(tmp_path)
    assert [r["id"] for r in rows] == [1, 2] and rows[0]["label"] == BIG


def test_a_multiline_cell_larger_than_a_block_deep_in_the_file_is_read(tmp_path: Path) -> None:
    lines = "".join(f"{i},x,{i},2022\n" for i in range(1, 20001))
    cell = "行" * 100 + "\n"  # a quoted cell of 3 MB over 10,000 short lines
    text = f'番号,名称,金額,年度\n{lines}20001,"{cell * 10000}",1,2022\n20002,z,2,2022\n'
    code, result = _build(tmp_path, text)
    assert code == 0, result
    rows = _published(tmp_path)
    assert len(rows) == 20002 and [r["id"] for r in rows[-2:]] == [20001, 20002]
    assert result["datasets"][0]["rows"] == {"items": 20002}


def test_a_ragged_row_after_a_reopened_block_keeps_its_row_number(tmp_path: Path) -> None:
    text = f"番号,名称,金額,年度\n1,{BIG},1,2022\n2,b,2,2023,extra\n3,c,3,2024\n"
    code, result = _build(tmp_path, text)
    errors = result["datasets"][0]["errors"]
    assert code == 1 and [(e["type"], e["row"]) for e in errors] == [("extra-cell", 3)]


def test_a_header_only_csv_without_a_final_newline_is_an_empty_table(tmp_path: Path) -> None:
    code, result = _build(tmp_path, "番号,名称,金額,年度")
    assert code == 0 and result["datasets"][0]["rows"] == {"items": 0}
    done = opendata("validate", "--datasets", str(tmp_path / "datasets"))
    assert done.returncode == 0


def test_a_dataset_folder_that_vanished_is_a_located_error_not_a_silent_gap(
    tmp_path: Path,
) -> None:
    """A folder that cannot be read must not quietly drop out of the catalog. (The tests run
    as root, which reads any folder, so a link whose folder is gone stands for 'unreadable'.)"""
    write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    (tmp_path / "datasets/moved-away").symlink_to(tmp_path / "nowhere")
    code, result = report(
        "build", "--datasets", str(tmp_path / "datasets"), "--out", str(tmp_path / "dist")
    )
    assert code == 1 and not (tmp_path / "dist").exists()
    (problem,) = result["errors"]
    assert problem["dataset"] == "moved-away" and "読めません" in problem["message"]


def test_a_dataset_yaml_that_is_a_folder_is_a_located_error(tmp_path: Path) -> None:
    write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    (tmp_path / "datasets/other").mkdir()
    (tmp_path / "datasets/other/dataset.yaml").mkdir()
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    errors = [e for d in result["datasets"] for e in d["errors"]]
    assert code == 1 and [(e["dataset"], e["file"]) for e in errors] == [
        ("other", "other/dataset.yaml")
    ]
    assert "読めません" in errors[0]["message"]


def test_a_nul_byte_beyond_the_first_64_kb_is_refused(tmp_path: Path) -> None:
    lines = "".join(f"{i},x,{i},2022\n" for i in range(1, 5001))  # ~70 KB
    text = f"番号,名称,金額,年度\n{lines}5001,a\x00b,1,2022\n"
    write_dataset(tmp_path, MINIMAL, {"items.csv": text})
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    errors = result["datasets"][0]["errors"]
    assert code == 1 and [(e["type"], e["row"]) for e in errors] == [("format-error", 5002)]
    assert "NUL" in errors[0]["message"]


def _replace_after_open(monkeypatch: pytest.MonkeyPatch, change: Callable[[Path], None]) -> None:
    """Change the source file the moment the build has opened it, as an editor might."""
    real = build.open_source

    def opened_then_changed(path: Path, *args: Any, **kwargs: Any) -> Any:
        source = real(path, *args, **kwargs)
        change(Path(path).resolve())
        return source

    monkeypatch.setattr(build, "open_source", opened_then_changed)


def test_a_source_saved_over_during_a_build_publishes_rows_and_provenance_of_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    original = hashlib.sha256(MINIMAL_CSV.encode()).hexdigest()

    def editor_saves(path: Path) -> None:  # a new file renamed over the old, as editors do
        fresh = folder / ".items.csv.new"
        fresh.write_text(MINIMAL_CSV + "3,新規,1,2024\n", encoding="utf-8")
        os.replace(fresh, folder / "items.csv")

    _replace_after_open(monkeypatch, editor_saves)
    code, result = _build_existing(tmp_path)
    assert code == 0, result
    package = json.loads((tmp_path / "dist/datasets/sample-budget/datapackage.json").read_text())
    (provenance,) = package["x-opendata"]["provenance"]
    assert provenance["hash"] == f"sha256:{original}"
    assert provenance["bytes"] == len(MINIMAL_CSV.encode())
    assert [r["id"] for r in _published(tmp_path)] == [1, 2]


def test_a_source_rewritten_in_place_during_a_build_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})

    def rewritten(path: Path) -> None:
        with path.open("a", encoding="utf-8") as fh:
            fh.write("3,新規,1,2024\n")

    _replace_after_open(monkeypatch, rewritten)
    code, result = _build_existing(tmp_path)
    errors = result["datasets"][0]["errors"]
    assert code == 1 and "書き換えられました" in errors[0]["message"]
    assert errors[0]["file"] == "sample-budget/items.csv"
    assert not (tmp_path / "dist").exists()


def _build_existing(root: Path) -> tuple[int, dict]:
    return report("build", "--datasets", str(root / "datasets"), "--out", str(root / "dist"))
