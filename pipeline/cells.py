"""Column-wise readers for the cells officers write: full-width digits, 「3,200件」, 「―」,
令和4（2022）年度, 「70～80％以内」. Each parser takes a text column and returns the typed
column plus a mask of cells it could not read — never guessing, never row by row.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# 「―」「－」 and kin mean "no value" in Japanese tables, as blank does.
DASHES = ["-", "―", "－", "—", "–", "‐", "ー"]
NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
INTEGER = r"[+-]?\d+"
ERA_PATTERN = r"(?P<era>明治|大正|昭和|平成|令和|[MTSHR])"
WAREKI = (
    rf"^{ERA_PATTERN}\s*(?P<n>元|\d{{1,2}})\s*(?:\(\s*(?P<west>\d{{4}})\s*\))?"
    r"\s*(?:年度末|年度|年)?$"
)
YEAR_LIKE = rf"^{ERA_PATTERN}\s*(?:元|\d)|^\d{{4}}\s*(?:年度末|年度|年)$"
WESTERN_YEAR = r"^(?P<west>\d{4})\s*(?:年度末|年度|年)?$"

# era → (first Western year, last era year); 令和 is open-ended.
ERAS: dict[str, tuple[int, int]] = {
    "明治": (1868, 45),
    "大正": (1912, 15),
    "昭和": (1926, 64),
    "平成": (1989, 31),
    "令和": (2019, 10_000),
}
ERA_LETTERS = {"M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和"}


@dataclass
class Parsed:
    """A typed column and the cells that could not be read (with why, for the message)."""

    values: pa.Array
    bad: np.ndarray  # bool per row
    reason: str = ""


def fold(text: pa.Array) -> pa.Array:
    """NFKC (full-width digits, letters, brackets → ASCII), only where needed.

    Like every parser here it expects trimmed text (`convert` trims each column once)."""
    if not _data_is_ascii(text):
        text = pc.utf8_trim_whitespace(pc.utf8_normalize(text, form="NFKC"))
    return text


def clean_text(text: pa.Array) -> pa.Array:
    """Text as published, without the layout line breaks of a spreadsheet cell."""
    if _data_contains(text, b"\n") or _data_contains(text, b"\r"):
        text = pc.replace_substring_regex(text, pattern=r"\s*[\r\n]+\s*", replacement="")
    return text


def missing_mask(text: pa.Array, missing_values: list[str]) -> np.ndarray:
    """Cells (trimmed) that mean 'no value': the schema's missingValues, blank, or a dash."""
    markers = sorted({*missing_values, "", *DASHES})
    longest = max(len(m.encode()) for m in markers)
    # A hash lookup on every cell is slow; only cells as short as a marker can be one.
    short = np.flatnonzero(as_mask(pc.less_equal(pc.binary_length(text), longest)))
    missing = as_mask(pc.is_null(text))
    if len(short):
        found = pc.is_in(text.take(pa.array(short)), value_set=pa.array(markers, pa.string()))
        missing[short] |= as_mask(found)
    return missing


def strip_marker(text: pa.Array, marker: str) -> tuple[pa.Array, np.ndarray]:
    """Remove an annotation such as 「（見込）」 and say which cells carried it."""
    marker = re.escape(marker)
    pattern = rf"\s*[(（]\s*{marker}\s*[)）]\s*|\s*{marker}\s*"
    has = as_mask(pc.fill_null(pc.match_substring_regex(text, pattern), False))
    if not has.any():
        return text, has
    return pc.replace_substring_regex(text, pattern=pattern, replacement=""), has


def map_values(text: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """Standardise choice values (達成 → achieved); unmapped cells pass through to the checks."""
    keys = pa.array(list(mapping), pa.string())
    index = pc.index_in(text, value_set=keys)
    mapped = pc.take(pa.array(list(mapping.values()), pa.string()), index)
    return pc.if_else(pc.is_null(index), text, mapped)


def group(parts: pa.Array, index: int, to: pa.DataType | None = None) -> pa.Array:
    """One capture group of `extract_regex`; an optional group that did not match is null."""
    text = pc.struct_field(parts, [index])
    return pc.cast(
        pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text), to or pa.string()
    )


