"""Published formats behind one small interface: open, write typed batches, close → file facts.

CSV is UTF-8 with BOM and CRLF so that Japanese Excel opens it; Parquet is written by pyarrow
from our own Table Schema type mapping, zstd-compressed, with titles in its metadata.
Both are byte-for-byte deterministic for the same rows.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import geo

ROW_GROUP_ROWS = 128 * 1024  # fixed, so row groups do not depend on how the source was batched


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    format: str
    mediatype: str
    bytes: int
    sha256: str
    rows: int
    bbox: list[float] | None = None  # [west, south, east, north] of a file of points


class Sink(Protocol):
    def write(self, table: pa.Table) -> None: ...

    def close(self) -> WrittenFile: ...


class HashingFile(io.RawIOBase):
    """A file that hashes what is written to it, so outputs are never read back to hash."""

    def __init__(self, path: Path):
        self.path = path
        self._file = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.size += len(data)
        return self._file.write(data)

    def tell(self) -> int:
        return self.size

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()

    def facts(self, fmt: str, mediatype: str, rows: int) -> WrittenFile:
        return WrittenFile(self.path, fmt, mediatype, self.size, self.digest.hexdigest(), rows)


class CsvSink:
    def __init__(self, path: Path, schema: pa.Schema):
        self.path = path
        self.rows = 0
        self._file = HashingFile(path)
        self._file.write(codecs.BOM_UTF8)
        self._writer = pacsv.CSVWriter(
            self._file, schema, write_options=pacsv.WriteOptions(eol="\r\n", quoting_style="needed")
        )

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> WrittenFile:
        self._writer.close()
        self._file.close()
        return self._file.facts("csv", "text/csv", self.rows)


class ParquetSink:
    """Parquet; with a `location`, GeoParquet 1.1: a WKB `geometry` column and the `geo` key."""

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        metadata: dict[str, Any],
        location: geo.Location | None = None,
    ):
        self.path = path
        self.rows = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._location = location
        self._extent = geo.Extent()
        if location is not None:
            schema = schema.append(pa.field(geo.GEOMETRY, pa.binary()))
        self.schema = schema.with_metadata(
            {
                key: json.dumps(value, ensure_ascii=False, sort_keys=True)
                for key, value in (metadata | {"pandas": pandas_metadata(schema)}).items()
            }
        )
        strings = [
            f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_dictionary(f.type)
        ]
        self._file = HashingFile(path)
        self._writer = pq.ParquetWriter(
            self._file,
            self.schema,
            compression="zstd",
            use_dictionary=strings,  # Parquet falls back to plain pages for high cardinality
            write_statistics=True,
        )

    def write(self, table: pa.Table) -> None:
        if self._location is not None:
            points = self._location.points(table)
            self._extent.add(*points)
            table = table.append_column(geo.GEOMETRY, geo.wkb_points(*points))
        self._pending.append(table.cast(self.schema))
        self._pending_rows += table.num_rows
        while self._pending_rows >= ROW_GROUP_ROWS:
            self._flush(ROW_GROUP_ROWS)

    def _flush(self, rows: int) -> None:
        buffered = pa.concat_tables([self.schema.empty_table(), *self._pending])
        self._writer.write_table(buffered.slice(0, rows), row_group_size=max(rows, 1))
        rest = buffered.slice(rows)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows
        self.rows += rows

    def close(self) -> WrittenFile:
        if self._pending_rows or not self.rows:
            self._flush(self._pending_rows)
        if self._location is not None:  # the box is known once every row is written
            meta = geo.geoparquet_metadata(self._extent.box)
            self._writer.add_key_value_metadata({"geo": json.dumps(meta, sort_keys=True)})
        self._writer.close()
        self._file.close()
        return self._file.facts("parquet", "application/vnd.apache.parquet", self.rows)


class GeoJsonSink:
    """An RFC 7946 FeatureCollection, streamed: one Feature per row, its bbox at the end."""

    def __init__(self, path: Path, location: geo.Location):
        self.path = path
        self.rows = 0
        self._location = location
        self._extent = geo.Extent()
        self._file = HashingFile(path)
        self._file.write(b'{"type":"FeatureCollection","features":[')

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self._extent.add(*self._location.points(table))
        separated = pc.binary_join_element_wise(",\n", geo.features(table, self._location), "")
        text = _values_bytes(separated)
        self._file.write(text[1:] if not self.rows else text)  # the file's first: no comma
        self.rows += table.num_rows

    def close(self) -> WrittenFile:
        box = self._extent.box
        tail = f'\n],"bbox":{json.dumps(box)}}}\n' if box else "\n]}\n"
        self._file.write(tail.encode())
        self._file.close()
        facts = self._file.facts("geojson", "application/geo+json", self.rows)
        return replace(facts, bbox=box)


def _values_bytes(text: pa.Array) -> memoryview:
    """A string array's values one after another, as its data buffer holds them (no copy)."""
    width = 8 if pa.types.is_large_string(text.type) else 4
    offsets = np.frombuffer(text.buffers()[1], f"<i{width}")[
        text.offset : text.offset + len(text) + 1
    ]
    return memoryview(text.buffers()[2])[int(offsets[0]) : int(offsets[-1])]


