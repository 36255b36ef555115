"""The search index `opendata build` writes into `dist/api/` and `opendata serve` memory-maps.

- `index.arrow`: one row per dataset (sorted by name) with its folded title, folded
  description and folded text (NFKC, lower case, no spaces or hyphens — the folding of the
  site's search too; the text holds title, description and the rest), facet values as lists,
  and the modification time;
- `text-pairs.arrow` and `title-pairs.arrow`: for every pair of neighbouring characters of
  the folded texts (titles), where it occurs — its offsets in the column's characters taken
  one row after another (where each row begins is the index's `text_key_start`,
  `title_key_start`) — so that a word of any length is found by lining up its pairs'
  offsets, with no text read back.

Arrow IPC files, uncompressed: the server memory-maps them, so start-up reads next to nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .. import paths
from ..text import fold
from .grams import code_points, pair_key_of, pair_keys, pair_starts, row_starts, run_starts

_LIST = pa.list_(pa.string())
COLUMNS = {  # the index's columns of each dataset, and their types
    "name": pa.string(),
    "id": pa.string(),
    "title": pa.string(),
    "title_key": pa.string(),
    "text_key": pa.string(),
    "notes_key": pa.string(),
    "tags": _LIST,
    "groups": _LIST,
    "organization": pa.string(),
    "res_format": _LIST,
    "license_id": pa.string(),
    "metadata_modified": pa.timestamp("s", tz="UTC"),
    "resource_ids": _LIST,
}


class IndexRows:
    """The search index's columns, filled one CKAN package dict at a time: only what the
    index needs is kept of each, so a build need not hold every package dict at once."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}

    def add(self, package: dict[str, Any], field_titles: list[str]) -> None:
        """A dataset's row, from its package dict and the Japanese titles of its fields."""
        p = package
        extras = {e["key"]: e["value"] for e in p.get("extras", [])}
        text = " ".join(
            [
                p["title"],
                p.get("notes") or "",
                extras.get("title_en", ""),
                *(t["name"] for t in p["tags"]),
                *(r["name"] for r in p["resources"]),
                *field_titles,
            ]
        )
        row = {
            "name": p["name"],
            "id": p["id"],
            "title": p["title"],
            "title_key": fold(p["title"]),
            "text_key": fold(text),
            "notes_key": fold(p.get("notes") or ""),
            "tags": [t["name"] for t in p["tags"]],
            "groups": [g["name"] for g in p["groups"]],
            "organization": p["organization"]["name"],
            "res_format": sorted({r["format"] for r in p["resources"]}),
            "license_id": p["license_id"],
            "metadata_modified": _modified(p),
            "resource_ids": [r["id"] for r in p["resources"]],
        }
        for name, value in row.items():
            self.columns[name].append(value)

    def table(self) -> pa.Table:
        """The index, sorted by name, with where each row's folded text begins."""
        table = pa.table(
            {name: pa.array(values, COLUMNS[name]) for name, values in self.columns.items()}
        ).sort_by("name")
        for column in paths.SEARCH_PAIRS:
            lengths = pc.utf8_length(table.column(column)).to_numpy().astype(np.int64)
            table = table.append_column(starts_column(column), pa.array(row_starts(lengths)))
        return table


def starts_column(column: str) -> str:
    """The index's column that says where each row of a folded column begins among its
    characters taken one row after another (the offsets of its pairs count from there)."""
    return f"{column}_start"


def _modified(package: dict[str, Any]) -> datetime:
    """When the package last changed; a package without dates sorts as the oldest."""
    stamp = package.get("metadata_modified")
    return datetime.fromisoformat(stamp) if stamp else datetime(1970, 1, 1, tzinfo=UTC)


def pair_table(index: pa.Table, column: str) -> pa.Table:
    """For each pair of neighbouring characters within a row of a folded column (its key,
    ascending), the offsets of its first character (ascending) in the column's characters
    taken one row after another (a string column has under 2G bytes, so its offsets fit
    uint32, and its pairs one Arrow list)."""
    points, lengths = code_points(index.column(column).combine_chunks())
    keys, first, offsets = _grouped_pairs(points, pair_starts(lengths))
    bounds = pa.array(np.append(first, len(offsets)).astype(np.int32))
    return pa.table({"pair": pa.array(keys), "offsets": pa.ListArray.from_arrays(bounds, offsets)})


def _grouped_pairs(
    points: npt.NDArray[np.uint32], starts_pair: npt.NDArray[np.bool_], packed: bool = True
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
    """The pairs that start where `starts_pair` says: their distinct keys (ascending), where
    each key's offsets begin, and the offsets (ascending within a key).

    One sort of integers that each pack a pair and its offset, bit fields of just the width
    they need: the ranks of its two characters among the text's distinct ones (a catalog uses
    a few thousand), then the offset. When that cannot fit 64 bits (tens of thousands of
    distinct characters in millions), a stable argsort of the keys instead: the same result,
    slower."""
    chars = np.flatnonzero(np.bincount(points)).astype(np.uint32)
    char_bits, offset_bits = (max(int(n - 1).bit_length(), 1) for n in (len(chars), len(points)))
    if not packed or 2 * char_bits + offset_bits > 64:
        keys = pair_keys(points)[starts_pair]
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        first = run_starts(keys)
        return keys[first], first, np.flatnonzero(starts_pair)[order].astype(np.uint32)
    # In place where it can be: on this kind of machine fresh pages cost more than the work.
    rank = np.zeros(int(chars[-1]) + 1 if len(chars) else 0, dtype=np.uint32)
    rank[chars] = np.arange(len(chars), dtype=np.uint32)
    ranks = rank[points]
    codes = ranks[:-1].astype(np.uint64)
    codes <<= np.uint64(char_bits)
    codes |= ranks[1:]
    codes <<= np.uint64(offset_bits)
    codes |= np.arange(len(codes), dtype=np.uint64)  # the offset of each pair
    codes = codes[starts_pair]
    codes.sort()
    offsets = (codes & np.uint64((1 << offset_bits) - 1)).astype(np.uint32)
    codes >>= np.uint64(offset_bits)
    first = run_starts(codes)
    distinct = codes[first].astype(np.int64)  # few: gathers by int64 are fast, by uint64 not
    keys = pair_key_of(chars[distinct >> char_bits], chars[distinct & ((1 << char_bits) - 1)])
    return keys, first, offsets


def write_index(site: Path, rows: IndexRows) -> None:
    (site / paths.SEARCH_INDEX).parent.mkdir(parents=True, exist_ok=True)
    index = rows.table()
    _write_arrow(index, site / paths.SEARCH_INDEX)
    for column, path in paths.SEARCH_PAIRS.items():
        _write_arrow(pair_table(index, column), site / path)


def _write_arrow(table: pa.Table, path: Path) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_index(site: Path) -> tuple[pa.Table, dict[str, pa.Table]]:
    """The index and its pairs' offsets, memory-mapped."""
    pairs = {c: _read_arrow(site / p) for c, p in paths.SEARCH_PAIRS.items()}
    return _read_arrow(site / paths.SEARCH_INDEX), pairs


def _read_arrow(path: Path) -> pa.Table:
    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
