"""`opendata release`: versions decided by the recipe, immutable releases kept across builds."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    MINIMAL_CSV,
    PUBLISHABLE,
    Ran,
    opendata,
    rdf_graph,
    shacl_violations,
    write_dataset,
)

EPOCH = 1764400000  # 2025-11-29T16:06:40+09:00: the first release
LATER = EPOCH + 3600  # any release after it


def build(root: Path, definition: dict[str, Any], csv_text: str, *extra: str) -> None:
    shutil.rmtree(root / "datasets", ignore_errors=True)
    write_dataset(root, definition, {"items.csv": csv_text})
    done = opendata(
        "build", "--datasets", str(root / "datasets"), "--out", str(root / "dist"), *extra
    )
    assert done.returncode == 0, done.stderr


def release(root: Path, *args: str, epoch: int = LATER) -> dict[str, Any]:
    done = _release(root, *args, epoch=epoch)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def _release(root: Path, *args: str, epoch: int = LATER) -> Ran:
    """The CLI at a fixed release time, so release ids and dates are known."""
    site, datasets = str(root / "dist"), str(root / "datasets")
    return opendata(
        "release", "--site", site, "--datasets", datasets, "--json", *args,
        env={"SOURCE_DATE_EPOCH": str(epoch)},
    )  # fmt: skip


def package(root: Path, name: str = "sample-budget", file: str = "package.json") -> dict:
    return json.loads((root / "dist/datasets" / name / file).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def first_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample-budget 1.0.0, released once with the full catalog."""
    root = tmp_path_factory.mktemp("released")
    build(root, PUBLISHABLE, MINIMAL_CSV)
    made = release(root, "--notes", "初版", epoch=EPOCH)
    assert made["release"]["datasets"]["sample-budget"]["version"] == "1.0.0"
    return root


@pytest.fixture
def released(first_release: Path, tmp_path: Path) -> Path:
    shutil.copytree(first_release / "dist", tmp_path / "dist", symlinks=True)
    return tmp_path


def _fields(d: dict) -> list[dict]:
    return d["resources"][0]["schema"]["fields"]


def _with(change: Callable[[dict], None]) -> dict:
    definition = copy.deepcopy(PUBLISHABLE)
    change(definition)
    return definition


SAME = copy.deepcopy(PUBLISHABLE)
EXTRA_ROW = MINIMAL_CSV + "3,新規事業,10,2024\n"
SECOND_RESOURCE = {
    "name": "more",
    "path": "items.csv",
    "schema": copy.deepcopy(PUBLISHABLE["resources"][0]["schema"]),
}

# One case per rule of the recipe: (definition, CSV, expected change, version).
RULES = {
    "value corrected": (SAME, MINIMAL_CSV.replace("3200", "3300"), "patch", "1.0.1"),
    "description changed": (
        _with(lambda d: d.update(title="予算の例（改訂）")), MINIMAL_CSV, "patch", "1.0.1"),
    "field described": (
        _with(lambda d: _fields(d)[2].update(description="千円")), MINIMAL_CSV, "patch", "1.0.1"),
    "rows added": (SAME, EXTRA_ROW, "minor", "1.1.0"),
    "resource added": (
        _with(lambda d: d["resources"].append(SECOND_RESOURCE)), MINIMAL_CSV, "minor", "1.1.0"),
    "constraint loosened": (
        _with(lambda d: _fields(d)[2].update(constraints={"maximum": 10**9})), MINIMAL_CSV,
        "major", "2.0.0"),  # a new maximum is a tightening, however generous
    "field removed": (
        _with(lambda d: _fields(d).pop()), "番号,名称,金額\n1,庁舎管理,3200\n2,情報化推進,150.5\n",
        "major", "2.0.0"),
    "field renamed": (
        _with(lambda d: _fields(d)[1].update(name="item_name")), MINIMAL_CSV, "major", "2.0.0"),
    "field retyped": (
        _with(lambda d: _fields(d)[3].update(type="string")), MINIMAL_CSV, "major", "2.0.0"),
    "field added": (
        _with(lambda d: _fields(d).append({"name": "note", "title": "備考", "type": "string"})),
        MINIMAL_CSV.replace("年度\n", "年度,備考\n").replace("年度\n1", "年度,備考\n1"),
        "major", "2.0.0"),
    "constraint tightened": (
        _with(lambda d: _fields(d)[1].update(constraints={"required": True})), MINIMAL_CSV,
        "major", "2.0.0"),
    "rows removed": (SAME, MINIMAL_CSV.rsplit("2,", 1)[0], "major", "2.0.0"),
    "primary key changed": (
        _with(lambda d: d["resources"][0]["schema"].update(primaryKey=["label"])), MINIMAL_CSV,
        "major", "2.0.0"),
}  # fmt: skip


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_version_recipe(released: Path, rule: str) -> None:
    definition, csv_text, change, version = RULES[rule]
    if rule == "field added":
        csv_text = (
            "番号,名称,金額,年度,備考\n1,庁舎管理,3200,令和4年度,\n2,情報化推進,150.5,2023,\n"
        )
    build(released, definition, csv_text)
    decision = release(released, "--dry-run")["decisions"][0]
    assert (decision["change"], decision["version"]) == (change, version), decision["reasons"]
    assert decision["previous_version"] == "1.0.0" and decision["reasons"]


