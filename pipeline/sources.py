"""Reading the files officers keep — CSV in any common Japanese encoding, or an XLSX sheet —
into batches of text columns, each row tagged with its row number in the source file.

Every reader speaks one small interface (`Source`): the header as written, then batches.
Nothing is typed here; `convert` decides what each cell means.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import workbook
from .errors import Problem
from .limits import RECORD, UNPACKED_XLSX

BLOCK_SIZE = 2 << 20  # bytes of CSV per batch: large enough for throughput, small for memory
SNIFF_BYTES = 64 << 10


@dataclass
class RawBatch:
    """Text cells of some source rows. `origins` names, per row, the source column a reshaped
    column came from (unpivot), so problems still point at the officer's cell."""

    columns: dict[str, pa.Array]
    rows: pa.Array  # int64 row numbers as the officer sees them (header row = its own number)
    origins: dict[str, pa.Array] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class Source:
    """A readable table: its header, a batch iterator, and the problems met while reading."""

    file: str
    header: list[str]
    header_row: int
    batches: Iterator[RawBatch]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    # The rows under the table left out by `footer_rows` (row number, its text), complete once
    # the batches are read: reported, never dropped silently.
    footer: list[tuple[int, str]] = field(default_factory=list)


class SourceError(Exception):
    """The file cannot be read as a table at all."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def open_source(
    path: Path,
    display: str,
    *,
    header_row: int = 1,
    sheet: str | None = None,
    encoding: str | None = None,
    footer_rows: int = 0,
) -> Source:
    """Open a CSV or XLSX file by its content, not its name. The last `footer_rows` records
    (a version stamp such as `Ver20260714` under the table, a note) are left out of the
    batches and listed in `Source.footer`."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(path, display, header_row, sheet, footer_rows)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SourceError(
            Problem(
                "format-error",
                "古い Excel 形式（.xls）は読めません。.xlsx か CSV で保存してください"
                " / legacy .xls cannot be read; save as .xlsx or CSV",
                file=display,
            )
        )
    if encoding is None:
        encoding = _detect_encoding(path, head, display)
    return _open_csv(path, display, header_row, encoding, footer_rows)


def _detect_encoding(path: Path, head: bytes, display: str) -> str:
    """BOM first; then UTF-8 when the sample's Japanese is UTF-8 (pyarrow checks the rest as
    it reads); otherwise the whole file is tried as strict UTF-8, then cp932 (Excel's Shift_JIS)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise SourceError(
            Problem(
                "format-error",
                "テキストの表ではありません（バイナリファイル） / not a text table (binary file)",
                file=display,
            )
        )
    if not head.isascii() and _decodes(head, "utf-8"):
        return "utf-8"  # Japanese text in cp932 practically never passes as UTF-8
    failures = []
    for candidate in ("utf-8", "cp932"):
        failure = _first_undecodable(path, candidate)
        if failure is None:
            return candidate
        failures.append(failure)
    offset, line = max(failures)  # the encoding that read furthest is the one meant
    raise SourceError(
        Problem(
            "encoding-error",
            f"UTF-8 としても Shift_JIS としても読めない文字があります（{offset} バイト目）"
            f" / bytes at offset {offset} are neither UTF-8 nor Shift_JIS",
            file=display,
            row=line,
        )
    )


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample)  # a cut final char is fine
    except UnicodeDecodeError:
        return False
    return True


def _encoding_problem(path: Path, display: str, encoding: str) -> Problem:
    """Where a file stops being text in the encoding it was read in (detected or declared)."""
    offset, line = _first_undecodable(path, encoding) or (0, 1)
    named = codecs.lookup(encoding).name
    return Problem(
        "encoding-error",
        f"{named} として読めない文字があります（{offset} バイト目）。resources の encoding が"
        f"ファイルの保存形式と合っているか確かめてください / bytes at offset {offset} are no"
        f" {named} text: check that the resource's `encoding` is the one the file was saved in",
        file=display,
        row=line,
        value=encoding,
    )


def _first_undecodable(path: Path, encoding: str) -> tuple[int, int] | None:
    """Decode the whole file in chunks; return (byte offset, line) of the first bad byte."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    lines = 1
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                return bad, lines + chunk[: exc.start].count(b"\n")
            except UnicodeError:  # UTF-16 without a BOM, "undefined": no byte is text
                return offset, lines
            offset += len(chunk)
            lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeError:  # the file ends inside a character
        return offset, lines
    return None