class BackgroundWriter:
    """Writes batches on threads of their own — one per sink — while the next batch is read
    and converted.

    pyarrow releases the GIL while it encodes CSV and Parquet, so the writing mostly hides
    behind reading and checking. At most one batch waits per sink, which bounds memory.
    """

    def __init__(self, sinks: list[Sink]):
        self.sinks = sinks
        self._pools = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="opendata-writer") for _ in sinks
        ]
        self._pending: list[Future[None]] = []

    def write(self, table: pa.Table) -> None:
        self._wait()
        self._pending = [
            pool.submit(sink.write, table)
            for pool, sink in zip(self._pools, self.sinks, strict=True)
        ]

    def _wait(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()  # re-raises a writer's exception here

    def close(self) -> list[WrittenFile]:
        try:
            self._wait()
        finally:
            for pool in self._pools:
                pool.shutdown()
        return [sink.close() for sink in self.sinks]


def pandas_metadata(schema: pa.Schema) -> dict[str, Any]:
    """pandas' own schema note naming its nullable dtypes for integer and boolean columns.

    Without it `pd.read_parquet` turns an integer column with a missing value into floats
    (3 → 3.0, missing → NaN) — and so does frictionless-py, which reads Parquet through
    pandas and would then report every missing integer as a type error. With it both get
    `Int64`/`boolean` columns with <NA>. Other readers (DuckDB, Arrow, Polars) ignore it.
    """
    columns = []
    for f in schema:
        if pa.types.is_integer(f.type):
            dtype, kind = (
                f"{'U' if pa.types.is_unsigned_integer(f.type) else ''}Int{f.type.bit_width}",
                str(f.type),
            )
        elif pa.types.is_boolean(f.type):
            dtype, kind = "boolean", "bool"
        else:
            continue
        columns.append(
            {
                "name": f.name,
                "field_name": f.name,
                "pandas_type": kind,
                "numpy_type": dtype,
                "metadata": None,
            }
        )
    return {"index_columns": [], "column_indexes": [], "columns": columns}


def parquet_schema(schema: pa.Schema, fields: list[dict[str, Any]]) -> pa.Schema:
    """Arrow schema for Parquet: enum strings dictionary-encoded, titles in field metadata."""
    result = []
    for arrow_field, fld in zip(schema, fields, strict=True):
        arrow_type = arrow_field.type
        if pa.types.is_string(arrow_type) and (fld.get("constraints") or {}).get("enum"):
            arrow_type = pa.dictionary(pa.int32(), pa.string())
        meta = {k: str(fld[k]) for k in ("title", "description") if fld.get(k)}
        result.append(pa.field(arrow_field.name, arrow_type, metadata=meta or None))
    return pa.schema(result)
