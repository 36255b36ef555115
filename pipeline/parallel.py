"""Datasets built in parallel on Dask distributed: `LocalCluster` processes on this machine
(`--workers N`), or the workers of a running scheduler on many machines (`--scheduler`).

A worker shares no disk with the machine that runs the command, so each job carries its
dataset folder's files as bytes; the worker builds them in a temporary folder with the same
`build_dataset` as a single process, and sends back the result and the files it wrote. They
are written into the staging folder here, where the incremental records and the atomic swap
stay — the bytes are the same whatever the parallelism (tests/test_parallel.py).
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .build import Context, DatasetResult, Engine, Job, build_dataset, telling
from .publisher import Publisher
from .reuse import visible_files


@dataclass(frozen=True)
class Outside:
    """A file reached through a link that leaves its dataset folder: shipped as a link to
    where it points, so that the worker refuses it as one process does."""

    target: str


Files = dict[str, "bytes | Outside"]  # path inside a folder → bytes (or a link out of it)
# Datasets go to the workers in batches, a few per worker thread: one task per dataset costs
# more than building most of the ward's (a few hundred rows) takes.
BATCHES_PER_SLOT = 4


def engine(workers: int, scheduler: str | None = None) -> Engine:
    """An engine on `workers` local processes, or on the cluster at `scheduler`."""

    def build(jobs: list[Job], run: Context) -> Iterator[tuple[Job, DatasetResult]]:
        out_dir = run.out_dir
        assert out_dir is not None  # an engine builds; validating stays in this process
        if not jobs:
            return
        with _client(workers, scheduler) as client:
            from distributed import as_completed

            slots = sum(client.nthreads().values())
            futures = {
                client.submit(_build_batch, [(j.folder.name, _read(j.folder)) for j in batch],
                              run.publisher, run.limit, pure=False): batch
                for batch in _batches(jobs, slots * BATCHES_PER_SLOT)
            }  # fmt: skip
            finished = as_completed(futures)  # type: ignore[no-untyped-call]
            number = run.done
            for future in finished:
                for job, (result, files) in zip(futures[future], future.result(), strict=True):
                    telling(run.progress, number, run.total)(job.folder.name)
                    number += 1
                    _write(out_dir / job.folder.name, files)
                    yield job, result

    return build


@contextmanager
def _client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A client of the scheduler given, or of a LocalCluster's for as long as it runs — both
    closed however the build ends, the client first: a client left open to a closed cluster
    tries to reconnect for 30 s, then logs an error."""
    from distributed import Client, LocalCluster

    cluster = client = None
    try:
        if scheduler:
            client = Client(scheduler)  # type: ignore[no-untyped-call]
        else:
            with _deaf_to_ctrl_c():  # the cluster and its client start whole, or not at all
                cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=workers,
                    threads_per_worker=1,  # pyarrow uses the cores itself; one dataset a process
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.CRITICAL,  # a cancelled task is no news to an officer
                )
                client = Client(cluster.scheduler_address)  # type: ignore[no-untyped-call]
        yield client
    finally:
        if client is not None:
            client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


@contextmanager
def _deaf_to_ctrl_c() -> Iterator[None]:
    """SIGINT ignored while the LocalCluster starts its worker processes, which keep ignoring
    it: an ignored signal stays so across exec, where Python and asyncio then set no handler.
    A terminal's Ctrl+C reaches every process of the command's group; the command stops its
    workers itself, where a worker would print a traceback. A Ctrl+C in these few seconds is
    lost. Only the main thread may set a handler (the command's build runs there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _read(folder: Path) -> Files:
    """The folder's files by the rule of the incremental key: what is an input is shipped."""
    inside = os.path.realpath(folder) + os.sep
    files: Files = {}
    for name in visible_files(str(folder)):
        real = os.path.realpath(folder / name)
        files[name] = (folder / name).read_bytes() if real.startswith(inside) else Outside(real)
    return files


def _write(folder: Path, files: Files) -> None:
    for relative, data in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Outside):
            path.symlink_to(data.target)
        else:
            path.write_bytes(data)


def _batches(jobs: list[Job], count: int) -> list[list[Job]]:
    """`count` batches of about equal bytes: the largest dataset first into the lightest."""
    sizes = {job.position: _size(job.folder) for job in jobs}
    batches: list[list[Job]] = [[] for _ in range(max(1, min(count, len(jobs))))]
    loads = [0] * len(batches)
    for job in sorted(jobs, key=lambda j: -sizes[j.position]):
        lightest = loads.index(min(loads))
        batches[lightest].append(job)
        loads[lightest] += sizes[job.position]
    return [b for b in batches if b]


def _size(folder: Path) -> int:
    return sum((folder / name).stat().st_size for name in visible_files(str(folder)))


def _build_batch(
    batch: list[tuple[str, Files]], publisher: Publisher, limit: int
) -> list[tuple[DatasetResult, Files]]:
    return [_build_shipped(name, inputs, publisher, limit) for name, inputs in batch]


def _build_shipped(
    name: str, inputs: Files, publisher: Publisher, limit: int
) -> tuple[DatasetResult, Files]:
    """On a worker: the dataset rebuilt from its files in a folder of its own name."""
    with tempfile.TemporaryDirectory(prefix="opendata-") as temporary:
        folder, out = Path(temporary) / "in" / name, Path(temporary) / "out" / name
        _write(folder, inputs)
        result = build_dataset(folder, out, publisher, limit)
        outputs = _read(out) if out.is_dir() else {}
    return result, outputs
