"""CKAN's DataStore API (read side) over the published Parquet files, with DuckDB.

Every tabular resource — a table's CSV and its Parquet twin, both by their CKAN resource id —
is a DuckDB view over the Parquet file the site publishes (no copy into another store), named
by the resource id as CKAN names its DataStore tables. `_id` is the row's number in the file
(1-based), so it is stable for a build.

`q` is answered from an n-gram index of the resource's folded text (textindex.py), a filter
from an index of its column's values (valueindex.py), each built in memory on first use: the
`_id`s they find feed the query as a registered Arrow table (with their range, which DuckDB
prunes row groups by); with nothing else asked (no sort, `distinct` or unindexed condition) they
are the total and the page, and the query only fetches the page's rows. Text too large to index,
and a column with too many distinct values, are scanned.

One DuckDB database per build, locked down before any request reaches it:

- no file or network access (`enable_external_access=false`) but the site's `datasets/`
  folder, which the views read (and which anyone may download anyway);
- no extensions installed or loaded, automatically or by a statement;
- `threads`, `memory_limit` set, then `lock_configuration=true`: no statement can change them;
- `datastore_search` builds its SQL from a whitelist of field names (quoted) and binds every
  value the client sent as a parameter; nothing the client sent is formatted into SQL;
- `datastore_search_sql` runs exactly one SELECT statement whose parsed tree reads only the
  resources' views (no table functions, no system tables, no recursive CTEs, no functions
  that reveal the server: `getenv`, `current_setting`, `duckdb_*`, …), at most
  `MAX_SQL_QUERIES` at a time, interrupted after `SQL_TIMEOUT` seconds, in a worker process
  whose memory the kernel bounds (sqlworkers.py), and returns at most `ROWS_MAX` rows
  (`records_truncated`, as CKAN).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import re
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any, Protocol, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.files import read_json
from pipeline.vocabulary import EXTENSION

from .. import paths
from ..text import fold_column
from .database import FOLD, connect, create_view
from .grams import Rows, intersect
from .heldrows import HeldRows, SortOrder
from .sqlworkers import Query, SqlError, shared_workers
from .textindex import CHUNK_ROWS, BuiltOnce, TextIndex
from .valueindex import ValueIndex

ROWS_MAX = 32_000  # CKAN's ckan.datastore.search.rows_max
DEFAULT_LIMIT = 100
SEARCH_TIMEOUT = 10.0  # seconds a datastore_search may run
SQL_TIMEOUT = 5.0  # seconds a datastore_search_sql may run
SQL_MAX_LENGTH = 10_000  # characters of SQL
MAX_SQL_QUERIES = 2  # datastore_search_sql running at once (the rest wait, then are refused)
INDEX_MEMORY = 512 << 20  # bytes the indexes and held rows of all resources may hold
TABLE_FORMATS = ("CSV", "Parquet")  # the resources the DataStore serves (package.json formats)
GEOMETRY = "geometry"  # the GeoParquet column (pipeline/geo.py)
RESOURCE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MATCHED = "matched_ids"  # the `_id`s indexes found, an Arrow table registered on a cursor
VALUES = "column_values"  # a column's distinct values, registered to match a filter against

# DuckDB's types as CKAN's DataStore (PostgreSQL) names them.
CKAN_TYPES = {
    "BIGINT": "int8",
    "INTEGER": "int4",
    "SMALLINT": "int2",
    "TINYINT": "int2",
    "UBIGINT": "numeric",
    "UINTEGER": "int8",
    "USMALLINT": "int4",
    "UTINYINT": "int2",
    "HUGEINT": "numeric",
    "DOUBLE": "float8",
    "FLOAT": "float4",
    "BOOLEAN": "bool",
    "VARCHAR": "text",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIME": "time",
    "BLOB": "bytea",
}

# Functions a query may not call: they read the server's environment or settings, or the
# database's own catalog (which names files); the file readers are table functions (refused
# as all table functions are) and blocked by the locked configuration besides.
REFUSED_FUNCTIONS = ("getenv", "current_setting", "which_secret", "current_database", "version")
REFUSED_PREFIXES = ("duckdb_", "pragma_", "read_", "sniff_", "glob", "parquet_", "icu_")
REFUSED_TABLE_REFS = ("TABLE_FUNCTION", "SHOW_REF", "COLUMN_DATA")


class _Index(Protocol):
    @property
    def nbytes(self) -> int: ...


HeldIndex = TypeVar("HeldIndex", bound=_Index)


class DataStoreError(Exception):
    """A refusal, as CKAN's error kind (`Validation Error`, …) and its message or fields."""

    def __init__(self, kind: str, message: str | dict[str, list[str]]):
        super().__init__(str(message))
        self.kind = kind
        self.message = message


