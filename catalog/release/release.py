"""`opendata release`: turn the current build into an immutable, dated release.

Each dataset's version is decided from its change since the previous release (the Data
Package version recipe in versioning.py); an unchanged dataset keeps its version.
The release is staged beside the site and swapped in whole, like a build.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.build import Progress, RunResult
from pipeline.errors import Problem
from pipeline.files import (
    link_file,
    link_tree,
    locked,
    read_json,
    replace_directory,
    sha256_file,
    staging_beside,
    write_json,
)
from pipeline.package import JST
from pipeline.publisher import Publisher

from .. import paths
from ..build import build_catalog
from ..metadata import opendata_list
from ..metadata.opendata_list import NAME as OPENDATA_LIST
from ..metadata.quality import metadata_problems
from ..model import BuiltPackage, Catalog
from . import archive, versioning
from .archive import Release
from .diff import DatasetDiff, DatasetStatus, diff_dataset

DecisionKind = Literal["new", "removed", versioning.Level]


class ReleaseError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Override:
    version: str
    reason: str


@dataclass
class Decision:
    """One dataset's version in the coming release, and why."""

    name: str
    previous: dict[str, Any] | None  # its entry in the last release that had it
    version: str
    change: DecisionKind | None  # None when unchanged
    reasons: list[str] = field(default_factory=list)
    override: str | None = None
    diff: DatasetDiff | None = None  # against the release that made the previous version

    def review_diff(self) -> DatasetDiff:
        """For changes.html: what the release changed in this dataset."""
        status: dict[DecisionKind | None, DatasetStatus] = {
            None: "unchanged",
            "new": "added",
            "removed": "removed",
        }
        return self.diff or DatasetDiff(self.name, status.get(self.change, "changed"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "previous_version": self.previous["version"] if self.previous else None,
            "version": self.version,
            "change": self.change,
            "reasons": self.reasons,
            "override": self.override,
        }


def release_time() -> dt.datetime:
    """Now in Japan time, or SOURCE_DATE_EPOCH when set (reproducible releases, tests)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = dt.datetime.fromtimestamp(int(epoch), JST) if epoch else dt.datetime.now(JST)
    return now.replace(microsecond=0)


def released_names(site: Path) -> list[str]:
    """The datasets a release plans from the build: every one but the catalog's own list,
    which is made from the others as they are released, and versioned after them."""
    return [n for n in paths.built_names(site) if n != OPENDATA_LIST]


def _refusal(message: str, **where: Any) -> ReleaseError:
    return ReleaseError([Problem("release-error", message, **where)])


def plan(
    site: Path,
    done: list[Release],
    overrides: dict[str, Override] | None = None,
    progress: Progress | None = None,
) -> list[Decision]:
    """Every dataset's decision against its last release (of `done`, the site's releases),
    removed datasets included; `progress` hears of each dataset as its diff is computed."""
    if not paths.datasets(site).is_dir():
        raise _refusal(
            f"{site} にビルドがありません。opendata build を先に実行してください"
            f" / no build in {site}; run `opendata build` first",
            file=str(site),
        )
    last = archive.last_entries(done)
    built = released_names(site)
    decisions = []
    for done_count, name in enumerate(built):
        if progress:
            progress(name, done_count, len(built))
        decisions.append(_decide(site, name, last.get(name)))
    if done:  # in the last release, not in this build
        decisions += [
            Decision(name, entry, entry["version"], "removed", ["ビルドにありません / not built"])
            for name, entry in sorted(done[-1].datasets.items())
            if name not in built and name != OPENDATA_LIST
        ]
    _apply(decisions, overrides or {})
    return decisions


def _decide(site: Path, name: str, entry: dict[str, Any] | None) -> Decision:
    """The dataset's change since `entry`, its last released version (None: never released)."""
    package = archive.read_package(site, name)
    if entry is None:
        version = BuiltPackage.of(package).version or "1.0.0"
        return Decision(name, None, version, "new", ["初めての公開 / first release"])
    if archive.content_digest(package) == entry["digest"]:
        return Decision(name, entry, entry["version"], None)
    released = paths.version_folder(site, name, entry["version"])  # as it was released
    diff = diff_dataset(released, paths.dataset(site, name))
    changes = versioning.changes(diff)
    # Something outside what the diff compares (a foreign key, a dialect) still changed.
    level = versioning.level_of(changes) or "patch"
    reasons = [c.reason for c in changes] or ["other metadata changed"]
    version = versioning.bump(entry["version"], level)
    return Decision(name, entry, version, level, reasons, diff=diff)


def _apply(decisions: list[Decision], overrides: dict[str, Override]) -> None:
    """The officer's versions, each with a reason; refused where they would mislead."""
    by_name = {d.name: d for d in decisions}
    problems = []
    for name, override in sorted(overrides.items()):
        decision = by_name.get(name)
        problem = _override_problem(decision, override)
        if problem:
            problems.append(Problem("release-error", problem, dataset=name, value=override.version))
        else:
            assert decision is not None
            decision.version = override.version
            decision.override = override.reason
    if problems:
        raise ReleaseError(problems)


