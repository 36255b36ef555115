"""A first `dataset.yaml` from an officer's file (`opendata init`): the encoding, sheet and
header row; each column's type from its values, read by the same parsers `build` uses
(`cells.py`: 和暦, full-width digits, units in cells, ranges, 「―」); ASCII field names; a
primary key; a standard layout recognised from the header. Nothing it cannot see is invented:
metadata is left blank for the officer (and `build` warns about each blank).
"""

from __future__ import annotations

import csv
import functools
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import cells, presets
from .convert import header_key
from .errors import Problem
from .sources import (
    SNIFF_BYTES,
    RawBatch,
    SourceError,
    _cell_text,
    _detect_encoding,
    open_source,
)

SAMPLE_ROWS = 50  # rows looked at to find the header
ALMOST = 0.98  # share of non-missing cells that must parse for a type to be proposed
# Annotations beside numbers that say something about the value (a boolean field).
MARKERS = {"見込": "estimated", "速報": "preliminary", "暫定": "provisional"}
BOUND_WORDS = re.compile(r"以上|以下|以内|未満|超|[~〜～]")
# What stands alone in a row under a table, not in it: a version stamp, a note, a source line.
FOOTER_TEXT = re.compile(
    r"^(?:ver(?:sion)?[.\s]*\d|※|注[:：)）]|[(（]注[)）]|出典|最終更新|更新日|作成日)", re.I
)
FOOTER_LOOKBACK = 5  # records at the end looked at
# A calendar year's header (年, 調査年, 西暦年) — not a fiscal year's (年度), which stays an
# integer as the hand-written definitions have it, nor a date's (年月日).
CALENDAR_YEAR_HEADER = re.compile(r"(?:^|[^年])年$")
YEAR_RANGE = (1868, 2200)
# Common headers → ASCII names (keys NFKC-folded, without spaces).
COMMON_NAMES = {
    "年度": "fiscal_year",
    "年": "year",
    "名称": "name",
    "施設名": "facility_name",
    "施設名称": "facility_name",
    "住所": "address",
    "所在地": "address",
    "電話番号": "phone",
    "FAX番号": "fax",
    "緯度": "latitude",
    "経度": "longitude",
    "備考": "note",
    "件数": "count",
    "数": "count",
    "人口": "population",
    "世帯数": "households",
    "地区": "area",
    "地域": "area",
    "番号": "id",
    "ID": "id",
    "No": "no",
    "No.": "no",
    "金額": "amount",
    "単位": "unit",
    "区分": "kind",
    "種別": "category",
    "分類": "category",
    "割合": "percentage",
    "値": "value",
    "合計": "total",
    "計": "total",
    "男": "male",
    "女": "female",
    "男性": "male",
    "女性": "female",
    "日付": "date",
    "年月日": "date",
    "開始日": "start_date",
    "終了日": "end_date",
    "時刻": "time",
    "郵便番号": "postal_code",
    "URL": "url",
    "町名": "town",
    "町丁目": "town",
    "人数": "people",
    "見込": "estimated",
    "比較": "comparator",
}


