"""The release history kept inside a site folder, which every build carries forward.

    releases/<id>/release.json     the immutable manifest of one release
    releases/<id>/site/            the site exactly as that release published it
    datasets/<name>/<version>/     every released version's files (in each snapshot too)

Files are never rewritten once released, so carrying them into a new build is a hard link.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .definition import EXTENSION
from .diff import IGNORED_EXTENSION
from .versioning import SEMVER

RELEASES = "releases"
MANIFEST = "release.json"
LATEST = f"{RELEASES}/latest.json"


@dataclass(frozen=True)
class Release:
    folder: Path
    manifest: dict[str, Any]

    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def site(self) -> Path:
        return self.folder / "site"

    @property
    def datasets(self) -> dict[str, dict[str, Any]]:
        return self.manifest["datasets"]


def releases(site: Path) -> list[Release]:
    """Every complete release of a site, oldest first (a release is always made after the
    last one, so their times order them)."""
    found = []
    for path in (site / RELEASES).glob(f"*/{MANIFEST}"):
        found.append(Release(path.parent, json.loads(path.read_text(encoding="utf-8"))))
    return sorted(found, key=created)


def created(release: Release) -> dt.datetime:
    return dt.datetime.fromisoformat(release.manifest["created"])


def latest(site: Path) -> Release | None:
    done = releases(site)
    return done[-1] if done else None


def last_entries(done: list[Release]) -> dict[str, tuple[Release, dict[str, Any]]]:
    """Each dataset ever released: its entry in the last release that had it, and the release
    that made that version (whose snapshot holds its files) — removed datasets included."""
    by_id = {r.id: r for r in done}
    entries = {}
    for release in done:
        for name, entry in release.datasets.items():
            entries[name] = (by_id.get(entry["released"], release), entry)
    return entries


def read_package(site: Path, name: str) -> dict[str, Any]:
    path = site / "datasets" / name / "datapackage.json"
    return json.loads(path.read_text(encoding="utf-8"))


def write_package(site: Path, name: str, package: dict[str, Any]) -> None:
    write_json(site / "datasets" / name / "datapackage.json", package)


def write_json(path: Path, data: Any) -> None:
    """A new file renamed into place: never a write into a file that a release links to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def content_digest(package: dict[str, Any]) -> str:
    """What a release compares: the CSV files' hashes and the metadata, without the facts a
    release itself writes (version, dates, history), the source file's bytes, or the Parquet
    files' bytes (they change with the writer's version; their values are the CSV's)."""
    stable = {k: v for k, v in package.items() if k not in ("version", "resources")}
    stable["resources"] = [
        {k: v for k, v in r.items() if r["format"] == "csv" or k not in ("bytes", "hash")}
        for r in package.get("resources") or []
    ]
    extension = package.get(EXTENSION) or {}
    stable[EXTENSION] = {k: v for k, v in extension.items() if k not in IGNORED_EXTENSION}
    text = json.dumps(stable, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_digest(package: dict[str, Any]) -> str:
    """The values alone: the CSV files (Parquet also carries titles, which are metadata)."""
    hashes = sorted((r["path"], r["hash"]) for r in package["resources"] if r["format"] == "csv")
    return hashlib.sha256(json.dumps(hashes).encode("utf-8")).hexdigest()


def version_folders(site: Path) -> list[Path]:
    return sorted(p for p in site.glob("datasets/*/*") if p.is_dir() and SEMVER.fullmatch(p.name))


def link_tree(
    source: Path,
    target: Path,
    skip: set[Path] | None = None,
    link: Callable[[Path], bool] | None = None,
) -> None:
    """Recreate `source` at `target` from hard links, or copies of the files `link` refuses
    (those the next step rewrites: a link would rewrite the original too)."""
    for root, dirs, files in os.walk(source):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if here / d not in (skip or set()))
        destination = target / here.relative_to(source)
        destination.mkdir(parents=True, exist_ok=True)
        for name in files:
            if link is None or link(here / name):
                link_file(here / name, destination / name)
            else:
                shutil.copy2(here / name, destination / name)


def link_file(source: Path, target: Path) -> None:
    """A hard link, or a copy where the file system cannot link (another device, no links);
    any other failure is raised, never papered over by writing into an existing file."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copy2(source, target)


def never_rewritten(site: Path, path: Path) -> bool:
    """Released files and data files: once written, no step writes them again."""
    relative = path.relative_to(site).parts
    released = relative[0] == RELEASES or (
        len(relative) > 3 and relative[0] == "datasets" and SEMVER.fullmatch(relative[2])
    )
    return released or path.suffix in (".csv", ".parquet")


def carry_forward(old_site: Path, new_site: Path) -> None:
    """Bring the release history and the released versions' files into a new build."""
    if (old_site / RELEASES).is_dir():
        link_tree(old_site / RELEASES, new_site / RELEASES)
    for folder in version_folders(old_site):  # a dataset no longer built keeps them too
        link_tree(folder, new_site / folder.relative_to(old_site))


def stamp(site: Path, name: str, entry: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """Write a dataset's released version, dates and changelog into its datapackage.json."""
    package = read_package(site, name)
    package["version"] = entry["version"]
    extension = package.setdefault(EXTENSION, {})
    extension["modified"] = entry["metadata_modified"]
    extension["data_modified"] = entry["data_modified"]
    extension["versions"] = history
    write_package(site, name, package)


def changelog(done: list[Release], name: str) -> list[dict[str, Any]]:
    """The versions a dataset was released in, newest first."""
    entries = []
    for release in done:
        entry = release.datasets.get(name)
        if entry and entry["released"] == release.id:
            entries.append(
                {
                    "version": entry["version"],
                    "release": release.id,
                    "date": release.manifest["created"],
                    "change": entry["change"],
                    "notes": entry["notes"],
                }
            )
    return entries[::-1]


def stamp_released(site: Path) -> None:
    """A build shows each dataset's last released version, dates and changelog."""
    done = releases(site)
    for name, (_release, entry) in last_entries(done).items():
        if (site / "datasets" / name / "datapackage.json").is_file():
            stamp(site, name, entry, changelog(done, name))
