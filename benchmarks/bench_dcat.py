"""DCAT's share of a full build: a real `opendata build --force` of the ward-sized catalog
(ward_catalog.py), in-process, with the DCAT functions wrapped by a clock — wall time, not a
profiler's, which inflates many small Python calls (cProfile put DCAT at 22% of a build whose
wall time it takes 8–12% of).

    .venv/bin/python benchmarks/bench_dcat.py [--datasets 600]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import time
from collections.abc import Callable
from typing import Any

from ward_catalog import generate

from catalog.cli import cli
from catalog.metadata import dcat, dcat_parts

from bench_build import HERE

# write_catalog's time includes reading the datasets' DCAT files back (its parts are read
# as it goes), which is DCAT's too.
CLOCKED = ((dcat, "dataset_graph"), (dcat, "catalog_head"), (dcat, "serialize"))
CLOCKED += ((dcat_parts, "write_catalog"), (dcat_parts, "write_nodes"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=int, default=600)
    args = parser.parse_args()
    work = HERE / "data" / "ward"
    generate(work, args.datasets)
    spent = [0.0]

    def clocked(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                spent[0] += time.perf_counter() - started

        return timed

    for module, name in CLOCKED:  # none of them calls another: no time is counted twice
        setattr(module, name, clocked(getattr(module, name)))
    started = time.perf_counter()
    with contextlib.chdir(work):
        build = ["build", "--datasets", "datasets", "--out", "dist", "--force"]
        try:
            cli.main(build, standalone_mode=False)
        except SystemExit as done:  # the command exits with its status
            assert not done.code, f"the build failed ({done.code})"
    wall = time.perf_counter() - started
    print(f"{args.datasets} datasets: build {wall:.1f} s, DCAT {spent[0]:.1f} s")
    print(f"DCAT's share: {100 * spent[0] / wall:.1f}% (the goal: at most 20%)")


if __name__ == "__main__":
    main()