def _read_header(path: Path, encoding: str, header_row: int, display: str) -> list[str]:
    with path.open("r", encoding=encoding, newline="") as fh:
        reader = csv.reader(fh)
        for number, record in enumerate(reader, start=1):
            if number == header_row and any(cell.lstrip("\ufeff").strip() for cell in record):
                return [cell.lstrip("\ufeff") for cell in record]
            if number == header_row:
                break
    raise SourceError(
        Problem(
            "format-error",
            f"{header_row} 行目に見出しがありません（空の行か、ファイルが短すぎます）"
            f" / no header at row {header_row} (an empty row, or the file is too short)",
            file=display,
            row=header_row,
        )
    )


def _open_csv(path: Path, display: str, header_row: int, encoding: str, footer_rows: int) -> Source:
    try:
        header = _read_header(path, encoding, header_row, display)
    except UnicodeError as exc:
        raise SourceError(_encoding_problem(path, display, encoding)) from exc
    batches = _CsvBatches(path, display, header, header_row, encoding, footer_rows)
    batches.open(_scan(path, display, encoding))
    source = Source(display, header, header_row, iter(batches), batches.problems)
    source.footer = batches.footer
    return source


def _scan(path: Path, display: str, encoding: str) -> int:
    """One pass over the bytes, with NumPy a chunk at a time: a NUL byte anywhere is refused
    (it is no character of a text table), and the block size returned holds the longest line
    twice over (a batch must hold whole records); a line over the limit is refused."""
    longest, start, number, position, lines = 0, 0, 1, 0, 0  # lines: ended before this chunk
    nul_is_text = codecs.lookup(encoding).name.startswith("utf-16")
    with path.open("rb") as fh:
        while chunk := fh.read(16 << 20):
            data = np.frombuffer(chunk, dtype=np.uint8)
            ends = np.flatnonzero(data == 10)
            nul = np.flatnonzero(data == 0)
            if len(nul) and not nul_is_text:
                line = lines + int(np.searchsorted(ends, nul[0])) + 1
                raise SourceError(_nul_byte(display, line))
            if len(ends):
                gaps = np.diff(ends + position, prepend=start)
                at = int(np.argmax(gaps))
                if gaps[at] > longest:
                    longest, number = int(gaps[at]), lines + at + 1
                start = int(ends[-1]) + position + 1
            lines += len(ends)
            position += len(chunk)
    if position - start > longest:
        longest, number = position - start, lines + 1
    if longest > RECORD.bytes:
        raise SourceError(_record_too_large(display, number))
    size = BLOCK_SIZE
    while size < 2 * longest and size < RECORD.bytes:
        size *= 2
    return size


def _nul_byte(display: str, row: int) -> Problem:
    return Problem(
        "format-error",
        f"{row} 行目に NUL 文字（0x00）があります。表計算ソフトで開き直して CSV で保存してください"
        f" / a NUL byte (0x00) at row {row}: open the file and save it as CSV again",
        file=display,
        row=row,
    )


def _straddles(exc: pa.ArrowInvalid) -> bool:
    return "straddling" in str(exc)


def _record_too_large(display: str, row: int) -> Problem:
    limit = RECORD.megabytes
    return Problem(
        "format-error",
        f"{row} 行目付近に {limit} MB を超える行（セル）があります。大きな値は別のファイルに分けてください"
        f" / a row (cell) near row {row} is larger than {limit} MB; keep large values in a file of their own",
        file=display,
        row=row,
    )


def _unreadable(display: str, exc: Exception) -> Problem:
    return Problem(
        "format-error", f"CSV として読めません / not a readable CSV: {exc}", file=display
    )


