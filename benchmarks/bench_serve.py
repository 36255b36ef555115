"""`opendata serve` at scale: a synthetic catalog of 100,000 datasets, loaded over HTTP from a
second process on loopback.

Measures start-up (process start → first answer), `package_search` latency (p50/p95/p99) for
Japanese queries with facets, and `package_show` throughput against the same JSON served as a
static file by the same server. With `--datasette`, the same searches are then sent to
Datasette serving the same datasets (datasette_site.py), after checking that both count the
same datasets for every query, and the two are printed side by side at 1, 2 and 4 clients.

    .venv/bin/python benchmarks/bench_serve.py [--datasets N] [--requests N] [--workers N]
                                                [--datasette]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import datasette_site
from synthetic_catalog import generate

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
QUERIES = ["防災", "保育園", "人権", "Wi-Fi", "図書館", "赤坂 公園", "子育て", "避難所", "文化財", "ごみ",
           "ＷｉＦｉ", "公衆トイレ", "芝浦港南 統計", "介護", "自転車"]  # fmt: skip
FACETS = json.dumps(["tags", "groups", "res_format", "organization", "license_id"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(site: Path, port: int, workers: int = 1) -> tuple[subprocess.Popen, float]:
    started = time.monotonic()
    command = [str(BIN / "opendata"), "serve", "--site", str(site), "--port", str(port)]
    process = subprocess.Popen([*command, "--workers", str(workers)])
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/3/action/status_show", timeout=1)
            return process, time.monotonic() - started
        except OSError:
            time.sleep(0.01)


def load(port: int, concurrency: int, paths: list[str]) -> dict:
    paths_file = HERE / "data" / "paths.txt"
    paths_file.write_text("\n".join(paths), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "load.py"),
            "127.0.0.1",
            str(port),
            str(concurrency),
            str(paths_file),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=1, help="serve --workers")
    parser.add_argument("--datasette", action="store_true", help="compare with Datasette")
    parser.add_argument(
        "--datasette-requests", type=int, default=120, help="searches sent to Datasette"
    )
    args = parser.parse_args()
    site = HERE / "data" / f"serve-site-{args.datasets}"
    if not (site / "api" / "index.arrow").exists():
        print(f"generating {args.datasets:,} datasets into {site} …", flush=True)
        generate(site, args.datasets)
    port = free_port()
    process, startup = start(site, port, args.workers)
    rng = random.Random(1)
    names = [f"dataset-{rng.randrange(args.datasets):06d}" for _ in range(args.requests)]
    queries = [rng.choice(QUERIES) for _ in range(args.requests)]
    search = [
        "/api/3/action/package_search?"
        + urllib.parse.urlencode({"q": q, "facet.field": FACETS, "rows": 10})
        for q in queries
    ]
    try:
        if args.datasette:  # ours must count what the text holds, as Datasette must
            check_counts(port, site)
        load(port, 4, search[:200])  # warm-up
        results = {
            "package_search (Japanese q + 5 facets), 1 client": load(
                port, 1, search[: args.requests // 3]
            ),
            "package_search (Japanese q + 5 facets), 2 clients": load(
                port, 2, search[: args.requests * 2 // 3]
            ),
            "package_search (Japanese q + 5 facets), 4 clients": load(port, 4, search),
            "package_show, 8 clients": load(
                port, 8, [f"/api/3/action/package_show?id={n}" for n in names]
            ),
            "same JSON as a static file, 8 clients": load(
                port, 8, [f"/datasets/{n}/package.json" for n in names]
            ),
        }
    finally:
        process.terminate()
        process.wait()
    print(
        f"\n{args.datasets:,} datasets, {args.workers} worker(s); start-up to first answer: {startup:.2f} s\n"
    )
    print(f"{'':52} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  statuses")
    for name, r in results.items():
        print(
            f"{name:52} {r['per_second']:8.0f} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['p99_ms']:8.1f}  {r['statuses']}"
        )
    show = results["package_show, 8 clients"]["per_second"]
    static = results["same JSON as a static file, 8 clients"]["per_second"]
    print(f"\npackage_show throughput is {show / static:.2f}× the static file's")
    if args.datasette:
        compare_with_datasette(site, queries[: args.datasette_requests], results, args.workers)


def check_counts(port: int, site: Path) -> None:
    for q in QUERIES:
        url = f"http://127.0.0.1:{port}/api/3/action/package_search?" + urllib.parse.urlencode(
            {"q": q, "rows": 0}
        )
        with urllib.request.urlopen(url, timeout=60) as response:
            counted = json.loads(response.read())["result"]["count"]
        expected = datasette_site.expected_count(site, q)
        assert counted == expected, f"{q}: we count {counted}, the text {expected}"


def compare_with_datasette(
    site: Path, queries: list[str], ours: dict[str, dict], workers: int
) -> None:
    db = datasette_site.database(site)
    port = free_port()
    process = datasette_site.start(db, port)
    paths = [datasette_site.search_path(db, q) for q in queries]
    try:
        for q in QUERIES:  # the same question, the same answer, before any timing
            expected = datasette_site.expected_count(site, q)
            counted = datasette_site.count(port, datasette_site.search_path(db, q))
            assert counted == expected, f"{q}: Datasette counts {counted}, the text {expected}"
        load(port, 4, paths[:8])  # warm-up
        theirs = {n: load(port, n, paths[: len(paths) * n // 3]) for n in (1, 2)}
        theirs[4] = load(port, 4, paths)
    finally:
        process.terminate()
        process.wait()
    print(
        f"\npackage_search against Datasette (same queries, same counts; ours {workers} worker(s))"
    )
    print(f"{'clients':>8} {'ours req/s':>11} {'p95 ms':>8} {'Datasette req/s':>16} {'p95 ms':>8}")
    for n, r in theirs.items():
        mine = ours[f"package_search (Japanese q + 5 facets), {n} client{'s' if n > 1 else ''}"]
        print(
            f"{n:8} {mine['per_second']:11.0f} {mine['p95_ms']:8.1f}"
            f" {r['per_second']:16.1f} {r['p95_ms']:8.1f}  {r['statuses']}"
        )


if __name__ == "__main__":
    main()
