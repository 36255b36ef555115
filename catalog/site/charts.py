"""Charts of the plan's indicators — actual values against targets over fiscal years — drawn
at build time as SVG by matplotlib, so the page shows them without JavaScript.

Three series kinds, by the values' `kind`: actuals (solid), this plan's targets (計画目標値,
dashed) and the previous period's mid-term targets (前期の成果の目標, the ones `midterm_status`
judges; dotted, in their own colour) — never joined into one target line.

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
from typing import Any, Literal
from xml.etree import ElementTree

import matplotlib
from matplotlib.figure import Figure  # not pyplot: a second of start-up, and global state
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..stats.dataset import FISCAL_RESOURCE

logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

ACTUAL = "#1f5fa8"
TARGET = "#b8430b"
MIDTERM_TARGET = "#6b6b6b"
MEASURED = "#1a7f37"
# P24-2-1 月平均のオープンデータダウンロード数: the indicator this catalog measures itself
# (`opendata stats`, the download-stats dataset's fiscal-years resource).
MEASURED_INDICATOR = "P24-2-1"
MEASURED_LABEL = "カタログ実測 measured"
KINDS = ("actual", "midterm_target", "target")  # drawn (and described) in this order
COLOURS = {"actual": ACTUAL, "midterm_target": MIDTERM_TARGET, "target": TARGET}
LINES: dict[str, Literal["-", ":", "--"]] = {"actual": "-", "midterm_target": ":", "target": "--"}
LABELS = {"actual": "実績 actual", "midterm_target": "前期目標 midterm", "target": "目標 target"}
GROUP_LABELS = {
    "all": "",
    "resident": "在住",
    "worker": "在勤",
    "resident_and_worker": "在住及び在勤",
}
MARKERS = {"=": "o", ">=": "^", ">": "^", "<=": "v", "<": "v", "between": "_"}
COMPARATORS = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}
# 3.6 in = 259.2 SVG units wide. On a 375 px phone a chart is 325 px wide (1.25 px a unit), so
# text of 10 units renders at 12.5 px; wider screens draw it larger.
FIGSIZE = (3.6, 2.5)
FONT_SIZE = 10
FONT_FAMILY = "'DejaVu Sans', 'Noto Sans CJK JP', 'Hiragino Sans', Meiryo, sans-serif"
RDF_KEYS = ("Creator", "Date", "Format", "Type")
NUMBER = re.compile(r"-?\d+\.\d+")
# Declarations every <text> carries that the <svg> now sets once (and the SVG defaults).
SVG_DEFAULTS = {f"font-size: {FONT_SIZE}px", "font-family: 'DejaVu Sans'", "stroke-linecap: butt"}

matplotlib.rcParams.update(
    {
        # Text stays <text>: selectable, found by the page's search, one node a label (not a
        # path a glyph).
        "svg.fonttype": "none",
        "svg.hashsalt": "minato-opendata",
        # matplotlib's own font lays text out the same on every machine; the browser draws the
        # Japanese glyphs with its fallback fonts.
        "font.family": ["DejaVu Sans"],
        "font.size": FONT_SIZE,
        "legend.fontsize": FONT_SIZE,
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
    svgs = indicator_charts(indicators, values, measured_by_year(tables.get(FISCAL_RESOURCE, [])))
    return [
        Chart(i["indicator_id"], i["name"], i.get("unit") or "", svgs[i["indicator_id"]])
        for i in indicators
        if i["indicator_id"] in svgs
    ]


def measured_by_year(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each fiscal year's latest row of the download-stats fiscal-years resource: the monthly
    average so far and the months it covers."""
    latest: dict[int, dict[str, Any]] = {}
    for row in rows:
        year = row["fiscal_year"]
        if year not in latest or row["through_month"] > latest[year]["through_month"]:
            latest[year] = row
    return [latest[y] for y in sorted(latest)]


def indicator_charts(
    indicators: list[dict[str, Any]],
    values: list[dict[str, Any]],
    measured: list[dict[str, Any]] | None = None,
) -> dict[str, str]:
    """indicator_id → SVG markup; `measured` (fiscal year, monthly average, months covered)
    is drawn beside the plan's own values on the indicator the catalog measures."""
    by_indicator: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in values:
        by_indicator[row["indicator_id"]].append(row)
    with warnings.catch_warnings():
        # DejaVu has no Japanese glyphs to measure; the text stays text and the browser draws it.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        return {
            item["indicator_id"]: _chart(
                item,
                by_indicator.get(item["indicator_id"], []),
                measured if item["indicator_id"] == MEASURED_INDICATOR else None,
            )
            for item in indicators
            if by_indicator.get(item["indicator_id"])
        }


