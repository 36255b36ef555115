"""`opendata validate --report FILE.xlsx | FILE.html`: the problems of a run on the officer's own
sheet, so they can be found and fixed where they are.

The workbook's first sheet lists every problem with a link to its cell; then, per source file
with problems, a copy of the officer's rows (the XLSX sheet's values, or the CSV's parsed
records) whose row numbers are the file's row numbers, each problem cell filled and commented
with the bilingual message, hint and fix. The HTML page holds the same list and, per file, the
rows that have problems with their cells marked.

Bounded for large sources: at most `MARKS_PER_COLUMN` problems per column are listed and
marked, and at most `ROWS_COPIED` rows of a source are copied; the report says so.
"""

from __future__ import annotations

import csv
import html
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import definition as defs
from pipeline.errors import DefinitionError, Problem
from pipeline.sources import SNIFF_BYTES, SourceError, column_keys

if TYPE_CHECKING:
    from pipeline.build import RunResult

MARKS_PER_COLUMN = 1000  # problems listed and marked per column of a file
ROWS_COPIED = 100_000  # rows of a source copied into the workbook
SUFFIXES = (".xlsx", ".html", ".htm")
PROBLEMS_SHEET = "問題一覧 Problems"
NOTHING_TO_FIX = "問題はありません。直すところはありません / no problems: nothing to fix"
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what an XLSX cell cannot hold


class ReportError(Exception):
    """The report cannot be written where asked; the message is bilingual."""


def check_path(path: Path, datasets_dir: Path) -> None:
    """Refuse an unknown suffix, a folder that is not there, or a place inside the datasets
    folder — where the report could replace the officer's own workbook, and would be read
    as a source — before anything is validated."""
    if datasets_dir.resolve() in path.resolve().parents:
        raise ReportError(
            f"{path} はデータセットのフォルダの中です。報告はフォルダの外に書いてください"
            f" / {path} is inside the datasets folder, where it could replace a source (and"
            " would be read as one): write the report outside the datasets folder"
        )
    if path.suffix.lower() not in SUFFIXES:
        raise ReportError(
            f"--report は .xlsx か .html のファイルにしてください（{path.name}）"
            f" / --report must end in .xlsx or .html ({path.name})"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir() or path.is_dir() or not os.access(parent, os.W_OK):
        raise ReportError(
            f"{path} に書き込めません（フォルダがないか、書き込み権限がありません）"
            f" / cannot write {path} (no such folder, or no permission)"
        )


@dataclass
class Mark:
    """A listed problem, and the cell it is marked on (row and 0-based column) if any."""

    problem: Problem
    row: int | None = None
    col: int | None = None


@dataclass
class SourceCopy:
    """One source file with problems: its rows as the officer sees them, and the marks."""

    file: str
    title: str = ""  # the sheet's name in the workbook
    rows: list[list[object]] = field(default_factory=list)  # rows 1..ROWS_COPIED
    kept: dict[int, list[object]] = field(default_factory=dict)  # problem rows past the copy
    total_rows: int = 0
    header_row: int = 1
    header: list[str] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)

    def row(self, number: int) -> list[object] | None:
        if 1 <= number <= len(self.rows):
            return self.rows[number - 1]
        return self.kept.get(number)


@dataclass
class Plan:
    """What the report holds: the listed problems in order, the copies, and what was left out."""

    marks: list[Mark]
    copies: list[SourceCopy]
    capped: int  # problems over MARKS_PER_COLUMN for their column, not listed
    unlisted: int  # problems counted by the run but over its --limit