def test_a_loosened_constraint_is_minor(released: Path) -> None:
    tight = _with(lambda d: _fields(d)[2].update(constraints={"maximum": 5000}))
    build(released, tight, MINIMAL_CSV)
    assert (
        release(released, epoch=EPOCH + 60)["release"]["datasets"]["sample-budget"]["version"]
        == "2.0.0"
    )
    loose = _with(lambda d: _fields(d)[2].update(constraints={"maximum": 9000}))
    build(released, loose, MINIMAL_CSV)
    decision = release(released, "--dry-run")["decisions"][0]
    assert (decision["change"], decision["version"]) == ("minor", "2.1.0")


def test_nothing_changed_means_no_release_and_no_new_version(released: Path) -> None:
    build(released, PUBLISHABLE, MINIMAL_CSV)
    made = release(released, epoch=EPOCH + 60)
    assert made["release"] is None and made["decisions"][0]["change"] is None
    assert len(list((released / "dist/releases").glob("*/release.json"))) == 1
    assert package(released)["version"] == "1.0.0"


def test_an_override_needs_a_reason_and_a_higher_version(released: Path) -> None:
    build(released, PUBLISHABLE, EXTRA_ROW)
    refused = _release(released, "--set-version", "sample-budget=3.0.0")
    assert refused.returncode == 1 and "理由" in refused.stdout
    lower = _release(
        released, "--set-version", "sample-budget=1.0.0", "--reason", "sample-budget=x"
    )
    assert lower.returncode == 1 and "1.0.0" in lower.stdout
    made = release(
        released, "--set-version", "sample-budget=3.0.0", "--reason", "sample-budget=年度の切替"
    )
    entry = made["release"]["datasets"]["sample-budget"]
    assert (entry["version"], entry["override"]) == ("3.0.0", "年度の切替")


def test_an_override_of_an_unchanged_dataset_is_refused(released: Path) -> None:
    build(released, PUBLISHABLE, MINIMAL_CSV)
    done = _release(released, "--set-version", "sample-budget=1.1.0", "--reason", "sample-budget=x")
    assert done.returncode == 1 and "nothing changed" in done.stdout


def test_a_release_refuses_unfit_metadata_and_changes_nothing(released: Path) -> None:
    unfit = _with(lambda d: d.pop("description"))
    unfit["x-opendata"] = {k: v for k, v in unfit["x-opendata"].items() if k != "department"}
    build(released, unfit, EXTRA_ROW)
    before = sorted(p.name for p in (released / "dist/releases").iterdir())
    done = _release(released)
    assert done.returncode == 1
    errors = json.loads(done.stdout)["errors"]
    messages = " ".join(e["message"] for e in errors)
    assert "description" in messages and "department" in messages
    assert {e["dataset"] for e in errors} == {"sample-budget"}
    assert all(e["type"] == "metadata-error" and e["hint_en"] for e in errors)
    assert sorted(p.name for p in (released / "dist/releases").iterdir()) == before


