"""Commands that run at the same time, and runs that were killed: a command that changes a
site or a web root holds its lock and says who holds it; what killed runs left is removed;
the same state released twice is the same bytes (issue "Nothing lost, nothing stale")."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.files import locked

from conftest import MINIMAL_CSV, PUBLISHABLE, ROOT, opendata, tree, write_dataset

EPOCH = 1764400000


def _built(root: Path, csv_text: str = MINIMAL_CSV) -> Path:
    shutil.rmtree(root / "datasets", ignore_errors=True)
    write_dataset(root, PUBLISHABLE, {"items.csv": csv_text})
    site = root / "dist"
    done = opendata("build", "--datasets", str(root / "datasets"), "--out", str(site))
    assert done.returncode == 0, done.stderr
    return site


def _release(root: Path, epoch: int = EPOCH) -> int:
    args = ("release", "--site", str(root / "dist"), "--datasets", str(root / "datasets"))
    return opendata(*args, env={"SOURCE_DATE_EPOCH": str(epoch)}).returncode


def test_a_build_while_a_release_runs_is_refused_naming_the_release(tmp_path: Path) -> None:
    site = _built(tmp_path)
    before = tree(site)
    with locked(site, "release"):
        done = opendata("build", "--datasets", str(tmp_path / "datasets"), "--out", str(site))
    assert done.returncode == 3
    assert "opendata release" in done.stderr and "使用中" in done.stderr
    assert tree(site) == before


def test_a_second_release_at_the_same_time_is_refused(tmp_path: Path) -> None:
    _built(tmp_path)
    with locked(tmp_path / "dist", "release"):
        assert _release(tmp_path) == 3
    assert _release(tmp_path) == 0  # the lock is gone with its holder


def test_a_release_reported_made_survives_a_build_started_during_it(tmp_path: Path) -> None:
    """Real processes racing, as in the attack run: whatever the order, a release that said
    it was made is in the site afterwards."""
    site = _built(tmp_path)
    made = 0
    for attempt in range(4):
        _built(tmp_path, MINIMAL_CSV.replace("3200", str(4000 + attempt)))
        env = {"SOURCE_DATE_EPOCH": str(EPOCH + attempt * 3600)}
        release = _process(
            "release", "--site", str(site), "--datasets", "datasets", env=env, cwd=tmp_path
        )
        build = _process("build", "--datasets", "datasets", "--out", str(site), cwd=tmp_path)
        released, built = release.wait(60), build.wait(60)
        assert 0 in (released, built) and {released, built} <= {0, 3}  # one waits its turn
        made += released == 0
        assert len(list((site / "releases").glob("*/release.json"))) == made, attempt


def _process(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen(
        [sys.executable, "-m", "catalog", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_staging_folders_of_killed_runs_are_removed_by_the_next_run(tmp_path: Path) -> None:
    site = _built(tmp_path)
    for leftover in (".dist-build-x1", ".dist-release-x2", ".dist-build-x3-old"):
        (tmp_path / leftover / "datasets").mkdir(parents=True)
        (tmp_path / leftover / "datasets/big.csv").write_bytes(b"0" * 1000)
    other = tmp_path / ".dist2-build-keep"  # another site's: not ours to touch
    other.mkdir()
    _built(tmp_path)
    left = sorted(p.name for p in tmp_path.glob(".dist*"))  # the lock and the sources' stamps
    assert left == [".dist.lock", ".dist.sources.json", ".dist2-build-keep"]
    assert site.is_dir()


def test_releasing_the_same_state_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    """SOURCE_DATE_EPOCH fixed: two releases of one state are byte-identical, changes.html
    (which lists the first changed rows) included."""
    many = _rows(70_000)
    changed = many.replace(",2022\n", ",2023\n", 50_000)
    sites = []
    for copy in ("one", "two"):
        root = tmp_path / copy
        _built(root, many)
        assert _release(root) == 0
        _built(root, changed)
        assert _release(root, EPOCH + 3600) == 0
        sites.append(root / "dist")
    assert tree(sites[0]) == tree(sites[1])
    page = (sites[0] / "changes.html").read_text(encoding="utf-8")
    assert "~50000" in page.replace(" ", "") or "50000" in page


def _rows(count: int) -> str:
    return "番号,名称,金額,年度\n" + "".join(f"{i},事業{i},{i},2022\n" for i in range(1, count + 1))


def test_a_diff_lists_the_same_first_rows_every_time(tmp_path: Path) -> None:
    """Arrow's hash join returns rows in no set order once a table spans several 32,768-row
    morsels; the rows a diff lists (and changes.html shows) are the first by primary key."""
    from catalog.release.diff import diff_dataset

    old, new = tmp_path / "old", tmp_path / "new"
    many = _rows(300_000)
    _built(old, many)
    _built(new, many.replace(",2022\n", ",2023\n", 200_000))
    listed = set()
    for _ in range(6):
        (items,) = diff_dataset(
            old / "dist/datasets/sample-budget", new / "dist/datasets/sample-budget"
        ).resources
        listed.add(json.dumps([r.key for r in items.changed_rows]))
    assert len(listed) == 1
    assert json.loads(listed.pop())[0] == {"id": 1}


def test_a_new_site_is_on_disk_before_it_is_switched_in_and_the_switch_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Durability, as a database commits. A power loss cannot be staged here, so the test
    records the order of the real calls (sync the staged tree, switch, sync the parent)."""
    from pipeline import files

    _built(tmp_path)  # a site to replace
    calls: list[str] = []
    for name in ("sync_tree", "_exchange", "sync_directory"):
        real = getattr(files, name)

        def record(*args: Path, _real=real, _name=name) -> object:  # type: ignore[no-untyped-def]
            calls.append(f"{_name} {args[0].name}")
            return _real(*args)

        monkeypatch.setattr(files, name, record)
    _built(tmp_path, MINIMAL_CSV.replace("3200", "3300"))
    (synced, exchanged, committed) = calls
    assert synced.startswith("sync_tree .dist-build-") and exchanged.startswith(
        "_exchange .dist-build-"
    )
    assert committed == f"sync_directory {tmp_path.name}"


def test_readers_share_the_site_and_a_build_waits_for_them(tmp_path: Path) -> None:
    site = _built(tmp_path)
    with locked(site, "publish", shared=True):
        assert opendata("release", "--site", str(site), "--dry-run").returncode == 0  # shared
        done = opendata("build", "--datasets", str(tmp_path / "datasets"), "--out", str(site))
    assert done.returncode == 3 and "(reading)" in done.stderr
    assert _built(tmp_path).is_dir()  # and once they are done, it builds
