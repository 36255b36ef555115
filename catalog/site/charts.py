"""Charts of the plan's indicators — actual values against targets over fiscal years — drawn
at build time as SVG by matplotlib, so the page shows them without JavaScript.

Targets that are ranges are drawn as bars from minimum to maximum, bounds (≥, ≤) as arrowheads,
estimates (見込) as hollow markers. Text stays text in the SVG (the browser's Japanese fonts
draw it), and the SVG carries no date or random ids, so rebuilds are byte-identical.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import matplotlib
from matplotlib.figure import Figure  # not pyplot: a second of start-up, and global state

logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

ACTUAL = "#1f5fa8"
TARGET = "#b8430b"
GROUP_LABELS = {"all": "", "resident": "在住", "worker": "在勤"}
MARKERS = {"=": "o", ">=": "^", "<=": "v", "between": "_"}

matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",
        "svg.hashsalt": "minato-opendata",
        # matplotlib's own font lays text out the same on every machine; the browser draws the
        # Japanese glyphs with its fallback fonts.
        "font.family": ["DejaVu Sans"],
        "font.size": 9,
    }
)


@dataclass(frozen=True)
class Chart:
    id: str
    name: str
    unit: str
    svg: str


Tables = dict[str, list[dict[str, Any]]]  # resource name → rows


def indicator_page(tables: Tables) -> list[Chart]:
    """One chart per plan indicator that has values (`chart: indicators`)."""
    indicators, values = tables["indicators"], tables["indicator-values"]
    svgs = indicator_charts(indicators, values)
    return [
        Chart(i["indicator_id"], i["name"], i.get("unit") or "", svgs[i["indicator_id"]])
        for i in indicators
        if i["indicator_id"] in svgs
    ]


def indicator_charts(
    indicators: list[dict[str, Any]], values: list[dict[str, Any]]
) -> dict[str, str]:
    """indicator_id → SVG markup."""
    by_indicator: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in values:
        by_indicator[row["indicator_id"]].append(row)
    with warnings.catch_warnings():
        # DejaVu has no Japanese glyphs to measure; the text stays text and the browser draws it.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        return {
            item["indicator_id"]: _chart(item, by_indicator.get(item["indicator_id"], []))
            for item in indicators
            if by_indicator.get(item["indicator_id"])
        }


def _chart(indicator: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    figure = Figure(figsize=(4.8, 2.6))
    axes = figure.subplots()
    years = sorted({r["fiscal_year"] for r in rows})
    for kind, colour in (("actual", ACTUAL), ("target", TARGET)):
        for group in sorted({r["respondent_group"] for r in rows if r["kind"] == kind}):
            series = sorted(
                (r for r in rows if r["kind"] == kind and r["respondent_group"] == group),
                key=lambda r: r["fiscal_year"],
            )
            _draw(axes, series, kind, group, colour)
    unit = indicator.get("unit") or ""
    axes.set_xticks(years, [str(y) for y in years])
    axes.set_xlabel("年度 / fiscal year")
    axes.set_ylabel(unit or "値 / value")
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="best", fontsize=7, frameon=False)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _inline(buffer.getvalue(), indicator["indicator_id"])


def _draw(axes: Any, series: list[dict[str, Any]], kind: str, group: str, colour: str) -> None:
    label = ("実績 actual" if kind == "actual" else "目標 target") + (
        f"（{GROUP_LABELS[group]}）" if GROUP_LABELS.get(group) else ""
    )
    xs = [r["fiscal_year"] for r in series]
    ys = [r["value"] for r in series]
    style = "-" if kind == "actual" else "--"
    axes.plot(xs, ys, style, color=colour, linewidth=1.2, label=label)
    for row in series:
        comparator = row["comparator"]
        hollow = row["estimated"]
        if comparator == "between":
            axes.vlines(
                row["fiscal_year"],
                row["value"],
                row["value_max"],
                color=colour,
                linewidth=6,
                alpha=0.35,
            )
        axes.plot(
            row["fiscal_year"],
            row["value"],
            MARKERS.get(comparator, "o"),
            color=colour,
            markersize=7,
            markerfacecolor="white" if hollow else colour,
        )
        if hollow:
            axes.annotate(
                "見込",
                (row["fiscal_year"], row["value"]),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=7,
            )


def _inline(svg: str, key: str) -> str:
    """SVG ready to sit inside HTML: no XML prolog, ids unique to this chart, a title for AT."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{key}-{m.group(1)}"', svg)
    svg = re.sub(
        r'(url\(#|xlink:href="#|href="#)([^)"]+)', lambda m: f"{m.group(1)}{key}-{m.group(2)}", svg
    )
    return svg.replace("<svg ", '<svg role="img" class="chart" ', 1)


# The kinds a dataset may ask for; pipeline/vocabulary.py names the resources each reads.
CHARTS: dict[str, Callable[[Tables], list[Chart]]] = {"indicators": indicator_page}
