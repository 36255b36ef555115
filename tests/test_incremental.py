"""Incremental builds: a dataset whose inputs are unchanged since the last build is carried
over byte for byte (its files hard-linked from it), and the result is the same as `--force`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline import reuse

from conftest import MINIMAL_CSV, PUBLISHABLE, opendata, serving, tree, write_dataset

FOOTER_CSV = MINIMAL_CSV.rstrip("\n") + "\nVer20260714\n"


def _two_datasets(root: Path) -> Path:
    write_dataset(root, PUBLISHABLE | {"name": "first"}, {"items.csv": MINIMAL_CSV})
    definition = json.loads(json.dumps(PUBLISHABLE | {"name": "second"}))
    definition["resources"][0]["x-opendata"] = {"footer_rows": 1}
    write_dataset(root, definition, {"items.csv": FOOTER_CSV})
    return root / "datasets"


def _build(datasets: Path, out: Path, *extra: str) -> dict[str, Any]:
    done = opendata("build", "--datasets", str(datasets), "--out", str(out), "--json", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _inode(out: Path, name: str) -> int:
    return (out / "datasets" / name / f"{PUBLISHABLE['resources'][0]['name']}.csv").stat().st_ino


def test_only_the_changed_dataset_is_built_again(tmp_path: Path) -> None:
    datasets, out = _two_datasets(tmp_path), tmp_path / "dist"
    _build(datasets, out)
    before = {name: _inode(out, name) for name in ("first", "second")}
    before_feed = (out / "feeds/dataset/first.atom").stat().st_ino
    kept = ("datasets/second/package.json", "datasets/second/dataset.ttl")
    kept += ("datasets/second/index.html", "feeds/dataset/second.atom")
    pages = {f: (out / f).stat().st_ino for f in kept}
    source = datasets / "first" / "items.csv"
    source.write_text(MINIMAL_CSV.replace("3200", "3201", 1), encoding="utf-8")
    result = _build(datasets, out)
    assert _inode(out, "second") == before["second"]  # carried: the same file, linked
    assert _inode(out, "first") != before["first"]  # built again
    for file in kept:  # the catalog's files too
        assert (out / file).stat().st_ino == pages[file]
    assert (out / "feeds/dataset/first.atom").stat().st_ino != before_feed
    assert "3201" in (out / "datasets/first/items.csv").read_text(encoding="utf-8-sig")
    carried = next(d for d in result["datasets"] if d["name"] == "second")
    assert [w["type"] for w in carried["warnings"]].count("footer-row") == 1  # still said
    assert carried["rows"] == {"items": 2}


def test_a_datasets_key_follows_its_visible_files_at_any_depth(tmp_path: Path) -> None:
    folder = tmp_path / "dataset"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("1", encoding="utf-8")
    (folder / "sub/b.csv").write_text("2", encoding="utf-8")

    def key(shared: str = "run") -> str:
        return reuse.input_key(folder, shared, reuse.SourceHashes({}, 0))

    first = key()
    for hidden in (".~lock.a.csv#", ".cache/c.csv", "sub/.DS_Store", "~$book.xlsx"):  # no input
        (folder / hidden).parent.mkdir(exist_ok=True)
        (folder / hidden).write_text("x", encoding="utf-8")
    assert key() == first
    assert key("another run") != first  # the code, limits and publisher file
    (folder / "sub/b.csv").write_text("3", encoding="utf-8")
    assert key() != first
    (folder / "sub/b.csv").write_text("2", encoding="utf-8")
    assert key() == first
    (folder / "sub/b.csv").rename(folder / "b.csv")  # the same bytes elsewhere: a change
    assert key() != first


def test_links_count_as_what_they_point_to_and_a_loop_is_not_followed(tmp_path: Path) -> None:
    """A link that loops (`up` → its own parent) stopped every build with "Too many levels of
    symbolic links"; a linked file or folder is read by the build, so it is an input: a
    link pointed elsewhere is a change."""
    datasets, out = _two_datasets(tmp_path), tmp_path / "dist"
    (datasets / "first" / "up").symlink_to("..")
    _build(datasets, out)
    before = _inode(out, "first")
    (tmp_path / "notes.txt").write_text("a", encoding="utf-8")
    (datasets / "first" / "notes.txt").symlink_to(tmp_path / "notes.txt")
    _build(datasets, out)
    assert _inode(out, "first") != before  # a new input: built again
    before = _inode(out, "first")
    (tmp_path / "notes.txt").write_text("b", encoding="utf-8")
    _build(datasets, out)
    assert _inode(out, "first") != before  # the linked file changed
    for version in ("v1", "v2"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "x.txt").write_text(version, encoding="utf-8")
    (datasets / "first" / "current").symlink_to(tmp_path / "v1")
    _build(datasets, out)
    before = _inode(out, "first")
    (datasets / "first" / "current").unlink()
    (datasets / "first" / "current").symlink_to(tmp_path / "v2")  # the same names, other bytes
    _build(datasets, out)
    assert _inode(out, "first") != before


def test_an_incremental_build_is_byte_identical_to_a_forced_one(tmp_path: Path) -> None:
    datasets = _two_datasets(tmp_path)
    _build(datasets, tmp_path / "dist")
    (datasets / "second" / "items.csv").write_text(
        FOOTER_CSV.replace("3200", "3202", 1), encoding="utf-8"
    )
    _build(datasets, tmp_path / "dist")
    _build(datasets, tmp_path / "forced", "--force")
    assert tree(tmp_path / "dist") == tree(tmp_path / "forced")


def test_the_publisher_file_and_a_damaged_output_rebuild(tmp_path: Path) -> None:
    datasets, out = _two_datasets(tmp_path), tmp_path / "dist"
    _build(datasets, out)
    first = _inode(out, "first")
    (datasets / "catalog.yaml").write_text("publisher:\n  name: 港区\n", encoding="utf-8")
    _build(datasets, out)
    assert _inode(out, "first") != first  # every dataset reads the publisher file
    second = out / "datasets/second/items.parquet"
    second.unlink()
    _build(datasets, out)
    assert second.is_file()  # a record whose files are gone is no reason to skip
    for damaged in ("datasets/second/dataset.ttl", "datasets/.build/second.nodes"):
        whole = (out / damaged).read_bytes()
        (out / damaged).write_bytes(whole[: len(whole) // 2])  # cut short, as a full disk does
        _build(datasets, out)
        assert (out / damaged).read_bytes() == whole  # made again, not passed on


def _aged(datasets: Path) -> dict[Path, int]:
    """Every source file's mtime set an hour back (older than any racy window); the times."""
    times = {}
    for path in datasets.rglob("*"):
        if path.is_file():
            old = path.stat().st_mtime_ns - 3_600_000_000_000
            os.utime(path, ns=(old, old))
            times[path] = old
    return times


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The source files hashed from now on, to find what changed."""
    read: list[Path] = []
    hash_file = reuse.sha256_file
    monkeypatch.setattr(reuse, "sha256_file", lambda path: read.append(path) or hash_file(path))
    return read


def test_unchanged_sources_are_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The files' ctimes are seconds old and cannot be set back: no racy window here (it has
    # a test of its own), so what decides is the stamp alone.
    monkeypatch.setattr(reuse.SourceHashes, "RACY_NS", 0)
    datasets, out = _two_datasets(tmp_path), tmp_path / "dist"
    _aged(datasets)
    _build(datasets, out)
    read = _reads(monkeypatch)
    _build(datasets, out)
    assert read == []  # every stamp as recorded: no source file read to find what changed
    (datasets / "first" / "items.csv").write_text(
        MINIMAL_CSV.replace("3200", "32000", 1), encoding="utf-8"
    )
    _build(datasets, out)
    assert read == [datasets / "first" / "items.csv"]


def test_a_source_changed_just_before_the_last_build_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written within the racy window of the last build's start (here: all of them,
    written a moment before it) may have changed again within the same clock tick."""
    datasets, out = _two_datasets(tmp_path), tmp_path / "dist"
    _build(datasets, out)
    read = _reads(monkeypatch)
    _build(datasets, out)
    assert sorted(read) == sorted(p for p in datasets.rglob("*") if p.is_file())


