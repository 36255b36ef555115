"""Every problem type, located at the row and column the officer sees, with a hint."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import MINIMAL, MINIMAL_CSV, errors_of, opendata, report, write_dataset


def _validate(tmp_path: Path, csv_text: str | bytes, schema_changes=None, definition=None):
    definition = definition or copy.deepcopy(MINIMAL)
    if schema_changes:
        schema_changes(definition["resources"][0]["schema"])
    write_dataset(tmp_path, definition, {"items.csv": csv_text})
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    return code, errors_of(result)


def _one(errors, type_):
    found = [e for e in errors if e["type"] == type_]
    assert found, f"no {type_} in {errors}"
    return found[0]


def test_the_minimal_readme_dataset_is_valid(minimal: Path) -> None:
    code, result = report("validate", "--datasets", str(minimal / "datasets"))
    assert code == 0 and result["valid"]


def test_type_error_names_file_row_column_field_value_and_hint(tmp_path: Path) -> None:
    code, errors = _validate(tmp_path, "番号,名称,金額,年度\n1,a,100,2022\n2,b,百円,2023\n")
    assert code == 1
    error = _one(errors, "type-error")
    assert error["file"] == "sample-budget/items.csv"
    assert (error["row"], error["column"], error["field"], error["value"]) == (
        3,
        "金額",
        "amount",
        "百円",
    )
    assert error["hint_ja"] and error["hint_en"]


def test_all_problems_are_listed_not_just_the_first(tmp_path: Path) -> None:
    rows = "".join(f"{i},x,bad{i},2022\n" for i in range(1, 8))
    _, errors = _validate(tmp_path, "番号,名称,金額,年度\n" + rows)
    assert [e["row"] for e in errors if e["type"] == "type-error"] == list(range(2, 9))


def test_wareki_error_is_reported_not_guessed(tmp_path: Path) -> None:
    _, errors = _validate(tmp_path, "番号,名称,金額,年度\n1,a,1,令和4（2021）年度\n")
    error = _one(errors, "type-error")
    assert (error["row"], error["field"], error["value"]) == (2, "fiscal_year", "令和4（2021）年度")
    assert "和暦" in error["message"]


def _bounded(definition: dict) -> None:
    """金額 read as a bound into two fields, amount and comparator (no value_max)."""
    fields = definition["resources"][0]["schema"]["fields"]
    fields.append({"name": "comparator", "title": "比較", "type": "string"})
    definition["resources"][0]["x-opendata"] = {"ranges": {"金額": ["amount", "comparator"]}}


def test_a_two_field_bound_keeps_strict_comparators_and_refuses_a_range(tmp_path: Path) -> None:
    definition = copy.deepcopy(MINIMAL)
    _bounded(definition)
    write_dataset(
        tmp_path,
        definition,
        {"items.csv": "番号,名称,金額,年度\n1,a,80％超,2022\n2,b,70～80％,2022\n"},
    )
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    errors = errors_of(result)
    assert code == 1 and [(e["row"], e["value"]) for e in errors] == [(3, "70～80％")]
    assert "上限値" in errors[0]["message"] and "value_max" in errors[0]["message"]


def test_constraint_errors_required_enum_minimum_pattern_length(tmp_path: Path) -> None:
    def constrain(schema):
        fields = {f["name"]: f for f in schema["fields"]}
        fields["label"]["constraints"] = {"required": True, "enum": ["a", "b"], "maxLength": 1}
        fields["amount"]["constraints"] = {"minimum": 0, "maximum": 1000}
        fields["fiscal_year"]["constraints"] = {"pattern": "20[0-9]{2}"}

    csv_text = "番号,名称,金額,年度\n1,a,5,2022\n2,,5,2022\n3,c,-1,2022\n4,b,2000,2022\n"
    _, errors = _validate(tmp_path, csv_text, constrain)
    located = {(e["row"], e["field"]) for e in errors if e["type"] == "constraint-error"}
    assert {(3, "label"), (4, "label"), (4, "amount"), (5, "amount")} <= located
    messages = " ".join(e["message"] for e in errors)
    assert (
        "required" in messages
        and "enum" in messages
        and "minimum" in messages
        and "maximum" in messages
    )


def test_unique_and_primary_key_point_at_the_repeat(tmp_path: Path) -> None:
    def unique_label(schema):
        schema["fields"][1]["constraints"] = {"unique": True}

    _, errors = _validate(
        tmp_path, "番号,名称,金額,年度\n1,a,1,2022\n2,b,1,2022\n1,a,1,2022\n", unique_label
    )
    pk = _one(errors, "primary-key")
    assert (pk["row"], pk["value"]) == (4, "1") and "2" in pk["message"]
    assert _one(errors, "unique-error")["row"] == 4


def test_missing_and_extra_labels(tmp_path: Path) -> None:
    _, errors = _validate(tmp_path, "番号,名称,年度,担当課\n1,a,2022,総務課\n")
    assert _one(errors, "missing-label")["field"] == "amount"
    assert _one(errors, "extra-label")["column"] == "担当課"


def test_headers_match_by_name_or_title_whatever_their_width(tmp_path: Path) -> None:
    code, _ = _validate(tmp_path, "ｉｄ,名 称,amount,年度\n1,a,1,2022\n")
    assert code == 0


def test_ragged_rows_and_blank_rows(tmp_path: Path) -> None:
    csv_text = "番号,名称,金額,年度\n1,a,1,2022\n2,b,1,2022,extra\n3,c\n,,,\n4,d,1,2022\n"
    _, errors = _validate(tmp_path, csv_text)
    assert _one(errors, "extra-cell")["row"] == 3
    assert _one(errors, "missing-cell")["row"] == 4
    assert _one(errors, "blank-row")["row"] == 5
    assert not [e for e in errors if e["type"] not in {"extra-cell", "missing-cell", "blank-row"}]


def test_row_numbers_stay_true_after_skipped_rows(tmp_path: Path) -> None:
    csv_text = "番号,名称,金額,年度\n1,a,1\n2,b,x,2022\n"
    _, errors = _validate(tmp_path, csv_text)
    assert _one(errors, "type-error")["row"] == 3


def test_encoding_error_names_the_line(tmp_path: Path) -> None:
    data = "番号,名称,金額,年度\n1,a,1,2022\n".encode() + b"2,\xff\xfe\xfd,1,2022\n"
    _, errors = _validate(tmp_path, data)
    error = _one(errors, "encoding-error")
    assert error["row"] == 3


def test_foreign_keys_between_resources(tmp_path: Path) -> None:
    definition = copy.deepcopy(MINIMAL)
    definition["resources"].append(
        {
            "name": "payments",
            "path": "payments.csv",
            "schema": {
                "fields": [
                    {"name": "item_id", "title": "番号", "type": "integer"},
                    {"name": "paid", "title": "支払額", "type": "number"},
                ],
                "foreignKeys": [
                    {"fields": ["item_id"], "reference": {"resource": "items", "fields": ["id"]}}
                ],
            },
        }
    )
    write_dataset(
        tmp_path,
        definition,
        {"items.csv": MINIMAL_CSV, "payments.csv": "番号,支払額\n1,10\n9,20\n2,30\n"},
    )
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    error = _one(errors_of(result), "foreign-key")
    assert code == 1 and (error["file"], error["row"], error["value"]) == (
        "sample-budget/payments.csv",
        3,
        "9",
    )


def test_human_report_is_bilingual_and_has_no_traceback(tmp_path: Path) -> None:
    write_dataset(tmp_path, MINIMAL, {"items.csv": "番号,名称,金額,年度\n1,a,x,2022\n"})
    done = opendata("validate", "--datasets", str(tmp_path / "datasets"))
    assert done.returncode == 1
    assert "3行目" not in done.stderr and "2行目 row 2" in done.stderr
    assert "値の形式を直してください" in done.stderr and "fix the value's format" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_problem_list_is_capped_but_counted(tmp_path: Path) -> None:
    rows = "".join(f"{i},x,bad,2022\n" for i in range(1, 51))
    write_dataset(tmp_path, MINIMAL, {"items.csv": "番号,名称,金額,年度\n" + rows})
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"), "--limit", "10")
    dataset = result["datasets"][0]
    assert code == 1
    assert len(dataset["errors"]) == 10 and dataset["error_count"] == 50


def test_a_header_cell_spanning_lines_keeps_row_numbers_true(tmp_path: Path) -> None:
    code, errors = _validate(tmp_path, '番号,名称,"金\n額",年度\n1,a,10,2022\n2,b,zz,2022\n')
    assert code == 1 and [(e["type"], e["row"]) for e in errors] == [("type-error", 3)]


def test_a_header_without_rows_is_a_valid_empty_table(tmp_path: Path) -> None:
    code, _ = _validate(tmp_path, "番号,名称,金額,年度")
    assert code == 0


def test_blank_rows_are_counted_even_beyond_the_limit(tmp_path: Path) -> None:
    write_dataset(
        tmp_path, MINIMAL, {"items.csv": "番号,名称,金額,年度\n1,a,1,2022\n,,,\n,,,\n,,,\n"}
    )
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"), "--limit", "0")
    assert code == 1 and result["datasets"][0]["error_counts"] == {"blank-row": 3}


def test_duplicate_keys_are_counted_once_each_whatever_the_limit(tmp_path: Path) -> None:
    write_dataset(tmp_path, MINIMAL, {"items.csv": "番号,名称,金額,年度\n" + "1,a,1,2022\n" * 5})
    for limit in ("1", "3"):
        _, result = report("validate", "--datasets", str(tmp_path / "datasets"), "--limit", limit)
        assert result["datasets"][0]["error_counts"] == {"primary-key": 4}


def test_values_under_a_blank_header_are_reported(tmp_path: Path) -> None:
    _, errors = _validate(tmp_path, "番号,名称,金額,年度,,\n1,a,1,2022,,\n2,b,1,2022,,x\n")
    assert [(e["type"], e["row"], e["value"]) for e in errors] == [("extra-cell", 3, "x")]


def test_an_unpivot_pattern_matching_no_column_is_named(tmp_path: Path) -> None:
    definition = copy.deepcopy(MINIMAL)
    definition["resources"][0]["x-opendata"] = {
        "unpivot": {"columns": "令和", "names_to": "年度", "values_to": "金額"}
    }
    code, errors = _validate(tmp_path, MINIMAL_CSV, definition=definition)
    assert code == 1 and any("unpivot" in e["message"] for e in errors)


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b",,,\n1,a,1,2022\n"])
def test_an_empty_header_row_is_named(tmp_path: Path, content: bytes) -> None:
    _, errors = _validate(tmp_path, content)
    assert [(e["type"], e["row"]) for e in errors] == [("format-error", 1)]


@pytest.mark.parametrize("text", ["a\x1b[31mred\x07", "\u202eevil", "x\x85y", "tab\tand\nline ok"])
def test_invisible_control_characters_in_text_are_unsafe_cells(tmp_path: Path, text: str) -> None:
    """ESC and BEL (a terminal's colours and bell), C1 controls (cp932's stray 0x80) and
    the overrides that reorder text were published as they were; tabs and line breaks are
    text."""
    row = '1,"' + text + '",1,2022\n'
    write_dataset(tmp_path, MINIMAL, {"items.csv": "番号,名称,金額,年度\n" + row})
    code, result = report("validate", "--datasets", str(tmp_path / "datasets"))
    counts = result["datasets"][0]["error_counts"]
    clean = text.startswith("tab")
    assert (code, counts) == ((0, {}) if clean else (1, {"unsafe-cell": 1})), counts


@given(st.lists(st.text(alphabet=st.sampled_from(
    ["a", "港", "※", "…", "\t", "\n", "\x1b", "\x7f", "\x85", "\u00a9", "\u202a", "\u202e",
     "\u2066", "\u2069", "\u2028", "\u3000"]), max_size=6), max_size=8))  # fmt: skip
def test_the_byte_scan_never_misses_what_the_expression_finds(texts: list[str]) -> None:
    """The NumPy scan decides whether the regular expression runs at all: it may say yes
    too often, never no when the expression would match."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipeline.validate import INVISIBLE, _may_hold_invisible

    column = pa.array(texts, pa.string())
    if pc.any(pc.match_substring_regex(column, INVISIBLE)).as_py():
        assert _may_hold_invisible(column)