def _invalid(field: str, message: str) -> DataStoreError:
    return DataStoreError("Validation Error", {field: [message]})


def _refused(message: str) -> DataStoreError:
    return DataStoreError("Authorization Error", {"permissions": [message]})


@dataclass(frozen=True)
class Table:
    """One tabular resource: its dataset, its Parquet file and its fields' titles."""

    resource_id: str
    dataset: str
    parquet: Path
    fields: tuple[dict[str, Any], ...]  # the table's schema fields (datapackage.json)


def tables_of(site: Path, name: str, package: dict[str, Any]) -> dict[str, Table]:
    """The tabular resources of a dataset by resource id: each table's CSV and its Parquet;
    none for a dataset without a readable datapackage.json (a folder not made by a build)."""
    try:
        descriptor = read_json(paths.datapackage(site, name))
    except (OSError, ValueError):
        return {}
    resources = descriptor.get("resources") or []
    by_path = {r["path"]: r for r in resources if isinstance(r.get("path"), str)}
    found: dict[str, Table] = {}
    for raw in resources:
        if raw.get("format") != "csv" or (raw.get(EXTENSION) or {}).get("kind") == "file":
            continue
        parquet = str(Path(raw["path"]).with_suffix(".parquet"))
        if parquet not in by_path:
            continue
        fields = tuple((raw.get("schema") or {}).get("fields") or [])
        for path in (raw["path"], parquet):
            for resource in package.get("resources") or []:
                if str(resource.get("url", "")).endswith(f"/{name}/{path}"):
                    found[resource["id"]] = Table(
                        resource["id"],
                        name,
                        paths.dataset(site, name) / parquet,
                        fields,
                    )
    return found


def active(package: dict[str, Any], tables: dict[str, Table]) -> dict[str, Any]:
    """The package as the API serves it: `datastore_active` on each resource, as CKAN says it
    (package.json on disk, which `publish --ckan` sends, leaves it to CKAN)."""
    return {
        **package,
        "resources": [
            {**r, "datastore_active": r.get("id") in tables} for r in package.get("resources", [])
        ],
    }


