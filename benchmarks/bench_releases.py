"""Successive releases of the ward-shaped catalog (ward_catalog.py), one dataset changed
before each: the time of each build and release, and what dist/ holds — the bytes of its
distinct files (a hard-linked file counts once) and its directory entries.

    .venv/bin/python benchmarks/bench_releases.py [--datasets 600] [--releases 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ward_catalog import generate

from bench_build import BIN, HERE

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
    work = HERE / "data" / "releases"
    datasets = generate(work, args.datasets)
    build = ("build", "--datasets", "datasets", "--out", "dist")
    release = ("release", "--site", "dist", "--datasets", "datasets")
    print(f"{'release':>7} {'build s':>8} {'release s':>9} {'dist MB':>8} {'entries':>8}")
    for number, name in enumerate(["", *lists(args.datasets)][: args.releases + 1]):
        if name:
            source = datasets / name / "list.csv"
            text = source.read_text(encoding="utf-8").replace(",\n", f",変更{number}\n", 1)
            source.write_text(text, encoding="utf-8")
        built = run(work, EPOCH + number * DAY, *build)
        released = run(work, EPOCH + number * DAY, *release)
        size, entries = holdings(work / "dist")
        print(f"{number + 1:7d} {built:8.1f} {released:9.1f} {size:8.1f} {entries:8,d}")


if __name__ == "__main__":
    main()
