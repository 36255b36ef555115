"""The front page at catalog scale, in Debian's headless Chromium: the ward-shaped catalog
(ward_catalog.py) built at each size, `index.html` opened from disk as the static site is,
then the `load` event's time and, for each keystroke typed into the search box (and for
clearing it, which shows every dataset again), the time from the key to the next painted
frame (a `requestAnimationFrame` after the input, then the task after that frame).

    .venv/bin/python benchmarks/bench_site.py [--datasets 600 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from playwright.sync_api import sync_playwright
from ward_catalog import generate

from bench_build import BIN, HERE
from conftest import CHROME_FLAGS, CHROMIUM

WORDS = ["芝", "公園", "Wi-Fi", "ward", "存在しない"]
# Each keystroke's time to the next paint, from its `beforeinput` (typed Japanese arrives as
# inserted text, with no keydown), kept in the page (capturing: before the page's
# own listener runs).
PROBE = """() => {
  window.latencies = [];
  document.getElementById("q").addEventListener("beforeinput", () => {
    const start = performance.now();
    requestAnimationFrame(() => setTimeout(() => window.latencies.push(performance.now() - start)));
  }, true);
}"""


def built(datasets: int) -> Path:
    """The catalog of `datasets` datasets, generated and built once (kept for the next run)."""
    work = HERE / "data" / f"site-{datasets}"
    site = work / "dist"
    if not (site / "index.html").is_file():
        generate(work, datasets)
        command = [str(BIN / "opendata"), "build", "--datasets", "datasets", "--out", "dist"]
        subprocess.run(command, cwd=work, check=True, capture_output=True)
    return site


def measure(browser: Any, index: Path, repeat: int) -> dict[str, float]:
    loads: list[float] = []
    typed: list[float] = []
    cleared: list[float] = []
    for _ in range(repeat):
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(index.as_uri())
        page.wait_for_load_state("load")
        loads.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
        page.evaluate(PROBE)
        for word in WORDS:
            page.keyboard.press("Escape")
            page.focus("#q")
            page.keyboard.type(word, delay=120)
            page.wait_for_timeout(200)
            typed.extend(page.evaluate("window.latencies.splice(0)"))
            page.keyboard.press("Control+A")
            page.keyboard.press("Backspace")
            page.wait_for_timeout(200)
            cleared.extend(page.evaluate("window.latencies.splice(0)"))
        page.context.close()
    return {
        "load ms (median)": statistics.median(loads),
        "keystroke → paint ms (median)": statistics.median(typed),
        "keystroke → paint ms (max)": max(typed),
        "clear → paint ms (median)": statistics.median(cleared),
        "clear → paint ms (max)": max(cleared),
        "index.html MB": index.stat().st_size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=int, nargs="+", default=[600, 2000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sites = {n: built(n) for n in args.datasets}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROME_FLAGS)
        results = {
            n: measure(browser, site / "index.html", args.repeat) for n, site in sites.items()
        }
        browser.close()
    print(f"{'':32}" + "".join(f"{f'{n:,} datasets':>16}" for n in results))
    for key in next(iter(results.values())):
        print(f"{key:32}" + "".join(f"{r[key]:16.2f}" for r in results.values()))


if __name__ == "__main__":
    main()