class InitError(Exception):
    """The file cannot be drafted from (unreadable, empty)."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class Column:
    title: str
    name: str
    type: str = "string"
    options: dict[str, Any] = field(default_factory=dict)  # bareNumber, groupChar, …
    missing: int = 0
    rows: int = 0
    marker: str | None = None
    bounds: bool = False  # a column of numbers with bounds or ranges (x-opendata ranges)
    ranged: bool = False  # … with at least one range (a value_max field)


@dataclass
class Draft:
    descriptor: dict[str, Any]
    encoding: str | None
    sheet: str | None
    header_row: int
    title_rows: list[str]
    columns: list[Column]
    primary_key: list[str]
    standard: str | None = None
    layout: str | None = None
    unpivot: list[str] = field(default_factory=list)
    rows: int = 0
    source_problems: list[Problem] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)  # rows under the table, left out

    def summary(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding,
            "sheet": self.sheet,
            "header_row": self.header_row,
            "title_rows": self.title_rows,
            "rows": self.rows,
            "standard": self.standard,
            "layout": self.layout,
            "unpivot": self.unpivot,
            "footer": self.footer,
            "fields": [
                {
                    "name": c.name,
                    "title": c.title,
                    "type": c.type,
                    **c.options,
                    "missing": c.missing,
                    **({"marker": c.marker} if c.marker else {}),
                    **({"ranges": True} if c.bounds else {}),
                }
                for c in self.columns
            ],
            "primaryKey": self.primary_key,
            "source_problems": [p.to_dict() for p in self.source_problems],
        }


# ---------------------------------------------------------------- reading


def _problem(message: str, display: str) -> InitError:
    return InitError(Problem("format-error", message, file=display))


def _grid(path: Path, display: str) -> tuple[list[list[str]], str | None, str | None]:
    """The first rows as text, the encoding (CSV) and the sheet (XLSX)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise _problem(
            f"ファイルを読めません（{exc.strerror}） / cannot read the file", display
        ) from exc
    if not head.strip(b"\xef\xbb\xbf \r\n\t,"):
        raise _problem("ファイルが空です / the file is empty", display)
    if head.startswith(b"PK\x03\x04"):
        from python_calamine import CalamineWorkbook, SheetVisibleEnum

        try:
            book = CalamineWorkbook.from_path(str(path))
            visible = [
                m.name for m in book.sheets_metadata if m.visible == SheetVisibleEnum.Visible
            ]
            sheet = visible[0]
            rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False, nrows=SAMPLE_ROWS)
        except Exception as exc:  # calamine's own errors for a broken workbook
            raise _problem(
                f"Excel ファイルとして読めません（{exc}） / not a readable XLSX file", display
            ) from exc
        return [[_cell_text(v).strip() for v in row] for row in rows], None, sheet
    try:
        encoding = _detect_encoding(path, head, display)
    except SourceError as exc:
        raise InitError(exc.problem) from exc
    with path.open("r", encoding=encoding, newline="", errors="replace") as fh:
        grid = [
            [c.lstrip("\ufeff").strip() for c in row]
            for row in itertools.islice(csv.reader(fh), SAMPLE_ROWS)
        ]
    return grid, encoding, None


def _is_numberish(text: str) -> bool:
    folded = unicodedata.normalize("NFKC", text).replace(",", "")
    return bool(re.fullmatch(r"[+\-▲△]?\d+(\.\d+)?[^\d]{0,3}", folded))


def footer_records(batches: list[RawBatch], problems: list[Problem]) -> int:
    """How many records end the file under the table: a stamp or note alone in its row
    (`Ver20260714`, 「※…」), padded to the table's width or not (then a ragged row)."""
    tail: list[tuple[int, str, bool]] = []  # (row, text, alone in its row)
    for batch in batches[-2:]:
        start = max(0, len(batch) - FOOTER_LOOKBACK)
        cells = [c.slice(start).to_pylist() for c in batch.columns.values()]
        for number, row in zip(
            batch.rows.slice(start).to_pylist(), zip(*cells, strict=True), strict=True
        ):
            filled = [c.strip() for c in row if c and c.strip()]
            tail.append((number, filled[0] if filled else "", len(filled) == 1))
    for problem in problems:
        if problem.type == "missing-cell" and problem.row is not None:
            text = (problem.value or "").strip().strip(",").strip()
            tail.append((problem.row, text, "," not in text))
    count = 0
    for _, text, alone in sorted(tail, reverse=True)[:FOOTER_LOOKBACK]:
        if not (alone and FOOTER_TEXT.match(unicodedata.normalize("NFKC", text))):
            break
        count += 1
    return count