class DataStore:
    """The DuckDB database of one build: a view per tabular resource, created on first use."""

    def __init__(self, site: Path):
        self.site = site
        self.connection = connect(paths.datasets(site))
        self._views: dict[str, list[tuple[str, str]]] = {}  # resource id → (column, type)
        self._lock = threading.Lock()
        self._text_indexes: BuiltOnce[tuple[str, str], TextIndex | None] = BuiltOnce()
        self._value_indexes: BuiltOnce[tuple[str, str], ValueIndex | None] = BuiltOnce()
        self._rows: BuiltOnce[str, HeldRows | None] = BuiltOnce()
        self._sort_orders: BuiltOnce[tuple[str, str, bool], SortOrder | None] = BuiltOnce()
        self._index_bytes = 0  # held by the indexes and rows above

    # -- views --------------------------------------------------------------------------------
    def columns(self, table: Table) -> list[tuple[str, str]]:
        """The view of a resource (created once): its columns and DuckDB types, `_id` first."""
        with self._lock:
            if table.resource_id not in self._views:
                if not RESOURCE_ID.fullmatch(table.resource_id):
                    raise _invalid("resource_id", "リソース ID ではありません / Not a resource id")
                create_view(self.connection, table.resource_id, table.parquet)
                described = self.connection.execute(f'DESCRIBE "{table.resource_id}"').fetchall()
                self._views[table.resource_id] = [(str(r[0]), str(r[1])) for r in described]
            return self._views[table.resource_id]

    def fields(self, table: Table) -> list[dict[str, Any]]:
        """CKAN's field list: `_id`, then each column with its type and our title/description."""
        titles = {f["name"]: f for f in table.fields}
        result: list[dict[str, Any]] = []
        for column, kind in self.columns(table):
            if column == GEOMETRY and column not in titles:
                continue
            field: dict[str, Any] = {"id": column, "type": _ckan_type(kind)}
            if column == "_id":
                field["type"] = "int"
            elif column in titles:
                field["info"] = {
                    "label": titles[column].get("title", ""),
                    "notes": titles[column].get("description", ""),
                }
            result.append(field)
        return result

    @contextmanager
    def cursor(self, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own, interrupted when it runs longer than `timeout` seconds."""
        cursor = self.connection.cursor()
        timer = threading.Timer(timeout, cursor.interrupt)
        timer.daemon = True
        timer.start()
        try:
            yield cursor
        except duckdb.InterruptException:
            raise _invalid("query", "時間がかかりすぎました / Query took too long") from None
        except duckdb.OutOfMemoryException:
            raise _invalid("query", "メモリが足りません / Query needs too much memory") from None
        finally:
            timer.cancel()
            cursor.close()

    def _match_text(
        self, table: Table, terms: list[tuple[str, str]]
    ) -> tuple[list[Rows], list[tuple[str, str]]]:
        """`q`'s (text, word) pairs: the `_id`s the text indexes find for each, and the pairs
        left to a scan (text too large to index)."""
        found: list[Rows] = []
        scanned: list[tuple[str, str]] = []
        for haystack, term in terms:
            index = self._text_index(table, haystack)
            if index is None:
                scanned.append((haystack, term))
            else:
                found.append(index.matches(term))
        return found, scanned

    def _filter_matches(
        self, table: Table, column: str, kind: str, options: list[str | None]
    ) -> Rows | None:
        """The `_id`s of the rows whose `column` equals one of `options` — compared by DuckDB
        in the column's type (`kind`), against its distinct values — from its value index;
        None when it has none (too many values, or a type filters do not bind to)."""
        cast = _cast(kind)
        index = self._value_index(table, column) if cast == kind else None
        if index is None:
            return None
        marks = ", ".join(f"TRY_CAST(? AS {cast})" for _ in options)
        with self.cursor(SEARCH_TIMEOUT) as cursor:
            cursor.register(VALUES, index.table)
            codes = cursor.execute(
                f"SELECT code FROM {VALUES} WHERE value IN ({marks})", options
            ).fetchall()
        return index.matches([int(code) for (code,) in codes])

    def _value_index(self, table: Table, column: str) -> ValueIndex | None:
        """The index of a column's values, built on the first filter on it (None: too many)."""

        def build() -> ValueIndex | None:
            with self.cursor(SEARCH_TIMEOUT) as cursor:
                read = cursor.sql(f'SELECT {_quote(column)} FROM "{table.resource_id}"')
                return ValueIndex.build(read.to_arrow_table().column(0))

        return self._value_indexes.get((table.resource_id, column), lambda: self._held(build))

    def _text_index(self, table: Table, haystack: str) -> TextIndex | None:
        """The index of a resource's text (`haystack`, a SQL expression over its view), built on
        its first use; None when there is too much text to hold (textindex.MAX_TEXT_BYTES)."""

        def build() -> TextIndex | None:
            with self.cursor(SEARCH_TIMEOUT) as cursor:
                text = cursor.sql(f'SELECT {haystack} FROM "{table.resource_id}"')
                index = TextIndex.build(b.column(0) for b in text.to_arrow_reader(CHUNK_ROWS))
            pa.default_memory_pool().release_unused()  # the text as read: ~50 MB a million rows
            return index

        return self._text_indexes.get((table.resource_id, haystack), lambda: self._held(build))

    def _held_rows(self, table: Table) -> HeldRows | None:
        """The resource's rows in memory, read on the first search that pages from them; None
        when its Parquet file's data is larger than the memory left to the indexes."""

        def build() -> HeldRows | None:
            if _data_bytes(table.parquet) > INDEX_MEMORY - self._index_bytes:
                return None
            with self.cursor(SEARCH_TIMEOUT) as cursor:
                return HeldRows.hold(
                    cursor.sql(f'SELECT * FROM "{table.resource_id}"').to_arrow_table()
                )

        return self._rows.get(table.resource_id, lambda: self._held(build))

    def _sort_order(
        self, table: Table, held: HeldRows, column: str, descending: bool
    ) -> SortOrder | None:
        """The order of the resource's rows by `column`, sorted on the first search by it."""
        return self._sort_orders.get(
            (table.resource_id, column, descending),
            lambda: self._held(lambda: SortOrder.build(held, column, descending)),
        )

    def _held(self, build: Callable[[], HeldIndex | None]) -> HeldIndex | None:
        """An index, built while those held take less than INDEX_MEMORY; None (the conditions
        are scanned from then on) past it, or when reading the data ran out of time or memory."""
        with self._lock:
            if self._index_bytes >= INDEX_MEMORY:
                return None
        try:
            index = build()
        except DataStoreError:
            return None
        with self._lock:
            self._index_bytes += index.nbytes if index else 0
        return index

    # -- datastore_info ------------------------------------------------------------------------
    def info(self, table: Table) -> dict[str, Any]:
        fields = self.fields(table)
        with self.cursor(SEARCH_TIMEOUT) as cursor:
            count = cursor.execute(f'SELECT count(*) FROM "{table.resource_id}"').fetchone()
        total = int(count[0]) if count else 0
        return {
            "meta": {
                "id": table.resource_id,
                "count": total,
                "table_type": "VIEW",  # over the published Parquet file
                "aliases": [],
            },
            "fields": [f for f in fields if f["id"] != "_id"],
            "schema": {f["id"]: f["type"] for f in fields if f["id"] != "_id"},  # CKAN ≤ 2.9
        }

    # -- datastore_search ------------------------------------------------------------------------
    def search(self, table: Table, query: Search) -> dict[str, Any]:
        all_fields = self.fields(table)
        known = {f["id"]: f for f in all_fields}
        columns = dict(self.columns(table))
        text_columns = [c for c, kind in columns.items() if kind == "VARCHAR" and c in known]

        def check(field: str, name: str) -> str:
            if name not in known:
                raise _invalid(field, f'項目がありません / field "{name}" not in resource')
            return _quote(name)

        if query.fields is None:
            chosen = [f["id"] for f in all_fields if not (query.distinct and f["id"] == "_id")]
        else:
            chosen = query.fields
        for name in chosen:
            check("fields", name)
        if not chosen:
            raise _invalid("fields", "項目がありません / No fields")

        where: list[str] = []
        values: list[Any] = []
        found: list[Rows] = []  # the `_id`s indexes found, one list a condition: all must hold
        for name, wanted in query.filters.items():
            column = check("filters", name)
            cast = _cast(columns[name])
            options = [_text(v) for v in (wanted if isinstance(wanted, list) else [wanted])]
            if not options:
                where.append("false")
            elif (indexed := self._filter_matches(table, name, columns[name], options)) is not None:
                found.append(indexed)
            else:
                where.append(
                    f"{column} IN ({', '.join(f'TRY_CAST(? AS {cast})' for _ in options)})"
                )
                values.extend(options)
        text_found, scanned = self._match_text(table, _text_terms(query.q, text_columns, check))
        found.extend(text_found)
        for haystack, term in scanned:
            where.append(f"contains({FOLD}({haystack}), ?)")
            values.append(term)
        matched = reduce(intersect, sorted(found, key=len)) if found else None

        order: list[str] = []
        for name, descending in query.sort:
            order.append(f"{check('sort', name)} {'DESC' if descending else 'ASC'} NULLS LAST")
        if order and not query.distinct and "_id" not in [n for n, _ in query.sort]:
            order.append("_id")  # ties broken the same way on every page: pages never overlap
        geometry = query.records_format == "geojson"
        if geometry and GEOMETRY not in columns:  # the build adds it where rows have points
            raise _invalid(
                "records_format", "位置情報のないリソースです / No location in this resource"
            )
        names = [*chosen, GEOMETRY] if geometry else chosen  # the geometry last, for geojson
        answered = None
        if not (where or query.distinct):
            answered = self._from_memory(table, query, matched, names)
        if answered is None:
            condition = Condition(where, values, matched)
            answered = self._from_duckdb(table, query, names, condition, order)
        rows, total = answered

        fields = [known[name] for name in chosen]
        result: dict[str, Any] = {
            "resource_id": table.resource_id,
            "fields": fields,
            "records_format": query.records_format,
            "records": _records(query.records_format, chosen, rows),
            "limit": query.limit,
            "_links": query.links,
            "include_total": query.include_total,
        }
        if query.offset:
            result["offset"] = query.offset
        if total is not None:
            result["total"] = total
            result["total_was_estimated"] = False
        for key in ("filters", "sort", "distinct"):
            if key in query.given:
                result[key] = query.given[key]
        if query.q:
            result["q"] = query.q
        return result

    def _from_memory(
        self, table: Table, query: Search, matched: Rows | None, names: list[str]
    ) -> tuple[list[tuple[Any, ...]], int | None] | None:
        """The page and total of a search whose conditions the indexes answered (`matched`, or
        none) and whose sort is one field, from the rows held in memory; None when they are not
        held (too large for the memory left) or the search is not of that kind."""
        if len(query.sort) > 1 or (matched is None and not query.sort):
            return None  # several sort keys: DuckDB; no condition nor sort: a scan stops early
        held = self._held_rows(table)
        if held is None:
            return None
        ordered = matched
        if query.sort:
            sort = self._sort_order(table, held, *query.sort[0])
            if sort is None:
                return None
            ordered = sort.ids(matched)
        assert ordered is not None
        page = ordered[query.offset : query.offset + query.limit]
        return held.take(page, names), len(ordered) if query.include_total else None

    def _from_duckdb(
        self,
        table: Table,
        query: Search,
        names: list[str],
        condition: Condition,
        order: list[str],
    ) -> tuple[list[tuple[Any, ...]], int | None]:
        """The page and total of a search, by a DuckDB query over the resource's view."""
        where, values, matched = list(condition.where), list(condition.values), condition.matched
        order = list(order)
        # Without a sort the rows come in file order, which is `_id` order (the connection
        # preserves insertion order): no ORDER BY, so LIMIT stops the scan early (15 ms, not
        # 150 ms, for the first page of a 1,000,000-row filter).
        view = f'"{table.resource_id}"'
        offset, total = query.offset, None
        if matched is not None and not (where or order or query.distinct):
            # Only indexed conditions: the `_id`s are the total and the page; the query fetches
            # the page's rows.
            total = len(matched) if query.include_total else None
            matched, offset = matched[offset : offset + query.limit], 0
        if matched is not None:
            where.append(f"_id BETWEEN ? AND ? AND _id IN (SELECT _id FROM {MATCHED})")
            values.extend([int(matched[0]), int(matched[-1])] if len(matched) else [1, 0])
            if not (order or query.distinct):  # a join keeps no order (it may hash the file's side)
                order.append("_id")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        distinct = "DISTINCT " if query.distinct else ""
        sql = f"SELECT {distinct}{', '.join(map(_quote, names))} FROM {view}{clause}"
        ordered = f"{sql} ORDER BY {', '.join(order)}" if order else sql
        with self.cursor(SEARCH_TIMEOUT) as cursor:
            if matched is not None:  # the `_id` range prunes row groups; the list, rows
                cursor.register(MATCHED, pa.table({"_id": matched}))
            rows = cursor.execute(
                f"{ordered} LIMIT ? OFFSET ?", [*values, query.limit, offset]
            ).fetchall()
            if query.include_total and total is None:  # without the ORDER BY: a count needs none
                counted = cursor.execute(f"SELECT count(*) FROM ({sql})", values).fetchone()
                total = int(counted[0]) if counted else 0
        return rows, total

    # -- datastore_search_sql --------------------------------------------------------------------
    def search_sql(self, sql: str, resolve: Callable[[str], Table | None]) -> dict[str, Any]:
        """One SELECT over the resources' views; see the module's docstring for the limits."""
        statements = _statements(sql)
        views: dict[str, Path] = {}
        for name in sorted(_check_tree(self._tree(statements[0]))):
            table = resolve(name.lower()) if RESOURCE_ID.fullmatch(name.lower()) else None
            if table is None:
                raise _invalid("query", f'表がありません / relation "{name}" does not exist')
            self.columns(table)
            views[name.lower()] = table.parquet  # one view, however the query spells it
        query = Query(sql, views, paths.datasets(self.site), SQL_TIMEOUT, ROWS_MAX + 1)
        try:
            answer = shared_workers(MAX_SQL_QUERIES).run(query, wait=SQL_TIMEOUT)
        except SqlError as exc:
            raise _sql_refusal(exc) from None
        rows = answer.rows
        result: dict[str, Any] = {
            "sql": sql,
            "fields": [
                {"id": n, "type": _ckan_type(t)}
                for n, t in zip(answer.names, answer.types, strict=True)
            ],
            "records": _records("objects", answer.names, rows[:ROWS_MAX]),
        }
        if len(rows) > ROWS_MAX:
            result["records_truncated"] = True
        return result

    def _tree(self, sql: str) -> Any:
        with self.cursor(SQL_TIMEOUT) as cursor:
            row = cursor.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
        try:
            tree = json.loads(row[0]) if row else None
        except (ValueError, RecursionError):
            raise _invalid("query", "入れ子が深すぎます / Query nested too deeply") from None
        if not isinstance(tree, dict) or tree.get("error"):
            message = tree.get("error_message", "") if isinstance(tree, dict) else ""
            raise _invalid("query", f"読めない SQL です / Cannot read the query: {message}")
        return tree


@dataclass
class Search:
    """datastore_search's parameters, read and checked (actions.py reads them)."""

    filters: dict[str, Any]
    q: str | dict[str, str]
    distinct: bool
    fields: list[str] | None
    sort: list[tuple[str, bool]]  # (field, descending)
    limit: int
    offset: int
    include_total: bool
    records_format: str
    links: dict[str, str]
    given: dict[str, Any]


@dataclass(frozen=True)
class Condition:
    """A search's conditions: SQL over the view with its bound values, and the `_id`s the
    indexes found (None: no indexed condition)."""

    where: list[str]
    values: list[Any]
    matched: Rows | None


def _data_bytes(parquet: Path) -> int:
    """The size of a Parquet file's data once read (its row groups' uncompressed bytes)."""
    metadata = pq.ParquetFile(parquet).metadata
    return sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))


