"""`opendata publish --to DIR`: the latest release into a folder a web server serves.

The release's snapshot is assembled beside DIR — files already published and the release's
own files as hard links, copies across file systems — and then exchanged with DIR in one
atomic rename. A publish killed at any moment leaves DIR as it was or completely new; the
next run removes what a killed one left behind.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from pipeline import history
from pipeline.atomic import replace_directory
from pipeline.history import Release


class PublishError(Exception):
    pass


def latest_release(site: Path) -> Release:
    release = history.latest(site)
    if release is None:
        raise PublishError(
            f"{site} にリリースがありません。opendata release を先に実行してください"
            f" / no release in {site}; run `opendata release` first"
        )
    return release


def published_id(target: Path) -> str | None:
    pointer = target / history.LATEST
    if not pointer.is_file():
        return None
    return json.loads(pointer.read_text(encoding="utf-8")).get("id")


def publish(site: Path, target: Path, say: Callable[[str], None] = print) -> bool:
    """Put the site's latest release at `target`; False when it is there already."""
    release = latest_release(site)
    target = target.resolve()
    if target == site.resolve() or site.resolve() in target.parents:
        raise PublishError(f"公開先 {target} はサイトの外にしてください / publish outside the site")
    _remove_leftovers(target)
    if published_id(target) == release.id:
        say(f"{target}: リリース {release.id} は公開済みです / already published")
        return False
    staging = target.with_name(f".{target.name}-publish-{release.id}")
    say(f"{target}: リリース {release.id} を公開します / publishing release {release.id}")
    history.link_tree(release.site, staging)
    if target.exists():
        replace_directory(staging, target)  # the one step readers can see
        shutil.rmtree(staging, ignore_errors=True)  # now the previous release
    else:
        staging.rename(target)
    say(f"{target}: 公開しました / published {release.id}")
    return True


def _remove_leftovers(target: Path) -> None:
    """Staging folders of a publish that was killed: never served, safe to delete."""
    for leftover in target.parent.glob(f".{target.name}-publish-*"):
        shutil.rmtree(leftover, ignore_errors=True)
