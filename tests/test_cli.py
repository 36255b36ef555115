"""The command line itself: what an officer sees when something unexpected breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import build

from conftest import opendata


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
