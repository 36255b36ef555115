"""`package_search`'s query evaluation in-process, per query form, on the synthetic catalog
that bench_serve.py generates (no HTTP: the index's own cost).

    .venv/bin/python benchmarks/bench_search.py [--datasets N] [--repeat N] [--plain]

`--plain` times only plain word queries (what an index of any version answers), so the same
command under an older checkout's PYTHONPATH compares the two.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bench_serve import FACETS, HERE, QUERIES
from synthetic_catalog import generate

from catalog.api.search import SearchIndex

SYNTAX = {
    "phrase": '"赤坂 公園"',
    "OR of two words": "防災 OR 子育て",
    "word NOT word": "公園 -赤坂",
    "parentheses": "(防災 OR 子育て) 統計",
    "field query": "tags:防災",
    "field group": "tags:(防災 OR 子育て) res_format:CSV",
    "*:*": "*:*",
    "NOT field": "-res_format:CSV",
    "range (fq)": "metadata_modified:[NOW-5YEARS TO NOW]",
}


def timed(index: SearchIndex, repeat: int, **query: str) -> list[float]:
    facets = json.loads(FACETS)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        index.search(rows=10, facet_fields=facets, **query)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--plain", action="store_true")
    args = parser.parse_args()
    site = HERE / "data" / f"serve-site-{args.datasets}"
    if not (site / "api" / "index.arrow").exists():
        generate(site, args.datasets)
    index = SearchIndex.load(Path(site))
    timed(index, 3, q=QUERIES[0])  # warm the memory map
    rows = [("plain words (bench_serve's 15 queries)", [])]
    for q in QUERIES:
        rows[0][1].extend(timed(index, args.repeat, q=q))
    if not args.plain:
        for name, query in SYNTAX.items():
            key = "fq" if name.endswith("(fq)") else "q"
            rows.append((name, timed(index, args.repeat, **{key: query})))
    print(f"{args.datasets:,} datasets, 5 facets, {args.repeat} runs each")
    print(f"{'':42} {'p50 ms':>8} {'p95 ms':>8}")
    for name, times in rows:
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"{name:42} {statistics.median(times):8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
