"""The one-dataset rebuild of the ward-sized catalog (ward_catalog.py), this code against
another revision's, side by side: each first builds its own `dist-<label>/`, then in
alternating rounds one cell of one list changes and each rebuilds (the machine's drift
falls on both alike).

    .venv/bin/python benchmarks/bench_rebuild.py REVISION [--rounds 6] [--datasets 600]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ward_catalog import fill_a_cell, generate

from bench_build import HERE, compiled

ROOT = HERE.parent


def build(code: Path, work: Path, out: str) -> float:
    """`opendata build` with the modules of `code` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, "-m", "catalog", "build", "--datasets", "datasets", "--out", out]
    started = time.perf_counter()
    subprocess.run(command, cwd=work, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def clear(work: Path, label: str) -> None:
    """A version's output, and the stamps and lock beside it."""
    shutil.rmtree(work / f"dist-{label}", ignore_errors=True)
    for sibling in (f".dist-{label}.sources.json", f".dist-{label}.lock"):
        (work / sibling).unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("revision", help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--datasets", type=int, default=600)
    args = parser.parse_args()
    work = HERE / "data" / "ward"
    datasets = generate(work, args.datasets)
    with tempfile.TemporaryDirectory() as other:
        subprocess.run(["git", "worktree", "add", "--detach", other, args.revision],
                       cwd=ROOT, check=True, capture_output=True)  # fmt: skip
        try:
            versions = {args.revision: Path(other), "this": ROOT}
            for code in versions.values():
                compiled(code)
            for label, code in versions.items():
                clear(work, label)  # no output nor sources' stamps of an earlier run
                seconds = build(code, work, f"dist-{label}")
                print(f"{label}: first build {seconds:.1f} s", flush=True)
            times: dict[str, list[float]] = {label: [] for label in versions}
            source = datasets / "ward-0105" / "list.csv"
            for at in range(args.rounds):
                fill_a_cell(source, f"比較{at}")
                order = list(versions.items())
                for label, code in order if at % 2 else order[::-1]:
                    times[label].append(build(code, work, f"dist-{label}"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", other], cwd=ROOT, check=False)
            for label in versions:
                clear(work, label)
    print(f"\none-dataset rebuild, {args.rounds} alternating rounds:")
    for label, seconds in times.items():
        rounds = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"  {label:12} median {statistics.median(seconds):5.2f} s  ({rounds})")


if __name__ == "__main__":
    main()
