"""File plumbing every step shares: hashing, JSON written by rename, hard-linked trees, and
replacing a published folder in one step, so readers never see half of a build."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO


def sha256_file(path: Path) -> str:
    """The hash every published file is declared and verified with."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_json(path: str | Path) -> Any:
    with open(path, "rb") as source:
        return json.loads(source.read().decode("utf-8"))


def write_json(path: Path, data: Any, compact: bool = False) -> None:
    """A new file renamed into place: never a write into a file that a release links to.
    Indented for people to read, or `compact` for a file too large to read by eye (the C
    encoder, ~5× faster; Python's indents in pure Python)."""
    with replaced(path) as sink:
        if compact:
            sink.write(compact_json(data) + b"\n")
        else:
            sink.write((json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


def compact_json(value: Any, sort_keys: bool = False) -> bytes:
    """JSON with no spaces, as UTF-8: what a large file is written as (the C encoder; the
    pure-Python one indents), and the pieces of one written a piece at a time."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=sort_keys, separators=(",", ":"))
    return text.encode("utf-8")


@contextmanager
def replaced(path: Path) -> Iterator[BinaryIO]:
    """A new file written in pieces, renamed into place when done (never a write into a file
    that a release links to; nothing left behind if the writing fails)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with temporary.open("wb") as sink:
            yield sink
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def link_tree(
    source: Path,
    target: Path,
    skip: set[Path] | None = None,
    link: Callable[[Path], bool] | None = None,
    linked: Callable[[Path], None] | None = None,
) -> None:
    """Recreate `source` at `target` from hard links, or copies of the files `link` refuses
    (those the next step rewrites: a link would rewrite the original too); `linked` hears
    of each file done."""
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
            if linked:
                linked(destination / name)


def link_file(source: str | Path, target: str | Path) -> None:
    """A hard link, or a copy where the file system cannot link (another device, no links):
    a new file renamed into place, never a write into one that may be linked elsewhere. Any
    other failure is raised."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        with open(source, "rb") as data, replaced(Path(target)) as sink:
            shutil.copyfileobj(data, sink)
        shutil.copystat(source, target)


class FileChanged(Exception):
    """A file was rewritten in place while it was being read."""


class FileUnreadable(Exception):
    """A source that cannot be opened (vanished, no permission); `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def open_path(fd: int, name: Path) -> Path:
    """A path to the open file itself (/proc/self/fd/N): every open of it reads the same
    file, whatever is saved at `name` meanwhile. Without /proc, `name`."""
    proc = Path(f"/proc/self/fd/{fd}")
    return proc if proc.exists() else name


@contextmanager
def pinned(path: Path) -> Iterator[Path]:
    """The file as it is now, for the whole of a read (see `open_path`), so every reader —
    and the hash of its bytes — sees one version even when an editor saves a new file over
    it meanwhile. A rewrite in place (or, without /proc, any change at the name) raises
    FileChanged at the end."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise FileUnreadable(exc.strerror or str(exc)) from None
    try:
        before = os.fstat(fd)
        readable = open_path(fd, path)
        yield readable
        after = os.fstat(fd) if readable != path else os.stat(path)
        if file_version(before) != file_version(after):
            raise FileChanged(str(path))
    finally:
        os.close(fd)


FileVersion = tuple[int, int, int, int]  # device, inode, size, mtime


def file_version(stat: os.stat_result) -> FileVersion:
    """One version of one file: another file, or the same one rewritten, differs."""
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


STAGING_PURPOSES = ("build", "release", "publish", "import")  # .<target>-<purpose>-… siblings


class Busy(Exception):
    """Another command holds the lock on a folder."""

    def __init__(self, target: Path, holder: str):
        super().__init__(
            f"{target} は別のコマンドが使用中です（{holder}）。終わってから実行してください"
            f" / another command is using {target} ({holder}); run this once it has finished"
        )


@contextmanager
def locked(target: Path, command: str, shared: bool = False) -> Iterator[None]:
    """While a command changes `target` (a site or a web root), no other may: an flock on
    `.<name>.lock` beside it, which names its holder. `shared` for commands that only read
    the folder but need it not to be swapped under them. A killed holder's lock is gone with
    its process. The lock file itself stays (removing it would race a new holder)."""
    path = target.parent / f".{target.name}.lock"
    if not shared:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if not shared:
            raise
        # A reader of a folder it cannot write beside (a read-only copy, a missing one): no
        # command of ours can change it either, so there is nothing to wait for.
        yield
        return
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(target, _holder(os.pread(fd, 1000, 0).decode("utf-8", "replace"))) from None
        # Who holds it, for the next one refused (of several readers, the last to come).
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        role = "reading" if shared else "changing"
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"opendata {command} ({role}), pid {os.getpid()}, {started}".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def remove_leftovers(target: Path) -> None:
    """Staging folders of killed runs beside `target` (call it holding `locked(target)`:
    then no live run owns one). A run killed between the two renames of
    `replace_directory`'s fallback left no `target` and the old one parked whole as
    `…-old`: that is put back first, never removed."""
    parked = target.parent.glob(f".{glob.escape(target.name)}-*-old")
    newest = max(parked, key=lambda p: p.stat().st_mtime_ns, default=None)
    if newest is not None and not target.exists():
        os.rename(newest, target)
    for kind in STAGING_PURPOSES:
        for leftover in target.parent.glob(f".{glob.escape(target.name)}-{kind}-*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)


def _holder(text: str) -> str:
    """Who holds a lock, as its holder wrote it; a reader that wrote it and is gone stands for
    the other readers still there."""
    match = re.search(r"pid (\d+)", text)
    if match:
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            return "別のコマンドが読み取り中 / another command reading it"
        except PermissionError:
            pass  # alive, another user's
    return text.strip() or "?"


@contextmanager
def staging_beside(target: Path, purpose: str) -> Iterator[Path]:
    """A hidden sibling of `target` to assemble its next version in (same file system, so
    `replace_directory` can swap it in); removed on the way out, swapped or not. Call it
    holding `locked(target)`: then a sibling left by a killed run has no owner, and goes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-{purpose}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; what it becomes is published
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _libc_call(name: str) -> Any:
    """A libc function by name, or None where this system has none."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    return getattr(ctypes.CDLL(libc_name, use_errno=True), name, None)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False where unsupported."""
    renameat2 = _libc_call("renameat2")
    if renameat2 is None:
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    return bool(done == 0)


def sync_tree(folder: Path) -> None:
    """Everything written under `folder` on disk: syncfs(2) on its file system (one call,
    however many files), or a full sync() where the system lacks it."""
    syncfs = _libc_call("syncfs")
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def sync_directory(folder: Path) -> None:
    """A directory's entries (a rename into it) on disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_directory(new: Path, target: Path) -> None:
    """Put `new` at `target`. The old contents end up at `new` (the caller removes them).

    Durable, as a database commits: `new` is synced to disk before the switch, and the
    switch itself after it, so a power loss leaves the old tree or the new one, whole.
    With an existing target the two are exchanged atomically where the kernel allows; the
    fallback is two renames, in which only a crash between them leaves no `target`.
    """
    sync_tree(new)
    if not target.exists():
        os.rename(new, target)
    elif not _exchange(new, target):
        parked = new.with_name(new.name + "-old")
        with _held_signals():  # Ctrl+C waits for the second rename
            os.rename(target, parked)
            os.rename(new, target)
        shutil.rmtree(parked, ignore_errors=True)
    sync_directory(target.parent)


@contextmanager
def _held_signals() -> Iterator[None]:
    """SIGINT and SIGTERM held back for a moment, then raised again as they came.

    By handler, not by the thread's mask: the kernel gives a process's signal to any thread
    that does not block it (pyarrow's), and Python then interrupts the main thread all the
    same. Away from the main thread there is nothing to hold: Python interrupts only the
    main thread, and only there may a handler be set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    before = {number: signal.signal(number, lambda got, _frame: came.append(got))
              for number in (signal.SIGINT, signal.SIGTERM)}  # fmt: skip
    try:
        yield
    finally:
        for number, handler in before.items():  # None: one set outside Python, unknown here
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        for came_once in dict.fromkeys(came):
            signal.raise_signal(came_once)
