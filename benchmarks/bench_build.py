"""`opendata build` against `frictionless validate` on the same 1,000,000-row CSV, side by side.

Also times the practical floor: raw pyarrow read-CSV + write-Parquet of the same file. Each
contender runs as its own process; wall time and peak RSS come from os.wait4. Our commands run
--repeat times (median time, highest peak), frictionless once (it takes about a minute).

    .venv/bin/python benchmarks/bench_build.py [--rows N] [--skip-frictionless]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent


def compiled(code: Path = HERE.parent) -> None:
    """The project's modules under `code` with their bytecode written, as an installation
    leaves them: where PYTHONDONTWRITEBYTECODE is set (this machine's shell), a module
    edited since its bytecode was written is compiled from source at every start, ~10 ms
    each — and all of them in a fresh checkout of another revision."""
    for package in ("pipeline", "catalog"):
        compileall.compile_dir(code / package, quiet=1)


PACKAGES = "opendata build --no-catalog (read, validate, CSV+Parquet, sha256)"
WHOLE = "opendata build (the same, then catalog, DCAT, site, index)"
FLOOR_NAME = "pyarrow read_csv + write_parquet (floor)"
FLOOR = """
import sys, pyarrow.csv as c, pyarrow.parquet as pq
pq.write_table(c.read_csv(sys.argv[1]), sys.argv[2], compression="zstd")
"""


def measure(command: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB, exit code of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-frictionless", action="store_true", help="it takes about a minute")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each of our commands")
    args = parser.parse_args()
    compiled()

    work = HERE / "data" / "ledger"  # its own folder: the other benchmarks' data stay
    shutil.rmtree(work, ignore_errors=True)
    csv_path = generate(work, rows=args.rows)
    size = csv_path.stat().st_size / 1e6
    print(f"{args.rows:,} rows, {size:.1f} MB of CSV ({csv_path.relative_to(HERE.parent)})\n")

    build = [str(BIN / "opendata"), "build", "--datasets", "datasets", "--out", "dist", "--force"]
    floor = [sys.executable, "-c", FLOOR, str(csv_path), str(work / "floor.parquet")]
    runs = {
        PACKAGES: [*build, "--no-catalog"],
        WHOLE: build,
        FLOOR_NAME: floor,
    }
    if not args.skip_frictionless:
        runs["frictionless validate (same CSV, same schema)"] = [
            str(BIN / "frictionless"),
            "validate",
            "frictionless.json",
        ]
    results = {}
    print(f"{'':66} {'seconds':>8} {'peak MB':>8}   (median of {args.repeat}; frictionless once)")
    for name, command in runs.items():
        repeat = 1 if command[0].endswith("frictionless") else args.repeat
        measured = sorted(measure(command, work) for _ in range(repeat))
        seconds, _, code = measured[len(measured) // 2]
        results[name] = (seconds, max(m[1] for m in measured))
        status = "" if code == 0 else f"  (exit {code})"
        spread = f"  [{measured[0][0]:.2f}–{measured[-1][0]:.2f}]" if repeat > 1 else ""
        print(f"{name:66} {seconds:8.2f} {results[name][1]:8.0f}{status}{spread}")

    ours, whole, floor = results[PACKAGES], results[WHOLE], results[FLOOR_NAME]
    print(f"\nopendata build --no-catalog is {ours[0] / floor[0]:.1f}× the pyarrow floor's time")
    if not args.skip_frictionless:
        theirs = results["frictionless validate (same CSV, same schema)"]
        print(
            f"opendata build --no-catalog is {theirs[0] / ours[0]:.1f}× faster than frictionless validate"
        )
        print(f"opendata build (with the catalog) is {theirs[0] / whole[0]:.1f}× faster")
        print(f"peak memory: {ours[1]:.0f} MB vs {theirs[1]:.0f} MB")


if __name__ == "__main__":
    main()
