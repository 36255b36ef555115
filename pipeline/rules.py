"""The value rules of the national standard layouts, over whole columns.

Each rule finds the cells that break it and, where the right value can be computed from the
wrong one (13103 → 131032, 「9時30分」 → 09:30, 月～金 → 月,火,水,木,金, swapped coordinates),
offers it as the fix. The masks are Arrow/NumPy work; only the few flagged cells that are
reported go through Python, to compute their fix.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .cells import as_mask
from .presets import LATITUDES, LONGITUDES, RULE_CONSTRAINTS

Fix = Callable[[str], str | None]


@dataclass(frozen=True)
class Finding:
    """Cells of one field that break a rule: an error, or a warning to look at."""

    field: str
    mask: np.ndarray
    message: str
    fix: Fix | None = None
    warning: bool = False


def _matches(column: pa.Array, pattern: str) -> np.ndarray:
    """Non-null values that match the whole pattern."""
    return as_mask(pc.fill_null(pc.match_substring_regex(column, f"^(?:{pattern})$"), False))


def _pattern(rule: str) -> str:
    return str(RULE_CONSTRAINTS[rule]["pattern"])


def _fold(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


# -- 全国地方公共団体コード and 法人番号: check digits ---------------------------------------------
def code_check_digit(base: str) -> int:
    """全国地方公共団体コード: check = (11 − (6a+5b+4c+3d+2e) mod 11) mod 10."""
    total = sum(int(d) * w for d, w in zip(base, (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


def corporate_check_digit(base: str) -> int:
    """法人番号 (国税庁): check = 9 − (Σ P·Q mod 9), P the 12 base digits from the right,
    Q = 1 at odd and 2 at even positions."""
    total = sum(int(d) * (1 if i % 2 else 2) for i, d in enumerate(reversed(base), start=1))
    return 9 - total % 9


def _digit_columns(codes: pa.Array, count: int) -> np.ndarray:
    """A (rows × count) matrix of the digits of equal-length digit strings."""
    data = np.frombuffer(codes.buffers()[2], np.uint8)
    offsets = np.frombuffer(codes.buffers()[1], np.int32)[codes.offset : codes.offset + len(codes)]
    index = offsets[:, None] + np.arange(count)[None, :]
    return (data[index] - ord("0")).astype(np.int64)


def _bad_check_digits(column: pa.Array, count: int, shaped: np.ndarray) -> np.ndarray:
    """Among the well-shaped codes (`shaped`), those whose check digit is wrong."""
    bad = np.zeros(len(column), dtype=bool)
    where = np.flatnonzero(shaped)
    if not len(where):
        return bad
    codes = pc.take(column, pa.array(where))
    digits = _digit_columns(codes, count)
    if count == 6:
        expected = (11 - (digits[:, :5] @ np.array([6, 5, 4, 3, 2])) % 11) % 10
        bad[where] = expected != digits[:, 5]
    else:
        weights = np.array([2, 1] * 6)  # the 12 base digits, left to right (1 on the last)
        expected = 9 - (digits[:, 1:] @ weights) % 9
        bad[where] = expected != digits[:, 0]
    return bad


def fix_local_government_code(value: str) -> str | None:
    digits = _fold(value).replace("-", "")
    if not digits.isdigit():
        return None
    if len(digits) == 6:
        digits = digits[:5]  # a wrong check digit: the base, checked again
    if len(digits) == 4:
        digits = "0" + digits  # both the leading zero and the check digit dropped
    if len(digits) == 5:
        if code_check_digit(("0" + digits)[:5]) == int(digits[4]):
            return "0" + digits  # the leading zero dropped (11002 for 011002)
        return digits + str(code_check_digit(digits))  # the check digit dropped
    return None


def fix_corporate_number(value: str) -> str | None:
    digits = re.sub(r"[-\s]", "", _fold(value))
    ok = len(digits) == 13 and digits.isdigit()
    return digits if ok and corporate_check_digit(digits[1:]) == int(digits[0]) else None


# -- text forms -------------------------------------------------------------------------------
def fix_phone(value: str) -> str | None:
    text = _fold(value)
    text = re.sub(r"^\((0\d{1,4})\)\s*", r"\1-", text)  # (03)3578-2111
    text = re.sub(r"\s*\(\s*(\d{1,4})\s*\)\s*", r"-\1-", text)  # 03(3578)2111
    text = re.sub(r"[\s\u2010-\u2015\u2212ー－]+", "-", text).strip("-")
    return text if re.fullmatch(_pattern("phone"), text) else None


def fix_url(value: str) -> str | None:
    text = _fold(value)
    return text if re.fullmatch(_pattern("url"), text) else None


_TIME = re.compile(r"(午前|午後)?(\d{1,2})(?:[:時.](\d{1,2})分?|時)")


def fix_time(value: str) -> str | None:
    match = _TIME.fullmatch(_fold(value).replace(" ", ""))
    if not match:
        return None
    half, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if half == "午後" and hours < 12:
        hours += 12
    text = f"{hours:02d}:{minutes:02d}"
    return text if re.fullmatch(_pattern("time"), text) else None


WEEK = "月火水木金土日"


def fix_weekdays(value: str) -> str | None:
    text = re.sub(r"曜日?", "", _fold(value))
    days: list[str] = []
    for part in re.split(r"[,、,・/\s]+", text):
        if not part:
            continue
        span = re.fullmatch(r"([月火水木金土日])[~〜～\-]([月火水木金土日])", part)
        if span:
            start, end = WEEK.index(span.group(1)), WEEK.index(span.group(2))
            days += list(WEEK[start : end + 1]) if start <= end else []
        elif part in (*WEEK, "祝"):
            days.append(part)
        else:
            return None
    return ",".join(days) or None


YES_NO = {"あり": "有", "有り": "有", "○": "有", "〇": "有", "なし": "無", "無し": "無", "×": "無"}


def fix_yes_no(value: str) -> str | None:
    text = _fold(value)
    if text in ("1", "0", "有", "無"):
        return text
    return YES_NO.get(text)


FIXES: dict[str, Fix] = {
    "local_government_code": fix_local_government_code,
    "corporate_number": fix_corporate_number,
    "phone": fix_phone,
    "url": fix_url,
    "time": fix_time,
    "weekdays": fix_weekdays,
    "yes_no": fix_yes_no,
}
MESSAGES: dict[str, str] = {
    "local_government_code": "全国地方公共団体コードは検査数字付きの6桁です"
    " / a local government code is 6 digits with its check digit",
    "corporate_number": "法人番号は13桁の数字です / a corporate number is 13 digits",
    "phone": "電話番号は半角数字とハイフンで書いてください（例 03-3578-2111）"
    " / write phone numbers in half-width digits with hyphens",
    "url": "URL は http:// または https:// で始めてください / a URL starts with http(s)://",
    "time": "時刻は HH:MM で書いてください（例 09:30） / write times as HH:MM",
    "weekdays": "曜日は 月,火,水,木,金,土,日,祝 をカンマで区切って書いてください"
    " / weekdays are 月,火,水,木,金,土,日,祝 joined by commas",
    "yes_no": "1 / 0 または 有 / 無 で書いてください / write 1 / 0 or 有 / 無",
}


def text_rule(name: str, rule: str, column: pa.Array) -> list[Finding]:
    """A text rule's shape (its Table Schema pattern or enum), then its check digit."""
    present = ~as_mask(pc.is_null(column))
    allowed = RULE_CONSTRAINTS[rule]
    if "enum" in allowed:
        shaped = as_mask(pc.fill_null(pc.is_in(column, pa.array(allowed["enum"])), False))
    else:
        shaped = _matches(column, _pattern(rule))
    findings = [Finding(name, present & ~shaped, MESSAGES[rule], FIXES[rule])]
    digits = {"local_government_code": 6, "corporate_number": 13}.get(rule)
    if digits:
        bad = _bad_check_digits(column, digits, shaped)
        label = "全国地方公共団体コード" if digits == 6 else "法人番号"
        message = f"{label}の検査数字が合いません / the check digit is wrong"
        findings.append(Finding(name, bad, message, FIXES[rule]))
    return findings


