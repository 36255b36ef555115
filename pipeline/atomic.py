"""Replacing a published folder in one step, so readers never see half of a build."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from pathlib import Path

RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    return done == 0


def replace_directory(new: Path, target: Path) -> None:
    """Put `new` at `target`. The old contents end up at `new` (the caller removes them).

    With an existing target the two are exchanged atomically where the kernel allows; the
    fallback is two renames, in which only a crash between them leaves no `target`.
    """
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        return
    parked = new.with_name(new.name + "-old")
    os.rename(target, parked)
    os.rename(new, target)
    shutil.rmtree(parked, ignore_errors=True)
