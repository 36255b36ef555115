"""The one-dataset rebuild of the ward-sized catalog (ward_catalog.py), three ways in one run:
a full build (`--force`); `opendata build` after one cell changed, a new process each time;
and the same change seen by a running `opendata build --watch` — the build's own time as
it reports it, and from the change to the end of that build (polling and settling included).

    .venv/bin/python benchmarks/bench_watch.py [--rounds 3] [--datasets 600]
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ward_catalog import fill_a_cell, generate

from bench_build import HERE, compiled

BUILD = [sys.executable, "-m", "catalog", "build", "--datasets", "datasets", "--out", "dist"]


def by_command(work: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run([*BUILD, *extra], cwd=work, check=True, capture_output=True)
    return time.perf_counter() - started


def in_watch(work: Path, source: Path, rounds: int) -> tuple[list[float], list[float]]:
    """The rebuilds of a running `--watch` after each change, as it reports them, and the
    time from each change to the build's end (polling and settling included)."""
    watching = subprocess.Popen(
        [*BUILD, "--watch"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert watching.stderr is not None
    lines = iter(watching.stderr.readline, "")

    def built() -> float:
        for line in lines:
            if found := re.match(r"([0-9.]+) 秒 / s", line):
                return float(found[1])
        raise SystemExit("the watching build stopped")

    try:
        built()  # its first build
        seconds, waited = [], []
        for at in range(rounds):
            time.sleep(1.5)  # changes apart, as an officer's saves are
            changed = time.perf_counter()
            fill_a_cell(source, f"比較{100 + at}")
            seconds.append(built())
            waited.append(time.perf_counter() - changed)
        return seconds, waited
    finally:
        watching.send_signal(signal.SIGINT)
        watching.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--datasets", type=int, default=600)
    args = parser.parse_args()
    compiled()
    work = HERE / "data" / "ward"
    source = generate(work, args.datasets) / "ward-0105" / "list.csv"
    runs = {"full build (--force)": [by_command(work, "--force") for _ in range(args.rounds)]}
    command = []
    for at in range(args.rounds):
        fill_a_cell(source, f"比較{at}")
        command.append(by_command(work))
    runs["one dataset changed: a new `opendata build`"] = command
    watched, waited = in_watch(work, source, args.rounds)
    runs["one dataset changed: the build in `opendata build --watch`"] = watched
    runs["the same, from the change to the build's end"] = waited
    full = statistics.median(runs["full build (--force)"])
    print(f"{args.datasets} datasets, {args.rounds} rounds each (median; rounds):")
    for label, seconds in runs.items():
        median = statistics.median(seconds)
        rounds = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"  {label:55} {median:6.2f} s  {median / full:6.1%}  ({rounds})")


if __name__ == "__main__":
    main()
