"""`opendata publish --to DIR`: a web root that always serves one whole release."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.files import locked

from conftest import ROOT, latest_snapshot, opendata, tree


def test_publish_puts_the_whole_release_in_place_and_again_does_nothing(
    two_releases: tuple[Path, Path], tmp_path: Path
) -> None:
    _, site = two_releases
    web = tmp_path / "www"
    done = opendata("publish", "--site", str(site), "--to", str(web))
    assert done.returncode == 0, done.stderr
    assert tree(web) == tree(latest_snapshot(site))
    pointer = json.loads((web / "releases/latest.json").read_text())
    assert pointer["versions"]["survey-results"] == "1.0.1"
    # Both versions downloadable; the latest URL serves the newest.
    folder = web / "datasets/survey-results"
    assert "89.3" in (folder / "1.0.0/survey-results.csv").read_text(encoding="utf-8-sig")
    latest = (folder / "survey-results.csv").read_bytes()
    assert latest == (folder / "1.0.1/survey-results.csv").read_bytes()
    stamp = web.stat().st_ino, (web / "index.html").stat().st_mtime_ns
    again = opendata("publish", "--site", str(site), "--to", str(web))
    assert again.returncode == 0 and "公開済み" in again.stdout
    assert (web.stat().st_ino, (web / "index.html").stat().st_mtime_ns) == stamp


def test_publish_without_a_release_is_a_clear_error(tmp_path: Path) -> None:
    done = opendata("publish", "--site", str(tmp_path), "--to", str(tmp_path / "www"))
    assert done.returncode == 1 and "opendata release" in done.stderr
    assert "Traceback" not in done.stderr


def test_killed_at_any_moment_the_web_root_serves_one_whole_release(
    two_releases: tuple[Path, Path], tmp_path: Path
) -> None:
    site_a, site_b = two_releases
    pristine = tmp_path / "pristine"
    assert opendata("publish", "--site", str(site_a), "--to", str(pristine)).returncode == 0
    old, new = tree(pristine), tree(latest_snapshot(site_b))
    assert old != new
    web = tmp_path / "www"
    outcomes = {"old": 0, "new": 0}
    interrupted = 0
    for delay_ms in [*range(0, 40, 2), 50, 75, 100, 150, 250]:
        shutil.rmtree(web, ignore_errors=True)
        shutil.copytree(pristine, web)
        process = subprocess.Popen(
            [sys.executable, "-m", "catalog", "publish", "--site", str(site_b), "--to", str(web)],
            stdout=subprocess.PIPE, cwd=ROOT, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        process.stdout.readline()  # "publishing release …": it has started
        time.sleep(delay_ms / 1000)
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = tree(web)
        assert state in (old, new), f"a mix after a kill at +{delay_ms} ms"
        outcomes["old" if state == old else "new"] += 1
        interrupted += any(tmp_path.glob(".www-publish-*"))
        # The next run finishes the job and cleans up after the killed one.
        done = opendata("publish", "--site", str(site_b), "--to", str(web))
        assert done.returncode == 0, done.stderr
        assert tree(web) == new and not list(tmp_path.glob(".www-publish-*"))
    # The kills landed before, during and after the switch.
    assert outcomes["old"] and outcomes["new"] and interrupted, (outcomes, interrupted)


def test_a_web_root_that_would_lose_something_is_refused(
    two_releases: tuple[Path, Path], tmp_path: Path
) -> None:
    _, site = two_releases
    project = site.parent  # holds dist/: publishing there would replace the site itself
    foreign = tmp_path / "www"
    foreign.mkdir()
    (foreign / "important.txt").write_text("keep", encoding="utf-8")
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    for target in (project, site / "www", foreign, afile / "sub", Path("/")):
        done = opendata("publish", "--site", str(site), "--to", str(target))
        assert done.returncode == 1, (target, done.stdout)
        assert "publish:" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert (foreign / "important.txt").read_text(encoding="utf-8") == "keep"
    assert (site / "releases").is_dir()


def test_dry_run_and_an_older_release_change_nothing(
    two_releases: tuple[Path, Path], tmp_path: Path
) -> None:
    site_a, site_b = two_releases
    web = tmp_path / "www"
    dry = opendata("publish", "--site", str(site_b), "--to", str(web), "--dry-run")
    assert dry.returncode == 0 and "dry-run" in dry.stdout and not web.exists()
    assert opendata("publish", "--site", str(site_b), "--to", str(web)).returncode == 0
    newer = tree(web)
    older = opendata("publish", "--site", str(site_a), "--to", str(web))
    assert older.returncode == 1 and "newer" in older.stderr
    assert tree(web) == newer


def test_a_web_root_cut_short_is_published_again_not_called_done(
    two_releases: tuple[Path, Path], tmp_path: Path
) -> None:
    """The pointer alone does not make a web root whole: files missing or of another size
    (a copy cut short) are published again."""
    _, site = two_releases
    web = tmp_path / "www"
    assert opendata("publish", "--site", str(site), "--to", str(web)).returncode == 0
    (web / "datasets/survey-results/survey-results.parquet").unlink()
    (web / "index.html").write_text("<p>half</p>", encoding="utf-8")
    again = opendata("publish", "--site", str(site), "--to", str(web))
    assert again.returncode == 0 and "公開済み" not in again.stdout
    assert tree(web) == tree(latest_snapshot(site))


def test_a_second_publish_into_the_same_web_root_at_once_is_refused(
    two_releases: tuple[Path, Path], tmp_path: Path
) -> None:
    _, site = two_releases
    web = tmp_path / "www"
    with locked(web, "publish"):
        done = opendata("publish", "--site", str(site), "--to", str(web))
    assert done.returncode == 3 and "opendata publish" in done.stderr
    assert not web.exists()
    assert opendata("publish", "--site", str(site), "--to", str(web)).returncode == 0
