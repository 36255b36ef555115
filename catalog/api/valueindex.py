"""The rows of each value of a column with few distinct values, so that an equality filter
(`filters: {"category": "公園"}`) finds its rows and its total without scanning the column.

Built in the server's memory on the first filter on a column (per build generation, as the
DataStore lives): the column's distinct values and, for each, its ascending row numbers — one
stable radix sort of the values' codes. Which values a filter matches is left to DuckDB (the
distinct values registered as a table, compared as the scan compares the column), so a filter
matches the same rows however it is answered. A column with more than MAX_DISTINCT values is
not indexed: its filter is scanned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .grams import Rows

MAX_DISTINCT = (1 << 16) - 1  # codes, and one for null, fit 16 bits: numpy sorts them by radix


@dataclass(frozen=True)
class ValueIndex:
    """Value `values[i]` is in rows `rows[bounds[i]:bounds[i+1]]` (numbered from 0)."""

    values: pa.Array  # distinct, no null
    bounds: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int32]  # ascending within a value

    @classmethod
    def build(cls, column: pa.ChunkedArray) -> ValueIndex | None:
        """The index of a column's values in file order; None with more than MAX_DISTINCT."""
        encoded = pc.dictionary_encode(column.combine_chunks())
        distinct = len(encoded.dictionary)
        if distinct > MAX_DISTINCT:
            return None
        codes = encoded.indices.fill_null(distinct).to_numpy().astype(np.uint16)  # nulls last
        rows = np.argsort(codes, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=distinct + 1))])
        return cls(
            encoded.dictionary, bounds[: distinct + 1], rows[: bounds[distinct]].astype(np.int32)
        )

    @property
    def table(self) -> pa.Table:
        """The distinct values with their codes, for DuckDB to compare."""
        return pa.table({"code": np.arange(len(self.values)), "value": self.values})

    def matches(self, codes: list[int]) -> Rows:
        """The `_id`s (ascending) of the rows holding any of the values `codes` name."""
        found = [self.rows[self.bounds[c] : self.bounds[c + 1]] for c in codes]
        return np.sort(np.concatenate([*found, self.rows[:0]]).astype(np.int64)) + 1

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.bounds.nbytes + self.rows.nbytes
