"""Each cell normaliser on the edge cases officers actually type."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute
import pytest

from pipeline import cells


def _year(text: str) -> tuple[int | None, bool]:
    parsed = cells.parse_year(pa.array([text]))
    return parsed.values[0].as_py(), bool(parsed.bad[0])


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("令和元年", 2019),
        ("令和元年度", 2019),
        ("令和4年度", 2022),
        ("令和4（2022）年度", 2022),
        ("令和８（２０２６）年度末", 2026),
        ("令和元（2019）年度", 2019),
        ("平成31年度", 2019),
        ("平成30（2018）年", 2018),
        ("平成元年", 1989),
        ("昭和64年", 1989),
        ("R4", 2022),
        ("Ｒ４年度", 2022),
        ("H31", 2019),
        ("2022", 2022),
        ("２０２２年度", 2022),
    ],
)
def test_wareki_and_western_years(text: str, year: int) -> None:
    assert _year(text) == (year, False)


@pytest.mark.parametrize(
    "text",
    [
        "令和4（2023）年度",  # the Western year in parentheses disagrees
        "平成32年度",  # 平成 ended in its 31st year
        "令和0年",  # there is no year 0
        "昭和65年",
        "大正16年",
        "令和",
        "来年度",
    ],
)
def test_impossible_or_contradictory_years_are_errors(text: str) -> None:
    value, bad = _year(text)
    assert bad and value is None


def test_year_error_says_why_when_the_era_is_wrong() -> None:
    parsed = cells.parse_year(pa.array(["令和4（2023）年度"]))
    assert "和暦" in parsed.reason and "Western" in parsed.reason


def test_fiscal_year_labels_use_gan_for_the_first_year() -> None:
    labels = cells.fiscal_year_label(pa.array([2019, 2022, 2018, 1989, None], pa.int64()))
    assert labels.to_pylist() == ["令和元年度", "令和4年度", "平成30年度", "平成元年度", None]


def test_numbers_fold_full_width_digits_group_separators_and_units() -> None:
    fld = {"type": "number", "groupChar": ",", "bareNumber": False}
    parsed = cells.parse_number(
        pa.array(["３,２００件", "70％", "1.27", "172か所", "140件/年", "約", "1,2,3x4"]), fld
    )
    assert parsed.values.to_pylist()[:5] == [3200.0, 70.0, 1.27, 172.0, 140.0]
    assert parsed.bad.tolist() == [False] * 5 + [True, True]


def test_bare_numbers_refuse_units_as_table_schema_says() -> None:
    parsed = cells.parse_number(pa.array(["70％", "70"]), {"type": "number"})
    assert parsed.bad.tolist() == [True, False]


def test_integers_read_wareki_years_but_not_fractions() -> None:
    parsed = cells.parse_integer(
        pa.array(["令和4年度", "12", "1.5", "令和4（2021）年度"]), {"type": "integer"}
    )
    assert parsed.values.to_pylist()[:2] == [2022, 12]
    assert parsed.bad.tolist() == [False, False, True, True]


@pytest.mark.parametrize(
    ("text", "value", "comparator", "value_max"),
    [
        ("70～80％以内", 70.0, "between", 80.0),
        ("70〜80%", 70.0, "between", 80.0),
        ("1.00以上", 1.0, ">=", None),
        ("80％以内", 80.0, "<=", None),
        ("5件以下", 5.0, "<=", None),
        ("80％超", 80.0, ">", None),  # 「8割を超えており」: more than, not at least
        ("10未満", 10.0, "<", None),
        ("3,200件", 3200.0, "=", None),
        ("在住30.5％", None, None, None),  # a group label is not a number: not guessed
    ],
)
def test_bounds_and_ranges_are_kept_as_data(text: str, value, comparator, value_max) -> None:
    bound = cells.parse_bound(pa.array([text]), {"groupChar": ",", "bareNumber": False})
    if value is None:
        assert bound.bad[0]
        return
    assert not bound.bad[0]
    assert bound.value[0].as_py() == value
    assert bound.comparator[0].as_py() == comparator
    assert bound.value_max[0].as_py() == value_max


def test_strict_bounds_are_not_silently_loosened() -> None:
    bound = cells.parse_bound(pa.array(["10未満", "80％超"]), {"bareNumber": False})
    assert not bound.bad.any()
    assert bound.comparator.to_pylist() == ["<", ">"]  # never "<=" / ">="


@pytest.mark.parametrize("text", ["", "  ", "―", "－", "-", "—", "ー"])
def test_dashes_and_blanks_mean_missing(text: str) -> None:
    trimmed = pa.compute.utf8_trim_whitespace(pa.array([text, "12"]))  # as `convert` passes it
    assert cells.missing_mask(trimmed, [""]).tolist() == [True, False]


def test_zero_is_not_missing() -> None:
    assert not cells.missing_mask(pa.array(["0"]), [""])[0]


def test_marker_is_stripped_and_flagged() -> None:
    text, flagged = cells.strip_marker(
        pa.array(["150,000件（見込）", "63(見込)", "42か所"]), "見込"
    )
    assert text.to_pylist() == ["150,000件", "63", "42か所"]
    assert flagged.tolist() == [True, True, False]


def test_value_maps_standardise_choices_and_leave_unknowns_for_the_checks() -> None:
    mapped = cells.map_values(
        pa.array(["達成", "未達成", "不明"]), {"達成": "achieved", "未達成": "not_achieved"}
    )
    assert mapped.to_pylist() == ["achieved", "not_achieved", "不明"]


def test_text_keeps_its_characters_but_loses_layout_line_breaks() -> None:
    cleaned = cells.clean_text(
        pa.array(["区政情報が届いていると感じる区民\nの割合", "平和の灯、被爆樹木Ⅱ世"])
    )
    assert cleaned.to_pylist() == [
        "区政情報が届いていると感じる区民の割合",
        "平和の灯、被爆樹木Ⅱ世",
    ]


def test_booleans_and_dates() -> None:
    assert cells.parse_boolean(pa.array(["true", "0", "maybe"]), {}).bad.tolist() == [
        False,
        False,
        True,
    ]
    dates = cells.parse_date(pa.array(["2024-04-01", "２０２４-０４-０１", "2024/04/01"]), {})
    assert dates.bad.tolist() == [False, False, False]


@pytest.mark.parametrize(
    "text",
    ["2024-04-01", "2024/4/1", "2024.4.1", "2024年4月1日", "令和6年4月1日", "R6.4.1", "Ｒ６．４．１",
     "令和６年４月１日"],
)  # fmt: skip
def test_the_forms_officers_type_a_date_in(text: str) -> None:
    parsed = cells.parse_date(pa.array([text, "令和元年5月1日"]), {})
    assert parsed.values.to_pylist() == [dt.date(2024, 4, 1), dt.date(2019, 5, 1)]


@pytest.mark.parametrize(
    "text",
    ["2023-02-30", "2023/2/29", "令和6年13月1日", "平成31年5月1日", "令和元年4月30日", "R6.4"],
)
def test_days_that_never_existed_are_errors(text: str) -> None:
    """strptime alone would roll 2月30日 over to 3月2日; era dates must lie inside their era."""
    parsed = cells.parse_date(pa.array([text]), {})
    assert parsed.bad.tolist() == [True] and parsed.values.null_count == 1
    assert "存在しない日付" in parsed.reason


@pytest.mark.parametrize(
    ("text", "time"),
    [("9:30", "09:30"), ("09:30:15", "09:30:15"), ("０９：３０", "09:30"), ("9時30分", "09:30"),
     ("9時", "09:00"), ("午後1時", "13:00"), ("午前11時5分", "11:05"), ("23:59", "23:59")],
)  # fmt: skip
def test_the_forms_officers_type_a_time_in(text: str, time: str) -> None:
    parsed = cells.parse_time(pa.array([text]), {})
    assert not parsed.bad.any()
    assert parsed.values[0].as_py() == dt.time.fromisoformat(time)


@pytest.mark.parametrize("text", ["25:00", "24:00", "9:75", "9:30:60", "朝9時", "930"])
def test_impossible_times_are_errors(text: str) -> None:
    assert cells.parse_time(pa.array([text]), {}).bad.tolist() == [True]


def test_datetimes_join_both_forms() -> None:
    parsed = cells.parse_datetime(
        pa.array(["2024-04-01 09:30", "令和6年4月1日 9時30分", "R6.4.1T09:30", "R6.4.1 25:00"]), {}
    )
    assert parsed.bad.tolist() == [False, False, False, True]
    assert set(parsed.values.to_pylist()[:3]) == {dt.datetime(2024, 4, 1, 9, 30)}


def test_units_beside_numbers_do_not_turn_wareki_years_into_small_numbers() -> None:
    parsed = cells.parse_integer(
        pa.array(["令和4年度", "R4", "令和元年度", "3,200件"]),
        {"groupChar": ",", "bareNumber": False},
    )
    assert parsed.values.to_pylist() == [2022, 2022, 2019, 3200]


def test_japanese_minus_signs() -> None:
    parsed = cells.parse_number(pa.array(["▲1,000", "△500", "1,000"]), {"groupChar": ","})
    assert parsed.values.to_pylist() == [-1000.0, -500.0, 1000.0]


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e400"])
def test_non_finite_numbers_are_refused(text: str) -> None:
    assert cells.parse_number(pa.array([text, "1.5"]), {}).bad.tolist() == [True, False]


def test_an_inverted_range_is_refused() -> None:
    assert cells.parse_bound(pa.array(["80～70％以内"]), {"bareNumber": False}).bad[0]