def _sql_refusal(exc: SqlError) -> DataStoreError:
    if exc.why == "refused":
        return _refused(f"許可されていません / Not authorized: {exc.message}")
    said = {
        "busy": "同時に実行できる数を超えました / Too many queries at once",
        "timeout": "時間がかかりすぎました / Query took too long",
        "memory": "メモリが足りません / Query needs too much memory",
        "too_large": "結果が大きすぎます / The result is too large",
    }
    return _invalid("query", said.get(exc.why, exc.message))


def _statements(sql: str) -> list[str]:
    """The one SELECT statement of `sql` (anything else is refused)."""
    if len(sql) > SQL_MAX_LENGTH:
        raise _invalid("sql", f"長すぎます / At most {SQL_MAX_LENGTH} characters")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise _invalid("query", str(exc).splitlines()[0]) from None
    except RecursionError:
        raise _invalid("query", "入れ子が深すぎます / Query nested too deeply") from None
    if len(statements) != 1:
        raise _invalid("query", "文は一つだけにしてください / Query is not a single statement.")
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name
        raise _refused(f"SELECT 文だけ使えます / Only SELECT statements (not {kind})")
    return [sql]


def _check_tree(tree: dict[str, Any]) -> set[str]:
    """The tables a SELECT's parsed tree reads; a refusal for anything but resources' views
    and the query's own CTEs."""
    tables: set[str] = set()
    ctes: set[str] = set()
    stack: list[Any] = [tree.get("statements")]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if kind in REFUSED_TABLE_REFS:
            raise _refused("表関数は使えません / Table functions are not allowed")
        if kind == "RECURSIVE_CTE_NODE":
            raise _refused("再帰クエリは使えません / Recursive queries are not allowed")
        if node.get("class") == "FUNCTION" or "function_name" in node:
            name = str(node.get("function_name", "")).lower()
            if name in REFUSED_FUNCTIONS or name.startswith(REFUSED_PREFIXES) or node.get("schema"):
                raise _refused(f"使えない関数です / Not authorized to call function {name}")
        if kind == "BASE_TABLE":
            if node.get("schema_name") or node.get("catalog_name"):
                raise _refused("読めない表です / Not authorized to read resource.")
            tables.add(str(node.get("table_name")))
        if kind == "CTE_NODE" or "cte_map" in node:
            for entry in (node.get("cte_map") or {}).get("map") or []:
                ctes.add(str(entry.get("key")))
        stack.extend(node.values())
    return {t for t in tables if t not in ctes}


