"""`opendata validate --report`: the officer's own sheet with the problem cells marked."""

from __future__ import annotations

import copy
import csv
import io
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from conftest import MINIMAL, MINIMAL_CSV, opendata, write_dataset

TITLE = "港区 予算事業一覧（令和5年度）"
XLSX_ROWS: list[list[Any]] = [
    [TITLE, None, None, None],
    ["番号", "名称", "金額", "年度"],
    [1, "庁舎管理", 3200, "令和4年度"],
    [2, "情報化推進", "多い", 2023],  # row 4: 金額 is no number
    [3, "公園整備", 10, "来年"],  # row 5: 年度 is no year
    [4, "=HYPERLINK(x)", 20, 2023],  # text that looks like a formula stays text
]


def _xlsx_bytes() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in XLSX_ROWS:
        sheet.append(row)
    sheet["B6"].data_type = "s"  # written as text, not as a formula
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _datasets(root: Path) -> None:
    xlsx = copy.deepcopy(MINIMAL)
    xlsx["name"] = "budget-xlsx"
    xlsx["resources"][0]["path"] = "items.xlsx"
    xlsx["resources"][0]["x-opendata"] = {"header_row": 2}
    write_dataset(root, xlsx, {"items.xlsx": _xlsx_bytes()})
    table = copy.deepcopy(MINIMAL)
    second = copy.deepcopy(table["resources"][0])
    second["name"] = "other"
    second["path"] = "other.csv"
    table["resources"].append(second)
    bad = MINIMAL_CSV.replace("3200", "三千")  # row 2, 金額
    write_dataset(root, table, {"items.csv": bad, "other.csv": "番号,名称,金額\n1,a,2\n"})


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    _datasets(tmp_path)
    return tmp_path


def _problems(root: Path) -> list[dict[str, Any]]:
    import json

    done = opendata("validate", "--json", cwd=root)
    result = json.loads(done.stdout)
    return [e for d in result["datasets"] for e in d["errors"]]


def test_the_workbook_marks_every_problem_cell_and_changes_nothing_else(sources: Path) -> None:
    problems = _problems(sources)
    done = opendata("validate", "--report", "out.xlsx", cwd=sources)
    assert done.returncode == 1, done.stderr
    book = load_workbook(sources / "out.xlsx")
    assert book.sheetnames[0] == "問題一覧 Problems"
    xlsx = book["items.xlsx"]
    items = book["items.csv"]
    cells = {(p["file"], p.get("row"), p.get("column")) for p in problems}
    assert ("budget-xlsx/items.xlsx", 4, "金額") in cells
    assert ("budget-xlsx/items.xlsx", 5, "年度") in cells
    assert ("sample-budget/items.csv", 2, "金額") in cells
    assert any(p["type"] == "missing-label" and p["file"].endswith("other.csv") for p in problems)
    assert ("budget-xlsx/items.xlsx", 6, "名称") in cells  # unsafe-cell
    marked = {("items.xlsx", "C4"), ("items.xlsx", "D5"), ("items.xlsx", "B6"), ("items.csv", "C2")}
    for title, ref in marked:
        cell = book[title][ref]
        assert cell.fill.fgColor.rgb.endswith("FFFF00"), (title, ref)
        assert cell.comment is not None and "/" in cell.comment.text
        assert "→" in cell.comment.text  # the hint, in Japanese and English
    messages = {p["message"] for p in problems if p["file"].endswith("items.xlsx")}
    assert any(m in xlsx["C4"].comment.text for m in messages)
    # Everything else is the officer's values, unmarked, at the same row numbers.
    for number, row in enumerate(XLSX_ROWS, start=1):
        for col, value in enumerate(row):
            cell = xlsx.cell(number, col + 1)
            assert cell.value == value, (number, col, cell.value)
            if (("items.xlsx", cell.coordinate)) not in marked:
                assert cell.comment is None and cell.fill.fill_type is None
    records = list(csv.reader(io.StringIO(MINIMAL_CSV.replace("3200", "三千"))))
    for number, record in enumerate(records, start=1):
        for col, value in enumerate(record):
            cell = items.cell(number, col + 1)
            assert cell.value == value
            if ("items.csv", cell.coordinate) not in marked:
                assert cell.comment is None and cell.fill.fill_type is None
    assert xlsx.max_row == len(XLSX_ROWS) and items.max_row == len(records)
    assert "other.csv" not in book.sheetnames  # a missing column has no cell: listed only