def _chart(
    indicator: dict[str, Any], rows: list[dict[str, Any]], measured: list[dict[str, Any]] | None
) -> str:
    figure = Figure(figsize=FIGSIZE)
    figure.patch.set_visible(False)  # the page's own background
    axes = figure.subplots()
    axes.patch.set_visible(False)
    years = sorted({r["fiscal_year"] for r in rows} | {m["fiscal_year"] for m in measured or []})
    handles = [_draw(axes, series, kind, group) for kind, group, series in _series(rows)]
    if measured:
        handles.append(_draw_measured(axes, measured))
    unit = indicator.get("unit") or ""
    axes.set_xticks(years, [str(y) for y in years])
    axes.set_xlabel("年度 / fiscal year")
    axes.set_ylabel(unit or "値 / value")
    axes.yaxis.set_major_locator(MaxNLocator(nbins=4))
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(handles=handles, loc="best", frameon=False, handlelength=1.6, borderaxespad=0.2)
    figure.tight_layout(pad=0.3)
    buffer = io.StringIO()
    # No RDF block (Type, Format, Creator, Date: the HTML checker rejects it inside a page);
    # Title becomes the SVG's <title>, its accessible name.
    figure.savefig(
        buffer,
        format="svg",
        metadata={"Title": _description(indicator, rows, measured)} | dict.fromkeys(RDF_KEYS),
    )
    return _inline(buffer.getvalue(), indicator["indicator_id"])