def _text_terms(
    q: str | dict[str, str], text_columns: list[str], check: Callable[[str, str], str]
) -> list[tuple[str, str]]:
    """What `q` asks: (text as a SQL expression, folded word) pairs, each text containing its
    word — all text columns joined for a string, the field's text for each field of an object."""
    if isinstance(q, str):
        joined = " || '¦' || ".join(f"coalesce({_quote(c)}, '')" for c in text_columns)
        return [(joined or "''", term) for word in q.split() if (term := fold_term(word))]
    terms: list[tuple[str, str]] = []
    for name, text in q.items():
        column = f"coalesce(CAST({check('q', name)} AS VARCHAR), '')"
        terms.extend((column, term) for word in text.split() if (term := fold_term(word)))
    return terms


def fold_term(word: str) -> str:
    """A search word folded by the very function that folds the data."""
    return str(fold_column(pa.array([word]))[0].as_py())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cast(kind: str) -> str:
    """A column's DuckDB type, for binding a filter's value to it (the engine's own names)."""
    return kind if kind in CKAN_TYPES or re.fullmatch(r"DECIMAL\(\d+,\d+\)", kind) else "VARCHAR"


def _ckan_type(kind: str) -> str:
    if kind.startswith("DECIMAL"):
        return "numeric"
    return CKAN_TYPES.get(kind, "text")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise _invalid(
            "filters",
            "値は文字列・数・真偽値かそのリストです / Values must be text, numbers, booleans or lists of them",
        )
    return str(value)


