"""Successive releases of the ward-shaped catalog (ward_catalog.py), one dataset changed
before each: the time of each build and release, and what dist/ holds — the bytes of its
distinct files (a hard-linked file counts once) and its directory entries.

One run's times drift with the machine (±30% here), so the end compares side by side, in
alternating rounds: one more change, build and release in a copy of the catalog taken after
its 2nd release, in the catalog after its last, and in a fresh copy of that (the same
files, new directories: what separates more work from an aged file system).

    .venv/bin/python benchmarks/bench_releases.py [--datasets 600] [--releases 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ward_catalog import fill_a_cell, generate

from bench_build import BIN, HERE, compiled

EPOCH = 1764400000
DAY = 86_400


def run(work: Path, epoch: int, *args: str) -> float:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    started = time.perf_counter()
    subprocess.run([str(BIN / "opendata"), *args], cwd=work, env=env, check=True,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - started


def holdings(site: Path) -> tuple[float, int]:
    """MB of distinct files, and entries (files and links) under `site`."""
    inodes: dict[int, int] = {}
    entries = 0
    for root, _dirs, files in os.walk(site):
        for name in files:
            stat = os.lstat(os.path.join(root, name))
            inodes[stat.st_ino] = stat.st_size
            entries += 1
    return sum(inodes.values()) / 1e6, entries


def lists(count: int) -> list[str]:
    """Datasets of ward_catalog.py that hold a plain list.csv."""
    return [f"ward-{i:04d}" for i in range(100, count) if i % 4][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=int, default=600)
    parser.add_argument("--releases", type=int, default=20)
    args = parser.parse_args()
    compiled()
    work = HERE / "data" / "releases"
    datasets = generate(work, args.datasets)
    build = ("build", "--datasets", "datasets", "--out", "dist")
    release = ("release", "--site", "dist", "--datasets", "datasets")
    print(f"{'release':>7} {'build s':>8} {'release s':>9} {'dist MB':>8} {'entries':>8}")
    for number, name in enumerate(["", *lists(args.datasets)][: args.releases + 1]):
        if name:
            fill_a_cell(datasets / name / "list.csv", f"変更{number}")
        built = run(work, EPOCH + number * DAY, *build)
        released = run(work, EPOCH + number * DAY, *release)
        size, entries = holdings(work / "dist")
        print(f"{number + 1:7d} {built:8.1f} {released:9.1f} {size:8.1f} {entries:8,d}")
        if number + 1 == 2:
            copy(work, work.with_name("releases-at-2"))
    side_by_side(work, args.datasets, args.releases)


def copy(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)  # links stay links


def side_by_side(work: Path, datasets: int, releases: int, rounds: int = 3) -> None:
    fresh = work.with_name("releases-fresh")
    copy(work, fresh)
    last = releases + 1  # the first release, then one per change
    trees = {"after release 2": work.with_name("releases-at-2"), f"after release {last}":
             work, f"after release {last}, fresh copy": fresh}  # fmt: skip
    names = lists(datasets)[releases : releases + rounds]
    times: dict[str, list[float]] = {label: [] for label in trees}
    for at, name in enumerate(names):
        for label, tree in trees.items():
            fill_a_cell(tree / "datasets" / name / "list.csv", f"再変更{at}")
            epoch = EPOCH + (releases + 1 + at) * DAY
            build = ("build", "--datasets", "datasets", "--out", "dist")
            release = ("release", "--site", "dist", "--datasets", "datasets")
            times[label].append(run(tree, epoch, *build) + run(tree, epoch, *release))
    print(f"\none more change, build + release, {rounds} alternating rounds (median s):")
    for label, seconds in times.items():
        print(f"  {label:40} {statistics.median(seconds):6.1f}  {seconds}")


if __name__ == "__main__":
    main()