def _override_problem(decision: Decision | None, override: Override) -> str | None:
    if decision is None:
        return "そのデータセットはこのビルドにありません / no such dataset in this build"
    if not override.reason.strip():
        return "版を指定するときは理由が必要です（--reason） / an override needs a reason"
    try:
        wanted = versioning.parse(override.version)
    except ValueError:
        return "版は 1.2.3 の形で指定してください / a version is MAJOR.MINOR.PATCH"
    if decision.change is None:
        return (
            "変更のないデータセットに新しい版は付けられません / nothing changed, so no new version"
        )
    if decision.previous and wanted <= versioning.parse(decision.previous["version"]):
        return (
            f"前の版 {decision.previous['version']} より大きな版にしてください"
            f" / must be above the previous version {decision.previous['version']}"
        )
    return None


def check_metadata(site: Path, names: list[str]) -> list[Problem]:
    """What `build` warns about, a release refuses."""
    problems = []
    for name in names:
        for warning in metadata_problems(BuiltPackage.of(archive.read_package(site, name))):
            problems.append(
                Problem("metadata-error", warning.message, dataset=name, file=warning.file)
            )
    return problems


def review(
    site: Path,
    overrides: dict[str, Override] | None = None,
    dataset_notes: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> list[Decision]:
    """The decisions, or every reason the release would be refused (`release --dry-run`)."""
    with locked(site.resolve(), "release --dry-run", shared=True):
        return _review(site, archive.releases(site), overrides, dataset_notes, progress)


def _review(
    site: Path,
    done: list[Release],
    overrides: dict[str, Override] | None = None,
    dataset_notes: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> list[Decision]:
    decisions = plan(site, done, overrides, progress)
    built = [d.name for d in decisions if d.change != "removed"]
    problems = check_metadata(site, built)
    for name in sorted(set(dataset_notes or {}) - set(built)):
        problems.append(
            Problem("release-error", "そのデータセットはこのビルドにありません（--dataset-notes）"
                    " / no such dataset in this build (--dataset-notes)", dataset=name)
        )  # fmt: skip
    for d in decisions:
        if (
            d.change not in (None, "removed")
            and paths.version_folder(site, d.name, d.version).exists()
        ):
            problems.append(
                Problem("release-error", f"版 {d.version} は公開済みです。--set-version で上の版を"
                        f"指定してください / version {d.version} was released before; choose a"
                        " higher one with --set-version", dataset=d.name, value=d.version)
            )  # fmt: skip
    if problems:
        raise ReleaseError(problems)
    return decisions


def create(
    site: Path,
    publisher: Publisher,
    notes: str = "",
    dataset_notes: dict[str, str] | None = None,
    overrides: dict[str, Override] | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> tuple[Release | None, list[Decision]]:
    """Make a release of the site's current build; (None, decisions) when nothing changed.
    `progress` hears of each dataset, then ("", n, n) while the released catalog is made."""
    site = site.resolve()
    with locked(site, "release"):
        return _create(site, publisher, notes, dataset_notes, overrides, now, progress)


def _create(
    site: Path,
    publisher: Publisher,
    notes: str,
    dataset_notes: dict[str, str] | None,
    overrides: dict[str, Override] | None,
    now: dt.datetime | None,
    progress: Progress | None,
) -> tuple[Release | None, list[Decision]]:
    base_url = _base_url(site)
    done = archive.releases(site)  # read once: every manifest is parsed for each use
    decisions = _review(site, done, overrides, dataset_notes, progress)
    if progress:
        progress("", len(decisions), len(decisions))
    previous = done[-1] if done else None
    if all(d.change is None for d in decisions):
        return None, decisions
    now = now or release_time()
    if previous and now <= archive.created(previous):
        raise _refusal(
            f"リリース時刻 {now.isoformat()} が前回のリリース {previous.id} より後ではありません"
            "（時計か SOURCE_DATE_EPOCH を確認してください） / the release time is not after"
            " the last release: check the clock or SOURCE_DATE_EPOCH",
            file=str(site),
        )
    release_id = now.strftime("%Y%m%d-%H%M%S")
    with staging_beside(site, "release") as staging:
        link_tree(site, staging, link=lambda p: archive.never_rewritten(site, p))
        manifest = _manifest(staging, release_id, now, done, decisions, notes, dataset_notes or {})
        decisions.append(_release_list(staging, publisher, base_url, manifest, done))
        folder = paths.release_folder(staging, release_id)
        write_json(folder / paths.MANIFEST, manifest)
        write_json(staging / paths.LATEST, _pointer(manifest))
        diffs = [d.review_diff() for d in decisions]
        catalog = RunResult([])
        build_catalog(staging, publisher, base_url, catalog, diffs, last=site)
        if not catalog.valid:  # the site as released must be whole: refuse, change nothing
            raise ReleaseError(
                catalog.problems + [p for d in catalog.datasets for p in d.report.problems]
            )
        _snapshot(staging, folder / paths.SNAPSHOT)
        if previous is not None:  # superseded: kept by content from now on
            archive.compact(
                staging, Release(paths.release_folder(staging, previous.id), previous.manifest)
            )
        replace_directory(staging, site)
    return Release(paths.release_folder(site, release_id), manifest), decisions


def _release_list(
    site: Path, publisher: Publisher, base_url: str, manifest: dict[str, Any], done: list[Release]
) -> Decision:
    """The catalog's オープンデータ一覧, made from the datasets as this release stamped them,
    then decided and versioned like any dataset (the catalog step makes it again, the same)."""
    made = opendata_list.build(Catalog.load(site, base_url, publisher), publisher)
    if not made.valid:
        raise ReleaseError(made.report.problems)
    entry = archive.last_entries(done).get(OPENDATA_LIST)
    decision = _decide(site, OPENDATA_LIST, entry)
    if decision.change is None:
        manifest["datasets"][OPENDATA_LIST] = decision.previous
        return decision
    entry = _entry(site, decision, manifest["id"], manifest["created"], manifest["notes"])
    manifest["datasets"][OPENDATA_LIST] = entry
    releases = [*done, Release(paths.release_folder(site, manifest["id"]), manifest)]
    archive.stamp(site, OPENDATA_LIST, entry, archive.changelog(releases, OPENDATA_LIST))
    entry["files"] = _version_folder(site, OPENDATA_LIST, decision.version)
    return decision


def _base_url(site: Path) -> str:
    status = site / paths.SITE_JSON
    if not status.is_file():
        raise _refusal(
            f"{site} にカタログがありません。opendata build（--no-catalog なし）を先に実行してください"
            f" / {site} has no catalog; run `opendata build` with the catalog first",
            file=str(site),
        )
    url: str = read_json(status)["status"]["site_url"]
    return url


def _manifest(
    site: Path,
    release_id: str,
    now: dt.datetime,
    done: list[Release],
    decisions: list[Decision],
    notes: str,
    dataset_notes: dict[str, str],
) -> dict[str, Any]:
    """Each dataset's entry; the new versions are stamped and their folders put in place."""
    created = now.isoformat()
    kept = [d for d in decisions if d.change != "removed"]
    datasets = {
        d.name: d.previous
        if d.change is None
        else _entry(site, d, release_id, created, dataset_notes.get(d.name) or notes)
        for d in kept
    }
    manifest = {
        "id": release_id,
        "created": created,
        "previous": done[-1].id if done else None,
        "notes": notes,
        "datasets": datasets,
        "removed": [d.name for d in decisions if d.change == "removed"],
    }
    made = [*done, Release(paths.release_folder(site, release_id), manifest)]
    for decision in kept:
        entry = datasets[decision.name]
        assert entry is not None
        archive.stamp(site, decision.name, entry, archive.changelog(made, decision.name))
        if decision.change is not None:
            entry["files"] = _version_folder(site, decision.name, decision.version)
    return manifest


def _pointer(manifest: dict[str, Any]) -> dict[str, Any]:
    """releases/latest.json: a stable address for the newest release."""
    return {
        "id": manifest["id"],
        "created": manifest["created"],
        "manifest": f"{paths.RELEASES}/{manifest['id']}/{paths.MANIFEST}",
        "versions": {name: entry["version"] for name, entry in manifest["datasets"].items()},
    }


def _snapshot(site: Path, target: Path) -> None:
    """The site as this release publishes it: everything but the other releases' snapshots."""
    skip = {*paths.releases(site).glob(f"*/{paths.SNAPSHOT}"), target, paths.build_records(site)}
    skip.add(site / paths.RELEASE_OBJECTS)
    link_tree(site, target, skip=skip)


def _entry(
    site: Path, decision: Decision, release_id: str, created: str, notes: str
) -> dict[str, Any]:
    package = archive.read_package(site, decision.name)
    data = archive.data_digest(package)
    before = decision.previous
    data_changed = before is None or before["data_digest"] != data
    return {
        "version": decision.version,
        "previous_version": before["version"] if before else None,
        "released": release_id,
        "change": decision.change,
        "reasons": decision.reasons,
        "override": decision.override,
        "notes": notes,
        "digest": archive.content_digest(package),
        "data_digest": data,
        "metadata_modified": created,
        "data_modified": created if data_changed or before is None else before["data_modified"],
        "files": [],
    }


def _version_folder(site: Path, name: str, version: str) -> list[dict[str, Any]]:
    """datasets/<name>/<version>/: the package and its files, listed with sizes and sha256."""
    folder = paths.dataset(site, name)
    target = paths.version_folder(site, name, version)
    target.mkdir()  # review() refused a version released before
    package = BuiltPackage.of(archive.read_package(site, name))
    files = []
    for path in [paths.descriptor(folder).name, *(r.path for r in package.resources)]:
        link_file(folder / path, target / path)
        files.append(
            {
                "path": str((target / path).relative_to(site)),
                "bytes": (target / path).stat().st_size,
                "sha256": sha256_file(target / path),
            }
        )
    return files
