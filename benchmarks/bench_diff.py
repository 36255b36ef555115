"""`opendata diff` of two 1,000,000-row versions with 1% of the rows changed.

.venv/bin/python benchmarks/bench_diff.py      (its own 1,000,000-row data in benchmarks/data/diff)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.csv as pacsv

from generate import change_one_percent, generate

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent


def main() -> None:
    work = HERE / "data" / "diff"
    shutil.rmtree(work, ignore_errors=True)
    csv_path = generate(work / "old")
    old_site, new_site = work / "old-dist", work / "new-dist"
    build = [str(BIN / "opendata"), "build", "--no-catalog"]
    subprocess.run(
        [*build, "--datasets", str(work / "old" / "datasets"), "--out", str(old_site)],
        check=True,
        capture_output=True,
    )

    change_one_percent(csv_path, work / "new")
    rows = pacsv.read_csv(csv_path).num_rows
    subprocess.run(
        [*build, "--datasets", str(work / "new" / "datasets"), "--out", str(new_site)],
        check=True,
        capture_output=True,
    )

    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "opendata"), "diff", str(old_site), str(new_site)],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    print(done.stdout.splitlines()[0])
    print(f"{rows:,} rows, {rows // 100:,} changed: opendata diff took {elapsed:.2f} s")


if __name__ == "__main__":
    main()
