"""Nothing lost, nothing invented: every row the officer's file holds is published, or the
build says exactly why not (issue "Nothing lost, nothing stale", readers)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from conftest import MINIMAL, opendata, report, write_dataset

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
