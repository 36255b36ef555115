"""The command line itself: what an officer sees when something unexpected breaks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import build

from conftest import MINIMAL_CSV, PUBLISHABLE, on_a_terminal, opendata, write_dataset


def test_an_internal_error_is_one_line_and_exit_2_without_a_traceback(
    minimal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(build, "validate", broken)
    done = opendata("validate", "--datasets", str(minimal / "datasets"))
    assert done.returncode == 2
    assert (
        "内部エラー" in done.stderr and "internal error: RuntimeError: disk on fire" in done.stderr
    )
    assert "Traceback" not in done.stderr + done.stdout


def test_opendata_debug_shows_the_traceback(minimal: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(build, "validate", broken)
    done = opendata(
        "validate", "--datasets", str(minimal / "datasets"), env={"OPENDATA_DEBUG": "1"}
    )
    assert done.returncode == 2 and "Traceback" in done.stderr


def test_a_reader_that_goes_away_is_not_an_internal_error(minimal: Path) -> None:
    """`opendata … | head` closing the pipe early: click's quiet exit, not 内部エラー (a real
    process: the pipe is the point)."""
    done = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m catalog validate --datasets datasets --json | true;"
         " exit ${PIPESTATUS[0]}"],
        cwd=minimal, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    assert "内部エラー" not in done.stderr and "Traceback" not in done.stderr


def test_a_release_with_a_broken_catalog_yaml_names_it(tmp_path: Path) -> None:
    write_dataset(tmp_path, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    out = tmp_path / "dist"
    assert (
        opendata("build", "--datasets", str(tmp_path / "datasets"), "--out", str(out)).returncode
        == 0
    )
    (tmp_path / "datasets/catalog.yaml").write_text("publisher:\n  code: '131030'\n", "utf-8")
    done = opendata("release", "--site", str(out), "--datasets", str(tmp_path / "datasets"))
    assert done.returncode == 1, done.stderr
    assert "catalog.yaml" in done.stderr and "検査数字" in done.stderr
    assert not (out / "releases").exists()


def test_build_shows_progress_on_a_terminal_and_nothing_otherwise(minimal: Path) -> None:
    """On a terminal (a real pty: the process is the point) a progress bar names the datasets
    as they are built; piped or captured, and with --json, the output is only the result."""
    datasets = str(minimal / "datasets")
    code, shown = on_a_terminal("build", "--datasets", datasets, "--out", str(minimal / "dist"))
    bars = ("build: sample-budget", "build: カタログ / catalog")  # what the bar says
    assert code == 0 and any(bar in shown for bar in bars), shown
    piped = opendata("build", "--datasets", datasets, "--out", str(minimal / "d2"))
    assert piped.returncode == 0 and not any(bar in piped.stderr + piped.stdout for bar in bars)


def test_release_and_publish_show_progress_on_a_terminal(tmp_path: Path) -> None:
    write_dataset(tmp_path, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    datasets, site = str(tmp_path / "datasets"), str(tmp_path / "dist")
    assert opendata("build", "--datasets", datasets, "--out", site).returncode == 0
    code, shown = on_a_terminal("release", "--site", site, "--datasets", datasets)
    assert code == 0 and ("release: sample-budget" in shown or "release: カタログ" in shown), shown
    code, shown = on_a_terminal("publish", "--site", site, "--to", str(tmp_path / "www"))
    assert code == 0 and "publish: " in shown, shown  # the bar names the file it links
    piped = opendata("publish", "--site", site, "--to", str(tmp_path / "www2"))
    assert piped.returncode == 0 and "publish: " not in piped.stderr


def test_a_negative_limit_is_a_usage_error() -> None:
    """It was taken without a word (0 is meant: every problem counted, none listed)."""
    done = opendata("validate", "--limit", "-1")
    assert done.returncode == 2 and "--limit" in done.stderr


def test_an_empty_datasets_folder_builds_the_catalog_alone(tmp_path: Path) -> None:
    """It stopped with an internal error: the catalog's own list had no packages folder."""
    (tmp_path / "datasets").mkdir()
    done = opendata("build", "--datasets", "datasets", "--out", "dist", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dist/datasets/opendata-list/datapackage.json").is_file()
