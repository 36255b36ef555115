"""Incremental builds: a dataset whose inputs are unchanged since the last build is carried
over from it, not built again.

A dataset's inputs are the files of its folder, the publisher file (`catalog.yaml`), the
limits in the environment, and this code itself (its files' contents and the versions of the
libraries that write the bytes); their sha256 is the dataset's key. After a dataset builds
valid, a record — its key, the files it wrote with their sizes, its row counts and warnings —
goes into `RECORDS` beside the packages, with its datapackage.json as the pipeline wrote it
(a hard link, made before the catalog stamps the package's copy by writing a new file). The
next build carries a dataset over when the record's key is the key of its inputs now: the
data files, the record and that datapackage.json are hard-linked from the last build (the
same bytes, never rewritten; the catalog stamps its releases afresh). Anything missing or
unreadable means a rebuild, never a guess.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from .errors import Problem, Report
from .files import file_version, link_file, read_json, sha256_file, write_json
from .vocabulary import DESCRIPTOR_FILE

RECORDS = ".build"  # in the packages folder; hidden: no dataset, never published
LIBRARIES = ("pyarrow", "pandas", "frictionless", "pyyaml")  # what shapes the bytes written
PROBLEM_FIELDS = {f.name for f in dataclasses.fields(Problem)}


@functools.cache
def code_version() -> str:
    """This pipeline's own files and the libraries' versions, hashed: a change to either
    rebuilds everything."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted(here.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml", ".json"):
            digest.update(str(path.relative_to(here)).encode())
            digest.update(path.read_bytes())
    for library in LIBRARIES:
        digest.update(f"{library}={metadata.version(library)}".encode())
    return digest.hexdigest()


