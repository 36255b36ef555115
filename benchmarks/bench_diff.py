"""`opendata diff` of two 1,000,000-row versions with 1% of the rows changed.

.venv/bin/python benchmarks/bench_diff.py      (reuses benchmarks/data from bench_build.py)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from generate import generate

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

    table = pacsv.read_csv(csv_path)
    rows = table.num_rows
    changed = np.zeros(rows, dtype=bool)
    changed[np.random.default_rng(3).choice(rows, rows // 100, replace=False)] = True
    area = pc.if_else(
        pa.array(changed), pc.add(table.column("延床面積"), 1.0), table.column("延床面積")
    )
    table = table.set_column(table.column_names.index("延床面積"), "延床面積", area)
    new_folder = work / "new" / "datasets" / "facility-ledger"
    shutil.copytree(csv_path.parent, new_folder)
    pacsv.write_csv(
        table, new_folder / csv_path.name, write_options=pacsv.WriteOptions(quoting_style="none")
    )
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
    print(done.stdout.splitlines()[1])
    print(f"{rows:,} rows, {rows // 100:,} changed: opendata diff took {elapsed:.2f} s")


if __name__ == "__main__":
    main()
