"""The site as the auditors see it: axe-core in Chromium, the Nu HTML checker, Lighthouse.

- axe-core: every page of the built sample site at 1280 and 375 px, 0 violations;
- the Nu HTML checker (vnu.jar on Debian's Java): every page, the CSS and the favicon, 0 errors;
- Lighthouse (mobile, Debian's Chromium) on the index and the plan-indicators page, served by
  the real `opendata serve`: performance >= 90, accessibility, best practices and SEO 100.
  About 40 s, so it is marked `lighthouse` and runs in `make audit`, not `make test`.

The tools are pinned in package.json / package-lock.json and installed by `make audit-tools`
(which `make test` and `make audit` run first). Without them these tests skip, except in CI,
where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import CHROME_FLAGS, CHROMIUM, ROOT, require

NODE_MODULES = ROOT / "node_modules"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
VNU = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
LIGHTHOUSE = NODE_MODULES / ".bin" / "lighthouse"
WIDTHS = [1280, 375]
LIGHTHOUSE_PAGES = ["index.html", "datasets/plan-indicators/index.html"]
MIN_CHART_TEXT_PX = 12
CHECK = ["--also-check-css", "--also-check-svg"]


def _pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


@pytest.fixture(scope="module", params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def page(browser, request) -> Iterator:
    width = request.param
    context = browser.new_context(
        viewport={"width": width, "height": 900}, is_mobile=width < 600, locale="ja-JP"
    )
    page = context.new_page()
    page.width = width
    yield page
    context.close()


def test_axe_finds_no_violation_on_any_page(page, built_site: Path) -> None:
    require(AXE.is_file(), "axe-core (node_modules)", "`make audit-tools`")
    found = []
    pages = _pages(built_site)
    assert len(pages) >= 6
    for path in pages:
        page.goto(path.as_uri())
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        found += [
            f"{path.relative_to(built_site)} @{page.width}px: {v['id']} ({v['impact']}) "
            + ", ".join(str(n["target"]) for n in v["nodes"][:5])
            for v in result["violations"]
        ]
    assert found == []


def test_chart_text_is_at_least_12_px_as_drawn(page, built_site: Path) -> None:
    page.goto((built_site / "datasets/plan-indicators/index.html").as_uri())
    sizes = page.evaluate(
        """() => Array.from(document.querySelectorAll('svg.chart text'), t => {
            const m = t.getScreenCTM();  // rotated labels too: the scale is |(a, b)|
            return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
        })"""
    )
    assert len(sizes) > 31 * 4
    assert min(sizes) >= MIN_CHART_TEXT_PX, sorted(sizes)[:5]


def test_every_page_fits_the_width_and_keeps_every_column(page, built_site: Path) -> None:
    for path in _pages(built_site):
        page.goto(path.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= page.width, path
    page.goto((built_site / "datasets/plan-indicators/index.html").as_uri())
    # The fields' descriptions and the files' SHA-256 are on screen, not scrolled away.
    cells = page.locator("table.stack td:last-child")
    assert cells.count() >= 4 + 9
    for box in cells.evaluate_all("els => els.map(e => e.getBoundingClientRect().toJSON())"):
        assert box["width"] > 0 and box["right"] <= page.width, box
    hash_lines = page.locator("code.hash").first.evaluate(
        "e => Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight))"
    )
    assert hash_lines <= 2


def test_every_page_links_a_favicon_that_exists(built_site: Path) -> None:
    for path in _pages(built_site):
        html = path.read_text(encoding="utf-8")
        link = re.search(r'<link rel="icon" href="([^"]+)"', html)
        assert link, path
        assert (path.parent / link.group(1)).resolve().is_file()


def test_the_nu_html_checker_finds_no_error(built_site: Path) -> None:
    require(
        VNU.is_file() and shutil.which("java") is not None, "vnu-jar and Java", "`make audit-tools`"
    )
    files = [*_pages(built_site), built_site / "static/site.css", built_site / "static/favicon.svg"]
    done = subprocess.run(
        ["java", "-jar", str(VNU), "--errors-only", "--format", "json", *CHECK, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(done.stderr)["messages"]
    errors = [
        f"{m.get('url', '').rsplit('/dist/', 1)[-1]}:{m.get('lastLine')}: {m['message']}"
        for m in messages
    ]
    assert errors == []
    assert done.returncode == 0


@pytest.mark.lighthouse
@pytest.mark.parametrize("path", LIGHTHOUSE_PAGES)
def test_lighthouse_mobile_scores(server: str, tmp_path: Path, path: str) -> None:
    """Accessibility, best practices and SEO are judged on the markup; performance is timed,
    so a machine busy with something else can slow one run: it is the best of up to three."""
    require(LIGHTHOUSE.exists(), "lighthouse (node_modules)", "`make audit-tools`")
    runs = []
    for _attempt in range(3):
        runs.append(_lighthouse(server, tmp_path, path))
        if runs[-1][0]["performance"] >= 0.9:
            break
    print(path, [scores for scores, _ in runs])
    scores, failing = max(runs, key=lambda run: run[0]["performance"])
    assert scores["performance"] >= 0.9, failing
    assert scores["accessibility"] == 1, failing
    assert scores["best-practices"] == 1, failing
    assert scores["seo"] == 1, failing


def _lighthouse(server: str, tmp_path: Path, path: str) -> tuple[dict[str, float], list[str]]:
    """One Lighthouse run (mobile): the category scores, and every audit short of full marks."""
    report = tmp_path / "lighthouse.json"
    subprocess.run(
        [
            str(LIGHTHOUSE),
            f"{server}/{path}",
            "--quiet",
            "--form-factor=mobile",
            "--only-categories=performance,accessibility,best-practices,seo",
            "--output=json",
            f"--output-path={report}",
            "--chrome-flags=" + " ".join(["--headless", *CHROME_FLAGS]),
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        check=True,
        timeout=240,
    )
    result = json.loads(report.read_text(encoding="utf-8"))
    scores = {name: c["score"] for name, c in result["categories"].items()}
    failing = [
        f"{name}/{ref['id']}: {result['audits'][ref['id']].get('displayValue', '')}"
        for name, category in result["categories"].items()
        for ref in category["auditRefs"]
        if ref["weight"]
        and (result["audits"][ref["id"]]["score"] or 0) < 1
        and result["audits"][ref["id"]]["scoreDisplayMode"] in ("binary", "numeric")
    ]
    return scores, failing