class SourceHashes:
    """The sha256 of source files, remembered from the last build by their stamp — device,
    inode, size, mtime (as git's index does) — so that a build reads only the files that
    changed.

    Any write changes a file's ctime, which nobody can set back: a file whose ctime (or
    mtime) is not older than the start of the build that stamped it, less RACY_NS for a
    coarse clock's tick, is read again; for any other, an equal stamp means equal bytes."""

    RACY_NS = 2_000_000_000  # two seconds: the coarsest file times (FAT) tick in two

    def __init__(self, known: dict[str, list[Any]], recorded_ns: int):
        self.known = known
        self.recorded_ns = recorded_ns  # when the build that stamped `known` started
        self.started_ns = time.time_ns()  # this build's start: before any file is stamped
        self.seen: dict[str, list[Any]] = {}

    @classmethod
    def load(cls, path: Path | None) -> SourceHashes:
        """The hashes recorded in `path` (none when there are none or it is unreadable)."""
        try:
            saved = read_json(path) if path else {}
            return cls(dict(saved["files"]), int(saved["recorded_ns"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls({}, 0)

    def sha256(self, path: str | Path) -> str:
        status = os.stat(path)
        stamp = list(file_version(status))
        key = os.path.abspath(path)
        known = self.known.get(key)
        changed = max(status.st_mtime_ns, status.st_ctime_ns)
        trusted = changed < self.recorded_ns - self.RACY_NS
        digest = known[-1] if trusted and known and known[:-1] == stamp else sha256_file(Path(path))
        self.seen[key] = [*stamp, digest]
        return digest

    def save(self, path: Path) -> None:
        """Remember the files hashed in this build, for the next. A cache of this machine's
        file stamps, kept apart from the build's output, which it would make differ."""
        saved = {"recorded_ns": self.started_ns, "files": dict(sorted(self.seen.items()))}
        write_json(path, saved, compact=True)


def run_key(publisher_file: Path, limit: int, hashes: SourceHashes) -> str:
    """The sha256 of what every dataset's build reads besides its folder: this code, the
    limits, the publisher file (once a build, not once a dataset)."""
    digest = hashlib.sha256(code_version().encode())
    digest.update(f"limit={limit}".encode())
    for name, value in sorted(os.environ.items()):
        if name.startswith("OPENDATA_MAX_"):  # the size limits (pipeline/limits.py)
            digest.update(f"{name}={value}".encode())
    if publisher_file.is_file():
        digest.update(b"publisher:" + hashes.sha256(publisher_file).encode())
    return digest.hexdigest()


def input_key(folder: Path, shared: str, hashes: SourceHashes) -> str:
    """The sha256 of everything a dataset's build reads: `shared` (run_key), its files, and
    where its links point — the build refuses a source whose link leaves the folder, so a
    file swapped for a link to the same bytes elsewhere is a change."""
    digest = hashlib.sha256(shared.encode())
    links: list[str] = []
    for relative in visible_files(str(folder), links=links):
        try:
            sha256 = hashes.sha256(os.path.join(folder, relative))
        except FileNotFoundError:  # gone since it was listed (a program's temporary file)
            continue
        digest.update(f"{relative}:{sha256}".encode())
    for link in links:
        digest.update(f"link {link}".encode())
    return digest.hexdigest()


Unreadable = Callable[[str, OSError], None]  # a folder's relative path ("sub/"), the error


def visible_files(
    folder: str,
    unreadable: Unreadable | None = None,
    prefix: str = "",
    above: frozenset[tuple[int, int]] = frozenset(),
    links: list[str] | None = None,
) -> Iterator[str]:
    """The files under `folder`, as sorted relative paths, links followed — a link back to
    a folder on the way down (`above`, by device and inode) is a loop, not followed; hidden
    names, whatever is in a hidden folder and the lock files Office leaves beside an open
    workbook (`~$…`) are no input. A folder that cannot be listed raises, or is told to
    `unreadable` and left out. `links` is given each link met, with where it points."""
    try:
        status = os.stat(folder)
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        if unreadable is None:
            raise
        unreadable(prefix, exc)
        return
    here = (status.st_dev, status.st_ino)
    if here in above:
        return
    for entry in entries:
        if entry.name.startswith((".", "~$")):
            continue
        if links is not None and entry.is_symlink():
            links.append(f"{prefix}{entry.name} -> {os.readlink(entry.path)}")
        if entry.is_dir():
            inside = f"{prefix}{entry.name}/"
            yield from visible_files(entry.path, unreadable, inside, above | {here}, links)
        elif entry.is_file():
            yield prefix + entry.name


def remember(out_dir: Path, key: str, rows: dict[str, int], files: dict[str, str],
             report: Report) -> None:  # fmt: skip
    """Record a valid dataset's build (`out_dir`: its package folder, just written)."""
    outputs = {
        p.name: p.stat().st_size
        for p in sorted(out_dir.iterdir())
        if p.is_file() and p.name != DESCRIPTOR_FILE
    }
    record = {
        "key": key,
        "outputs": outputs,
        "rows": rows,
        "files": files,
        "warnings": [
            {k: v for k, v in dataclasses.asdict(w).items() if v is not None}
            for w in report.warnings
        ],
    }
    records = out_dir.parent / RECORDS
    write_json(records / f"{out_dir.name}.json", record)
    link_file(out_dir / DESCRIPTOR_FILE, records / f"{out_dir.name}.{DESCRIPTOR_FILE}")


def carry_over(previous: Path, out_dir: Path, key: str) -> dict[str, Any] | None:
    """Bring an unchanged dataset's package from the last build's packages folder
    (`previous`) to `out_dir`; its record, or None when it must be built."""
    # Paths as strings: this runs for every dataset of a rebuild, and pathlib's objects cost
    # more than the system calls.
    name, kept, known = out_dir.name, os.path.join(previous, out_dir.name), previous / RECORDS
    try:
        record: dict[str, Any] = read_json(known / f"{name}.json")
        if record.get("key") != key:
            return None
        outputs: dict[str, int] = record["outputs"]
        if any(os.stat(os.path.join(kept, f)).st_size != size for f, size in outputs.items()):
            return None
        if not os.path.isfile(os.path.join(known, f"{name}.{DESCRIPTOR_FILE}")):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    os.makedirs(out_dir)
    for file in outputs:
        link_file(os.path.join(kept, file), os.path.join(out_dir, file))
    records = os.path.join(out_dir.parent, RECORDS)
    os.makedirs(records, exist_ok=True)
    for record_file, target in (
        (f"{name}.json", os.path.join(records, f"{name}.json")),
        (f"{name}.{DESCRIPTOR_FILE}", os.path.join(out_dir, DESCRIPTOR_FILE)),
        (f"{name}.{DESCRIPTOR_FILE}", os.path.join(records, f"{name}.{DESCRIPTOR_FILE}")),
    ):
        link_file(os.path.join(known, record_file), target)
    return record


def warnings_of(record: dict[str, Any]) -> list[Problem]:
    return [
        Problem(**{k: v for k, v in warning.items() if k in PROBLEM_FIELDS})
        for warning in record["warnings"]
    ]