def _numeric_text(text: pa.Array, fld: dict[str, Any]) -> pa.Array:
    # ▲ and △ are the minus signs of Japanese accounts: 「▲1,000」 is -1000.
    text = pc.replace_substring_regex(fold(text), pattern="^[▲△]", replacement="-")
    group = fld.get("groupChar")
    if group:
        text = pc.replace_substring(text, pattern=group, replacement="")
    decimal = fld.get("decimalChar", ".")
    if decimal != ".":
        text = pc.replace_substring(text, pattern=decimal, replacement=".")
    return text


def _extract_number(text: pa.Array, pattern: str, bare: bool) -> pa.Array:
    """The numeric part of each cell (null where there is none). With bareNumber false, as
    Table Schema says, text before and after the number (units like 件, ％) is allowed."""
    regex = rf"^(?P<n>{pattern})$" if bare else rf"^[^\d+\-.]*?(?P<n>{pattern})[^\d]*$"
    return group(pc.extract_regex(text, regex), 0)


def _plain_cast(text: pa.Array, to: pa.DataType) -> pa.Array | None:
    """The fast path: a column of plain numbers casts in one step; None if any cell is not."""
    try:
        return pc.cast(text, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def parse_number(text: pa.Array, fld: dict[str, Any]) -> Parsed:
    reason = "数値として読めません / not a number"
    values = _plain_cast(text, pa.float64())
    if values is None:
        digits = _extract_number(_numeric_text(text, fld), NUMBER, fld.get("bareNumber", True))
        values = pc.cast(digits, pa.float64())
    # nan, inf and 1e400 cast, but are no number a published table should hold.
    bad = as_mask(pc.invert(pc.is_finite(values))) & ~as_mask(pc.is_null(text))
    return Parsed(values, bad | (as_mask(pc.is_null(values)) & ~as_mask(pc.is_null(text))), reason)


def parse_integer(text: pa.Array, fld: dict[str, Any]) -> Parsed:
    """Integers, including 和暦 years (令和4年度 → 2022) for year-like integer fields."""
    if (plain := _plain_cast(text, pa.int64())) is not None:
        return Parsed(plain, np.zeros(len(text), dtype=bool))
    folded = _numeric_text(text, fld)
    digits = _extract_number(folded, INTEGER, fld.get("bareNumber", True))
    too_long = as_mask(pc.fill_null(pc.greater(pc.utf8_length(digits), 18), False))
    digits = pc.if_else(pa.array(too_long), pa.scalar(None, pa.string()), digits)
    values = pc.cast(digits, pa.int64())
    bad = as_mask(pc.is_null(digits))
    reason = "整数として読めません / not an integer"
    # Checked on every cell, not only unreadable ones: with bareNumber false 「令和4年度」 would
    # otherwise read as 4.
    era_cells = as_mask(pc.match_substring_regex(folded, YEAR_LIKE))
    if era_cells.any():
        years = parse_year(text)
        values = pc.if_else(pa.array(era_cells), years.values, values)
        bad = (bad & ~era_cells) | (era_cells & years.bad)
        if (era_cells & years.bad).any():
            reason = years.reason
    return Parsed(values, bad, reason)


def parse_year(text: pa.Array) -> Parsed:
    """和暦 or Western years to int64 Western years.

    令和元年 / 令和4年度 / 令和4（2022）年度 / 令和8（2026）年度末 / 平成31年度 / R4 / 2022年度.
    A Western year in parentheses that disagrees, or an era year the era never had
    (平成32年, 令和0年), is an error, not a guess.
    """
    folded = fold(text)
    wareki = pc.extract_regex(folded, WAREKI)
    era = group(wareki, 0)
    number = group(wareki, 1)
    stated = group(wareki, 2, pa.int64())
    era_names = list(ERAS)
    era_key = _era_names(era)
    era_index = pc.index_in(era_key, value_set=pa.array(era_names))
    first = pc.take(pa.array([ERAS[e][0] for e in era_names], pa.int64()), era_index)
    last = pc.take(pa.array([ERAS[e][1] for e in era_names], pa.int64()), era_index)
    n = pc.cast(pc.if_else(pc.equal(number, "元"), "1", number), pa.int64())
    west = pc.subtract(pc.add(first, n), 1)
    out_of_era = pc.or_kleene(pc.less(n, 1), pc.greater(n, last))
    disagrees = pc.and_kleene(pc.is_valid(stated), pc.not_equal(stated, west))
    wareki_bad = as_mask(pc.or_kleene(out_of_era, disagrees))

    western = group(pc.extract_regex(folded, WESTERN_YEAR), 0, pa.int64())
    values = pc.coalesce(
        pc.if_else(pa.array(wareki_bad), pa.scalar(None, pa.int64()), west), western
    )
    bad = as_mask(pc.is_null(values))
    reason = "年として読めません（例: 令和4年度, 2022） / not a year (e.g. 令和4年度, 2022)"
    if wareki_bad.any():
        reason = (
            "和暦の年が存在しないか、括弧内の西暦と一致しません"
            " / the era year does not exist or disagrees with the Western year in parentheses"
        )
    return Parsed(values, bad, reason)


def fiscal_year_label(years: pa.Array) -> pa.Array:
    """2022 → 令和4年度, 2019 → 令和元年度 (the plan's own spelling of fiscal years)."""
    y = pc.cast(years, pa.int64())
    era = pa.array(["令和", "平成", "昭和", "大正", "明治"])
    starts = [2019, 1989, 1926, 1912, 1868]
    index = pa.array(
        np.select(
            [as_mask(pc.fill_null(pc.greater_equal(y, s), False)) for s in starts],
            list(range(len(starts))),
            default=-1,
        )
    )
    index = pc.if_else(pc.equal(index, -1), pa.scalar(None, pa.int64()), index)
    first = pc.take(pa.array(starts, pa.int64()), index)
    n = pc.add(pc.subtract(y, first), 1)
    n_text = pc.if_else(pc.equal(n, 1), "元", pc.cast(n, pa.string()))
    return pc.binary_join_element_wise(pc.take(era, index), n_text, "年度", "")


def parse_boolean(text: pa.Array, fld: dict[str, Any]) -> Parsed:
    trues = fld.get("trueValues", ["true", "True", "TRUE", "1"])
    falses = fld.get("falseValues", ["false", "False", "FALSE", "0"])
    folded = fold(text)
    is_true = pc.is_in(folded, value_set=pa.array(trues, pa.string()))
    is_false = pc.is_in(folded, value_set=pa.array(falses, pa.string()))
    known = pc.or_(is_true, is_false)
    values = pc.if_else(known, is_true, pa.scalar(None, pa.bool_()))
    return Parsed(
        values, ~as_mask(pc.fill_null(known, False)), "真偽値として読めません / not a boolean"
    )


def parse_date(text: pa.Array, fld: dict[str, Any]) -> Parsed:
    """2024-04-01, 2024/4/1, 2024年4月1日, 令和6年4月1日, R6.4.1 → a date; a day that does not
    exist (2月30日) or an era date outside its era (平成31年5月1日) is an error. A `format`
    other than default/any is strptime's, as Table Schema says."""
    fmt = fld.get("format", "default")
    if fmt in ("default", "any"):
        if (plain := _plain_cast(text, pa.date32())) is not None:
            return Parsed(plain, np.zeros(len(text), dtype=bool))
        return _japanese_dates(fold(text))
    stamps = pc.strptime(fold(text), format=fmt, unit="s", error_is_null=True)
    values = pc.cast(stamps, pa.date32())
    reason = f"日付として読めません（{fmt}） / not a date"
    return Parsed(values, as_mask(pc.is_null(values)), reason)


DATE = (
    rf"^(?:{ERA_PATTERN}\s*(?P<n>元|\d{{1,2}})|(?P<west>\d{{4}}))\s*[年./-]\s*"
    r"(?P<month>\d{1,2})\s*[月./-]\s*(?P<day>\d{1,2})\s*日?$"
)
# When each era began (its first day) — an era date before it, or in the next era, is wrong.
ERA_STARTS = {
    "明治": "1868-10-23",
    "大正": "1912-07-30",
    "昭和": "1926-12-25",
    "平成": "1989-01-08",
    "令和": "2019-05-01",
}


def _japanese_dates(folded: pa.Array) -> Parsed:
    parts = pc.extract_regex(folded, DATE)
    era_key = _era_names(group(parts, 0))
    era_index = pc.index_in(era_key, value_set=pa.array(list(ERAS)))
    first = pc.take(pa.array([ERAS[e][0] for e in ERAS], pa.int64()), era_index)
    n = pc.cast(pc.if_else(pc.equal(group(parts, 1), "元"), "1", group(parts, 1)), pa.int64())
    year = pc.coalesce(pc.subtract(pc.add(first, n), 1), group(parts, 2, pa.int64()))
    iso = pc.binary_join_element_wise(
        pc.cast(year, pa.string()),
        pc.utf8_lpad(group(parts, 3), 2, "0"),
        pc.utf8_lpad(group(parts, 4), 2, "0"),
        "-",
    )
    stamps = pc.strptime(iso, format="%Y-%m-%d", unit="s", error_is_null=True)
    values = pc.cast(stamps, pa.date32())
    # strptime rolls 2月30日 over to 3月2日: a date that does not print back as given is no date.
    exists = pc.equal(pc.strftime(stamps, format="%Y-%m-%d"), iso)
    values = pc.if_else(pc.fill_null(exists, False), values, pa.scalar(None, pa.date32()))
    starts = pa.array([dt.date.fromisoformat(d) for d in ERA_STARTS.values()], pa.date32())
    begins = pc.take(starts, era_index)
    ends = pc.take(pa.array([*starts.to_pylist()[1:], None], pa.date32()), era_index)
    outside = pc.or_kleene(pc.less(values, begins), pc.greater_equal(values, ends))
    values = pc.if_else(pc.fill_null(outside, False), pa.scalar(None, pa.date32()), values)
    reason = (
        "日付として読めないか、存在しない日付です（例: 2024-04-01, 令和6年4月1日, R6.4.1）"
        " / not a date, or a day that does not exist (e.g. 2024-04-01, 令和6年4月1日)"
    )
    return Parsed(values, as_mask(pc.is_null(values)), reason)


def _era_names(era: pa.Array) -> pa.Array:
    """R → 令和, H → 平成, …; spelled-out names as they are."""
    letters = pa.array(list(ERA_LETTERS))
    spelled = pc.take(pa.array(list(ERA_LETTERS.values())), pc.index_in(era, value_set=letters))
    return pc.coalesce(spelled, era)


TIME = (
    r"^(?P<half>午前|午後)?\s*(?P<h>\d{1,2})\s*"
    r"(?:[:時]\s*(?P<m>\d{1,2})\s*分?(?:\s*[:]\s*(?P<s>\d{1,2})\s*秒?)?|時)$"
)


def parse_time(text: pa.Array, fld: dict[str, Any]) -> Parsed:
    """9:30, 09:30:00, ０９：３０, 9時30分, 9時, 午後1時 → a time of day; 25:00 or 9:75 is an error."""
    parts = pc.extract_regex(pc.replace_substring(fold(text), " ", ""), TIME)
    hours, minutes, seconds = (pc.fill_null(group(parts, i, pa.int64()), 0) for i in (1, 2, 3))
    afternoon = pc.fill_null(pc.equal(group(parts, 0), "午後"), False)
    hours = pc.if_else(pc.and_(afternoon, pc.less(hours, 12)), pc.add(hours, 12), hours)
    total = pc.add(pc.add(pc.multiply(hours, 3600), pc.multiply(minutes, 60)), seconds)
    valid = pc.and_kleene(
        pc.is_valid(parts),
        pc.and_kleene(
            pc.less(hours, 24), pc.and_kleene(pc.less(minutes, 60), pc.less(seconds, 60))
        ),
    )
    valid = pc.fill_null(valid, False)
    values = pc.if_else(valid, pc.cast(pc.cast(total, pa.int32()), pa.time32("s")), None)
    reason = "時刻として読めません（例: 09:30, 9時30分） / not a time of day (e.g. 09:30)"
    return Parsed(values, ~as_mask(valid), reason)


DATETIME = r"^(?P<date>.+?)(?:T|\s+)(?P<time>[^\s]+(?:\s*\d+分)?(?:\s*\d+秒)?)$"


def parse_datetime(text: pa.Array, fld: dict[str, Any]) -> Parsed:
    """A date and a time of day, as both forms above, apart by a space or a `T`."""
    if (plain := _plain_cast(text, pa.timestamp("s"))) is not None:
        return Parsed(plain, np.zeros(len(text), dtype=bool))
    parts = pc.extract_regex(fold(text), DATETIME)
    days = _japanese_dates(pc.fill_null(group(parts, 0), ""))
    times = parse_time(pc.fill_null(group(parts, 1), ""), fld)
    seconds = pc.cast(pc.cast(times.values, pa.int32()), pa.int64())
    midnight = pc.cast(pc.cast(days.values, pa.timestamp("s")), pa.int64())
    stamps = pc.cast(pc.add(midnight, seconds), pa.timestamp("s"))
    bad = days.bad | times.bad
    values = pc.if_else(pa.array(bad), pa.scalar(None, pa.timestamp("s")), stamps)
    reason = "日時として読めません（例: 2024-04-01 09:30） / not a date and time"
    return Parsed(values, bad, reason)


@dataclass
class Bound:
    """A number as the plan states it: exactly, at least, at most, or a range."""

    value: pa.Array
    comparator: pa.Array
    value_max: pa.Array
    bad: np.ndarray
    reason: str


BOUND = (
    rf"^(?P<a>{NUMBER})[^\d~〜]*?"
    rf"(?:\s*[~〜]\s*(?P<b>{NUMBER})[^\d]*?)?"
    r"(?P<q>以上|以下|以内|未満|超)?$"
)
COMPARATORS = {"": "=", "以上": ">=", "以下": "<=", "以内": "<=", "超": ">", "未満": "<"}


def parse_bound(text: pa.Array, fld: dict[str, Any]) -> Bound:
    """「3,200件」 → (3200, =); 「1.00以上」 → (1.0, >=); 「80％超」 → (80, >) — strict bounds stay
    strict (超 >, 未満 <), never loosened to >= or <=; 「70～80％以内」 → (70, between, 80)."""
    parts = pc.extract_regex(_numeric_text(text, fld), BOUND)
    low = group(parts, 0, pa.float64())
    high = group(parts, 1, pa.float64())
    qualifier = pc.fill_null(pc.struct_field(parts, [2]), "")
    comparator = pc.take(
        pa.array(list(COMPARATORS.values())),
        pc.index_in(qualifier, value_set=pa.array(list(COMPARATORS))),
    )
    is_range = pc.and_(pc.is_valid(high), pc.is_in(qualifier, value_set=pa.array(["", "以内"])))
    comparator = pc.if_else(is_range, "between", comparator)
    unreadable = pc.or_(pc.is_null(parts), pc.is_null(comparator))
    bad = as_mask(pc.fill_null(unreadable, True)) | as_mask(pc.less(high, low))  # 「80～70％」
    reason = (
        "数値・範囲として読めません（例: 3,200件, 1.00以上, 80％超, 70～80％以内）"
        " / not a number, bound or range (e.g. 3,200件, 1.00以上, 80％超, 70～80％以内)"
    )
    return Bound(low, comparator, high, bad, reason)


def _data(text: pa.Array) -> bytes:
    """The bytes behind a string column (for a slice, possibly more: a superset is fine)."""
    buffer = text.buffers()[2]
    return b"" if buffer is None else buffer.to_pybytes()


def _data_contains(text: pa.Array, needle: bytes) -> bool:
    return needle in _data(text)


def _data_is_ascii(text: pa.Array) -> bool:
    return _data(text).isascii()


def as_mask(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow mask as NumPy (nulls count as False)."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)
