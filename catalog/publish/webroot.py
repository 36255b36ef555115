"""`opendata publish --to DIR`: the latest release into a folder a web server serves.

The release's snapshot is assembled beside DIR — files already published and the release's
own files as hard links, copies across file systems — and then exchanged with DIR in one
atomic rename. A publish killed at any moment leaves DIR as it was or completely new; the
next run removes what a killed one left behind.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.build import Progress
from pipeline.files import (
    link_tree,
    locked,
    read_json,
    remove_leftovers,
    replace_directory,
    staging_beside,
)

from .. import paths
from ..release import archive
from ..release.archive import Release


class PublishError(Exception):
    pass


def latest_release(site: Path) -> Release:
    release = archive.latest(site)
    if release is None:
        raise PublishError(
            f"{site} にリリースがありません。opendata release を先に実行してください"
            f" / no release in {site}; run `opendata release` first"
        )
    return release


def published(target: Path) -> dict[str, Any] | None:
    """The release pointer of what `target` serves, if opendata published it."""
    pointer = target / paths.LATEST
    if not pointer.is_file():
        return None
    found: dict[str, Any] = read_json(pointer)
    return found


def publish(
    site: Path,
    target: Path,
    say: Callable[[str], None] = print,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> bool:
    """Put the site's latest release at `target`; False when there was nothing to do.
    `progress` hears of each file as it is linked into place."""
    target = target.absolute()
    _check_target(site.resolve(), target, latest_release(site))  # before the lock file is made
    with locked(site.resolve(), "publish", shared=True):
        if dry_run:  # reads the web root only
            return _publish(site, target, say, dry_run, progress)
        with locked(target, "publish"):
            return _publish(site, target, say, dry_run, progress)


def _publish(
    site: Path,
    target: Path,
    say: Callable[[str], None],
    dry_run: bool,
    progress: Progress | None,
) -> bool:
    release = latest_release(site)
    current = _check_target(site.resolve(), target, release)
    if not dry_run:
        remove_leftovers(target)
    if current and current["id"] == release.id and _whole(target, release):
        say(f"{target}: リリース {release.id} は公開済みです / already published")
        return False
    before = current["id"] if current else "—"
    if dry_run:
        say(
            f"(dry-run) {target}: {before} → {release.id}（何も変更していません / nothing changed）"
        )
        return False
    say(
        f"{target}: リリース {release.id} を公開します / publishing release {release.id} ({before} →)"
    )
    try:
        with staging_beside(target, "publish") as staging:  # and what killed runs left
            link_tree(release.site, staging, linked=_counting(progress, release.site))
            replace_directory(staging, target)  # the one step readers can see
    except OSError as exc:
        raise PublishError(f"{target} に書けません / cannot write: {exc.strerror or exc}") from None
    say(f"{target}: 公開しました / published {release.id}")
    return True


def _counting(progress: Progress | None, folder: Path) -> Callable[[Path], None] | None:
    """Each file linked, counted against the files of `folder`, on the progress bar."""
    if progress is None:
        return None
    total = sum(len(files) for _, _, files in os.walk(folder))
    done = itertools.count(1)
    return lambda path: progress(path.name, next(done), total)


def _check_target(site: Path, target: Path, release: Release) -> dict[str, Any] | None:
    """Refuse a target that would lose something; return what it serves now."""
    resolved = target.resolve()
    if not target.name or resolved == site or site in resolved.parents or resolved in site.parents:
        raise PublishError(
            f"公開先 {target} はサイト {site} と重ならない専用のフォルダにしてください"
            f" / the target must be a folder of its own, apart from the site {site}"
        )
    if target.parent.exists() and not target.parent.is_dir():
        raise PublishError(f"{target.parent} はフォルダではありません / is not a folder")
    if target.exists() and not target.is_dir():
        raise PublishError(f"{target} はフォルダではありません / is not a folder")
    current = published(target) if target.is_dir() else None
    if current is None and target.is_dir() and any(target.iterdir()):
        raise PublishError(
            f"{target} には opendata が公開したものでないファイルがあります。空のフォルダか"
            f"新しいパスを指定してください / {target} holds files opendata did not publish;"
            " give an empty or new folder"
        )
    check_not_newer(site, str(target), current, release)
    return current


def check_not_newer(
    site: Path, target: str, current: dict[str, Any] | None, release: Release
) -> None:
    """Refuse to replace what `target` serves (its release pointer) by an older release, or
    by one of another site's releases."""
    if not current or current["id"] == release.id:
        return
    earlier = {r.id: r for r in archive.releases(site)}.get(current["id"])
    if earlier is None or archive.created(earlier) > archive.created(release):
        raise PublishError(
            f"{target} はこのサイトの最新リリース {release.id} より新しいか、このサイトにない"
            f"リリース {current['id']} を公開しています。作ったサイトから公開してください"
            f" / {target} serves release {current['id']}, newer than or unknown to this"
            " site; publish from the site that made it"
        )


def _whole(target: Path, release: Release) -> bool:
    """Whether `target` holds exactly the release's files, each of its size — what a publish
    leaves; anything else (a copy cut short, a file gone) is published again."""
    return _listing(target) == _listing(release.site)


def _listing(folder: Path) -> set[tuple[str, int]]:
    return {
        (str(path.relative_to(folder)), path.stat().st_size)
        for path in folder.rglob("*")
        if path.is_file()
    }
