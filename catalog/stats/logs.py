"""Access logs read as Arrow columns: files (plain or gzip, any order) → blocks of parsed lines.

A file is read in blocks of bytes cut at the last line break; a block becomes one Arrow string
column of lines (`split_pattern`), which one RE2 pattern (`extract_regex`) splits into fields.
No Python runs per line: only per block and per distinct path.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BLOCK = 4 * 1024 * 1024
FORMATS = ("combined", "json")

# nginx's and Apache's Combined Log Format:
# 203.0.113.9 - - [02/Dec/2026:10:00:00 +0900] "GET /path?q HTTP/1.1" 200 123 "ref" "agent"
_QUOTED = r'(?:[^"\\]|\\.)*'
COMBINED = (
    r'^(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>\S+)'
    r'(?: [^"]*)?" (?P<status>\d{3}) (?P<bytes>\d+|-) "' + _QUOTED + r'" "(?P<ua>' + _QUOTED + r')"'
)
COMBINED_TIME = "%d/%b/%Y:%H:%M:%S %z"
# `opendata serve --access-log`: one JSON object a line, keys in this order (catalog/api/accesslog.py).
JSON = (
    r'^\{"time": "(?P<time>[^"]+)", "ip": "(?P<ip>'
    + _QUOTED
    + r')", "method": "(?P<method>[A-Z]+)", '
    r'"path": "(?P<target>' + _QUOTED + r')", "status": (?P<status>\d{3}), '
    r'"bytes": (?P<bytes>\d+), "ua": "(?P<ua>' + _QUOTED + r')"\}\n?$'
)
JSON_TIME = "%Y-%m-%dT%H:%M:%S%z"
PATTERNS = {"combined": (COMBINED, COMBINED_TIME), "json": (JSON, JSON_TIME)}


@dataclass
class Block:
    """Parsed lines of one block: `table` holds the lines that parsed (ip, ua, method, path
    without its query, status, seconds since the epoch); `bad` the line numbers that did not."""

    table: pa.RecordBatch
    bad_lines: list[int]
    bad_count: int


@dataclass
class LogFile:
    path: Path
    lines: int = 0
    digest: str = ""
    truncated: bool = False
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _open(path: Path) -> BinaryIO:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def chunks(log: LogFile, block_size: int = BLOCK) -> Iterator[tuple[bytes, int]]:
    """The file's text in blocks of whole lines, each with its first line's number; the file's
    digest (sha256 of the decompressed text: its identity), line count and whether it ended
    mid-stream are set on `log` as it is read."""
    digest = hashlib.sha256()
    carry = b""
    first = 1
    with _open(log.path) as stream:
        while True:
            try:
                chunk = stream.read(block_size)
            except (EOFError, OSError, zlib.error) as exc:  # a gzip file cut short or corrupt
                log.truncated, log.error, chunk = True, f"{type(exc).__name__}: {exc}", b""
            digest.update(chunk)
            data = carry + chunk
            if chunk:
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                body, carry = data[:cut], data[cut + 1 :]
            else:
                body, carry = data, b""
            if body:
                yield body, first
                first += body.count(b"\n") + 1
            if not chunk:
                break
    log.lines = first - 1
    log.digest = digest.hexdigest()


def parse(body: bytes, first: int, fmt: str, list_bad: int) -> Block:
    """One block of lines (without its last line break) parsed column-wise."""
    pattern, time_format = PATTERNS[fmt]
    return _parse(body, first, pattern, time_format, list_bad)


def _parse(body: bytes, first: int, pattern: str, time_format: str, list_bad: int) -> Block:
    try:
        body.decode("utf-8")  # (validation only)
    except UnicodeDecodeError:  # a wrong byte spoils its line, not the block
        body = body.decode("utf-8", errors="replace").encode("utf-8")
    # One string column over the block's bytes, cut at its line breaks (each line but the last
    # keeps its "\n", which no pattern needs).
    breaks = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 10).astype(np.int32)
    offsets = np.concatenate(([0], breaks + 1, [len(body)])).astype(np.int32)
    lines = pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(body))
    fields = pc.extract_regex(lines, pattern)
    seconds = pc.strptime(
        pc.struct_field(fields, "time"), format=time_format, unit="s", error_is_null=True
    )
    ok = pc.and_(pc.is_valid(fields), pc.is_valid(seconds))
    ok = pc.fill_null(ok, False)
    bad_count = len(lines) - pc.sum(ok).as_py() if len(lines) else 0
    bad_lines: list[int] = []
    if bad_count and list_bad > 0:
        where = pc.indices_nonzero(pc.invert(ok)).slice(0, list_bad)
        bad_lines = [first + i for i in where.to_pylist()]
    fields = pc.filter(fields, ok)
    target = pc.struct_field(fields, "target")
    table = pa.record_batch(
        {
            "ip": pc.struct_field(fields, "ip"),
            "ua": pc.struct_field(fields, "ua"),
            "method": pc.struct_field(fields, "method"),
            # The query string is dropped here, before anything else sees the line.
            "path": pc.replace_substring_regex(target, r"[?#].*$", ""),
            "status": pc.cast(pc.struct_field(fields, "status"), pa.int16()),
            "time": pc.cast(pc.cast(pc.filter(seconds, ok), pa.timestamp("s")), pa.int64()),
        }
    )
    return Block(table, bad_lines, int(bad_count))
