"""What an XLSX file says beyond its cell values, read from its XML parts: how much it
inflates to (a small file can expand to gigabytes), and which cells hold a formula with no
saved value (calamine reads those as empty). Streamed with the standard library."""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from .limits import UNPACKED_XLSX

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
CELL_REF = re.compile(r"([A-Z]+)([0-9]+)")


class TooLarge(Exception):
    def __init__(self, inflated: int):
        super().__init__(f"{inflated} bytes unpacked")
        self.inflated = inflated


def check_size(path: Path) -> None:
    """Refuse a workbook whose parts unpack to more than the limit (as the archive declares
    them; the reader below also stops at the limit, whatever the archive declares)."""
    with zipfile.ZipFile(path) as archive:
        inflated = sum(info.file_size for info in archive.infolist())
    if inflated > UNPACKED_XLSX.bytes:
        raise TooLarge(inflated)


@dataclass
class SheetMarks:
    """What a sheet's XML says of its rows from the table's first on, beyond their values."""

    unsaved: list[tuple[str, int]] = field(default_factory=list)  # formulas: (address, row)
    hidden: list[int] = field(default_factory=list)  # rows hidden (or filtered out) in Excel


def sheet_marks(path: Path, sheet: str, first_row: int) -> SheetMarks:
    """The sheet's formula cells with no saved value, and its hidden rows, in one pass."""
    marks = SheetMarks()
    with zipfile.ZipFile(path) as archive:
        part = _sheet_part(archive, sheet)
        if part is None:
            return marks
        with archive.open(part) as stream:
            # zipfile stops at a member's declared size, which check_size has bounded.
            for _event, cell in ElementTree.iterparse(stream, events=("end",)):
                if cell.tag == f"{MAIN}row":
                    number = int(cell.get("r") or 0)
                    if cell.get("hidden") in ("1", "true") and number >= first_row:
                        marks.hidden.append(number)
                    cell.clear()
                    continue
                if cell.tag != f"{MAIN}c":
                    continue
                formula, value = cell.find(f"{MAIN}f"), cell.find(f"{MAIN}v")
                ref = cell.get("r", "")
                match = CELL_REF.fullmatch(ref)
                row = int(match.group(2)) if match else 0
                # An empty <v/> is a saved value only for a text result (t="str": the "" of
                # =IF(A2="","",…)); for a number, as for no <v> at all, nothing was saved.
                empty = value is None or (not value.text and cell.get("t") != "str")
                unsaved = formula is not None and empty
                if unsaved and row >= first_row:
                    marks.unsaved.append((ref, row))
                cell.clear()
    return marks


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The archive member holding a sheet, by the workbook's name → relationship → target."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rel_id = next(
        (s.get(REL_ID) for s in workbook.iter(f"{MAIN}sheet") if s.get("name") == sheet), None
    )
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    target = next(
        (r.get("Target") for r in rels.iter(f"{RELS}Relationship") if r.get("Id") == rel_id), None
    )
    if target is None:
        return None
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
