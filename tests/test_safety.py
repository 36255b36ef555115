"""Input that is dangerous to publish is refused with the same clear messages."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from conftest import MINIMAL, MINIMAL_CSV, errors_of, opendata, report, write_dataset


def _errors(tmp_path: Path, definition=None, files=None):
    write_dataset(tmp_path, definition or MINIMAL, files or {"items.csv": MINIMAL_CSV})
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    return code, errors_of(result)


def test_formula_injection_is_refused(tmp_path: Path) -> None:
    csv_text = '番号,名称,金額,年度\n1,=HYPERLINK("http://x"),1,2022\n2,@SUM(A1),1,2022\n3,-5,1,2022\n4,+81-3-1234,1,2022\n'
    code, errors = _errors(tmp_path, files={"items.csv": csv_text})
    unsafe = [(e["row"], e["field"]) for e in errors if e["type"] == "unsafe-cell"]
    assert code == 1 and unsafe == [(2, "label"), (3, "label"), (5, "label")]  # -5 is a number


def test_formula_check_can_be_opted_out_per_field(tmp_path: Path) -> None:
    definition = copy.deepcopy(MINIMAL)
    definition["resources"][0]["x-opendata"] = {"allow_formulas": ["label"]}
    code, _ = _errors(
        tmp_path, definition, {"items.csv": "番号,名称,金額,年度\n1,+81-3-1234,1,2022\n"}
    )
    assert code == 0


def test_a_path_leaving_the_dataset_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text(MINIMAL_CSV, encoding="utf-8")
    definition = copy.deepcopy(MINIMAL)
    definition["resources"][0]["path"] = "../../secret.csv"
    code, errors = _errors(tmp_path, definition)
    assert (
        code == 1
        and errors[0]["type"] == "resource-error"
        and errors[0]["value"] == "../../secret.csv"
    )


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text(MINIMAL_CSV, encoding="utf-8")
    folder = write_dataset(tmp_path, MINIMAL, {})
    (folder / "items.csv").symlink_to(tmp_path / "secret.csv")
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    assert code == 1 and errors_of(result)[0]["type"] == "resource-error"


def test_names_ckan_would_reject_are_refused(tmp_path: Path) -> None:
    definition = copy.deepcopy(MINIMAL)
    definition["name"] = "Sample Budget"
    definition["resources"][0]["name"] = "項目"
    write_dataset(tmp_path, definition | {"name": "sample-budget"}, {"items.csv": MINIMAL_CSV})
    (tmp_path / "datasets/sample-budget/dataset.yaml").write_text(
        (tmp_path / "datasets/sample-budget/dataset.yaml")
        .read_text(encoding="utf-8")
        .replace("name: sample-budget", "name: Sample Budget"),
        encoding="utf-8",
    )
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    messages = [e["message"] for e in errors_of(result)]
    assert (
        code == 1
        and any("CKAN" in m for m in messages)
        and any("リソース名" in m for m in messages)
    )


def test_a_binary_or_legacy_excel_file_is_refused(tmp_path: Path) -> None:
    code, errors = _errors(tmp_path, files={"items.csv": b"\x00\x01\x02binary\x00" * 10})
    assert code == 1 and errors[0]["type"] == "format-error"
    code, errors = _errors(tmp_path, files={"items.csv": b"\xd0\xcf\x11\xe0" + b"\x00" * 100})
    assert code == 1 and ".xls" in errors[0]["message"]


def test_unreadable_metadata_fails_cleanly(tmp_path: Path) -> None:
    definition = copy.deepcopy(MINIMAL) | {"title": ["not", "text"], "license": "ACME-1.0"}
    code, errors = _errors(tmp_path, definition)
    types = {e["type"] for e in errors}
    messages = " ".join(e["message"] for e in errors)
    assert (
        code == 1 and types == {"package-error"} and "ACME-1.0" in messages and "title" in messages
    )


def test_broken_yaml_names_its_line_and_no_traceback_reaches_the_user(tmp_path: Path) -> None:
    folder = tmp_path / "datasets/broken"
    folder.mkdir(parents=True)
    (folder / "dataset.yaml").write_text("name: broken\ntitle: [unclosed\n", encoding="utf-8")
    done = opendata("validate", "--datasets", str(tmp_path / "datasets"))
    assert done.returncode == 1 and "YAML" in done.stderr and "Traceback" not in done.stderr


def test_unknown_extension_options_are_named(tmp_path: Path) -> None:
    definition = copy.deepcopy(MINIMAL)
    definition["resources"][0]["x-opendata"] = {"sheeet": "予算"}
    code, errors = _errors(tmp_path, definition)
    assert code == 1 and errors[0]["value"] == "sheeet"


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("schema", {"missingValues": ["", -999]}),
        ("id", {"constraints": {"maximum": 1.5}}),
        ("id", {"constraints": {"minimum": "abc"}}),
        ("label", {"constraints": {"enum": ["a", 1]}}),
        ("label", {"constraints": {"minLength": "3"}}),
        ("label", {"constraints": {"pattern": "[a-"}}),
    ],
)
def test_constraints_that_cannot_be_checked_are_definition_errors(
    tmp_path: Path, where: str, change: dict
) -> None:
    definition = copy.deepcopy(MINIMAL)
    schema = definition["resources"][0]["schema"]
    target = (
        schema if where == "schema" else next(f for f in schema["fields"] if f["name"] == where)
    )
    target.update(change)
    write_dataset(tmp_path, definition, {"items.csv": MINIMAL_CSV})
    done = opendata("validate", "--datasets", str(tmp_path / "datasets"))
    assert (
        done.returncode == 1
        and "[package-error]" in done.stderr
        and "内部エラー" not in done.stderr
    )
