"""Reading sources: a footer cut from a CSV that spans many batches."""

from __future__ import annotations

from pathlib import Path

from pipeline.sources import open_source


def test_footer_rows_are_cut_across_batches_and_listed(tmp_path: Path) -> None:
    """Past one 2 MB batch the footer is still exactly the file's last records, ragged or not,
    and every other row arrives with its row number."""
    rows = 200_000
    body = "".join(f"{i},施設{i}\n" for i in range(rows))
    path = tmp_path / "big.csv"
    path.write_text("番号,名称\n" + body + "※出典 港区,\nVer20260714\n", encoding="utf-8")
    source = open_source(path, "big.csv", footer_rows=2)
    batches = list(source.batches)
    assert len(batches) > 1
    numbers = [n for b in batches for n in b.rows.to_pylist()]
    assert numbers == list(range(2, rows + 2))
    assert source.footer == [(rows + 2, "※出典 港区"), (rows + 3, "Ver20260714")]
    assert source.problems == []  # the ragged stamp is the footer, not a ragged row