def test_a_release_whose_catalog_step_fails_is_refused_and_changes_nothing(
    released: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The site a release archives must be whole: a catalog step that reports a problem (here
    the オープンデータ一覧 failing to build) stops the release before anything is swapped in."""
    from catalog.metadata import opendata_list

    build(released, PUBLISHABLE, EXTRA_ROW)
    before = {p: _sha256(p) for p in (released / "dist").rglob("*") if p.is_file()}
    monkeypatch.setattr(opendata_list, "rows", lambda catalog, listed: [["not a code"]])
    done = _release(released)
    assert done.returncode == 1, done.stdout
    assert json.loads(done.stdout)["errors"]
    after = {p: _sha256(p) for p in (released / "dist").rglob("*") if p.is_file()}
    assert after == before


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_releases_survive_builds_and_every_version_stays_downloadable(released: Path) -> None:
    dist = released / "dist"
    build(released, PUBLISHABLE, MINIMAL_CSV.replace("3200", "3300"))
    second = release(released, "--notes", "金額の訂正", epoch=EPOCH + 86400)["release"]
    build(released, PUBLISHABLE, EXTRA_ROW, "--no-catalog")  # a later build, not released
    manifests = sorted(dist.glob("releases/*/release.json"))
    assert len(manifests) == 2
    for manifest in manifests:
        for entry in json.loads(manifest.read_text())["datasets"].values():
            for file in entry["files"]:
                assert _sha256(dist / file["path"]) == file["sha256"]
                assert (dist / file["path"]).stat().st_size == file["bytes"]
    # The newest release's snapshot: its latest files are the 1.0.1 files.
    snapshot = dist / "releases" / second["id"] / "site/datasets/sample-budget"
    assert _sha256(snapshot / "items.csv") == _sha256(snapshot / "1.0.1/items.csv")
    assert _sha256(snapshot / "1.0.0/items.csv") != _sha256(snapshot / "1.0.1/items.csv")
    assert "3300" in (snapshot / "items.csv").read_text(encoding="utf-8-sig")


def test_a_superseded_release_is_kept_by_content_each_file_once(released: Path) -> None:
    """Only the newest release keeps a whole snapshot; an older one becomes a listing of path →
    sha256 over releases/objects/, which holds each distinct content once — and gives back
    exactly the files its snapshot held."""
    from catalog.release import archive

    dist = released / "dist"
    as_published = {}
    for epoch, amount in ((EPOCH + 86400, "3300"), (EPOCH + 2 * 86400, "3400")):
        newest = archive.latest(dist)
        assert newest is not None and newest.site.is_dir()
        as_published[newest.id] = {p: _sha256(f) for p, f in newest.files().items()}
        build(released, PUBLISHABLE, MINIMAL_CSV.replace("3200", amount))
        release(released, epoch=epoch)
    done = archive.releases(dist)
    assert len(done) == 3 and [r.site.is_dir() for r in done] == [False, False, True]
    for older in done[:2]:
        assert not older.site.exists() and (older.folder / "files.json").is_file()
        files = older.files()
        assert {p: _sha256(f) for p, f in files.items()} == as_published[older.id]
        assert all(files[p].name == digest for p, digest in as_published[older.id].items())
    stored = sorted(p.name for p in (dist / "releases/objects").glob("*/*"))
    listed = {d for r in done[:2] for d in as_published[r.id].values()}
    assert stored == sorted(listed)  # every content once, nothing unlisted
    assert len(stored) < sum(len(as_published[r.id]) for r in done[:2])  # shared once


def test_catalog_dates_and_versions_follow_releases(released: Path) -> None:
    first = package(released)
    assert first["version"] == "1.0.0" and first["metadata_modified"].startswith("2025-11-29T16:06")
    # A metadata-only release: metadata modified moves, data modified does not.
    build(released, _with(lambda d: d.update(title="予算の例（改訂）")), MINIMAL_CSV)
    release(released, "--notes", "題名の変更", epoch=EPOCH + 86400)
    after = package(released)
    extras = {e["key"]: e["value"] for e in after["extras"]}
    assert after["version"] == "1.0.1"
    assert after["metadata_modified"].startswith("2025-11-30T16:06")
    assert extras["data_modified"].startswith("2025-11-29T16:06")
    assert all(r["last_modified"] == extras["data_modified"] for r in after["resources"][:2])
    assert extras["version_notes"] == "題名の変更"
    # A rebuild with no change keeps every date and the version.
    build(released, _with(lambda d: d.update(title="予算の例（改訂）")), MINIMAL_CSV)
    assert package(released)["metadata_modified"] == after["metadata_modified"]
    page = (released / "dist/datasets/sample-budget/index.html").read_text(encoding="utf-8")
    assert "版の履歴" in page and "題名の変更" in page and 'href="1.0.0/datapackage.json"' in page


def test_dcat_links_the_versions(released: Path) -> None:
    from rdflib import Graph, Namespace, URIRef

    build(released, PUBLISHABLE, EXTRA_ROW)
    release(released, "--notes", "事業の追加", epoch=EPOCH + 86400)
    graph = Graph().parse(released / "dist/datasets/sample-budget/dataset.ttl")
    dcat = Namespace("http://www.w3.org/ns/dcat#")
    base = "https://opendata.city.minato.tokyo.jp/datasets/sample-budget/"
    dataset = URIRef(base + "#dataset")
    v1, v11 = URIRef(base + "1.0.0/#dataset"), URIRef(base + "1.1.0/#dataset")
    assert set(graph.objects(dataset, dcat.hasVersion)) == {v1, v11}
    assert (v11, dcat.previousVersion, v1) in graph
    assert (dataset, dcat.previousVersion, v1) in graph
    assert str(graph.value(dataset, dcat.version)) == "1.1.0"
    adms = Namespace("http://www.w3.org/ns/adms#")
    assert str(graph.value(v11, adms.versionNotes)) == "事業の追加"


def test_the_released_catalog_still_conforms_to_dcat_ap(released: Path) -> None:
    build(released, PUBLISHABLE, EXTRA_ROW)
    release(released, epoch=EPOCH + 86400)
    graph = rdf_graph(released / "dist/catalog.ttl")
    assert shacl_violations(graph, "shapes.ttl") == []
    assert shacl_violations(graph, "range.ttl") == []


def test_diff_defaults_to_the_last_release_and_the_site_has_a_changes_page(released: Path) -> None:
    build(released, PUBLISHABLE, MINIMAL_CSV.replace("3200", "3300"))
    done = opendata("diff", "--site", str(released / "dist"), "--json")
    assert done.returncode == 0, done.stderr
    diffs = {d["name"]: d for d in json.loads(done.stdout)}
    resource = diffs["sample-budget"]["resources"][0]
    assert resource["changed_rows"] == [
        {"key": {"id": 1}, "cells": {"amount": {"old": 3200.0, "new": 3300.0}}}
    ]
    page = (released / "dist/changes.html").read_text(encoding="utf-8")
    assert "3200.0 → <strong>3300.0</strong>" in page
    # Released, the page says what this release changed (from the decision's own diff).
    made = release(released)["release"]
    snapshot = released / "dist/releases" / made["id"] / "site/changes.html"
    assert "3200.0 → <strong>3300.0</strong>" in snapshot.read_text(encoding="utf-8")


def test_a_date_bound_moved_later_is_a_tightening(released: Path) -> None:
    dated = _with(lambda d: _fields(d).append({"name": "since", "type": "date"}))
    csv_text = "番号,名称,金額,年度,since\n1,庁舎管理,3200,令和4年度,2022-04-01\n"
    for minimum, change in (("2020-01-01", None), ("2021-01-01", "major")):
        _fields(dated)[-1]["constraints"] = {"minimum": minimum}
        build(released, dated, csv_text)
        if change is None:
            release(released)
            continue
        decision = release(released, "--dry-run")["decisions"][0]
        assert decision["change"] == change and "tightened" in decision["reasons"][0]


def test_a_version_that_is_not_semver_is_refused_by_the_build(tmp_path: Path) -> None:
    write_dataset(tmp_path, PUBLISHABLE | {"version": "1.0"}, {"items.csv": MINIMAL_CSV})
    done = opendata("validate", "--datasets", str(tmp_path / "datasets"))
    assert done.returncode == 1 and "MAJOR.MINOR.PATCH" in done.stderr


def test_a_removed_dataset_is_named_and_a_restored_one_continues_its_versions(
    released: Path,
) -> None:
    other = PUBLISHABLE | {"name": "other-budget"}
    write_dataset(released, other, {"items.csv": MINIMAL_CSV})
    both = opendata(
        "build", "--datasets", str(released / "datasets"), "--out", str(released / "dist")
    )
    assert both.returncode == 0
    release(released, epoch=LATER)  # other-budget 1.0.0
    build(released, PUBLISHABLE, MINIMAL_CSV)  # other-budget gone
    gone = release(released, epoch=LATER + 60)
    removed = [d for d in gone["decisions"] if d["name"] == "other-budget"]
    assert removed[0]["change"] == "removed" and gone["release"]["removed"] == ["other-budget"]
    assert (released / "dist/datasets/other-budget/1.0.0/items.csv").is_file()
    write_dataset(released, other, {"items.csv": EXTRA_ROW})
    opendata("build", "--datasets", str(released / "datasets"), "--out", str(released / "dist"))
    back = release(released, epoch=LATER + 120)["release"]["datasets"]["other-budget"]
    assert (back["previous_version"], back["version"], back["change"]) == (
        "1.0.0",
        "1.1.0",
        "minor",
    )


def test_rows_of_a_table_without_primary_key_are_compared_whole(released: Path) -> None:
    keyless = _with(lambda d: d["resources"][0]["schema"].pop("primaryKey"))
    build(released, keyless, MINIMAL_CSV)
    release(released)  # 2.0.0: the primary key was dropped
    build(released, keyless, MINIMAL_CSV.rsplit("2,", 1)[0])
    decision = release(released, "--dry-run", epoch=LATER + 60)["decisions"][0]
    assert decision["change"] == "major" and "1 rows removed" in decision["reasons"][0]
    build(released, keyless, MINIMAL_CSV)
    unchanged = opendata("diff", "--site", str(released / "dist"))
    assert "sample-budget" not in unchanged.stdout


def test_parquet_bytes_alone_do_not_make_a_version(released: Path) -> None:
    """A new pyarrow writes other Parquet bytes for the same values: no new version."""
    build(released, PUBLISHABLE, MINIMAL_CSV)
    path = released / "dist/datasets/sample-budget/datapackage.json"
    package = json.loads(path.read_text(encoding="utf-8"))
    for resource in package["resources"]:
        if resource["format"] == "parquet":
            resource["hash"] = "sha256:" + "0" * 64
    path.write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
    assert release(released, "--dry-run")["decisions"][0]["change"] is None


def test_release_options_that_would_be_ignored_are_refused(released: Path) -> None:
    build(released, PUBLISHABLE, EXTRA_ROW)
    for args, code in (
        (("--reason", "sample-budget=理由だけ"), 2),  # a usage error
        (("--dataset-notes", "no-such=ノート"), 1),  # a refusal
        (("--set-version", "sample-budget=2.0.0", "--set-version", "sample-budget=3.0.0"), 2),
    ):
        done = _release(released, *args)
        assert done.returncode == code and "内部エラー" not in done.stderr, args
    assert len(list((released / "dist/releases").glob("*/release.json"))) == 1


def test_a_release_time_not_after_the_last_one_is_refused(released: Path) -> None:
    build(released, PUBLISHABLE, EXTRA_ROW)
    done = _release(released, epoch=EPOCH - 86400)  # a clock behind
    assert done.returncode == 1 and "SOURCE_DATE_EPOCH" in done.stdout


def test_the_opendata_list_is_released_and_versioned_like_any_dataset(released: Path) -> None:
    """The catalog's own オープンデータ一覧 is versioned after the datasets it lists: new in the
    first release, bumped when a dataset it lists changes, its versions kept downloadable."""
    dist = released / "dist"
    first = json.loads(next(dist.glob("releases/*/release.json")).read_text())
    assert first["datasets"]["opendata-list"]["version"] == "1.0.0"
    assert first["datasets"]["opendata-list"]["change"] == "new"
    build(released, PUBLISHABLE, MINIMAL_CSV.replace("3200", "3300"))
    second = release(released, epoch=EPOCH + 86400)["release"]
    entry = second["datasets"]["opendata-list"]
    assert entry["version"] != "1.0.0" and entry["previous_version"] == "1.0.0"
    listed = package(released, "opendata-list", "datapackage.json")
    assert listed["version"] == entry["version"]
    assert [v["version"] for v in listed["x-opendata"]["versions"]] == [entry["version"], "1.0.0"]
    old = dist / "datasets/opendata-list/1.0.0/opendata-list.csv"
    new = dist / f"datasets/opendata-list/{entry['version']}/opendata-list.csv"
    assert _sha256(new) == _sha256(dist / "datasets/opendata-list/opendata-list.csv")
    assert _sha256(old) != _sha256(new)
    # A build between releases shows the list's released version, as every dataset's.
    build(released, PUBLISHABLE, MINIMAL_CSV.replace("3200", "3300"))
    assert package(released, "opendata-list", "datapackage.json")["version"] == entry["version"]
