"""The release archive kept inside a site folder, which every build carries forward.

    releases/<id>/release.json     the immutable manifest of one release
    releases/<id>/site/            the newest release's site, exactly as it published it
    releases/<id>/files.json       an older release's site: each file's path → its sha256
    releases/objects/<ab>/<sha256> the older releases' files, each distinct content once
    datasets/<name>/<version>/     every released version's files (in each snapshot too)

Files are never rewritten once released, so carrying them into a new build is a hard link.
A release stores the one it supersedes by content (`compact`): the archive then holds one
whole site and the files that changed since, so carrying it costs the same at the 20th
release as at the 2nd, and its entries grow with the changes, not with sites × releases.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.files import link_file, link_tree, read_json, sha256_file, write_json
from pipeline.vocabulary import EXTENSION

from .. import paths
from .diff import IGNORED_EXTENSION, is_file


@dataclass(frozen=True)
class Release:
    folder: Path
    manifest: dict[str, Any]

    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def site(self) -> Path:
        return self.folder / paths.SNAPSHOT

    @property
    def datasets(self) -> dict[str, dict[str, Any]]:
        return self.manifest["datasets"]

    def files(self) -> dict[str, Path]:
        """Every file of the site as this release published it, by its path in the site: its
        snapshot's, or once a later release stored it by content, the objects it names."""
        if self.site.is_dir():
            found = (p for p in sorted(self.site.rglob("*")) if p.is_file())
            return {p.relative_to(self.site).as_posix(): p for p in found}
        site = self.folder.parents[1]  # <site>/releases/<id>
        listing: dict[str, str] = read_json(self.folder / paths.LISTING)
        return {path: paths.stored_object(site, digest) for path, digest in listing.items()}


def compact(site: Path, release: Release) -> None:
    """Store a superseded release's snapshot by content: each distinct file once under
    releases/objects/, the snapshot as a listing of path → sha256. A file already stored is
    known by its inode (snapshots and objects are hard links of never-rewritten files), so
    only the files new since the last compaction are read."""
    store = site / paths.RELEASE_OBJECTS
    known = {_inode(stored): stored.name for stored in store.glob("*/*")}
    listing = {}
    for path in sorted(release.site.rglob("*")):
        if not path.is_file():
            continue
        digest = known.get(_inode(path)) or sha256_file(path)
        stored = paths.stored_object(site, digest)
        if not stored.exists():
            stored.parent.mkdir(parents=True, exist_ok=True)
            link_file(path, stored)
            known[_inode(stored)] = digest
        listing[path.relative_to(release.site).as_posix()] = digest
    text = json.dumps(listing, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    (release.folder / paths.LISTING).write_text(text + "\n", encoding="utf-8")
    shutil.rmtree(release.site)


def _inode(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def releases(site: Path) -> list[Release]:
    """Every complete release of a site, oldest first (a release is always made after the
    last one, so their times order them)."""
    found = []
    for path in paths.releases(site).glob(f"*/{paths.MANIFEST}"):
        found.append(Release(path.parent, read_json(path)))
    return sorted(found, key=created)


def created(release: Release) -> dt.datetime:
    return dt.datetime.fromisoformat(release.manifest["created"])


def latest(site: Path) -> Release | None:
    done = releases(site)
    return done[-1] if done else None


def last_entries(done: list[Release]) -> dict[str, dict[str, Any]]:
    """Each dataset ever released: its entry in the last release that had it (its version's
    files are in datasets/<name>/<version>/) — removed datasets included."""
    return {name: entry for release in done for name, entry in release.datasets.items()}


def read_package(site: Path, name: str) -> dict[str, Any]:
    package: dict[str, Any] = read_json(paths.datapackage(site, name))
    return package


def write_package(site: Path, name: str, package: dict[str, Any]) -> None:
    write_json(paths.datapackage(site, name), package)


def content_digest(package: dict[str, Any]) -> str:
    """What a release compares: the CSV files' hashes and the metadata, without the facts a
    release itself writes (version, dates, history), the source file's bytes, or the Parquet
    files' bytes (they change with the writer's version; their values are the CSV's)."""
    stable = {k: v for k, v in package.items() if k not in ("version", "resources")}
    stable["resources"] = [
        {
            k: v
            for k, v in r.items()
            if r["format"] == "csv" or is_file(r) or k not in ("bytes", "hash", EXTENSION)
        }
        for r in package.get("resources") or []
    ]
    extension = package.get(EXTENSION) or {}
    stable[EXTENSION] = {k: v for k, v in extension.items() if k not in IGNORED_EXTENSION}
    text = json.dumps(stable, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_digest(package: dict[str, Any]) -> str:
    """The values alone: the CSV files (Parquet also carries titles, which are metadata) and
    the files published as they are."""
    hashes = sorted(
        (r["path"], r["hash"]) for r in package["resources"] if r["format"] == "csv" or is_file(r)
    )
    return hashlib.sha256(json.dumps(hashes).encode("utf-8")).hexdigest()


# Data files and files published as they are: once written, no step writes them again.
DATA_SUFFIXES = (".csv", ".parquet", ".geojson", ".zip", ".pdf", ".png", ".jpg", ".jpeg")


def never_rewritten(site: Path, path: Path) -> bool:
    """Released files and data files: once written, no step writes them again."""
    return paths.is_released(site, path) or path.suffix.lower() in DATA_SUFFIXES


def carry_forward(old_site: Path, new_site: Path) -> None:
    """Bring the release history and the released versions' files into a new build."""
    if paths.releases(old_site).is_dir():
        link_tree(paths.releases(old_site), paths.releases(new_site))
    for folder in paths.version_folders(old_site):  # a dataset no longer built keeps them too
        link_tree(folder, new_site / folder.relative_to(old_site))


def stamp(site: Path, name: str, entry: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """Write a dataset's released version, dates and changelog into its datapackage.json
    (left as it is when it says them already: a dataset carried over from the last build)."""
    package = read_package(site, name)
    stamped = {
        "modified": entry["metadata_modified"],
        "data_modified": entry["data_modified"],
        "versions": history,
    }
    extension = package.setdefault(EXTENSION, {})
    if package.get("version") == entry["version"] and stamped.items() <= extension.items():
        return
    package["version"] = entry["version"]
    extension.update(stamped)
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


def stamp_released(site: Path, names: list[str] | None = None) -> None:
    """A build shows each dataset's (or the named ones') last released version, dates and
    changelog."""
    done = releases(site)
    for name, entry in last_entries(done).items():
        if (names is None or name in names) and paths.datapackage(site, name).is_file():
            stamp(site, name, entry, changelog(done, name))