def test_an_edit_of_the_same_size_with_its_old_mtime_is_still_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes changed, the size and the mtime put back as they were: the ctime, which
    no one can set, still says the file changed (no racy window: the stamp alone decides)."""
    monkeypatch.setattr(reuse.SourceHashes, "RACY_NS", 0)
    datasets, out = _two_datasets(tmp_path), tmp_path / "dist"
    source = datasets / "first" / "items.csv"
    old = _aged(datasets)[source]
    _build(datasets, out)
    before = _inode(out, "first")
    source.write_text(MINIMAL_CSV.replace("3200", "3201", 1), encoding="utf-8")
    os.utime(source, ns=(old, old))
    _build(datasets, out)
    assert _inode(out, "first") != before
    assert "3201" in (out / "datasets/first/items.csv").read_text(encoding="utf-8-sig")


def test_the_records_are_never_published_nor_served(tmp_path: Path) -> None:
    datasets, out = _two_datasets(tmp_path), tmp_path / "dist"
    _build(datasets, out)
    assert (out / "datasets/.build/first.json").is_file()
    env = {"SOURCE_DATE_EPOCH": "1764400000"}
    done = opendata("release", "--site", str(out), "--datasets", str(datasets), env=env)
    assert done.returncode == 0, done.stderr
    assert not list(out.glob("releases/*/site/datasets/.build"))
    assert opendata("publish", "--site", str(out), "--to", str(tmp_path / "www")).returncode == 0
    assert not (tmp_path / "www/datasets/.build").exists()
    shutil.copytree(out, tmp_path / "served")
    with serving(tmp_path / "served") as base:
        import requests

        assert requests.get(f"{base}/datasets/.build/first.json", timeout=10).status_code == 404
        assert requests.get(f"{base}/datasets/first/items.csv", timeout=10).status_code == 200


def _denied(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """`folder` cannot be listed, as on a share with a narrower permission. A mock: the
    tests run as root here, who may list any folder whatever its mode."""
    scandir = os.scandir

    def listing(path: Any = ".") -> Any:
        if not isinstance(path, int) and os.fspath(path) == str(folder):  # rmtree lists fds
            raise PermissionError(13, "Permission denied", str(folder))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", listing)


def test_an_unreadable_folder_inside_a_dataset_is_a_located_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was an internal error: the incremental key could not list it."""
    datasets, out = _two_datasets(tmp_path), tmp_path / "dist"
    _build(datasets, out)
    before = tree(out)
    (datasets / "first" / "archive").mkdir()
    _denied(monkeypatch, datasets / "first" / "archive")
    done = opendata("build", "--datasets", str(datasets), "--out", str(out), "--json")
    assert done.returncode == 1, done.stderr
    problem = json.loads(done.stdout)["errors"][0]
    assert problem["dataset"] == "first" and problem["file"] == "first/archive"
    assert (
        "Permission denied" in problem["message"] and "check its permissions" in problem["message"]
    )
    assert tree(out) == before


def test_a_source_swapped_for_a_link_outside_is_built_again_and_refused(tmp_path: Path) -> None:
    """The same bytes through a link that leaves the dataset folder: `validate` and a forced
    build refuse it, and the incremental build carried the last build over instead."""
    datasets, out = _two_datasets(tmp_path), tmp_path / "dist"
    _build(datasets, out)
    source = datasets / "first" / "items.csv"
    outside = tmp_path / "elsewhere.csv"
    source.rename(outside)
    source.symlink_to(outside)
    done = opendata("build", "--datasets", str(datasets), "--out", str(out))
    assert done.returncode == 1 and "items.csv" in done.stderr, done.stderr