def write_report(result: RunResult, datasets_dir: Path, path: Path) -> None:
    """Write the report for `result` to `path` (.xlsx or .html), replacing it whole."""
    check_path(path, datasets_dir)
    plan = _plan(result, datasets_dir)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        if path.suffix.lower() == ".xlsx":
            _write_xlsx(plan, temporary)
        else:
            temporary.write_text(_html(plan), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ReportError(
            f"{path} に書き込めません（{exc.strerror or exc}） / cannot write {path}"
        ) from exc


# --- what goes in -----------------------------------------------------------------------------


def _problems(result: RunResult) -> tuple[list[Problem], int]:
    problems = list(result.problems)
    unlisted = 0
    for dataset in result.datasets:
        problems += dataset.report.problems
        unlisted += dataset.report.total - len(dataset.report.problems)
    return problems, unlisted


def _plan(result: RunResult, datasets_dir: Path) -> Plan:
    problems, unlisted = _problems(result)
    per_column: dict[tuple[str | None, str | None], int] = defaultdict(int)
    marks, capped = [], 0
    for problem in problems:
        key = (problem.file, problem.column)
        per_column[key] += 1
        if problem.column is not None and per_column[key] > MARKS_PER_COLUMN:
            capped += 1
            continue
        marks.append(Mark(problem))
    by_file: dict[str, list[Mark]] = defaultdict(list)
    for mark in marks:
        if mark.problem.file and (mark.problem.row is not None or mark.problem.column):
            by_file[mark.problem.file].append(mark)
    copies = []
    titles: set[str] = {PROBLEMS_SHEET}
    for file, file_marks in by_file.items():
        copy = _copy(datasets_dir, file, file_marks)
        if copy is None or not copy.marks:  # nothing to point at: listed on the first sheet
            continue
        copy.title = _sheet_title(file, titles)
        copies.append(copy)
    return Plan(marks, copies, capped, unlisted)


def _copy(datasets_dir: Path, file: str, marks: list[Mark]) -> SourceCopy | None:
    """The officer's rows of `file` ("dataset/name"), with the marks placed on its cells."""
    dataset, _, name = file.partition("/")
    try:
        definition = defs.load(datasets_dir / dataset)
    except (DefinitionError, OSError):
        return None
    found = [
        r for r in definition.resources if not r.is_file and any(p.name == name for p in r.paths)
    ]
    if not found:
        return None
    resource = found[0]
    source = next(p for p in resource.paths if p.name == name)
    wanted = {m.problem.row for m in marks if m.problem.row is not None}
    copy = SourceCopy(file, header_row=resource.options.header_row)
    try:
        _read(copy, source, resource, wanted)
    except (OSError, SourceError, UnicodeDecodeError, csv.Error, ValueError):
        return None
    except Exception:  # calamine's own errors for a broken workbook: the list still has them
        return None
    keys = column_keys(copy.header)
    for mark in marks:
        problem = mark.problem
        column = _column(problem.column, copy.header, keys)
        if problem.row is not None and column is not None:
            mark.row, mark.col = problem.row, column
        elif problem.row is None and column is not None:  # a header problem: its header cell
            mark.row, mark.col = copy.header_row, column
        else:
            continue
        if copy.row(mark.row) is None:
            mark.row = mark.col = None
            continue
        copy.marks.append(mark)
    return copy


def _column(column: str | None, header: list[str], keys: list[str]) -> int | None:
    if column is None:
        return None
    for names in (header, keys):
        if column in names:
            return names.index(column)
    return None


def _read(copy: SourceCopy, path: Path, resource: defs.ResourceDef, wanted: set[int]) -> None:
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04"):
        _read_xlsx(copy, path, resource.options.sheet, wanted)
    else:
        _read_csv(copy, path, resource.encoding, head, wanted)
    header = copy.row(copy.header_row) or []
    copy.header = [_text(v) for v in header]
    while copy.header and copy.header[-1] == "":
        copy.header.pop()


def _read_xlsx(copy: SourceCopy, path: Path, sheet: str | None, wanted: set[int]) -> None:
    from python_calamine import CalamineWorkbook, SheetVisibleEnum

    from pipeline import workbook

    workbook.check_size(path)  # the same limit as the reader: this file was read already
    book = CalamineWorkbook.from_path(str(path))
    visible = [m.name for m in book.sheets_metadata if m.visible == SheetVisibleEnum.Visible]
    chosen = sheet or visible[0]
    cells = book.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    copy.total_rows = len(cells)
    copy.rows = [list(row) for row in cells[:ROWS_COPIED]]
    copy.kept = {n: list(cells[n - 1]) for n in wanted if ROWS_COPIED < n <= len(cells)}


def _read_csv(
    copy: SourceCopy, path: Path, encoding: str | None, head: bytes, wanted: set[int]
) -> None:
    from pipeline.sources import _detect_encoding

    encoding = encoding or _detect_encoding(path, head, copy.file)
    csv.field_size_limit(1 << 30)
    number = 0
    with path.open("r", encoding=encoding, newline="") as fh:
        for number, record in enumerate(csv.reader(fh), start=1):
            if number == 1 and record:
                record[0] = record[0].lstrip("\ufeff")
            if number <= ROWS_COPIED:
                copy.rows.append(list(record))
            elif number in wanted:
                copy.kept[number] = list(record)
    copy.total_rows = number


def _sheet_title(file: str, taken: set[str]) -> str:
    """≤ 31 characters, none of []:*?/\\, unique in the workbook (compared as Excel does)."""
    base = re.sub(r"[\[\]:*?/\\']", "_", file.rpartition("/")[2]).strip() or "sheet"
    title, n = base[:31], 1
    while title.casefold() in {t.casefold() for t in taken}:
        n += 1
        suffix = f"~{n}"
        title = base[: 31 - len(suffix)] + suffix
    taken.add(title)
    return title


def _text(value: object) -> str:
    from pipeline.sources import _cell_text

    return _cell_text(value)


def _comment(problems: Iterable[Problem]) -> str:
    parts = []
    for p in problems:
        fix = f"\n修正案 fix: {p.fix}" if p.fix is not None else ""
        parts.append(f"[{p.type}] {p.message}\n→ {p.hint_ja}\n→ {p.hint_en}{fix}")
    return "\n\n".join(parts)


def _notes(plan: Plan) -> list[str]:
    notes = []
    if plan.capped:
        notes.append(
            f"1列につき最初の {MARKS_PER_COLUMN:,} 件だけを載せています（ほか {plan.capped:,} 件）"
            f" / only the first {MARKS_PER_COLUMN:,} problems per column are listed and marked"
            f" ({plan.capped:,} more)"
        )
    if plan.unlisted:
        notes.append(
            f"検証の上限（--limit）を超えた {plan.unlisted:,} 件は載っていません"
            f" / {plan.unlisted:,} more problems over validate's --limit are not listed"
        )
    for copy in plan.copies:
        if copy.total_rows > ROWS_COPIED:
            notes.append(
                f"{copy.file}: 最初の {ROWS_COPIED:,} 行だけを写しています（全 {copy.total_rows:,} 行）"
                f" / only the first {ROWS_COPIED:,} of {copy.total_rows:,} rows are copied"
            )
    return notes


# --- XLSX -------------------------------------------------------------------------------------

_HEADINGS = [
    "データセット dataset",
    "ファイル file",
    "行 row",
    "列 column",
    "値 value",
    "問題 problem",
    "ヒント hint",
    "修正案 fix",
    "種類 type",
    "セル cell",
]


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _write_xlsx(plan: Plan, target: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import Cell
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.hyperlink import Hyperlink

    book = Workbook(write_only=True)
    listing = book.create_sheet(PROBLEMS_SHEET)
    bold = Font(bold=True)
    listing.append([_cell(listing, h, font=bold) for h in _HEADINGS])
    titles = {c.file: c.title for c in plan.copies}
    copied = {c.file: len(c.rows) for c in plan.copies}
    line = 1
    if not plan.marks:
        line += 1
        listing.append([NOTHING_TO_FIX])
    for mark in plan.marks:
        p = mark.problem
        line += 1
        link: object = None
        if (
            mark.row is not None
            and mark.col is not None
            and mark.row <= copied.get(p.file or "", 0)
        ):
            ref = f"{_letter(mark.col)}{mark.row}"
            title = titles[str(p.file)]
            link = _cell(listing, f"{title}!{ref}", font=Font(color="0563C1", underline="single"))
            assert isinstance(link, Cell)
            link.hyperlink = Hyperlink(
                ref=f"{_letter(len(_HEADINGS) - 1)}{line}", location=f"'{title}'!{ref}"
            )
        values = [p.dataset, p.file, p.row, p.column, p.value, p.message]
        values += [f"{p.hint_ja} / {p.hint_en}", p.fix, p.type]
        listing.append([_cell(listing, v) for v in values] + [link])
    for note in _notes(plan):
        listing.append([])
        listing.append([_cell(listing, note, font=bold)])
    fill = PatternFill("solid", fgColor="FFFF00")
    header_fill = PatternFill("solid", fgColor="FFC7CE")
    for copy in plan.copies:
        sheet = book.create_sheet(copy.title)
        by_cell: dict[tuple[int, int], list[Problem]] = defaultdict(list)
        for mark in copy.marks:
            assert mark.row is not None and mark.col is not None
            by_cell[(mark.row, mark.col)].append(mark.problem)
        marked_rows = {r for r, _ in by_cell}
        for number, row in enumerate(copy.rows, start=1):
            if number not in marked_rows:
                sheet.append([_cell(sheet, v) for v in row])
                continue
            width = max([len(row)] + [c + 1 for r, c in by_cell if r == number])
            cells = []
            for col in range(width):
                cell = _cell(sheet, row[col] if col < len(row) else None, force=True)
                problems = by_cell.get((number, col))
                if problems:
                    assert isinstance(cell, Cell)
                    cell.fill = header_fill if number == copy.header_row else fill
                    comment = Comment(_comment(problems)[:32000], "opendata")
                    comment.width, comment.height = 360, 160
                    cell.comment = comment
                cells.append(cell)
            sheet.append(cells)
    book.save(target)


def _cell(sheet: object, value: object, font: object = None, force: bool = False) -> object:
    """A value as a cell: text stays text (a leading = is no formula), characters XLSX cannot
    hold are dropped, an empty string is an empty cell."""
    from openpyxl.cell import WriteOnlyCell

    if value == "":
        value = None
    if isinstance(value, str):
        value = _ILLEGAL.sub("", value)[:32767]
    plain = not (isinstance(value, str) and value.startswith("=")) and font is None
    if plain and not force:
        return value
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    if font is not None:
        cell.font = font
    return cell


# --- HTML -------------------------------------------------------------------------------------

_STYLE = """
body{font-family:sans-serif;margin:1.5rem;line-height:1.5}
table{border-collapse:collapse;margin:0 0 1.5rem}
th,td{border:1px solid #999;padding:.2rem .4rem;vertical-align:top;text-align:left}
thead th{background:#eee}
td.problem{background:#ffeb3b;outline:2px solid #c62828}
th.problem{background:#ffc7ce}
.note{font-weight:bold}
"""


def _bi(ja: str, en: str) -> str:
    return f'{html.escape(ja)} <span lang="en">{html.escape(en)}</span>'


def _html(plan: Plan) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="ja"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>検証レポート / Validation report</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{_bi('検証レポート', 'Validation report')}</h1>",
    ]
    if not plan.marks:
        out.append(f"<p>{_bi(*NOTHING_TO_FIX.split(' / '))}</p>")
    for note in _notes(plan):
        out.append(f'<p class="note">{e(note)}</p>')
    anchors: dict[int, str] = {}
    files = {c.file: i for i, c in enumerate(plan.copies)}
    for i, mark in enumerate(plan.marks):
        if mark.row is not None and mark.col is not None and mark.problem.file in files:
            anchors[i] = f"f{files[mark.problem.file]}-r{mark.row}-c{mark.col}"
    if plan.marks:
        out.append(f'<h2 id="problems">{_bi("問題一覧", "Problems")}</h2>')
        out.append(f"<table><caption>{_bi('問題一覧', 'Problems')}</caption><thead><tr>")
        out += [f'<th scope="col">{_bi(*h.split(" ", 1))}</th>' for h in _HEADINGS]
        out.append("</tr></thead><tbody>")
        for i, mark in enumerate(plan.marks):
            p = mark.problem
            cells = [p.dataset, p.file, p.row, p.column, p.value]
            row = "".join(f"<td>{e('' if v is None else str(v))}</td>" for v in cells)
            ja, _, en = p.message.partition(" / ")  # "日本語 / English", as every message is
            row += f"<td>{_bi(ja, en) if en else e(ja)}</td>"
            row += f'<td>{e(p.hint_ja)}<br><span lang="en">{e(p.hint_en)}</span></td>'
            row += f"<td>{e('' if p.fix is None else p.fix)}</td><td>{e(p.type)}</td>"
            link = ""
            if i in anchors:
                ref = f"{_letter(mark.col or 0)}{mark.row}"
                link = f'<a href="#{anchors[i]}">{e(ref)}</a>'
            out.append(f'<tr id="problem-{i + 1}">{row}<td>{link}</td></tr>')
        out.append("</tbody></table>")
    for index, copy in enumerate(plan.copies):
        out.append(_html_copy(index, copy))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_copy(index: int, copy: SourceCopy) -> str:
    e = html.escape
    by_cell: dict[tuple[int, int], list[Problem]] = defaultdict(list)
    for mark in copy.marks:
        assert mark.row is not None and mark.col is not None
        by_cell[(mark.row, mark.col)].append(mark.problem)
    rows = sorted({r for r, _ in by_cell} - {copy.header_row})
    width = max([len(copy.header)] + [c + 1 for _, c in by_cell])
    keys = column_keys(copy.header + [""] * (width - len(copy.header)))
    out = [
        f'<section aria-labelledby="file-{index}"><h2 id="file-{index}">{e(copy.file)}</h2>',
        f"<p>{_bi('問題のある行だけを表示しています', 'only the rows with problems are shown')}</p>",
        f"<table><caption>{e(copy.file)}</caption><thead><tr>",
        f'<th scope="col">{_bi("行", "row")}</th>',
    ]
    for col, key in enumerate(keys):
        problems = by_cell.get((copy.header_row, col))
        attrs = ""
        if problems:
            attrs = (
                f' class="problem" id="f{index}-r{copy.header_row}-c{col}"'
                f' title="{e(_comment(problems))}"'
            )
        out.append(f'<th scope="col"{attrs}>{e(key)}</th>')
    out.append("</tr></thead><tbody>")
    for number in rows:
        values = copy.row(number) or []
        out.append(f'<tr><th scope="row">{number}</th>')
        for col in range(width):
            text = e(_text(values[col]) if col < len(values) else "")
            problems = by_cell.get((number, col))
            if problems:
                out.append(
                    f'<td class="problem" id="f{index}-r{number}-c{col}"'
                    f' title="{e(_comment(problems))}">{text}</td>'
                )
            else:
                out.append(f"<td>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table></section>")
    return "\n".join(out)