def _json(value: Any) -> Any:
    """A value as JSON says it: dates as ISO 8601, decimals as numbers, bytes as bytea text."""
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def _records(records_format: str, names: list[str], rows: list[tuple[Any, ...]]) -> Any:
    if records_format == "geojson":
        return _features(names, rows)
    if records_format == "lists":
        return [[_json(v) for v in row] for row in rows]
    if records_format in ("csv", "tsv"):
        out = io.StringIO()
        writer = csv.writer(out, delimiter="," if records_format == "csv" else "\t")
        for row in rows:
            writer.writerow(["" if v is None else _csv(v) for v in row])
        return out.getvalue()
    return [{n: _json(v) for n, v in zip(names, row, strict=False)} for row in rows]


def _csv(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    converted = _json(value)
    return converted if isinstance(converted, str) else json.dumps(converted)


def _features(names: list[str], rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: each row's point (its WKB geometry), its fields as
    properties."""
    features = []
    for row in rows:
        properties = {n: _json(v) for n, v in zip(names, row, strict=False)}
        features.append(
            {
                "type": "Feature",
                "id": properties.get("_id"),
                "geometry": _point(row[-1]),
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _point(wkb: Any) -> dict[str, Any] | None:
    """A WKB point (pipeline/geo.py writes them) as a GeoJSON geometry."""
    if not isinstance(wkb, bytes) or len(wkb) != 21:
        return None
    order = "<" if wkb[0] == 1 else ">"
    kind, x, y = struct.unpack(order + "Idd", wkb[1:])
    if kind != 1 or not (math.isfinite(x) and math.isfinite(y)):
        return None
    return {"type": "Point", "coordinates": [x, y]}


def encode_links(params: dict[str, Any], offset: int, limit: int) -> dict[str, str]:
    """CKAN's `_links`: this search from the start, the next page (and the previous)."""
    from urllib.parse import urlencode

    base = {
        k: (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        for k, v in sorted(params.items())
        if k != "offset" and v is not None
    }
    url = "/api/3/action/datastore_search"
    links = {
        "start": f"{url}?{urlencode(base)}",
        "next": f"{url}?{urlencode({**base, 'offset': offset + limit})}",
    }
    if offset:
        links["prev"] = f"{url}?{urlencode({**base, 'offset': max(0, offset - limit)})}"
    return links
