"""Incremental builds on a ward-sized catalog (ward_catalog.py): a full build, the rebuild after
one dataset changed, and the same rebuild forced (`--force`) in one process and on two Dask
workers, each with its peak memory (of the command's process: Dask's workers are apart).

    .venv/bin/python benchmarks/bench_incremental.py [--datasets 600]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ward_catalog import fill_a_cell, generate

from bench_build import BIN, HERE, compiled, measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=int, default=600)
    args = parser.parse_args()
    compiled()
    work = HERE / "data" / "ward"
    datasets = generate(work, args.datasets)
    build = [str(BIN / "opendata"), "build", "--datasets", "datasets", "--out", "dist"]
    print(f"{args.datasets} datasets ({work.relative_to(HERE.parent)})\n")
    print(f"{'run':46} {'seconds':>8} {'peak MB':>8}")

    def run(label: str, *extra: str) -> float:
        seconds, peak, code = measure([*build, *extra], work)
        assert code == 0, label
        print(f"{label:46} {seconds:8.1f} {peak:8.0f}")
        return seconds

    full = run("full build (no dist/ yet)", "--force")
    fill_a_cell(datasets / "ward-0101" / "list.csv", "変更")
    one = run("rebuild after one dataset changed")
    run("nothing changed")
    single = run("the same, --force (everything rebuilt)", "--force")
    double = run("the same, --force --workers 2 (Dask)", "--force", "--workers", "2")
    print(f"\none-dataset rebuild: {one / full:.0%} of the full build")
    print(f"2 workers: {single / double:.2f}× the speed of 1")


if __name__ == "__main__":
    main()
