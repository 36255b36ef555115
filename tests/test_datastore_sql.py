"""datastore_search_sql against hostile statements: each is refused (a CKAN error) or stopped
(the time limit), and the server answers the next request. The real server (conftest)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import call_action


def _sql(server: str, sql: str) -> tuple[int, dict]:
    return call_action(server, "datastore_search_sql", sql=sql)


@pytest.fixture(scope="module")
def rid(built_site: Path) -> str:
    package = json.loads((built_site / "datasets/facility-counts/package.json").read_text())
    return next(r["id"] for r in package["resources"] if r["format"] == "CSV")


DEEP = "SELECT " + "(" * 3000 + "1" + ")" * 3000
WIDE = "SELECT " + " + ".join(["1"] * 20000)
HOSTILE = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM read_json('/etc/passwd')",
    "SELECT * FROM read_parquet('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM parquet_metadata('/etc/passwd')",
    "SELECT content FROM read_text('../../../../etc/passwd')",
    "COPY (SELECT 1) TO '/tmp/opendata-pwned.csv'",
    "EXPORT DATABASE '/tmp/opendata-pwned'",
    "IMPORT DATABASE '/tmp'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "FORCE INSTALL spatial FROM community",
    "SELECT * FROM read_csv('https://example.com/x.csv')",
    "ATTACH '/tmp/opendata-pwned.db' AS x",
    "ATTACH ':memory:' AS x",
    "DETACH memory",
    "PRAGMA database_list",
    "PRAGMA enable_profiling",
    "SET enable_external_access = true",
    "SET memory_limit = '100GB'",
    "RESET lock_configuration",
    "CALL pragma_version()",
    "SELECT getenv('HOME')",
    "SELECT current_setting('memory_limit')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_views()",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM main.sqlite_master",
    "SELECT * FROM system.main.duckdb_tables",
    "DESCRIBE SELECT 1",
    "SHOW TABLES",
    "SUMMARIZE SELECT 1",
    "CREATE TABLE x AS SELECT 1",
    "CREATE MACRO m() AS 1",
    "DROP VIEW IF EXISTS x",
    "INSERT INTO x VALUES (1)",
    "UPDATE x SET a = 1",
    "DELETE FROM x",
    "CHECKPOINT",
    "VACUUM",
    "BEGIN TRANSACTION",
    "EXPLAIN ANALYZE SELECT 1",
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE x",
    "SELECT * FROM generate_series(1, 10000000000000)",
    "SELECT count(*) FROM range(1000000000000)",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t",
    "SELECT * FROM no_such_table",
    'SELECT * FROM "00000000-0000-0000-0000-000000000000"',
    "SELECT * FROM query('SELECT 1')",
    DEEP,
    WIDE,
    "SELECT '" + "x" * 20000 + "'",
    *(
        BUILT_IN_ONE_STEP := [  # past DuckDB's memory_limit and its interrupt, in one step
            "SELECT unnest(range(100000000))",
            "SELECT len(string_split(repeat('a,', 60000000), ','))",
            "WITH a AS (SELECT repeat('ab', 1000) s), b AS (SELECT s || s || s || s s FROM a), "
            "c AS (SELECT repeat(s, 100000) s FROM b) SELECT length(s || s) FROM c",
        ]
    ),
]


@pytest.mark.parametrize("sql", HOSTILE, ids=[s[:40] for s in HOSTILE])
def test_a_hostile_statement_is_refused_and_the_server_answers_on(
    server: str, rid: str, sql: str
) -> None:
    status, data = _sql(server, sql)
    assert status in (400, 403, 404, 409), data
    assert data["success"] is False and data["error"]["__type"] in (
        "Validation Error",
        "Authorization Error",
        "Not Found Error",
    )
    assert "root:" not in json.dumps(data)  # /etc/passwd never read
    assert not Path("/tmp/opendata-pwned.csv").exists()
    status, data = _sql(server, f'SELECT count(*) AS n FROM "{rid}"')
    assert status == 200 and data["result"]["records"] == [{"n": 5}], data


@pytest.mark.parametrize(
    "joins",
    [
        # cross joins of a resource (5 rows) with itself that would run for hours: 5^20 rows
        # (5^14, 6·10^9, once finished within the time limit on a quiet machine)
        lambda rid: "SELECT count(*) FROM " + ", ".join(f'"{rid}" t{i}' for i in range(20)),
        lambda rid: (
            "SELECT sum(t0._id * t19._id) FROM "
            + " CROSS JOIN ".join(f'"{rid}" t{i}' for i in range(20))
        ),
        lambda rid: (
            "SELECT max(list_sort(list_transform(range(1000000), x -> x * t0._id))[1]) "
            + "FROM "
            + ", ".join(f'"{rid}" t{i}' for i in range(6))
        ),
    ],
)
def test_a_query_that_runs_too_long_is_stopped(server: str, rid: str, joins) -> None:
    started = time.monotonic()
    status, data = _sql(server, joins(rid))
    elapsed = time.monotonic() - started
    assert status == 409 and data["error"]["__type"] == "Validation Error", data
    assert elapsed < 15, elapsed
    status, data = _sql(server, f'SELECT count(*) AS n FROM "{rid}"')
    assert status == 200 and data["result"]["records"] == [{"n": 5}], data


def test_a_query_that_needs_too_much_memory_is_stopped(server: str, rid: str) -> None:
    joins = ", ".join(f'"{rid}" t{i}' for i in range(5))  # 3,125 rows of 1 MB: 3 GB
    status, data = _sql(server, f"SELECT length(string_agg(repeat('x', 1000000), '')) FROM {joins}")
    assert status == 409, data  # the memory limit (or the time limit), not the machine's memory
    assert "memory" in json.dumps(data, ensure_ascii=False).lower() or "long" in str(data)
    assert _sql(server, f'SELECT 1 AS one FROM "{rid}" LIMIT 1')[0] == 200


def test_a_select_over_the_resources_answers_as_ckan(
    server: str, rid: str, built_site: Path
) -> None:
    status, data = _sql(
        server,
        f'SELECT kind, sum("count") AS total FROM "{rid}" GROUP BY kind ORDER BY kind',
    )
    assert status == 200, data
    result = data["result"]
    assert [f["id"] for f in result["fields"]] == ["kind", "total"]
    assert [r["kind"] for r in result["records"]] == ["actual", "target"]
    assert "records_truncated" not in result
    # CTEs, joins of two resources (the CSV's id and its Parquet twin's), window functions
    package = json.loads((built_site / "datasets/facility-counts/package.json").read_text())
    twin = next(r["id"] for r in package["resources"] if r["format"] == "Parquet")
    status, data = _sql(
        server,
        f'WITH a AS (SELECT * FROM "{rid}") SELECT count(*) AS n, max(row_number() OVER ()) '
        f'FILTER (WHERE true) AS m FROM a JOIN "{twin}" b USING (_id)',
    )
    assert status in (200, 409), data  # window in aggregate: DuckDB's own error, not a 500
    status, data = _sql(
        server,
        f'WITH a AS (SELECT * FROM "{rid}") SELECT count(*) AS n FROM a JOIN "{twin}" b USING (_id)',
    )
    assert status == 200 and data["result"]["records"] == [{"n": 5}], data


def test_more_rows_than_the_cap_are_truncated_as_ckan(server: str, rid: str) -> None:
    joins = ", ".join(f'"{rid}" t{i}' for i in range(7))  # 5**7 = 78,125 rows
    status, data = _sql(server, f"SELECT t0._id FROM {joins}")
    assert status == 200, data
    assert data["result"]["records_truncated"] is True
    assert len(data["result"]["records"]) == 32_000


def test_queries_built_in_one_step_stay_in_their_memory_and_time(tmp_path: Path) -> None:
    """They took 7.5–9.4 GB and 20–43 s of the server's own process (DuckDB's memory_limit
    and interrupt do not reach them); each is now refused within its time, in a worker
    process held to 1 GB by the kernel, and the server's own peak stays low."""
    from conftest import MINIMAL_CSV, PUBLISHABLE, launch_server, opendata, write_dataset

    write_dataset(tmp_path, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    done = opendata(
        "build", "--datasets", str(tmp_path / "datasets"), "--out", str(tmp_path / "dist")
    )
    assert done.returncode == 0, done.stderr
    process, base, _ = launch_server(tmp_path / "dist")
    try:
        _sql(base, "SELECT 1")  # the workers' start-up is not the queries' time
        for sql in BUILT_IN_ONE_STEP:
            started = time.monotonic()
            status, data = _sql(base, sql)
            assert status == 409 and "memory" in json.dumps(data["error"]), data
            assert time.monotonic() - started < 8, sql
        peak = _peak_mb(process.pid)
        assert peak < 500, f"the server's own peak: {peak} MB"
        status, data = _sql(base, "SELECT 42 AS n")
        assert status == 200 and data["result"]["records"] == [{"n": 42}]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_value_python_cannot_hold_is_an_invalid_query_not_memory(server: str, rid: str) -> None:
    """It killed the worker, which was then reported as out of memory."""
    status, data = _sql(server, "SELECT INTERVAL 100000000 YEAR AS far")
    assert status == 409 and "OverflowError" in json.dumps(data["error"]), data
    status, data = _sql(server, f'SELECT count(*) AS n FROM "{rid}" a, "{rid.upper()}" b')
    assert status == 200 and data["result"]["records"] == [{"n": 25}], data  # one view


def _peak_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def test_a_worker_that_hangs_or_dies_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real processes: a query past its time has its worker killed (the wait here is cut to
    nothing), a worker killed from outside is started again; the next query is answered."""
    import os
    import signal

    from catalog.api import sqlworkers
    from catalog.api.sqlworkers import Query, SqlError, SqlWorkers

    workers = SqlWorkers(1)
    assert workers.run(Query("SELECT 1 AS n", {}, Path("/nonexistent"), 5.0, 10), 5).rows == [(1,)]
    slow = Query("SELECT count(*) FROM range(100000000000)", {}, Path("/nonexistent"), 0.2, 10)
    monkeypatch.setattr(sqlworkers, "GRACE", -0.15)  # killed before its interrupt answers
    with pytest.raises(SqlError) as stopped:
        workers.run(slow, 5)
    monkeypatch.undo()
    assert stopped.value.why == "timeout"
    assert workers.run(Query("SELECT 2 AS n", {}, Path("/nonexistent"), 5.0, 10), 5).rows == [(2,)]
    worker = workers._idle.get()
    assert worker is not None
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.join()
    workers._idle.put(worker)
    assert workers.run(Query("SELECT 3 AS n", {}, Path("/nonexistent"), 5.0, 10), 5).rows == [(3,)]