def header_row(grid: list[list[str]]) -> int:
    """The first row that looks like a header: most of the table's width filled with text
    (not numbers), and a row below it. Title rows above (one cell, or a few) are skipped."""
    width = max((sum(1 for c in row if c) for row in grid), default=0)
    for index, row in enumerate(grid):
        filled = [c for c in row if c]
        if not filled or len(filled) < max(1, round(0.6 * width)):
            continue
        texty = sum(1 for c in filled if not _is_numberish(c))
        below = any(any(c for c in r) for r in grid[index + 1 :])
        if texty >= 0.8 * len(filled) and (below or index == len(grid) - 1):
            return index + 1
    return 1


# ---------------------------------------------------------------- types


def _all_parse(parsed: cells.Parsed, n: int) -> tuple[bool, np.ndarray]:
    bad = np.asarray(parsed.bad, dtype=bool)
    return n > 0 and int(bad.sum()) <= (1 - ALMOST) * n, bad


def _missing_tokens(values: pa.Array, bad: np.ndarray) -> list[str] | None:
    """The few cells a typed column could not read, when they are markers rather than data
    (「x」「秘匿」「*」: no digit, short, at most three kinds) — proposed as missingValues."""
    if not bad.any():
        return []
    tokens = sorted(set(values.filter(pa.array(bad)).to_pylist()))
    if len(tokens) <= 3 and all(len(t) <= 4 and not re.search(r"\d", t) for t in tokens):
        return tokens
    return None


def _try_types(values: pa.Array) -> tuple[str, dict[str, Any], list[str]] | None:
    """The first type (integer, number, date, time, datetime, boolean) every cell reads as."""
    n = len(values)
    ascii_digits = cells.fold(values)
    zero_padded = pc.any(pc.match_substring_regex(ascii_digits, r"^0\d+$")).as_py()
    base: dict[str, Any] = {"groupChar": ","} if _grouped(ascii_digits) else {}
    trials: list[tuple[str, dict[str, Any]]] = []
    if not zero_padded:
        for kind in ("integer", "number"):
            trials += [(kind, base), (kind, {**base, "bareNumber": False})]
    trials += [("date", {}), ("time", {}), ("datetime", {}), ("boolean", {})]
    for kind, options in trials:
        if options.get("bareNumber") is False and not _short_units(ascii_digits):
            continue
        parser = {
            "integer": cells.parse_integer,
            "number": cells.parse_number,
            "date": cells.parse_date,
            "time": cells.parse_time,
            "datetime": cells.parse_datetime,
            "boolean": cells.parse_boolean,
        }[kind]
        ok, bad = _all_parse(parser(values, options), n)
        if ok and (tokens := _missing_tokens(values, bad)) is not None:
            return kind, dict(options), tokens
    return None


def _grouped(folded: pa.Array) -> bool:
    """Thousands separators appear (「3,200件」)."""
    return bool(pc.any(pc.match_substring_regex(folded, r"\d,\d{3}(?:\D|$)")).as_py())


def _short_units(folded: pa.Array) -> bool:
    """Units beside numbers are short (件, ％, か所, 人/年): text around the number of at most
    six characters, so 「第3回会議」 or 「P24」 is no number with a unit."""
    rest = pc.replace_substring_regex(folded, pattern=r"[\d,.+\-▲△]+", replacement="")
    return bool(pc.all(pc.less_equal(pc.utf8_length(rest), 6)).as_py())


def _bounds_read(values: pa.Array, options: dict[str, Any] | None = None) -> bool:
    if not len(values):
        return False
    if options is None:
        options = {"groupChar": ","} if _grouped(cells.fold(values)) else {}
    bound = cells.parse_bound(values, options)
    return float(np.asarray(bound.bad).mean()) <= 1 - ALMOST