def _series(rows: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(kind, respondent group, rows by fiscal year): actual, then midterm target, then target."""
    return [
        (
            kind,
            group,
            sorted(
                (r for r in rows if r["kind"] == kind and r["respondent_group"] == group),
                key=lambda r: r["fiscal_year"],
            ),
        )
        for kind in KINDS
        for group in sorted({r["respondent_group"] for r in rows if r["kind"] == kind})
    ]


def _label(kind: str, group: str) -> str:
    return LABELS[kind] + (f"（{GROUP_LABELS[group]}）" if GROUP_LABELS.get(group) else "")


def _draw_measured(axes: Any, measured: list[dict[str, Any]]) -> Line2D:
    """The catalog's own measurement: a solid green line with square markers, apart from the
    plan's printed actuals (which stay as the plan printed them)."""
    xs = [m["fiscal_year"] for m in measured]
    ys = [m["monthly_average"] for m in measured]
    axes.plot(xs, ys, "-s", color=MEASURED, linewidth=1.2, markersize=5, zorder=2.2)
    for row in measured:
        if row["months_covered"] < 12:
            axes.annotate(
                f"{row['months_covered']}か月",
                (row["fiscal_year"], row["monthly_average"]),
                textcoords="offset points",
                xytext=(4, -12),
            )
    return Line2D(
        [], [], color=MEASURED, linewidth=1.2, marker="s", markersize=5, label=MEASURED_LABEL
    )


def _description(
    indicator: dict[str, Any], rows: list[dict[str, Any]], measured: list[dict[str, Any]] | None
) -> str:
    """The chart in words, for screen readers (and as its tooltip): every value it draws."""
    unit = indicator.get("unit") or ""
    parts = []
    for kind, group, series in _series(rows):
        values = ", ".join(f"{r['fiscal_year']}: {_value(r)}" for r in series)
        parts.append(f"{_label(kind, group)} {values}")
    if measured:
        values = ", ".join(
            f"{m['fiscal_year']}: {m['monthly_average']:g}（{m['months_covered']}か月、"
            f"{m['through_month']}まで / {m['months_covered']} months to {m['through_month']}）"
            for m in measured
        )
        parts.append(f"カタログ実測（月平均） measured by the catalog (monthly average) {values}")
    return f"{indicator['indicator_id']} {indicator['name']}（{unit or '値'}）— " + "; ".join(parts)


def _value(row: dict[str, Any]) -> str:
    value = f"{row['value']:g}"
    if row["comparator"] == "between":
        value = f"{value}～{row['value_max']:g}"
    elif row["comparator"] in COMPARATORS:
        value = f"{COMPARATORS[row['comparator']]}{value}"
    return value + ("（見込 estimate）" if row["estimated"] else "")


def _draw(axes: Any, series: list[dict[str, Any]], kind: str, group: str) -> Line2D:
    """One series on the axes; returns its legend entry (line style and marker: a series is
    often a single point, a target for one year, which a line alone would not show)."""
    colour = COLOURS[kind]
    # Mid-term targets often equal the 見込 actual of the same year: drawn beneath it and
    # larger, they show as a ring around the actual instead of hiding it.
    zorder, size = (1.8, 9) if kind == "midterm_target" else (2, 6)
    xs = [r["fiscal_year"] for r in series]
    ys = [r["value"] for r in series]
    axes.plot(xs, ys, LINES[kind], color=colour, linewidth=1.2, zorder=zorder)
    for row in series:
        if row["comparator"] == "between":
            axes.vlines(
                row["fiscal_year"],
                row["value"],
                row["value_max"],
                color=colour,
                linewidth=6,
                alpha=0.35,
                zorder=zorder,
            )
    # One line (one <defs> marker and its <use>s) per marker shape and fill, not one per point.
    kinds = sorted({(MARKERS.get(r["comparator"], "o"), bool(r["estimated"])) for r in series})
    for marker, hollow in kinds:
        points = [
            r
            for r in series
            if (MARKERS.get(r["comparator"], "o"), bool(r["estimated"])) == (marker, hollow)
        ]
        axes.plot(
            [r["fiscal_year"] for r in points],
            [r["value"] for r in points],
            marker,
            linestyle="none",
            color=colour,
            markersize=size,
            markerfacecolor="white" if hollow else colour,
            zorder=zorder,
        )
        for row in points if hollow else []:
            axes.annotate(
                "見込",
                (row["fiscal_year"], row["value"]),
                textcoords="offset points",
                xytext=(4, 4),
            )
    return Line2D(
        [],
        [],
        linestyle=LINES[kind],
        linewidth=1.2,
        color=colour,
        marker=MARKERS.get(series[0]["comparator"], "o"),
        markersize=5,
        label=_label(kind, group),
    )


def _inline(svg: str, key: str) -> str:
    """SVG ready to sit inside HTML, and small: no XML prolog, namespaces or RDF; matplotlib's
    many nested <g id> groups unwrapped (a third of the page's DOM nodes were those) and their
    ids dropped; the ids something refers to (clip paths, markers) made unique to this chart;
    coordinates to 0.01; the font set once on the <svg> instead of on every <text>."""
    root = ElementTree.fromstring(svg[svg.index("<svg") :])
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
        for name in [n for n in element.attrib if n.startswith("{")]:
            # xlink:href → href (SVG 2, every browser)
            element.attrib[name.rpartition("}")[2]] = element.attrib.pop(name)
    used = {
        m.group(1)
        for element in root.iter()
        for value in element.attrib.values()
        for m in re.finditer(r"(?:url\(#|^#)([^)]+)", value)
    }
    defs = ElementTree.Element("defs")
    children = _flatten(root, defs, used, key)
    titles = [c for c in children if c.tag == "title"]  # first: the accessible name
    root[:] = titles + ([defs] if len(defs) else []) + [c for c in children if c.tag != "title"]
    root.text = None
    attributes = {
        "role": "img",
        "class": "chart",
        **{k: root.attrib[k] for k in ("width", "height", "viewBox")},
        "font-family": FONT_FAMILY,
        "font-size": str(FONT_SIZE),
        "stroke-linejoin": "round",  # was matplotlib's <style>
    }
    root.attrib.clear()
    root.attrib.update(attributes)
    return ElementTree.tostring(root, encoding="unicode")


def _flatten(
    element: ElementTree.Element, defs: ElementTree.Element, used: set[str], key: str
) -> list[ElementTree.Element]:
    """`element`'s children, compacted; nested <defs> content goes to `defs`."""
    kept: list[ElementTree.Element] = []
    for child in element:
        if child.tag in ("metadata", "style"):  # its `*{…}` rule would style the whole page
            continue
        if child.tag == "defs":
            defs.extend(_flatten(child, defs, used, key))
            continue
        if child.tag == "title":
            kept.append(child)
            continue
        _tidy(child, used, key)
        grandchildren = _flatten(child, defs, used, key)
        if child.tag == "g" and not child.attrib:
            kept.extend(grandchildren)
        elif grandchildren or child.tag != "g":
            child[:] = grandchildren
            child.text = child.text if child.tag == "text" else None
            kept.append(child)
    for child in kept:
        child.tail = None
    return kept


def _tidy(element: ElementTree.Element, used: set[str], key: str) -> None:
    attrib = element.attrib
    if "id" in attrib:
        if attrib["id"] in used:
            attrib["id"] = f"{key}-{attrib['id']}"
        else:
            del attrib["id"]
    for name, value in list(attrib.items()):
        if name == "d":
            value = " ".join(value.split())
        if name in ("d", "x", "y", "points", "width", "height", "transform") or name == "style":
            value = NUMBER.sub(lambda m: _round(m.group()), value)
        value = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{key}-{m.group(1)})", value)
        if name == "href" and value.startswith("#"):
            value = f"#{key}-{value[1:]}"
        attrib[name] = value
    if attrib.get("transform", "").startswith("rotate(-0 ") or attrib.get("transform") == "":
        del attrib["transform"]
    if "style" in attrib:
        declarations = [
            d.strip()
            for d in attrib["style"].split(";")
            if d.strip() and d.strip() not in SVG_DEFAULTS
        ]
        if declarations:
            attrib["style"] = "; ".join(declarations)
        else:
            del attrib["style"]


def _round(number: str) -> str:
    text = f"{float(number):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# The kinds a dataset may ask for; pipeline/vocabulary.py names the resources each reads.
CHARTS: dict[str, Callable[[Tables], list[Chart]]] = {"indicators": indicator_page}
