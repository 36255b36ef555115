"""Pairs of neighbouring characters of folded text, with NumPy: the keys both text indexes
look words up by — the catalog's search index (catalog/api/index.py: where each pair occurs)
and a DataStore resource's (textindex.py: which rows hold it).

A code point fits in 21 bits, so a pair is one integer: the first point + 1 shifted past the
second, which keeps every pair's key apart from every single point's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

GRAM_BITS = 21
GRAM_SHIFT = np.uint64(GRAM_BITS)

Keys = npt.NDArray[np.uint64]
Rows = npt.NDArray[np.int64]


def pair_key(a: int, b: int) -> np.uint64:
    """Two neighbouring code points as one key."""
    return np.uint64(((a + 1) << GRAM_BITS) | b)


def pair_keys(points: npt.NDArray[np.unsignedinteger[Any]]) -> Keys:
    """The key of every pair of neighbours in a run of code points (one fewer than points)."""
    return pair_key_of(points[:-1], points[1:])


def pair_key_of(
    first: npt.NDArray[np.unsignedinteger[Any]], second: npt.NDArray[np.unsignedinteger[Any]]
) -> Keys:
    """The keys of the pairs (first[i], second[i])."""
    wide = first.astype(np.uint64)
    return ((wide + np.uint64(1)) << GRAM_SHIFT) | second.astype(np.uint64)


def code_points(text: pa.Array) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """The code points of all the strings, one after another, and each string's length."""
    offsets = np.frombuffer(text.buffers()[1], np.int32)[text.offset : text.offset + len(text) + 1]
    data = text.buffers()[2]
    utf8 = memoryview(b"" if data is None else data)[offsets[0] : offsets[-1]]
    points = np.frombuffer(str(utf8, "utf-8").encode("utf-32-le"), np.uint32)
    lengths = pc.utf8_length(text).to_numpy(zero_copy_only=False).astype(np.int64)
    return points, lengths


def pair_starts(lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which characters of rows of these lengths, one after another, begin a pair within
    their row: all but each row's last (a pair never spans two rows)."""
    ends = np.cumsum(lengths) - 1
    starts = np.ones(max(int(lengths.sum()) - 1, 0), dtype=bool)
    starts[ends[(ends >= 0) & (ends < len(starts))]] = False
    return starts


def row_starts(lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Where each of rows of these lengths begins, the rows taken one after another."""
    return np.cumsum(lengths) - lengths


def run_starts(values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Where each run of equal values begins in a sorted array."""
    return np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))[: len(values)]


def intersect(a: Rows, b: Rows) -> Rows:
    """The values in both ascending arrays of distinct values (a binary search of the shorter)."""
    if len(a) > len(b):
        a, b = b, a
    at = np.searchsorted(b, a)
    return a[b[np.minimum(at, len(b) - 1)] == a] if len(b) else b