def infer_column(title: str, text: pa.Array) -> Column:
    col = Column(title=title, name="")
    text = cells.clean_text(pc.utf8_trim_whitespace(pc.fill_null(text, "")))
    missing = cells.missing_mask(text, [])
    col.rows, col.missing = len(text), int(missing.sum())
    values = text.filter(pa.array(~missing))
    if not len(values):
        return col
    for word in MARKERS:
        if pc.any(pc.match_substring(values, word)).as_py():
            stripped, _ = cells.strip_marker(values, word)
            typed = _try_types(stripped)
            if (typed and typed[0] in ("integer", "number")) or _bounds_read(stripped):
                col.marker, values = word, stripped
            break
    found = _try_types(values)
    has_bounds = bool(
        pc.any(pc.match_substring_regex(cells.fold(values), BOUND_WORDS.pattern)).as_py()
    )
    if has_bounds and (found is None or found[0] in ("integer", "number")):
        options = {"groupChar": ","} if _grouped(cells.fold(values)) else {}
        if _bounds_read(values, options):
            col.type, col.bounds = "number", True
            col.options = {**options, "bareNumber": False}
            bound = cells.parse_bound(values, options)
            col.ranged = bool(pc.any(pc.equal(bound.comparator, "between")).as_py())
            return col
    if found is not None:
        col.type, col.options, tokens = found
        if tokens:
            col.options["missingValues"] = ["", *tokens]
    if col.type == "integer" and _calendar_years(title, values):
        col.type = "year"
        col.options = {k: v for k, v in col.options.items() if k == "missingValues"}
    return col


def _calendar_years(title: str, values: pa.Array) -> bool:
    """Years of the calendar: under a 年 header, or written 「2024年」「令和6年」, none a
    fiscal year (年度), and all within the years an era names."""
    folded = cells.fold(values)
    if pc.any(pc.match_substring(folded, "年度")).as_py():
        return False
    written = pc.all(pc.match_substring_regex(folded, r"年$")).as_py()
    header = bool(CALENDAR_YEAR_HEADER.search(unicodedata.normalize("NFKC", title).strip()))
    if not (header or written):
        return False
    years = cells.parse_year(values)
    low, high = pc.min_max(years.values).values()
    return not years.bad.any() and YEAR_RANGE[0] <= low.as_py() and high.as_py() <= YEAR_RANGE[1]


# ---------------------------------------------------------------- names


@functools.cache
def _kakasi() -> Any:
    import pykakasi

    return pykakasi.kakasi()  # type: ignore[no-untyped-call]


