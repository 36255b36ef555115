"""`opendata build --workers N` / `--scheduler ADDRESS`: the datasets built on Dask workers give
the same bytes as one process (a real LocalCluster; a worker shares no disk with the command)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import MINIMAL_CSV, PUBLISHABLE, ROOT, opendata, tree, write_dataset


def _build(out: Path, *extra: str) -> None:
    done = opendata("build", "--datasets", str(ROOT / "datasets"), "--out", str(out), *extra)
    assert done.returncode == 0, done.stdout + done.stderr


def test_two_local_workers_give_the_bytes_of_one_process(tmp_path: Path) -> None:
    _build(tmp_path / "one")
    _build(tmp_path / "two", "--workers", "2")
    assert tree(tmp_path / "one") == tree(tmp_path / "two")


def test_a_running_scheduler_builds_the_same(tmp_path: Path) -> None:
    """What a cluster of many machines is given: a scheduler's address."""
    from distributed import LocalCluster

    _build(tmp_path / "one")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        _build(tmp_path / "remote", "--scheduler", cluster.scheduler_address)
    assert tree(tmp_path / "one") == tree(tmp_path / "remote")


@pytest.mark.usefixtures("interruptible")
def test_ctrl_c_stops_the_workers_quietly_and_builds_nothing(tmp_path: Path) -> None:
    """A real process group: a terminal's Ctrl+C reaches the command and its Dask workers
    alike. The command says it stopped (exit 130); no worker prints a traceback or a log
    line, none outlives it, and no output is left half-built."""
    rows = "".join(f"{n},事業{n},{n * 10},2023\n" for n in range(1, 200_001))
    for number in range(4):  # more work than the signal's wait: it lands mid-build
        definition = PUBLISHABLE | {"name": f"budget-{number}"}
        write_dataset(tmp_path, definition, {"items.csv": "番号,名称,金額,年度\n" + rows})
    command = [sys.executable, "-m", "catalog", "build", "--datasets", "datasets", "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        workers = _started_workers(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert stderr.strip() == "中断しました / interrupted"
    assert not (tmp_path / "dist").exists()
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]


def _started_workers(pid: int) -> list[psutil.Process]:
    """The LocalCluster's two worker processes, once the cluster has started: the command
    ignores SIGINT while it starts (a Ctrl+C then is lost: pipeline/parallel.py)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = psutil.Process(pid).children(recursive=True)
        workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
        if len(workers) == 2 and not _ignores_sigint(pid):
            return workers
        time.sleep(0.05)
    raise AssertionError("no Dask cluster started within a minute")


def _ignores_sigint(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    ignored = int(next(line for line in status.splitlines() if line.startswith("SigIgn:"))[7:], 16)
    return bool(ignored >> (signal.SIGINT - 1) & 1)


def test_workers_are_shipped_what_one_process_reads(tmp_path: Path) -> None:
    """A folder link inside a dataset (the officer's `current` → this year's folder) is
    followed, as the incremental key follows it; Office's `~$` lock file is no input."""
    resources = [PUBLISHABLE["resources"][0] | {"path": "current/items.csv"}]
    folder = write_dataset(tmp_path, PUBLISHABLE | {"resources": resources}, {})
    (folder / "2024").mkdir()
    (folder / "2024" / "items.csv").write_text(MINIMAL_CSV, encoding="utf-8")
    (folder / "current").symlink_to("2024")
    (folder / "~$items.xlsx").write_bytes(b"\x00locked by Office")
    for out, extra in (("one", ()), ("two", ("--workers", "2"))):
        done = opendata("build", "--datasets", str(tmp_path / "datasets"), "--out", out, *extra,
                        cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    assert tree(tmp_path / "one") == tree(tmp_path / "two")


def test_a_source_linked_out_of_its_folder_is_refused_on_workers_too(tmp_path: Path) -> None:
    """Shipped as bytes, it was built on the workers, where one process refuses it."""
    folder = write_dataset(tmp_path, PUBLISHABLE, {})
    (tmp_path / "outside.csv").write_text(MINIMAL_CSV, encoding="utf-8")
    (folder / "items.csv").symlink_to(tmp_path / "outside.csv")
    said = []
    for out, extra in (("one", ()), ("two", ("--workers", "2"))):
        done = opendata("build", "--datasets", str(tmp_path / "datasets"), "--out", out, *extra,
                        cwd=tmp_path)  # fmt: skip
        assert done.returncode == 1 and "path leaves the dataset folder" in done.stderr
        said.append(done.stderr)
    assert said[0] == said[1]
