"""An n-gram index of a resource's folded text, so that `q` looks words up instead of folding
and scanning every text cell of every row for each query.

Built in the server's memory on the first `q` over a resource (per build generation, as the
DataStore lives), never written anywhere: the folded text of each row (catalog/text.py, the very
folding the scan used) and, for every character and every pair of neighbouring characters,
the ascending row numbers whose text holds it. A word of one or two characters is one such list;
a longer word intersects its pairs' lists and confirms the candidates by a substring test on
their text — the same rows a substring scan finds, not an approximation.

The lists are built per chunk of rows with numpy (one sort of packed gram-and-row integers per
chunk), so the build's temporary arrays are bounded by a chunk, not by the resource.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import reduce
from itertools import pairwise
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ..text import fold_column
from .grams import (
    GRAM_BITS,
    Rows,
    code_points,
    intersect,
    pair_key,
    pair_keys,
    pair_starts,
    run_starts,
)

CHUNK_ROWS = 1 << 15  # rows indexed at a time: bounds the temporary arrays of a build
MAX_TEXT_BYTES = 64 << 20  # text beyond this (~2M rows of 30 characters) is scanned instead
BUILD_THREADS = 2  # folding and sorting release the GIL: pieces are indexed on both cores
ROW_BITS = 64 - 2 * GRAM_BITS - 1  # a row's place in its chunk, packed below its gram
ROW_MASK = np.uint64((1 << ROW_BITS) - 1)
ROW_SHIFT = np.uint64(ROW_BITS)

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class _Chunk:
    """The postings of one chunk of rows: gram `keys[i]` is in rows `rows[bounds[i]:bounds[i+1]]`."""

    keys: npt.NDArray[np.uint64]  # distinct grams, ascending
    bounds: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int32]  # row numbers (from 0, file order), ascending within a gram

    def postings(self, key: np.uint64) -> npt.NDArray[np.int32]:
        at = int(np.searchsorted(self.keys, key))
        if at == len(self.keys) or self.keys[at] != key:
            return self.rows[:0]
        return self.rows[self.bounds[at] : self.bounds[at + 1]]

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.bounds.nbytes + self.rows.nbytes


class TextIndex:
    """The rows whose folded text contains a folded word, by their `_id`."""

    def __init__(self, text: pa.Array, chunks: list[_Chunk]):
        self.text = text  # folded, one string a row, in file order
        self.chunks = chunks

    @classmethod
    def build(cls, texts: Iterable[pa.Array]) -> TextIndex | None:
        """The index of the rows' texts (unfolded, no nulls, in file order, in pieces of at
        most CHUNK_ROWS rows); None when they are larger than MAX_TEXT_BYTES."""
        size, first = 0, 0
        with ThreadPoolExecutor(BUILD_THREADS) as pool:
            pieces: list[Future[tuple[pa.Array, _Chunk]]] = []
            for text in texts:
                size += text.nbytes
                if size > MAX_TEXT_BYTES:
                    pool.shutdown(cancel_futures=True)
                    return None
                pieces.append(pool.submit(_indexed, text, first))
                first += len(text)
            indexed = [piece.result() for piece in pieces]
        if not indexed:
            return cls(pa.array([], pa.string()), [])
        return cls(pa.concat_arrays([text for text, _ in indexed]), [c for _, c in indexed])

    @property
    def nbytes(self) -> int:
        return self.text.nbytes + sum(c.nbytes for c in self.chunks)

    def matches(self, term: str) -> Rows:
        """The `_id`s (ascending) of the rows whose text contains `term` (folded, not empty)."""
        points = [ord(c) for c in term]
        if len(points) == 1:
            return self._postings(np.uint64(points[0])) + 1
        pairs = {pair_key(a, b) for a, b in pairwise(points)}
        lists = sorted((self._postings(key) for key in pairs), key=len)
        candidates = reduce(intersect, lists)
        if len(points) > 2:  # its pairs may lie apart in the text: confirm the word
            found = pc.match_substring(self.text.take(candidates), term)
            candidates = candidates[found.to_numpy(zero_copy_only=False)]
        return candidates + 1

    def _postings(self, key: np.uint64) -> Rows:
        return np.concatenate([c.postings(key) for c in self.chunks], dtype=np.int64)


def _indexed(text: pa.Array, first: int) -> tuple[pa.Array, _Chunk]:
    """A piece of text folded, and its postings (rows numbered from `first`)."""
    folded = fold_column(text)
    return folded, _chunk(folded, first)


def _chunk(text: pa.Array, first: int) -> _Chunk:
    """The postings of `text`'s rows (row numbers from `first`) for each character and pair."""
    points32, lengths = code_points(text)
    points = points32.astype(np.uint64)
    row = np.repeat(np.arange(len(text), dtype=np.uint64), lengths)
    neighbours = pair_starts(lengths)
    pairs = pair_keys(points)[neighbours]
    packed = np.concatenate(
        [(points << ROW_SHIFT) | row, (pairs << ROW_SHIFT) | row[:-1][neighbours]]
    )
    packed.sort()
    packed = packed[run_starts(packed)]  # a row once per gram
    grams = packed >> ROW_SHIFT
    starts = run_starts(grams)
    return _Chunk(
        keys=grams[starts],
        bounds=np.append(starts, len(packed)).astype(np.int64),
        rows=((packed & ROW_MASK) + np.uint64(first)).astype(np.int32),
    )


class BuiltOnce(Generic[K, V]):
    """Values built on first use, once per key however many requests ask at the same time (a
    build that fails stores nothing: the next request tries again)."""

    def __init__(self) -> None:
        self._values: dict[K, V] = {}
        self._building: dict[K, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: K, build: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                return self._values[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:  # the others wait for the one building, then take its value
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = build()
            with self._lock:
                self._values[key] = value
                del self._building[key]
            return value