def _romanise(text: str) -> str:
    converter = _kakasi()
    parts = [p["hepburn"] or p["orig"] for p in converter.convert(text)]
    ascii_text = unicodedata.normalize("NFKD", "_".join(parts)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def field_name(title: str) -> str:
    key = header_key(title)
    if key in COMMON_NAMES:
        return COMMON_NAMES[key]
    base = re.sub(r"[（(].*?[)）]", "", key) or key  # 年度（和暦） → 年度's name + the rest
    if base != key and base in COMMON_NAMES:
        return f"{COMMON_NAMES[base]}_{_romanise(key[len(base) :]) or 'x'}".rstrip("_")
    name = _romanise(key)
    if not name:
        return "field"
    return name if name[0].isalpha() else f"f_{name}"


def unique_names(titles: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for title in titles:
        name = field_name(title)[:60] if title.strip() else "field"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        seen.setdefault(name, 1)
        names.append(name)
    return names


# ---------------------------------------------------------------- keys and layouts


# Headers that describe a row rather than identify it: never part of a proposed key.
ATTRIBUTES = {"単位", "備考", "注記", "出典", "URL", "電話番号", "住所", "所在地", "説明"}
ID_LIKE = re.compile(r"年|月|日|番号|ID|コード|No|NO|no")


def _is_dimension(col: Column, text: pa.Array) -> bool:
    """A column that may identify a row: complete, short text or an id-like / year integer,
    no measure (numbers, units, markers) and no attribute (単位, 備考)."""
    if col.missing or col.marker or col.bounds or header_key(col.title) in ATTRIBUTES:
        return False
    if col.type == "integer":
        return not col.options and bool(ID_LIKE.search(col.title))
    if col.type not in ("string", "date", "year"):
        return False
    return bool(pc.max(pc.utf8_length(text)).as_py() <= 60)


def _unique(table: dict[str, pa.Array], combo: tuple[Column, ...], n: int) -> bool:
    keyed = pa.table({f"c{i}": table[c.title] for i, c in enumerate(combo)})
    return bool(keyed.group_by(keyed.column_names).aggregate([]).num_rows == n)


def primary_key(table: dict[str, pa.Array], columns: list[Column]) -> list[str]:
    """An identifying column that is unique and complete; else every dimension column (the
    text and year columns that say what a row counts) when together they are unique; else the
    key is proposed (the officer names one)."""
    n = len(next(iter(table.values()))) if table else 0
    if n == 0:
        return []
    dims = [c for c in columns if _is_dimension(c, table[c.title])]
    for col in dims:
        if _unique(table, (col,), n):
            return [col.name]
    if len(dims) > 1 and _unique(table, tuple(dims), n):
        return [c.name for c in dims]
    return []


def standard_for(header: list[str]) -> presets.Standard | None:
    """The standard layout whose required items the header covers (NFKC-folded), most items
    matched first; a kind with no required item must match all of its items."""
    keys = {header_key(h) for h in header}
    best: tuple[float, presets.Standard] | None = None
    for standard in presets.registry().values():
        items = {header_key(i.name) for i in standard.items}
        required = {header_key(i.name) for i in standard.items if i.required}
        if not (required <= keys if required else items <= keys):
            continue
        score = len(items & keys) / len(items) + (0.01 if standard.layout == "current" else 0)
        if best is None or score > best[0]:
            best = (score, standard)
    return best[1] if best else None


def _year_headers(header: list[str]) -> list[str]:
    """Headers that are years (令和4（2022）年度, 2023年度): a wide table of years."""
    years = cells.parse_year(pa.array([h.strip() for h in header], pa.string()))
    bad = np.asarray(years.bad, dtype=bool)
    return [h for h, b in zip(header, bad, strict=True) if not b and h.strip()]


# ---------------------------------------------------------------- the draft


def draft(path: Path, name: str, *, display: str | None = None) -> Draft:
    display = display or path.name
    grid, encoding, sheet = _grid(path, display)
    if not any(any(row) for row in grid):
        raise _problem("ファイルが空です / the file is empty", display)
    row = header_row(grid)
    title_rows = [" ".join(c for c in r if c) for r in grid[: row - 1] if any(r)]
    footer = 0
    try:
        while True:  # once more without the footer, when the first read finds one
            source = open_source(
                path, display, header_row=row, sheet=sheet, encoding=encoding, footer_rows=footer
            )
            batches = list(source.batches)
            if footer or not (footer := footer_records(batches, source.problems)):
                break
    except SourceError as exc:
        raise InitError(exc.problem) from exc
    header = [h.strip() for h in source.header]
    keys = list(batches[0].columns) if batches else []
    table = {
        h: (
            pa.concat_arrays([b.columns[k] for b in batches])
            if batches
            else pa.array([], pa.string())
        )
        for h, k in zip(header, keys or header, strict=False)
    }
    table = {
        h: cells.clean_text(pc.utf8_trim_whitespace(pc.fill_null(a, ""))) for h, a in table.items()
    }
    problems = source.problems + [p for b in [source] for p in b.warnings]
    rows = len(next(iter(table.values()))) if table else 0
    resource: dict[str, Any] = {"name": name, "path": path.name}
    result = Draft(
        {}, encoding, sheet, row, title_rows, [], [], rows=rows, source_problems=problems
    )
    options: dict[str, Any] = {}
    if row != 1:
        options["header_row"] = row
    if footer:
        options["footer_rows"] = footer
        result.footer = [text for _, text in source.footer]
    if sheet:
        options["sheet"] = sheet

    standard = standard_for(header)
    years = _year_headers(header) if standard is None else []
    if standard is not None:
        result.standard, result.layout = standard.name, standard.layout
        resource.update(standard=standard.name, layout=standard.layout)
        result.columns = [infer_column(h, table[h]) for h in header]
        for col in result.columns:
            col.name = col.title
        key = primary_key(table, result.columns)
        if key:
            resource["schema"] = {"primaryKey": key}
        result.primary_key = key
    else:
        if len(years) >= 2:
            table, header = _unpivot(table, header, years)
            result.unpivot = years
            pattern = "^(?:" + "|".join(re.escape(y) for y in years) + ")$"
            options["unpivot"] = {"columns": pattern, "names_to": "年度", "values_to": "値"}
        columns = [infer_column(h, table[h]) for h in header]
        for col, fname in zip(columns, unique_names(header), strict=True):
            col.name = fname
        result.columns = columns
        result.primary_key = primary_key(table, columns)
        resource["schema"] = _schema(columns, result.primary_key, options)
    if options:
        resource["x-opendata"] = options
    result.descriptor = _package(name, title_rows[0] if title_rows else path.stem, resource)
    return result


def _unpivot(
    table: dict[str, pa.Array], header: list[str], years: list[str]
) -> tuple[dict[str, pa.Array], list[str]]:
    """The long form `reshape.unpivot` makes (year → 年度, cell → 値), rows without a value dropped."""
    kept = [h for h in header if h not in years]
    n = len(table[header[0]])
    values = pa.concat_arrays([table[y] for y in years])
    present = ~cells.missing_mask(values, [])
    picks = np.tile(np.arange(n), len(years))[present]
    long = {h: table[h].take(pa.array(picks)) for h in kept}
    long["年度"] = pa.array(np.repeat(np.array(years, dtype=object), n)[present], pa.string())
    long["値"] = values.filter(pa.array(present))
    return long, [*kept, "年度", "値"]


def _schema(columns: list[Column], key: list[str], options: dict[str, Any]) -> dict[str, Any]:
    fields: list[dict[str, Any]] = []
    markers: dict[str, str] = {}
    ranges: dict[str, list[str]] = {}
    names = {c.name for c in columns}
    for col in columns:
        fld: dict[str, Any] = {"name": col.name, "title": col.title, "type": col.type}
        fld.update(col.options)
        fld["description"] = ""
        if col.rows and not col.missing:
            fld["constraints"] = {"required": True}
        fields.append(fld)
        if col.bounds:
            targets = [col.name, f"{col.name}_comparator"] + (
                [f"{col.name}_max"] if col.ranged else []
            )
            ranges[col.title] = targets
            fields.append(
                {
                    "name": targets[1],
                    "title": f"{col.title}（比較）",
                    "type": "string",
                    "description": "",
                }
            )
            if col.ranged:
                fields.append(
                    {
                        "name": targets[2],
                        "title": f"{col.title}（上限）",
                        "type": "number",
                        "description": "",
                        **col.options,
                    }
                )
        if col.marker and col.marker not in markers:
            flag = MARKERS[col.marker]
            while flag in names:
                flag += "_flag"
            names.add(flag)
            markers[col.marker] = flag
            fields.append({"name": flag, "title": col.marker, "type": "boolean", "description": ""})
    if ranges:
        options["ranges"] = ranges
    if markers:
        options["markers"] = markers
    schema: dict[str, Any] = {"fields": fields}
    if key:
        schema["primaryKey"] = key
    return schema


TODO = ""  # a blank the officer fills in; `build` reports each as a metadata warning


def _package(name: str, title: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "description": TODO,
        "keywords": [],
        "license": "CC-BY-4.0",
        "x-opendata": {
            "title_en": TODO,
            "description_en": TODO,
            "department": TODO,
            "themes": [],
        },
        "resources": [resource],
    }
