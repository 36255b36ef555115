"""A resource's rows held in memory, and the orders of its columns, so that a page of scattered
`_id`s — a sorted page, or the rows an index found — is taken from memory instead of decoding
every row group of the Parquet file that holds them.

Read once per build generation (as the indexes are) from the published Parquet file through the
DataStore's own view, so every value has the type a scan returns, with the chunks combined:
taking a page of 100 rows is then ~0.2 ms, where DuckDB's `_id IN (…)` over a 1,000,000-row file
took ~110 ms (it decodes all eight row groups). Nothing is written anywhere; a resource larger
than the memory left to the indexes is not held, and its pages are read by DuckDB as before.

A sort's order is one stable argsort of the column (then `_id`), as `ORDER BY column, _id NULLS
LAST` orders: nulls last either way, and NaN as DuckDB places it — above every number (first when
descending), below null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .grams import Rows


@dataclass(frozen=True)
class HeldRows:
    """The view's columns (`_id` first), one chunk each."""

    table: pa.Table

    @classmethod
    def hold(cls, table: pa.Table) -> HeldRows:
        return cls(table.combine_chunks())

    @property
    def nbytes(self) -> int:
        return self.table.nbytes

    def take(self, ids: Rows, names: list[str]) -> list[tuple[Any, ...]]:
        """The rows `ids` (in that order), their columns `names`, as a DuckDB fetch gives them."""
        picked = self.table.select(names).take(pa.array(ids - 1))
        return list(zip(*(column.to_pylist() for column in picked.columns), strict=True))


@dataclass(frozen=True)
class SortOrder:
    """Every row number (from 0) in the order of one column, ties in file order."""

    rows: npt.NDArray[np.int32]

    @classmethod
    def build(cls, held: HeldRows, column: str, descending: bool) -> SortOrder:
        order = "descending" if descending else "ascending"
        values = held.table.column(column)
        keys = pa.table({"value": values, "_id": held.table.column("_id")})
        sort_keys = [("value", order, "at_end"), ("_id", "ascending", "at_end")]
        if pa.types.is_floating(values.type):  # NaN above every number, below null
            keys = keys.append_column("nan", pc.is_nan(values))
            sort_keys.insert(0, ("nan", order, "at_end"))
        return cls(pc.sort_indices(keys, sort_keys=sort_keys).to_numpy().astype(np.int32))

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes

    def ids(self, matched: Rows | None) -> Rows:
        """The `_id`s in this order: every row's, or those of `matched` only."""
        rows = self.rows
        if matched is not None:
            kept = np.zeros(len(rows), dtype=bool)
            kept[matched - 1] = True
            rows = rows[kept[rows]]
        return rows.astype(np.int64) + 1
