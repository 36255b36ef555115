"""`opendata build --watch`: build again whenever the datasets change, in one process.

A data officer edits a sheet and wants to see the site as it will be. A rebuild in a running
process starts without Python's and the libraries' start-up (~0.9 s of a one-dataset
rebuild of 600 datasets), so it costs what the change costs. The folder is polled — every
file's stamp, over the files an incremental build keys (pipeline/reuse.py) — not watched
with inotify: officers keep their sheets on network shares, where change notifications do
not arrive. A change is built once the folder has settled (two polls alike), so a sheet
still being saved is not read half-written.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.reuse import visible_files

Stamp = tuple[str, int, int, int]  # relative path, size, mtime (ns), inode
LONGEST_PAUSE = 10.0  # seconds between polls, whatever the last one took


def snapshot(folder: Path) -> tuple[Stamp, ...]:
    """Every input file under `folder` with its stamp, and every folder that cannot be
    listed with its error's number: a share gone away, or a folder denied, is a change
    (which the build then reports) and hides only itself."""
    stamps: list[Stamp] = []

    def unreadable(relative: str, exc: OSError) -> None:
        stamps.append((relative, -1, exc.errno or 0, 0))

    for relative in visible_files(str(folder), unreadable):
        try:
            status = os.stat(os.path.join(folder, relative))
        except OSError:  # gone, or denied, since it was listed: seen at the next poll
            continue
        stamps.append((relative, status.st_size, status.st_mtime_ns, status.st_ino))
    return tuple(stamps)


def watch(
    folder: Path, rebuild: Callable[[], object], stop: threading.Event, interval: float = 0.5
) -> None:
    """Build, then build again each time the files under `folder` change and settle, until
    `stop` is set."""
    while not stop.is_set():
        built = snapshot(folder)  # before the build: a change made during it is seen next
        rebuild()
        if not _changed(folder, built, stop, interval):
            return


def _changed(
    folder: Path, built: tuple[Stamp, ...], stop: threading.Event, interval: float
) -> bool:
    """Wait until the files differ from `built` and two polls in a row agree; False when
    stopped first. A poll waits `interval` (half a second), or four times what the last one
    took (25 ms at 600 datasets, 0.24 s at 6,000 on a local disk), up to `LONGEST_PAUSE`:
    polling takes at most a fifth of a core, and one slow poll (a share's hiccup) delays the
    next by seconds, not minutes."""
    seen, pause = built, interval
    while not stop.wait(pause):
        started = time.monotonic()
        now = snapshot(folder)
        pause = min(max(interval, 4 * (time.monotonic() - started)), LONGEST_PAUSE)
        if now != built and now == seen:
            return True
        seen = now
    return False
