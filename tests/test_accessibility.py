"""WCAG AA contrast of the site's colour pairs, computed from site.css itself."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT

CSS = (ROOT / "catalog/site/static/site.css").read_text(encoding="utf-8")
VARIABLES = dict(re.findall(r"--(\w+):\s*(#[0-9a-fA-F]{6})", CSS))


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(
    ("foreground", "background"),
    [
        (VARIABLES["text"], VARIABLES["bg"]),
        (VARIABLES["muted"], VARIABLES["bg"]),
        (VARIABLES["muted"], VARIABLES["soft"]),
        (VARIABLES["link"], VARIABLES["bg"]),
        (VARIABLES["text"], VARIABLES["soft"]),
        ("#0b3d6e", "#e7eef6"),  # tags
        ("#ffffff", "#0b3d6e"),  # header and footer
        ("#f2f2f2", "#1e2630"),  # code snippets
    ],
)
def test_text_colours_meet_wcag_aa(foreground: str, background: str) -> None:
    assert f"{foreground}".lower() in CSS.lower() and f"{background}".lower() in CSS.lower()
    assert contrast(foreground, background) >= 4.5


def test_the_contrast_formula_can_fail() -> None:
    assert contrast("#777777", "#ffffff") < 4.5