def test_the_first_sheet_lists_every_problem_with_a_working_link(sources: Path) -> None:
    problems = _problems(sources)
    opendata("validate", "--report", "out.xlsx", cwd=sources)
    book = load_workbook(sources / "out.xlsx")
    listing = list(book["問題一覧 Problems"].iter_rows(min_row=2))
    listed = [r for r in listing if r[1].value]
    assert len(listed) == len(problems)
    assert {(r[1].value, r[2].value, r[3].value) for r in listed} == {
        (p["file"], p.get("row"), p.get("column")) for p in problems
    }
    linked = 0
    for row in listed:
        link = row[-1].hyperlink
        if row[1].value.endswith("other.csv"):
            assert link is None
            continue
        assert link is not None
        sheet, ref = link.location.rsplit("!", 1)
        target = book[sheet.strip("'")][ref]
        assert target.comment is not None and row[5].value in target.comment.text
        assert target.row == row[2].value
        assert book[sheet.strip("'")].cell(book[sheet.strip("'")].max_row, 1).value is not None
        linked += 1
    assert linked == 4


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.marked: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "td" and found.get("class") == "problem":
            self.marked.append(found)
        if tag == "a" and str(found.get("href", "")).startswith("#"):
            self.links.append(str(found["href"])[1:])


def test_the_html_report_marks_the_cells(sources: Path) -> None:
    problems = _problems(sources)
    done = opendata("validate", "--report", "out.html", cwd=sources)
    assert done.returncode == 1
    page = (sources / "out.html").read_text(encoding="utf-8")
    parser = _Cells()
    parser.feed(page)
    assert parser.lang == "ja" and "http" not in page
    assert len(parser.marked) == 4
    for problem in problems:  # Japanese first, the English marked as such
        ja, en = problem["message"].split(" / ", 1)
        assert f'{ja} <span lang="en">{en}</span>' in page
    assert len(parser.links) == 4 and set(parser.links) <= parser.ids
    titles = " ".join(str(m["title"]) for m in parser.marked)
    for problem in problems:
        if problem.get("row") and not problem["file"].endswith("other.csv"):
            assert problem["message"] in titles
    assert "庁舎管理" not in page.split("budget-xlsx/items.xlsx</h2>")[1].split("</section>")[0]


def test_a_clean_run_says_there_is_nothing_to_fix(minimal: Path) -> None:
    for name in ("ok.xlsx", "ok.html"):
        done = opendata("validate", "--report", name, cwd=minimal)
        assert done.returncode == 0, done.stderr
    book = load_workbook(minimal / "ok.xlsx")
    assert book.sheetnames == ["問題一覧 Problems"]
    assert "nothing to fix" in str(book.active["A2"].value)  # type: ignore[index]
    assert "nothing to fix" in (minimal / "ok.html").read_text(encoding="utf-8")


def test_a_report_never_replaces_a_file_of_the_datasets(tmp_path: Path) -> None:
    """`--report` naming the officer's own workbook replaced it with the report."""
    workbook = Workbook()
    workbook.active.append(["番号", "名称", "金額", "年度"])  # type: ignore[union-attr]
    workbook.active.append([1, "庁舎管理", 3200, 2022])  # type: ignore[union-attr]
    definition = copy.deepcopy(MINIMAL)
    definition["resources"][0]["path"] = "items.xlsx"
    folder = write_dataset(tmp_path, definition, {})
    workbook.save(folder / "items.xlsx")
    before = (folder / "items.xlsx").read_bytes()
    done = opendata("validate", "--report", str(folder / "items.xlsx"), cwd=tmp_path)
    assert done.returncode == 1 and "outside the datasets folder" in done.stderr, done.stderr
    assert (folder / "items.xlsx").read_bytes() == before
    for _ in range(2):  # a new file there too: the next run would have refused its own report
        done = opendata("validate", "--report", str(folder / "report.html"), cwd=tmp_path)
        assert done.returncode == 1 and not (folder / "report.html").exists()


@pytest.mark.parametrize("name", ["out.pdf", "no/such/folder/out.xlsx"])
def test_a_bad_report_path_is_a_bilingual_error(minimal: Path, name: str) -> None:
    done = opendata("validate", "--report", name, cwd=minimal)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and " / " in done.stderr
    assert not (minimal / name).exists()


def test_many_problems_in_a_column_are_capped_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalog import report

    monkeypatch.setattr(report, "MARKS_PER_COLUMN", 5)
    monkeypatch.setattr(report, "ROWS_COPIED", 8)
    rows = "".join(f"{i},x,bad,{'来年' if i == 14 else 2022}\n" for i in range(1, 21))
    write_dataset(tmp_path, MINIMAL, {"items.csv": "番号,名称,金額,年度\n" + rows})
    opendata("validate", "--report", "out.xlsx", cwd=tmp_path)
    book = load_workbook(tmp_path / "out.xlsx")
    items = book["items.csv"]
    assert items.max_row == 8
    comments = [c for row in items.iter_rows() for c in row if c.comment]
    assert len(comments) == 5
    notes = " ".join(str(c.value) for row in book.active.iter_rows() for c in row if c.value)  # type: ignore[union-attr]
    assert "first 5 problems per column" in notes and "first 8 of 21 rows" in notes
    listing = list(book.active.iter_rows(min_row=2, values_only=False))  # type: ignore[union-attr]
    late = [r for r in listing if r[2].value == 15]
    assert len(late) == 1 and late[0][-1].hyperlink is None  # past the copy: listed, not linked
    opendata("validate", "--report", "out.html", cwd=tmp_path)
    page = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert 'id="f0-r15-c3"' in page and "来年" in page  # the page shows it
