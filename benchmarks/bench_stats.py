"""`opendata stats` on a generated Combined Log Format file, beside GoAccess when installed.

    .venv/bin/python benchmarks/bench_stats.py [--lines 1000000]

The log mixes what a catalog's server sees: downloads of the built site's files (stable and
versioned URLs, Range requests), pages and assets, HEAD, 304, 404s, a crawler, 5,000 clients
over 60 days. Each tool runs as its own process; wall time and peak RSS come from os.wait4.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def generate(path: Path, lines: int, files: list[str]) -> None:
    rng = random.Random(15)
    agents = [f"Mozilla/5.0 (Windows NT 10.0) Chrome/{120 + i % 20}.0 client{i}" for i in range(50)]
    agents.append("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    pages = ["/", "/index.html", "/static/site.css", "/static/favicon.svg"]
    start = 1_775_000_000
    with path.open("w", encoding="utf-8") as out:
        batch = []
        for n in range(lines):
            t = time.gmtime(start + n * 60 * 86400 // lines)
            when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", t)
            roll = rng.random()
            client = rng.randrange(5000)
            target = rng.choice(files) if roll < 0.6 else rng.choice(pages)
            if client % len(agents) == len(agents) - 1 and roll > 0.9:  # the crawler
                target = "/robots.txt"
            status = rng.choice((200, 200, 200, 206, 206, 304, 404))
            method = "HEAD" if roll > 0.97 else "GET"
            ip = f"10.{client // 250}.{client % 250}.7"
            query = "?utm_source=mail" if roll < 0.05 else ""
            batch.append(
                f'{ip} - - [{when}] "{method} {target}{query} HTTP/1.1" {status} {rng.randrange(99999)} '
                f'"-" "{agents[client % len(agents)]}"\n'
            )
            if len(batch) == 10000:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))


def timed(command: list[str]) -> tuple[float, float, int]:
    # stderr to a file, not a pipe nobody reads: goaccess writes its progress there and would
    # stall on a full pipe.
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.monotonic() - started
        if status:
            errors.seek(0)
            raise SystemExit(f"{command[0]} failed: {errors.read().decode()[-500:]}")
    return elapsed, usage.ru_maxrss / 1024, status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from conftest import MINIMAL_CSV, PUBLISHABLE, opendata, write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(root, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
        env = {"SOURCE_DATE_EPOCH": "1764400000"}
        site = root / "dist"
        opendata("build", "--datasets", str(root / "datasets"), "--out", str(site), env=env)
        opendata("release", "--site", str(site), "--datasets", str(root / "datasets"), env=env)
        files = [
            "/datasets/sample-budget/items.csv",
            "/datasets/sample-budget/items.parquet",
            "/datasets/sample-budget/1.0.0/items.csv",
        ]
        log = root / "access.log"
        began = time.monotonic()
        generate(log, args.lines, files)
        size = log.stat().st_size / 1e6
        print(
            f"{args.lines:,} lines, {size:,.0f} MB, generated in {time.monotonic() - began:.0f} s"
        )
        commands = {
            "opendata stats": [
                sys.executable,
                "-m",
                "catalog",
                "stats",
                "--logs",
                str(log),
                "--site",
                str(site),
                "--json",
            ],
        }
        goaccess = shutil.which("goaccess")
        if goaccess:
            commands["goaccess (HTML report)"] = [
                goaccess,
                str(log),
                "--log-format=COMBINED",
                "-o",
                str(root / "report.html"),
            ]
        print("| | seconds (median) | range | peak MB | lines/s |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, command in commands.items():
            runs = sorted(timed(command)[:2] for _ in range(args.runs))
            median = runs[len(runs) // 2]
            print(
                f"| {name} | {median[0]:.2f} | {runs[0][0]:.2f}–{runs[-1][0]:.2f} "
                f"| {max(r[1] for r in runs):.0f} | {args.lines / median[0]:,.0f} |"
            )


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
