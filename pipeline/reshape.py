"""Wide → long: the plan's year columns (令和2（2020）年度 | 令和5（2023）年度 | …) become rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .cells import missing_mask
from .definition import Unpivot
from .sources import RawBatch


def unpivot(batch: RawBatch, spec: Unpivot, missing_values: list[str]) -> RawBatch:
    """One output row per (source row, matching column) whose cell holds a value.

    Rows stay in source order, columns in header order, so output is deterministic; each new
    row remembers the header it came from so problems point at the officer's cell.
    """
    wide = [name for name in batch.columns if spec.columns.search(name)]
    kept = [name for name in batch.columns if name not in wide]
    n = len(batch)
    if not wide:
        return batch
    values = pa.concat_arrays([batch.columns[name] for name in wide])
    headers = np.repeat(np.array(wide, dtype=object), n)
    source_index = np.tile(np.arange(n), len(wide))
    order_key = np.tile(np.arange(n), len(wide)) * len(wide) + np.repeat(np.arange(len(wide)), n)
    present = ~missing_mask(values, missing_values)
    order = np.argsort(order_key[present], kind="stable")
    take = pa.array(source_index[present][order])
    picked_headers = pa.array(headers[present][order].tolist(), pa.string())
    columns = {name: batch.columns[name].take(take) for name in kept}
    columns[spec.names_to] = picked_headers
    columns[spec.values_to] = values.filter(pa.array(present)).take(pa.array(order))
    origins = {spec.names_to: picked_headers, spec.values_to: picked_headers}
    return RawBatch(columns=columns, rows=batch.rows.take(take), origins=origins)