# -- 緯度 / 経度 --------------------------------------------------------------------------------
def coordinate_rules(
    latitude: tuple[str, pa.Array],
    longitude: tuple[str, pa.Array],
    extent: tuple[float, float, float, float] | None,
) -> list[Finding]:
    """Japan's range, swapped columns, and (a warning) points outside the publisher's area."""
    (lat_name, lat_column), (lon_name, lon_column) = latitude, longitude
    lat = pc.fill_null(pc.cast(lat_column, pa.float64()), np.nan).to_numpy(zero_copy_only=False)
    lon = pc.fill_null(pc.cast(lon_column, pa.float64()), np.nan).to_numpy(zero_copy_only=False)

    def within(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
        return (values >= bounds[0]) & (values <= bounds[1])

    swapped = within(lat, LONGITUDES) & within(lon, LATITUDES)
    findings = [
        Finding(
            lat_name,
            swapped,
            "緯度と経度が入れ替わっています / latitude and longitude are swapped",
            _swap_fix(lat[swapped], lon[swapped]),
        ),
        Finding(
            lat_name,
            ~np.isnan(lat) & ~within(lat, LATITUDES) & ~swapped,
            "緯度が日本の範囲（北緯20～46度）の外です / latitude outside Japan (20–46 N)",
        ),
        Finding(
            lon_name,
            ~np.isnan(lon) & ~within(lon, LONGITUDES) & ~swapped,
            "経度が日本の範囲（東経122～154度）の外です / longitude outside Japan (122–154 E)",
        ),
    ]
    if extent is not None:
        west, south, east, north = extent
        inside_japan = within(lat, LATITUDES) & within(lon, LONGITUDES)
        outside = inside_japan & ~(within(lat, (south, north)) & within(lon, (west, east)))
        findings.append(
            Finding(
                lat_name,
                outside,
                f"地点が区域（catalog.yaml の extent: 北緯{south}～{north}度、東経{west}～{east}度）"
                "の外です / the point lies outside the publisher's area",
                warning=True,
            )
        )
    return findings


def _swap_fix(lat: np.ndarray, lon: np.ndarray) -> Fix:
    """The fix of a swapped row names both values; found by the latitude cell's text (only
    the swapped rows are given: usually none)."""
    pairs = {f"{a:g}": f"{b:g}" for a, b in zip(lat, lon, strict=True)}

    def fix(value: str) -> str | None:
        other = pairs.get(f"{float(value):g}") if _is_number(value) else None
        return None if other is None else f"緯度 {other}, 経度 {value}"

    return fix


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
