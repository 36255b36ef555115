"""Nothing lost, nothing invented: every row the officer's file holds is published, or the
build says exactly why not (issue "Nothing lost, nothing stale", readers)."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from pipeline import build

from conftest import MINIMAL, MINIMAL_CSV, errors_of, opendata, report, write_dataset

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
    page = (tmp_path / "dist/datasets/sample-budget/index.html").read_text(encoding="utf-8")
    assert "あ" * 199 + "…" in page and len(page) < 100_000  # the page shows a cut of it


def test_a_multiline_cell_larger_than_a_block_deep_in_the_file_is_read(tmp_path: Path) -> None:
    lines = "".join(f"{i},x,{i},2022\n" for i in range(1, 20001))
    cell = "行" * 100 + "\n"  # a quoted cell of 3 MB over 10,000 short lines
    text = f'番号,名称,金額,年度\n{lines}20001,"{cell * 10000}",1,2022\n20002,z,2,2022\n'
    code, result = _build(tmp_path, text)
    assert code == 0, result
    rows = _published(tmp_path)
    assert len(rows) == 20002 and [r["id"] for r in rows[-2:]] == [20001, 20002]
    assert result["datasets"][0]["rows"] == {"items": 20002}


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_rows_after_a_reopened_block_keep_their_numbers_in_any_encoding(
    tmp_path: Path, encoding: str
) -> None:
    """A quoted cell of short lines (4.5 MB) outgrows the first block mid-file, so the file
    is reopened past the rows read; a ragged row before and after it keeps its number, and a
    Shift_JIS file is read as Shift_JIS there too (it was refused as broken UTF-8)."""
    lines = "".join(f"{i},x,{i},2022\n" for i in range(1, 1001))
    cell = "行" * 100 + "\n"
    text = (
        f"番号,名称,金額,年度\n{lines}1001,b,1,2023,extra\n"
        f'1002,"{cell * 15000}",1,2022\n1003,c,3,2024,extra\n1004,d,4,2024\n'
    )
    write_dataset(tmp_path, MINIMAL, {"items.csv": text}, encoding=encoding)
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    problems = [(e["type"], e["row"]) for e in result["datasets"][0]["errors"]]
    # the row after the cell is record 1004 as Excel numbers it (its line is 16,005)
    assert code == 1 and problems == [("extra-cell", 1002), ("extra-cell", 1004)]


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


def _workbook(
    root: Path, build_sheets: Callable[[openpyxl.Workbook], None], **options: Any
) -> Path:
    """An officer's workbook as the dataset's source (MINIMAL's fields, read from XLSX)."""
    book = openpyxl.Workbook()
    build_sheets(book)
    buffer = io.BytesIO()
    book.save(buffer)
    definition = copy.deepcopy(MINIMAL)
    definition["resources"][0]["path"] = "items.xlsx"
    if options:
        definition["resources"][0]["x-opendata"] = options
    return write_dataset(root, definition, {"items.xlsx": buffer.getvalue()})


def _table(sheet: Any, *rows: list[Any]) -> None:
    sheet.append(["番号", "名称", "金額", "年度"])
    for row in rows:
        sheet.append(row)


def test_a_hidden_first_sheet_is_not_published_instead_of_the_visible_one(tmp_path: Path) -> None:
    def sheets(book: openpyxl.Workbook) -> None:
        hidden = book.active
        hidden.title, hidden.sheet_state = "作業用", "hidden"
        _table(hidden, [9, "内部メモ", 1, 2022])
        _table(book.create_sheet("公開"), [1, "庁舎管理", 3200, 2022])

    _workbook(tmp_path, sheets)
    code, result = _build_existing(tmp_path)
    assert code == 0, result
    assert [r["label"] for r in _published(tmp_path)] == ["庁舎管理"]


def test_a_hidden_sheet_is_read_only_when_named_and_then_with_a_warning(tmp_path: Path) -> None:
    def sheets(book: openpyxl.Workbook) -> None:
        _table(book.active, [1, "庁舎管理", 3200, 2022])
        hidden = book.create_sheet("veryhidden")
        hidden.sheet_state = "veryHidden"
        _table(hidden, [9, "内部メモ", 1, 2022])

    _workbook(tmp_path, sheets, sheet="veryhidden")
    code, result = _build_existing(tmp_path)
    assert code == 0 and [r["label"] for r in _published(tmp_path)] == ["内部メモ"]
    warnings = result["datasets"][0]["warnings"]
    (warning,) = [w for w in warnings if w["type"] == "source-warning"]
    assert "非表示" in warning["message"] and warning["file"] == "sample-budget/items.xlsx"


def test_merged_cells_in_the_table_are_errors_naming_the_range(tmp_path: Path) -> None:
    def sheets(book: openpyxl.Workbook) -> None:
        sheet = book.active
        sheet.append(["予算の例"])
        sheet.merge_cells("A1:D1")  # a merged title above the header is fine
        _table(sheet, [1, "庁舎管理", 3200, 2022], [2, "情報化", 100, 2023])
        sheet.merge_cells("C3:C4")  # one amount for two rows: the second is lost

    _workbook(tmp_path, sheets, header_row=2)
    code, result = _build_existing(tmp_path)
    errors = result["datasets"][0]["errors"]
    assert code == 1 and [(e["row"], e["value"]) for e in errors] == [(3, "C3:C4")]
    assert "結合" in errors[0]["message"]


def test_a_formula_without_a_saved_value_is_an_error_not_an_empty_cell(tmp_path: Path) -> None:
    def sheets(book: openpyxl.Workbook) -> None:
        _table(book.active, [1, "庁舎管理", 3200, 2022], [2, "情報化", "=C2*2", 2023])

    _workbook(tmp_path, sheets)  # openpyxl saves formulas without values, as some tools do
    code, result = _build_existing(tmp_path)
    errors = result["datasets"][0]["errors"]
    assert code == 1 and [(e["row"], e["value"]) for e in errors] == [(3, "C3")]
    assert "数式" in errors[0]["message"]


def test_a_workbook_that_inflates_past_the_limit_is_refused_before_it_is_read(
    tmp_path: Path,
) -> None:
    """A small file that unpacks to more than the limit (set to 1 MB here with the
    environment variable, as 1 GB of test data would cost minutes) is refused from the
    archive's table of contents."""
    rows = [[i, "あ" * 200, i, 2022] for i in range(1, 3001)]  # ~2 MB of sheet XML
    _workbook(tmp_path, lambda book: _table(book.active, *rows))
    assert (tmp_path / "datasets/sample-budget/items.xlsx").stat().st_size < 1 << 20
    done = opendata(
        "validate", "--datasets", str(tmp_path / "datasets"), "--json",
        env={"OPENDATA_MAX_XLSX_MB": "1"},
    )  # fmt: skip
    errors = json.loads(done.stdout)["datasets"][0]["errors"]
    assert done.returncode == 1 and "上限の 1 MB" in errors[0]["message"]
    assert _build_existing(tmp_path)[0] == 0  # within the default limit of 1 GB


def test_a_formula_whose_saved_value_is_empty_text_is_read_as_empty(tmp_path: Path) -> None:
    """Excel saves =IF(…,"",…) as a text result with an empty value: that is a value."""

    def sheets(book: openpyxl.Workbook) -> None:
        _table(book.active, [1, "庁舎管理", 3200, 2022], [2, '=IF(A3=2,"","x")', 100, 2023])

    folder = _workbook(tmp_path, sheets)
    _saved_as_excel_does(folder / "items.xlsx", "B3")
    code, result = _build_existing(tmp_path)
    assert code == 0, result
    assert [r["label"] for r in _published(tmp_path)] == ["庁舎管理", None]


def _saved_as_excel_does(path: Path, ref: str) -> None:
    """Rewrite one formula cell as Excel saves an empty text result: t="str" and <v></v>."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    start = sheet.index(f'<c r="{ref}"')
    end = sheet.index("</c>", start) + len("</c>")
    formula = sheet[start:end].split("<f>")[1].split("</f>")[0]
    cell = f'<c r="{ref}" t="str"><f>{formula}</f><v></v></c>'
    parts["xl/worksheets/sheet1.xml"] = (sheet[:start] + cell + sheet[end:]).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def test_without_proc_a_source_saved_over_during_a_build_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where /proc/self/fd cannot pin the file, the build reads it by name and notices any
    change at that name instead."""
    from pipeline import files

    folder = write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    monkeypatch.setattr(files, "open_path", lambda fd, name: name)

    def editor_saves(path: Path) -> None:
        fresh = folder / ".items.csv.new"
        fresh.write_text(MINIMAL_CSV + "3,新規,1,2024\n", encoding="utf-8")
        os.replace(fresh, folder / "items.csv")

    _replace_after_open(monkeypatch, editor_saves)
    code, result = _build_existing(tmp_path)
    assert code == 1 and "書き換えられました" in result["datasets"][0]["errors"][0]["message"]


def test_an_output_parked_by_a_run_killed_between_two_renames_is_put_back(
    tmp_path: Path,
) -> None:
    """Where the kernel cannot exchange two folders, `replace_directory` renames the old
    output aside, then the new one in: a run killed between the two left no output and the
    old one parked whole. The next run puts it back instead of removing it as a leftover."""
    from pipeline.files import locked, staging_beside

    site = tmp_path / "dist"
    site.mkdir()
    (site / "a.txt").write_text("old", encoding="utf-8")
    parked = tmp_path / ".dist-build-abc123-old"
    site.rename(parked)  # what the first rename of the fallback leaves
    with locked(site, "build"), staging_beside(site, "build"):
        assert (site / "a.txt").read_text(encoding="utf-8") == "old"
    assert not parked.exists()


@pytest.mark.parametrize("receiver", ["main thread", "another thread"])
@pytest.mark.usefixtures("interruptible")
def test_ctrl_c_waits_for_the_second_rename_of_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: str
) -> None:
    """The fallback forced (a mock: this kernel can exchange), and SIGINT sent right after
    its first rename: the interrupt comes once the new output is in place, not between.
    The kernel gives a process's signal to any of its threads (pyarrow's, Dask's), and
    Python then interrupts the main thread all the same."""
    import signal

    from pipeline import files

    idle = threading.Event()
    other = threading.Thread(target=idle.wait)
    other.start()
    target = other.ident if receiver == "another thread" else threading.main_thread().ident
    assert target is not None

    site, new = tmp_path / "dist", tmp_path / ".dist-build-x"
    for folder, text in ((site, "old"), (new, "new")):
        folder.mkdir()
        (folder / "a.txt").write_text(text, encoding="utf-8")
    rename = os.rename

    def rename_then_interrupt(source: Any, destination: Any) -> None:
        rename(source, destination)
        signal.pthread_kill(target, signal.SIGINT)

    monkeypatch.setattr(files, "_exchange", lambda _a, _b: False)
    monkeypatch.setattr(os, "rename", rename_then_interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            files.replace_directory(new, site)
    finally:
        idle.set()
        other.join()
    assert (site / "a.txt").read_text(encoding="utf-8") == "new"


@pytest.mark.parametrize("out", [".", "datasets", "notes", "notes/todo.txt"])
def test_the_build_never_replaces_a_folder_that_is_not_its_own_output(
    tmp_path: Path, out: str
) -> None:
    """The build swaps its whole output folder: `--out .`, the datasets themselves or a
    folder of other files were deleted by a build that succeeded."""
    from conftest import tree

    write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("大事なメモ", encoding="utf-8")
    before = tree(tmp_path)
    done = opendata("build", "--datasets", "datasets", "--out", out, cwd=tmp_path)
    assert done.returncode == 1 and "nothing was changed" in done.stderr, done.stderr
    assert tree(tmp_path) == before


def test_the_build_replaces_an_empty_folder_and_its_own_output(tmp_path: Path) -> None:
    import shutil

    write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    (tmp_path / "site").mkdir()
    for _ in range(2):  # empty, then its own output
        done = opendata("build", "--datasets", "datasets", "--out", "site", "--no-catalog",
                        cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
    shutil.rmtree(tmp_path / "site/datasets/.build")  # as a build made before they were kept
    done = opendata("build", "--datasets", "datasets", "--out", "site", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_a_dataset_named_as_the_catalogs_own_list_is_refused_not_written_over(
    tmp_path: Path,
) -> None:
    from catalog.metadata.opendata_list import NAME

    write_dataset(tmp_path, MINIMAL | {"name": NAME}, {"items.csv": MINIMAL_CSV})
    done = opendata("build", "--datasets", "datasets", "--out", "dist", cwd=tmp_path)
    assert done.returncode == 1 and f"the name {NAME} is the catalog's own" in done.stderr
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize("misnamed", ["dataset.yml", "Dataset.yaml"])
def test_a_definition_named_almost_dataset_yaml_is_said_not_left_out(
    tmp_path: Path, misnamed: str
) -> None:
    folder = write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    (folder / "dataset.yaml").rename(folder / misnamed)
    for command in ("validate", "build"):
        done = opendata(command, "--datasets", "datasets", cwd=tmp_path)
        assert done.returncode == 1 and f"rename {folder.name}/{misnamed}" in done.stderr


UTF8_ITEMS = MINIMAL_CSV.encode("utf-8")
UTF16_ITEMS = MINIMAL_CSV.encode("utf-16")  # with its BOM


@pytest.mark.parametrize(
    ("declared", "data", "named"),
    [
        ("utf-16", UTF16_ITEMS[2:], "utf-16"),  # no BOM to say its byte order
        ("undefined", UTF8_ITEMS, "undefined"),  # Python's codec that decodes nothing
        (None, UTF16_ITEMS[:-1], "utf-16"),  # cut inside its last character
        ("cp932", UTF8_ITEMS.replace(b"3200", b"\x81\x20"), "cp932"),
        ("shift_jis", UTF8_ITEMS, "shift_jis"),
    ],
)
def test_text_that_is_not_in_its_encoding_is_located_in_that_encoding(
    tmp_path: Path, declared: str | None, data: bytes, named: str
) -> None:
    """Three were internal errors (Python's UnicodeError), and every one was reported as
    "invalid UTF-8 at byte 0" whatever the file was read in."""
    definition = copy.deepcopy(MINIMAL)
    if declared:
        definition["resources"][0]["encoding"] = declared
    write_dataset(tmp_path, definition, {"items.csv": data})
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    problem = errors_of(result)[0]
    assert code == 1 and problem["type"] == "encoding-error", problem
    assert f"no {named} text" in problem["message"], problem


@pytest.mark.parametrize("kind", ["pipe", "endless device"])
def test_a_dataset_yaml_that_is_no_regular_file_is_refused_not_waited_on(
    tmp_path: Path, kind: str
) -> None:
    """A pipe made validate wait for ever; a link to /dev/zero read until memory ran out. A
    process of its own: a hang is what is tested."""
    import subprocess
    import sys

    from conftest import ROOT

    folder = write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    (folder / "dataset.yaml").unlink()
    if kind == "pipe":
        os.mkfifo(folder / "dataset.yaml")
    else:
        (folder / "dataset.yaml").symlink_to("/dev/zero")
    command = [sys.executable, "-m", "catalog", "validate", "--datasets", "datasets"]
    done = subprocess.run(command, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1 and "is not a regular file" in done.stderr, done.stderr


def test_an_output_beside_which_nothing_can_be_written_is_said(tmp_path: Path) -> None:
    """/proc takes no new file (the lock beside the output): it was an internal error."""
    write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    done = opendata("build", "--datasets", "datasets", "--out", "/proc/site", cwd=tmp_path)
    assert done.returncode == 1 and "cannot write beside the output /proc/site" in done.stderr


def test_hidden_rows_of_a_sheet_are_published_with_a_warning(tmp_path: Path) -> None:
    """Rows an officer hid (or filtered out) in Excel were published without a word."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (
        ["番号", "名称", "金額", "年度"],
        [1, "a", 1, 2022],
        [2, "b", 2, 2022],
        [3, "c", 3, 2022],
    ):
        sheet.append(row)
    sheet.row_dimensions[3].hidden = True
    definition = copy.deepcopy(MINIMAL)
    definition["resources"][0]["path"] = "items.xlsx"
    folder = write_dataset(tmp_path, definition, {})
    book.save(folder / "items.xlsx")
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    warnings = result["datasets"][0]["warnings"]
    assert code == 0 and [(w["type"], w["row"]) for w in warnings] == [("source-warning", 3)]
    assert "hidden rows (3)" in warnings[0]["message"]


def test_a_file_name_a_mac_saved_decomposed_is_found(tmp_path: Path) -> None:
    """がっこう.csv in dataset.yaml (composed) and on disk as macOS saves it (NFD): it was
    "file not found" beside a file `ls` shows."""
    import unicodedata

    definition = copy.deepcopy(MINIMAL)
    definition["resources"][0]["path"] = "がっこう.csv"
    folder = write_dataset(tmp_path, definition, {})
    (folder / unicodedata.normalize("NFD", "がっこう.csv")).write_text(
        MINIMAL_CSV, encoding="utf-8"
    )
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    assert code == 0, errors_of(result)


def test_a_source_that_is_a_folder_is_said_to_be_one(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path, MINIMAL, {})
    (folder / "items.csv").mkdir()
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    assert code == 1 and "is a folder, not a file" in errors_of(result)[0]["message"]
