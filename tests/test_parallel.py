"""`opendata build --workers N` / `--scheduler ADDRESS`: the datasets built on Dask workers give
the same bytes as one process (a real LocalCluster; a worker shares no disk with the command)."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, opendata, tree


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
