"""`opendata build --watch`: a build, then another each time the datasets change and settle,
in one process (catalog/watch.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from catalog.watch import watch
from pipeline.files import locked

from conftest import MINIMAL_CSV, PUBLISHABLE, ROOT, opendata, write_dataset


def _watching(
    folder: Path, interval: float = 0.05
) -> tuple[list[float], threading.Event, threading.Thread]:
    """`watch` on `folder` in a thread: the times of its builds, what stops it, the thread."""
    builds: list[float] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch, args=(folder, lambda: builds.append(time.monotonic()), stop, interval)
    )
    thread.start()
    return builds, stop, thread


def _until(condition, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_change_is_built_once_it_settles_and_hidden_files_are_no_change(tmp_path: Path) -> None:
    source = tmp_path / "dataset" / "items.csv"
    source.parent.mkdir()
    source.write_text("a\n", encoding="utf-8")
    builds, stop, _thread = _watching(tmp_path)
    try:
        assert _until(lambda: len(builds) == 1)  # the first build, at once
        for lock in (".~lock.items.csv#", "~$items.xlsx"):  # LibreOffice's, Excel's
            (tmp_path / "dataset" / lock).write_text("x", encoding="utf-8")
        time.sleep(0.3)  # six polls
        assert len(builds) == 1
        for text in ("b\n", "bc\n", "bcd\n"):  # a sheet being saved: built when it settles
            source.write_text(text, encoding="utf-8")
            time.sleep(0.02)
        assert _until(lambda: len(builds) == 2)
        time.sleep(0.3)
        assert len(builds) == 2  # once
        (tmp_path / "dataset" / "more.csv").write_text("x\n", encoding="utf-8")  # a new file
        assert _until(lambda: len(builds) == 3)
    finally:
        stop.set()


def test_the_stop_ends_the_watch_even_while_a_change_settles(tmp_path: Path) -> None:
    builds, stop, thread = _watching(tmp_path, interval=0.5)
    assert _until(lambda: len(builds) == 1)
    (tmp_path / "new.csv").write_text("x\n", encoding="utf-8")
    time.sleep(0.6)  # seen once: not settled yet
    stop.set()
    thread.join(1.0)
    assert not thread.is_alive() and len(builds) == 1


def test_watching_refuses_json_and_an_output_inside_the_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused before anything starts, a Dask cluster for `--workers 2` included."""
    from pipeline import parallel

    def no_cluster(*_args: object) -> None:
        raise AssertionError("a cluster started for a command that is refused")

    monkeypatch.setattr(parallel, "engine", no_cluster)
    write_dataset(tmp_path, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    datasets = str(tmp_path / "datasets")
    for extra in (("--json",), ("--out", str(tmp_path / "datasets" / "site"))):
        done = opendata("build", "--datasets", datasets, "--watch", "--workers", "2", *extra)
        assert done.returncode == 2 and "--watch" in done.stderr, done.stderr
    assert not (tmp_path / "dist").exists() and not (tmp_path / "datasets" / "site").exists()


@pytest.mark.usefixtures("interruptible")
def test_the_command_rebuilds_a_changed_sheet_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """A real process: Ctrl+C (SIGINT) is the point."""
    write_dataset(tmp_path, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    command = [sys.executable, "-m", "catalog", "build", "--datasets", "datasets", "--watch"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    lines = iter(process.stderr.readline, "")
    watchdog = threading.Timer(60, process.kill)  # a hung process ends its output: no hang here
    watchdog.start()

    def built() -> None:  # the next build's end
        assert any("watching for changes" in line for line in lines)

    try:
        built()
        source = next((tmp_path / "datasets").glob("*/items.csv"))
        source.write_text(MINIMAL_CSV.replace("3200", "3201"), encoding="utf-8")
        built()
        published = next((tmp_path / "dist" / "datasets").glob("*/items.csv"))
        assert "3201" in published.read_text(encoding="utf-8-sig")
        with locked(tmp_path / "dist", "release"):  # a release has the site: not built now
            source.write_text(MINIMAL_CSV.replace("3200", "3202"), encoding="utf-8")
            assert any("built at the next change" in line for line in lines)
        source.write_text(MINIMAL_CSV.replace("3200", "3203"), encoding="utf-8")
        built()  # still watching
        assert "3203" in published.read_text(encoding="utf-8-sig")
        process.send_signal(signal.SIGINT)
        _stdout, stderr = process.communicate(timeout=30)
    finally:
        watchdog.cancel()
        process.kill()
    assert process.returncode == 0 and "Traceback" not in stderr


def test_a_linked_dataset_folder_is_watched_and_a_loop_is_not(tmp_path: Path) -> None:
    """A dataset folder may be a link (the pipeline follows it): its files are watched."""
    from catalog.watch import snapshot

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "items.csv").write_text("a\n", encoding="utf-8")
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "linked").symlink_to(elsewhere)
    (datasets / "linked" / "up").symlink_to(datasets)  # a loop through the link
    before = snapshot(datasets)
    assert [stamp[0] for stamp in before] == ["linked/items.csv"]
    (elsewhere / "items.csv").write_text("ab\n", encoding="utf-8")
    assert snapshot(datasets) != before


def test_an_unreadable_folder_hides_only_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder the watch cannot list emptied the whole snapshot at every poll, so no change
    anywhere was ever seen again. A mock lists it as denied: the tests run as root."""
    from catalog.watch import snapshot

    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "items.csv").write_text("a\n", encoding="utf-8")
    denied = tmp_path / "first" / "archive"
    denied.mkdir()
    scandir = os.scandir

    def listing(path: object = ".") -> object:
        if os.fspath(path) == str(denied):  # type: ignore[call-overload]
            raise PermissionError(13, "Permission denied", str(denied))
        return scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "scandir", listing)
    before = snapshot(tmp_path)
    assert [stamp[0] for stamp in before] == [
        "first/archive/",
        "first/items.csv",
        "second/items.csv",
    ]
    assert snapshot(tmp_path) == before  # still denied: no change
    (tmp_path / "second" / "items.csv").write_text("ab\n", encoding="utf-8")
    assert snapshot(tmp_path) != before
    monkeypatch.setattr(os, "scandir", scandir)
    assert "first/archive/" not in [stamp[0] for stamp in snapshot(tmp_path)]  # readable now
