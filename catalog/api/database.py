"""The locked-down DuckDB connection the DataStore answers from (datastore.py), in the
server's process and in the processes that run datastore_search_sql (sqlworkers.py).

No file or network access but the site's `datasets/` folder, no extensions, the threads and
memory fixed, then the configuration locked: no statement can change any of it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from duckdb.func import PythonUDFType

from ..text import fold_column

THREADS = 2
MEMORY_LIMIT = "512MB"
FOLD = "opendata_fold"  # the catalog's search folding (catalog/text.py), as a SQL function


def connect(datasets: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory database that may read `datasets` (the site's packages) and no more."""
    connection = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "threads": THREADS,
            "memory_limit": MEMORY_LIMIT,
            "preserve_insertion_order": True,  # file order = `_id` order (datastore.py)
        },
    )
    # Vectorised: DuckDB hands the function whole Arrow columns (Arrow's C++ NFKC kernels).
    connection.create_function(
        FOLD, fold_column, ["VARCHAR"], "VARCHAR", type=PythonUDFType.ARROW, side_effects=False
    )
    connection.execute("SET allowed_directories = ?", [[str(datasets).rstrip("/") + "/"]])
    connection.execute("SET enable_external_access = false")
    connection.execute("SET allow_community_extensions = false")
    connection.execute("SET lock_configuration = true")
    return connection


def create_view(connection: duckdb.DuckDBPyConnection, resource_id: str, parquet: Path) -> None:
    """A resource's view, named by its id (checked by the caller to be one): `_id` (the row's
    1-based number in the file), then the file's columns."""
    location = str(parquet).replace("'", "''")
    connection.execute(
        f'CREATE VIEW "{resource_id}" AS SELECT file_row_number + 1 AS _id, '
        f"* EXCLUDE (file_row_number) FROM read_parquet('{location}', file_row_number = true)"
    )
