"""`opendata build`: identical bytes whatever the source encoding, deterministic, atomic."""

from __future__ import annotations

import io
import json
import shutil
from importlib.resources import files
from pathlib import Path

import jsonschema
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import MINIMAL, MINIMAL_CSV, ROOT, frictionless_report, opendata, tree, write_dataset


def _build(root: Path) -> Path:
    out = root / "dist"
    done = opendata("build", "--datasets", str(root / "datasets"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


def _xlsx(csv_text: str, title_rows: int = 0) -> bytes:
    """The table as an officer's workbook, in memory (nothing is written beside the tests)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "予算"
    for _ in range(title_rows):
        sheet.append(["予算の例（単位：円）"])
    for line in csv_text.strip().split("\n"):
        sheet.append(line.split(","))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "variant",
    ["utf-8-bom-crlf", "cp932-crlf", "cp932-lf", "utf-8-crlf", "full-width", "xlsx"],
)
def test_every_way_of_saving_the_table_builds_identical_bytes(tmp_path: Path, variant: str) -> None:
    reference = tmp_path / "reference"
    write_dataset(reference, MINIMAL, {"items.csv": MINIMAL_CSV})
    expected = tree(_build(reference))

    other = tmp_path / "other"
    crlf = MINIMAL_CSV.replace("\n", "\r\n")
    files: dict[str, str | bytes] = {
        "utf-8-bom-crlf": {"items.csv": b"\xef\xbb\xbf" + crlf.encode()},
        "cp932-crlf": {"items.csv": crlf.encode("cp932")},
        "cp932-lf": {"items.csv": MINIMAL_CSV.encode("cp932")},
        "utf-8-crlf": {"items.csv": crlf.encode()},
        "full-width": {
            "items.csv": MINIMAL_CSV.replace("3200", "３２００")
            .replace("2023", "２０２３")
            .encode()
        },
        "xlsx": {"items.csv": _xlsx(MINIMAL_CSV)},
    }[variant]
    write_dataset(other, MINIMAL, files)
    actual_site = _build(other)
    actual = tree(actual_site)
    assert actual.keys() == expected.keys()
    data_files = [n for n in expected if n.endswith((".csv", ".parquet"))]
    assert len(data_files) == 4  # items and opendata-list, each CSV + Parquet
    assert {n: actual[n] for n in data_files} == {n: expected[n] for n in data_files}
    # datapackage.json differs only in the source file's own checksum (its provenance), and
    # the catalog files that quote datapackage.json's hash follow from that.
    assert _without_provenance(actual_site) == _without_provenance(reference / "dist")


def _without_provenance(site: Path) -> dict:
    package = json.loads(
        (site / "datasets/sample-budget/datapackage.json").read_text(encoding="utf-8")
    )
    package["x-opendata"].pop("provenance")
    return package


def test_xlsx_sheet_and_header_row_options(tmp_path: Path) -> None:
    definition = json.loads(json.dumps(MINIMAL))
    definition["resources"][0]["path"] = "items.xlsx"
    definition["resources"][0]["x-opendata"] = {"sheet": "予算", "header_row": 3}
    write_dataset(tmp_path, definition, {"items.xlsx": _xlsx(MINIMAL_CSV, title_rows=2)})
    out = _build(tmp_path)
    text = (out / "datasets/sample-budget/items.csv").read_bytes().decode("utf-8-sig")
    assert text.splitlines()[1] == '1,"庁舎管理",3200,2022'


def test_rebuilding_unchanged_inputs_is_byte_identical(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "datasets", tmp_path / "datasets")
    first = tree(_build(tmp_path))
    second = tree(_build(tmp_path))
    assert first == second and len(first) >= 9


def test_csv_is_utf8_with_bom_and_crlf(built_site: Path) -> None:
    data = (built_site / "datasets/plan-indicators/indicators.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == data.count(b"\n") == 32  # header + 31 indicators


def test_failed_build_leaves_previous_output_byte_for_byte(minimal: Path) -> None:
    out = _build(minimal)
    before = tree(out)
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    items = minimal / "datasets/sample-budget/items.csv"
    items.write_text(MINIMAL_CSV + "3,壊れた行,abc,2024\n", encoding="utf-8")
    done = opendata("build", "--datasets", str(minimal / "datasets"), "--out", str(out))
    assert done.returncode == 1
    assert "出力は変更していません" in done.stderr
    assert tree(out) == before
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == stamp
    assert not [p for p in minimal.iterdir() if p.name.startswith(".dist-build-")]


def test_build_replaces_output_and_drops_stale_files(minimal: Path) -> None:
    out = _build(minimal)
    (out / "stale.txt").write_text("old")
    _build(minimal)
    assert not (out / "stale.txt").exists()
    assert (out / "datasets/sample-budget/items.parquet").exists()


def test_frictionless_validates_every_output_package(built_site: Path, minimal: Path) -> None:
    packages = sorted(built_site.glob("datasets/*/datapackage.json"))
    packages += sorted(_build(minimal).glob("datasets/*/datapackage.json"))
    assert len(packages) == 6  # 4 built here, the minimal dataset and its opendata-list
    for package in packages:
        done = frictionless_report(package)
        assert done["valid"], json.dumps(done, ensure_ascii=False)[:2000]


def test_frictionless_catches_a_tampered_file(built_site: Path, tmp_path: Path) -> None:
    """Proves the check above is real: a changed byte fails the published sha256."""
    copy = tmp_path / "copy"
    shutil.copytree(built_site / "datasets/facility-counts", copy)
    table = copy / "facility-counts.csv"
    data = bytearray(table.read_bytes())
    data[-3] = ord("9") if data[-3] != ord("9") else ord("8")
    table.write_bytes(bytes(data))
    assert not frictionless_report(copy / "datapackage.json")["valid"]


def test_frictionless_reads_the_parquet_tables_with_their_missing_integers(
    built_site: Path, tmp_path: Path
) -> None:
    """frictionless-py reads a Parquet resource as a table (through pandas): a value that breaks
    the schema fails it — and a missing integer does not, thanks to the pandas metadata."""
    folder = built_site / "datasets/plan-indicators"
    table = pq.read_table(folder / "indicators.parquet")
    assert table.column("measure_no").null_count > 0  # the case that needs the metadata
    assert str(pd.read_parquet(folder / "indicators.parquet")["measure_no"].dtype) == "Int64"
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    policy = table.column("policy_no").to_pylist()
    broken = table.set_column(1, "policy_no", pa.array([-1, *policy[1:]], pa.int64()))
    pq.write_table(broken, copy / "indicators.parquet")  # policy_no has minimum 24
    outcome = frictionless_report(copy / "datapackage.json")
    errors = [e for task in outcome["tasks"] for e in task["errors"]]
    assert [(e["type"], e["cell"]) for e in errors] == [("constraint-error", "-1")], errors


def test_every_package_is_valid_against_the_official_data_package_v2_schema(
    built_site: Path,
) -> None:
    """The JSON Schema the Data Package v2 standard publishes (dplib-py ships it)."""
    schema = json.loads(files("dplib").joinpath("profiles/2.0/datapackage.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    packages = sorted(built_site.glob("datasets/*/datapackage.json"))
    assert len(packages) == 4
    for package in packages:
        descriptor = json.loads(package.read_text("utf-8"))
        assert descriptor["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
        errors = [(list(e.absolute_path), e.message) for e in validator.iter_errors(descriptor)]
        assert errors == [], (package, errors)
    # …and it is a real check: the `type: "file"` that Parquet resources once declared fails it.
    descriptor["resources"][1]["type"] = "file"
    assert not validator.is_valid(descriptor)