class _CsvBatches:
    """Batches of a CSV file with true row numbers; ragged rows become problems.

    A block must hold whole records. It starts at twice the longest line; a record with
    quoted line breaks can still outgrow it, and then the file is opened again with a block
    twice as large, past the records already read (up to the RECORD limit).

    The last batch is held back until the file ends, so that the footer (the last
    `footer_rows` records, well-formed or ragged) can be cut from it."""

    def __init__(
        self,
        path: Path,
        display: str,
        header: list[str],
        header_row: int,
        encoding: str,
        footer_rows: int = 0,
    ):
        self.path = path
        self.display = display
        self.header = header
        self.header_row = header_row
        self.encoding = encoding
        self.names = [f"c{i}" for i in range(len(header))]
        self.reader: pacsv.CSVStreamingReader | None = None
        self.block_size = BLOCK_SIZE
        self.next_row = header_row + 1  # the record the next batch starts at
        self.invalid: dict[int, tuple[int, int, str]] = {}
        self.reported: set[int] = set()
        self.problems: list[Problem] = []
        self.footer_rows = footer_rows
        self.footer: list[tuple[int, str]] = []

    def open(self, block_size: int) -> None:
        """Start reading at `next_row`, growing the block while a record straddles it."""
        self.block_size = block_size
        while True:
            try:
                self.reader = self._arrow_reader()
                return
            except UnicodeError as exc:  # Python's decoder, which Arrow reads other encodings by
                raise self._not_in_encoding() from exc
            except pa.ArrowInvalid as exc:
                if _straddles(exc) and self.block_size < self.path.stat().st_size:
                    self._grow(exc)
                    continue
                if _first_undecodable(self.path, self.encoding) is not None:
                    raise self._not_in_encoding() from exc
                if not _straddles(exc) or self.next_row != self.header_row + 1:
                    raise SourceError(_unreadable(self.display, exc)) from exc  # never drop rows
                self.reader = None  # the whole file is one block ending at its header: no rows
                return

    def _grow(self, exc: pa.ArrowInvalid) -> None:
        if self.block_size >= RECORD.bytes:
            raise SourceError(_record_too_large(self.display, self.next_row)) from exc
        self.block_size *= 2

    def _arrow_reader(self) -> pacsv.CSVStreamingReader:
        return pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(
                use_threads=False,  # keeps the line numbers of ragged rows
                block_size=self.block_size,
                # Records, not lines: a title or header cell may span lines inside quotes.
                skip_rows_after_names=self.next_row - 1,
                column_names=self.names,
                encoding=_arrow_encoding(self.encoding),
            ),
            parse_options=pacsv.ParseOptions(
                ignore_empty_lines=False,
                invalid_row_handler=self.on_invalid_row,
                newlines_in_values=True,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(self.names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    def on_invalid_row(self, row: pacsv.InvalidRow) -> str:
        self.invalid[row.number] = (row.expected_columns, row.actual_columns, row.text)
        return "skip"

    def _not_in_encoding(self) -> SourceError:
        return SourceError(_encoding_problem(self.path, self.display, self.encoding))

    def __iter__(self) -> Iterator[RawBatch]:
        try:
            yield from self._batches()
        except UnicodeError as exc:  # Python's decoder, which Arrow reads other encodings by
            raise self._not_in_encoding() from exc
        finally:
            # The reader holds `on_invalid_row`, a method of this object, inside Arrow, where
            # the cycle collector cannot see it: dropped here, or every file stays open.
            self.reader = None

    def _batches(self) -> Iterator[RawBatch]:
        held: list[RawBatch] = []
        while True:
            try:
                for batch in self._read():
                    held.append(batch)
                    # Released once enough rows follow it that no footer record can be in it.
                    while len(held) > 1 and sum(map(len, held[1:])) >= self.footer_rows:
                        yield held.pop(0)
                break
            except pa.ArrowInvalid as exc:
                if _straddles(exc):  # a record with line breaks outgrew the block
                    self._grow(exc)
                    self.open(self.block_size)
                    continue
                if _first_undecodable(self.path, self.encoding) is not None:
                    raise self._not_in_encoding() from exc
                raise SourceError(_unreadable(self.display, exc)) from exc
        yield from self._without_footer(held)
        self._report_ragged()

    def _without_footer(self, held: list[RawBatch]) -> Iterator[RawBatch]:
        """The held batches less the file's last `footer_rows` records, which go to `footer`."""
        if not self.footer_rows:
            yield from held
            return
        good = np.concatenate([b.rows.to_numpy() for b in held]) if held else np.array([], int)
        last = sorted({*good[-self.footer_rows :].tolist(), *self.invalid})[-self.footer_rows :]
        for number in last:
            if number in self.invalid:
                self.reported.add(number)  # not a ragged row of the table: the footer
                self.footer.append((number, self.invalid[number][2]))
        cut = pa.array([n for n in last if n not in self.invalid], pa.int64())
        for batch in held:
            keep = pc.invert(pc.is_in(batch.rows, cut))
            for number, text in zip(
                batch.rows.filter(pc.invert(keep)).to_pylist(),
                _row_texts(batch, pc.invert(keep)),
                strict=True,
            ):
                self.footer.append((number, text))
            if len(kept := _filtered(batch, keep)):
                yield kept
        self.footer.sort()

    def _read(self) -> Iterator[RawBatch]:
        for batch in self.reader or ():
            rows = _row_numbers(self.next_row, batch.num_rows, self.invalid)
            if len(rows):
                self.next_row = int(rows[-1]) + 1
            if not self.footer_rows:  # else at the end, when the footer's records are known
                self._report_ragged()
            yield RawBatch(
                columns=dict(zip(column_keys(self.header), batch.columns, strict=True)),
                rows=pa.array(rows, pa.int64()),
            )

    def _report_ragged(self) -> None:
        for number in sorted(set(self.invalid) - self.reported):
            self.reported.add(number)
            self.problems.append(_ragged_row_problem(self.display, number, *self.invalid[number]))


def _filtered(batch: RawBatch, mask: pa.Array) -> RawBatch:
    return RawBatch(
        columns={k: v.filter(mask) for k, v in batch.columns.items()},
        rows=batch.rows.filter(mask),
        origins={k: v.filter(mask) for k, v in batch.origins.items()},
    )


def _row_texts(batch: RawBatch, mask: pa.Array) -> list[str]:
    """The chosen rows as the officer wrote them: their filled cells, space-separated."""
    cells = [column.filter(mask).to_pylist() for column in batch.columns.values()]
    return [" ".join(c for c in row if c and c.strip()) for row in zip(*cells, strict=True)]


def column_keys(header: list[str]) -> list[str]:
    """A key per source column: its header, or its position where the header is blank, so two
    blank-headed columns never merge into one."""
    return [
        name if name.strip() else f"(列{i + 1} column {i + 1})" for i, name in enumerate(header)
    ]


def _row_numbers(first: int, count: int, skipped: Mapping[int, object]) -> np.ndarray:
    """The row numbers of `count` consecutive good rows from `first`, stepping over bad rows."""
    if not skipped:
        return np.arange(first, first + count, dtype=np.int64)
    candidates = np.arange(first, first + count + len(skipped), dtype=np.int64)
    bad = np.fromiter(skipped, dtype=np.int64, count=len(skipped))
    return candidates[~np.isin(candidates, bad)][:count]


def _ragged_row_problem(
    display: str, number: int, expected: int, actual: int, text: str
) -> Problem:
    kind = "extra-cell" if actual > expected else "missing-cell"
    return Problem(
        kind,
        f"見出しは {expected} 列ですが、この行は {actual} 列です"
        f" / the header has {expected} cells, this row {actual}",
        file=display,
        row=number,
        value=text[:200],
    )


def _open_xlsx(
    path: Path, display: str, header_row: int, sheet: str | None, footer_rows: int = 0
) -> Source:
    from python_calamine import CalamineWorkbook, SheetVisibleEnum

    try:
        workbook.check_size(path)
        book = CalamineWorkbook.from_path(str(path))
    except workbook.TooLarge as exc:
        raise SourceError(_inflates_too_much(display, exc.inflated)) from exc
    except Exception as exc:  # zipfile and calamine raise their own errors for broken archives
        raise SourceError(_unreadable_xlsx(display, exc)) from exc
    names = book.sheet_names
    visible = [m.name for m in book.sheets_metadata if m.visible == SheetVisibleEnum.Visible]
    warnings = []
    if sheet is not None and sheet not in names:
        raise SourceError(
            Problem(
                "package-error",
                f"シート {sheet!r} がありません（{', '.join(names)}） / no such sheet",
                file=display,
                value=sheet,
            )
        )
    if sheet is not None and sheet not in visible:
        warnings.append(_hidden_sheet(display, sheet))
    if sheet is None and not visible:
        raise SourceError(
            Problem(
                "format-error",
                "表示されているシートがありません。読むシートを sheet で指定してください"
                " / no visible sheet: name the sheet to read with `sheet`",
                file=display,
            )
        )
    chosen = sheet or visible[0]  # a hidden sheet is read only when named
    try:
        worksheet = book.get_sheet_by_name(chosen)
        cells = worksheet.to_python(skip_empty_area=False)
    except Exception as exc:  # calamine's own errors for a broken sheet
        raise SourceError(_unreadable_xlsx(display, exc)) from exc
    if len(cells) < header_row:
        raise SourceError(
            Problem(
                "format-error",
                f"シート {chosen!r} の {header_row} 行目に見出しがありません（読むシートは"
                f" sheet で指定できます） / no header at row {header_row} of sheet {chosen!r}"
                " (name the sheet to read with `sheet`)",
                file=display,
            )
        )
    header = [_cell_text(v) for v in cells[header_row - 1]]
    while header and header[-1] == "":
        header.pop()
    width = len(header)
    problems = []
    body = cells[header_row:]
    cut = len(body) - min(footer_rows, len(body))
    footer = [
        (header_row + 1 + cut + i, " ".join(t for v in row if (t := _cell_text(v).strip())))
        for i, row in enumerate(body[cut:])
    ]
    body = body[:cut]
    for offset, row in enumerate(body):
        extra = [v for v in row[width:] if _cell_text(v) != ""]
        if extra:
            problems.append(
                _ragged_row_problem(display, header_row + 1 + offset, width, width + len(extra), "")
            )
    problems += _merged_cells(display, worksheet.merged_cell_ranges, header_row)
    try:
        marks = workbook.sheet_marks(path, chosen, header_row)
    except (zipfile.BadZipFile, ElementTree.ParseError, KeyError, ValueError) as exc:
        raise SourceError(_unreadable_xlsx(display, exc)) from exc
    problems += [_formula_without_value(display, ref, row) for ref, row in marks.unsaved]
    if marks.hidden:
        warnings.append(_hidden_rows(display, chosen, marks.hidden))
    columns = {
        name: pa.array([_cell_text(row[i]) if i < len(row) else "" for row in body], pa.string())
        for i, name in enumerate(column_keys(header))
    }
    rows = pa.array(np.arange(header_row + 1, header_row + 1 + len(body)), pa.int64())
    batch = RawBatch(columns=columns, rows=rows)
    return Source(display, header, header_row, iter([batch]), problems, warnings, footer)


def _hidden_rows(display: str, sheet: str, rows: list[int]) -> Problem:
    shown = ", ".join(map(str, rows[:10])) + (" …" if len(rows) > 10 else "")
    return Problem(
        "source-warning",
        f"シート {sheet!r} に非表示の行があります（{shown} 行目）。非表示でも公開されます。"
        f"公開しない行なら削除してください / sheet {sheet!r} has hidden rows ({shown}), which"
        " are published all the same: delete them if they are not for publication",
        file=display,
        row=rows[0],
    )


def _column_letter(index: int) -> str:
    """0 → A, 26 → AA: the column as Excel names it."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _merged_cells(
    display: str, ranges: list[tuple[tuple[int, int], tuple[int, int]]] | None, header_row: int
) -> list[Problem]:
    """Merged cells in the table (a merged title above it is fine): each names its range."""
    problems = []
    for (top, left), (bottom, right) in ranges or []:
        if bottom + 1 < header_row:
            continue
        where = f"{_column_letter(left)}{top + 1}:{_column_letter(right)}{bottom + 1}"
        problems.append(
            Problem(
                "format-error",
                f"セル {where} が結合されています。結合を解除し、各セルに値を入れてください"
                f" / cells {where} are merged: unmerge them and fill in every cell",
                file=display,
                row=top + 1,
                value=where,
            )
        )
    return problems


def _formula_without_value(display: str, ref: str, row: int) -> Problem:
    return Problem(
        "format-error",
        f"セル {ref} の数式に保存された値がありません。Excel で開いて保存し直してください"
        f" / the formula in {ref} has no saved value: open the file in Excel and save it again",
        file=display,
        row=row,
        value=ref,
    )


def _hidden_sheet(display: str, sheet: str) -> Problem:
    return Problem(
        "source-warning",
        f"シート {sheet!r} は非表示です。公開してよい表か確認してください"
        f" / sheet {sheet!r} is hidden: make sure it is meant to be published",
        file=display,
        value=sheet,
    )


def _inflates_too_much(display: str, inflated: int) -> Problem:
    limit, size = UNPACKED_XLSX.megabytes, -(-inflated // (1 << 20))  # rounded up
    return Problem(
        "format-error",
        f"XLSX を展開すると {size} MB になり、上限の {limit} MB を超えます。表を分けてください"
        f" / the XLSX unpacks to {size} MB, over the {limit} MB limit: split the table",
        file=display,
    )


def _unreadable_xlsx(display: str, exc: Exception) -> Problem:
    return Problem(
        "format-error",
        f"XLSX として読めません（{type(exc).__name__}: {exc}）。Excel で開いて保存し直してください"
        f" / not a readable XLSX ({type(exc).__name__}: {exc}): open it in Excel and save it again",
        file=display,
    )


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text the officer sees (12.0 is 12; dates are ISO)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat() if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _arrow_encoding(encoding: str) -> str:
    """pyarrow reads UTF-8 natively only when told "utf8"; any other name goes through a slow
    Python transcoder."""
    return "utf8" if codecs.lookup(encoding).name == "utf-8" else encoding
