"""Hostile or mistaken definitions: each is an exit-1 problem naming the file, the key and a
fix — never an internal error — and `validate` says the same as `build` (issue "Nothing lost,
nothing stale", definitions)."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import MINIMAL_CSV, PUBLISHABLE, opendata, report, write_dataset


def _resource(d: dict[str, Any]) -> dict[str, Any]:
    return d["resources"][0]


def _field(d: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return d["resources"][0]["schema"]["fields"][index]


# case → (change to PUBLISHABLE, words the problem must contain)
CASES: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "keywords that are not text": (lambda d: d.update(keywords=[1, {"a": 2}]), "keywords[0]"),
    "themes that are not text": (lambda d: d["x-opendata"].update(themes=[{"x": 1}]), "themes[0]"),
    "primaryKey: 5": (lambda d: _resource(d)["schema"].update(primaryKey=5), "primaryKey"),
    "foreignKeys not a list": (lambda d: _resource(d)["schema"].update(foreignKeys="x"), "foreignKeys"),
    "foreignKeys without a reference": (
        lambda d: _resource(d)["schema"].update(foreignKeys=[{"fields": "id"}]), "reference"),
    "header_row: .inf": (lambda d: _resource(d).update({"x-opendata": {"header_row": float("inf")}}), "header_row"),
    "unpivot without its keys": (
        lambda d: _resource(d).update({"x-opendata": {"unpivot": {"columns": "年度"}}}), "names_to"),
    "an impossible created": (lambda d: d.update(created="2024-02-30"), "created"),
    "a temporal that is not a year": (
        lambda d: d["x-opendata"].update(temporal={"start": "昔", "end": 2026}), "temporal.start"),
    "a path with a NUL": (lambda d: _resource(d).update(path="items\x00.csv"), "path"),
    "a 5,000-character path": (lambda d: _resource(d).update(path="a" * 5000 + ".csv"), "path"),
    "a pattern RE2 cannot read": (
        lambda d: _field(d, 1).update(constraints={"pattern": "(a)\\1"}), "RE2"),
    "an unknown encoding": (lambda d: _resource(d).update(encoding="klingon"), "klingon"),
    "sources as text": (lambda d: d.update(sources="x"), "sources"),
    "upstream as text": (lambda d: d["x-opendata"].update(upstream="x"), "upstream"),
    "a chart as a list": (lambda d: d["x-opendata"].update(chart=["x"]), "chart"),
    "an English title as a number": (lambda d: d["x-opendata"].update(title_en=5), "title_en"),
    "a department as a list": (lambda d: d["x-opendata"].update(department=["a"]), "department"),
    "a spatial code as a mapping": (lambda d: d["x-opendata"].update(spatial={"a": 1}), "spatial"),
    "a sheet as a number": (lambda d: _resource(d).update({"x-opendata": {"sheet": 5}}), "sheet"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_definition_is_a_located_problem_in_validate_and_build(
    tmp_path: Path, case: str
) -> None:
    change, words = CASES[case]
    definition = copy.deepcopy(PUBLISHABLE)
    change(definition)
    write_dataset(tmp_path, definition, {"items.csv": MINIMAL_CSV})
    datasets = str(tmp_path / "datasets")
    for command in (("validate",), ("build", "--out", str(tmp_path / "dist"))):
        code, result = report(*command, "--datasets", datasets)
        problems = [e for d in result["datasets"] for e in d["errors"]] + result["errors"]
        assert code == 1, (command, problems)
        assert any(words in p["message"] for p in problems), problems
        assert all(p["file"] == "sample-budget/dataset.yaml" for p in problems), problems


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("publisher: [\n", "YAML"),
        ("- a\n- b\n", "最上位"),
        ("publisher: [1, 2]\n", "publisher"),
        ("publisher:\n  code: '13103'\n", "code"),
        ("publisher:\n  name: 港区\n  name: 千代田区\n", "duplicate key"),
        ("publisher:\n  extent: [139.79, 35.61, 139.70, 35.69]\n", "west < east"),
        ("publisher:\n  extent: [139.7, 35.6]\n", "extent"),
        # Addresses that are no IRI stopped the DCAT serialiser with an internal error.
        ("publisher:\n  url: https://www.example.jp/a b/\n", "publisher.url は http://"),
        ("publisher:\n  url: https://www.example.jp/<a>\n", "valid http(s) URL"),
        ('publisher:\n  site_url: "https://od.example.jp/\\n"\n', "publisher.site_url"),
        ("publisher:\n  site_url: ftp://od.example.jp/\n", "publisher.site_url"),
        ("publisher:\n  email: a b@example.jp\n", "publisher.email"),
        ("publisher:\n  email: ''\n", "publisher.email"),
        ("publisher:\n  url: 'https://'\n", "publisher.url"),  # no host
        ("publisher:\n  url: 'https://www.example.jp/\u3000'\n", "publisher.url"),
        ("created: 2024-02-30\n", "2024-02-30 is no date"),  # unquoted: YAML's own date
    ],
)
def test_a_broken_catalog_yaml_is_a_located_problem(tmp_path: Path, text: str, words: str) -> None:
    write_dataset(tmp_path, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    (tmp_path / "datasets/catalog.yaml").write_text(text, encoding="utf-8")
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    assert code == 1 and result["errors"][0]["file"] == "catalog.yaml"
    assert words in result["errors"][0]["message"], result["errors"]


def test_a_key_given_twice_is_refused_not_last_wins(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    text = (folder / "dataset.yaml").read_text(encoding="utf-8")
    (folder / "dataset.yaml").write_text(text + "title: もう一つのタイトル\n", encoding="utf-8")
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    (problem,) = result["datasets"][0]["errors"]
    assert code == 1 and "duplicate key 'title'" in problem["message"] and problem["row"]


def test_yaml_nested_thousands_deep_is_refused_without_recursing(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    (folder / "dataset.yaml").write_text("title: " + "[" * 5000 + "]" * 5000 + "\n", "utf-8")
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    (problem,) = result["datasets"][0]["errors"]
    assert code == 1 and "nested deeper" in problem["message"]


def test_escape_sequences_in_names_and_headers_are_printed_escaped(tmp_path: Path) -> None:
    write_dataset(tmp_path, PUBLISHABLE, {"items.csv": "番号\x1b[2J,名称,金額,年度\n1,a,1,2022\n"})
    (tmp_path / "datasets/\x1b]0;owned\x07x").mkdir()
    (tmp_path / "datasets/\x1b]0;owned\x07x/dataset.yaml").write_text("name: x\n", "utf-8")
    done = opendata("validate", "--datasets", str(tmp_path / "datasets"))
    assert done.returncode == 1
    assert "\x1b" not in done.stdout + done.stderr and "\x07" not in done.stderr
    assert "\\x1b[2J" in done.stderr and "\\x1b]0;owned\\x07x" in done.stderr


LAUGHS = "".join(
    f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]\n" for n in range(1, 7)
)  # six levels of ten aliases each: a million values from 400 bytes


@pytest.mark.parametrize(
    ("extra", "words"),
    [("extra: &a {loop: *a}\n", "自分自身"), (f"l0: &l0 x\n{LAUGHS}", "100,000")],
)
def test_yaml_aliases_that_loop_or_multiply_are_refused(
    tmp_path: Path, extra: str, words: str
) -> None:
    folder = write_dataset(tmp_path, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    text = (folder / "dataset.yaml").read_text(encoding="utf-8")
    (folder / "dataset.yaml").write_text(text + extra, "utf-8")
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    (problem,) = result["datasets"][0]["errors"]
    assert code == 1 and words in problem["message"]


def test_an_anchor_shared_by_two_resources_is_read(tmp_path: Path) -> None:
    definition = copy.deepcopy(PUBLISHABLE)
    definition["resources"].append(definition["resources"][0] | {"name": "more"})
    folder = write_dataset(tmp_path, definition, {"items.csv": MINIMAL_CSV})
    assert "*id" in (folder / "dataset.yaml").read_text(encoding="utf-8")  # PyYAML wrote one
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    assert code == 0, result


def test_the_same_mistake_in_two_resources_is_reported_for_each(tmp_path: Path) -> None:
    definition = copy.deepcopy(PUBLISHABLE)
    second = copy.deepcopy(definition["resources"][0]) | {"name": "more"}
    definition["resources"].append(second)
    for resource in definition["resources"]:
        resource["schema"]["fields"][1]["type"] = "strin"
    write_dataset(tmp_path, definition, {"items.csv": MINIMAL_CSV})
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    resources = [e["resource"] for e in result["datasets"][0]["errors"] if "strin" in e["message"]]
    assert code == 1 and sorted(resources) == ["items", "more"]


def test_forms_that_were_valid_before_the_schema_still_are(tmp_path: Path) -> None:
    """Unquoted codes, an upper-case sha256 (as PowerShell prints it), a quoted header row or
    year, and a date as a key: read as before."""
    definition = copy.deepcopy(PUBLISHABLE)
    definition["x-opendata"] |= {
        "spatial": 131032,
        "temporal": {"start": "2019", "end": 2026},
        "upstream": {"file": "plan.txt", "sha256": "AB" * 32},
        "notes_by_date": {dt.date(2024, 1, 1): "first"},
    }
    definition["resources"][0]["x-opendata"] = {"header_row": "1"}
    write_dataset(tmp_path, definition, {"items.csv": MINIMAL_CSV})
    (tmp_path / "datasets/catalog.yaml").write_text("publisher:\n  code: 131032\n", "utf-8")
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    assert code == 0, result


@pytest.mark.parametrize("value", ["2024-02-30", "2024-01-01 25:00:00"])
def test_an_impossible_unquoted_date_is_named_at_its_line(tmp_path: Path, value: str) -> None:
    """YAML reads an unquoted 2024-02-30 as a date, which Python refuses: an internal error."""
    folder = write_dataset(tmp_path, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    text = (folder / "dataset.yaml").read_text(encoding="utf-8")
    (folder / "dataset.yaml").write_text(f"modified: {value}\n{text}", encoding="utf-8")
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    problem = result["datasets"][0]["errors"][0]
    assert code == 1 and problem["row"] == 1 and f"{value} is no date" in problem["message"]


def test_a_definition_past_its_size_is_refused_unparsed(tmp_path: Path) -> None:
    """A dataset.yaml over 10 MB (one with 1,000 fields is about 200 KB) is not read whole."""
    folder = write_dataset(tmp_path, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    with (folder / "dataset.yaml").open("a", encoding="utf-8") as definition:
        definition.write(("# " + "x" * 1000 + "\n") * 11_000)
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    problem = result["datasets"][0]["errors"][0]
    assert code == 1 and "is over 10 MB" in problem["message"], problem
