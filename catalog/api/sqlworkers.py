"""datastore_search_sql in processes of their own, whose memory the kernel bounds.

DuckDB's `memory_limit` bounds its buffer manager, not every allocation, and its interrupt
is seen between chunks: a list or a string built in one step — `unnest(range(100000000))`,
`string_split(repeat('a,', 60000000), ',')`, a string doubled through CTEs — took 7.5–9.4 GB
and 20–43 s in the server's own process, though the query's limits say 512 MB and 5 s. Here
each query runs in one of a few worker processes whose data segment is capped
(`RLIMIT_DATA`): an allocation past it fails, which DuckDB reports as out of memory, and the
process lives on. A query still unanswered a little after its time has its process killed;
the next query starts a new one. The rows come back pickled, at most `MAX_ANSWER` bytes.

Each query has a fresh in-memory database with only the views it reads, so a rebuilt site is
never read through an old view.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import queue
import resource
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import duckdb

PROCESS_MEMORY = 1 << 30  # bytes of a worker's data segment: DuckDB's 512 MB and the rest
MAX_ANSWER = 64 << 20  # bytes of pickled rows a query may send back
GRACE = 2.0  # seconds past the query's own timeout before its process is killed


@dataclass(frozen=True)
class Query:
    """What a worker is asked: the SQL, the views it reads (resource id → Parquet file) and
    the folder the database may read."""

    sql: str
    views: dict[str, Path]
    datasets: Path
    timeout: float
    max_rows: int

    def seen_from_a_worker(self) -> Query:
        """The paths as another process reaches them: a build the server holds open is
        /proc/self/fd/N here, /proc/<the server's pid>/fd/N there."""
        own = f"/proc/{os.getpid()}/"

        def there(path: Path) -> Path:
            text = str(path)
            return (
                Path(own + text.removeprefix("/proc/self/"))
                if text.startswith("/proc/self/")
                else path
            )

        views = {name: there(parquet) for name, parquet in self.views.items()}
        return dataclasses.replace(self, views=views, datasets=there(self.datasets))


@dataclass(frozen=True)
class Answer:
    names: list[str]
    types: list[str]  # DuckDB's
    rows: list[tuple[Any, ...]]


class SqlError(Exception):
    """A query that did not answer: `why` is one of timeout, memory, busy, refused, invalid
    or too_large (the message is DuckDB's, for refused and invalid)."""

    def __init__(self, why: str, message: str = ""):
        super().__init__(message or why)
        self.why = why
        self.message = message

    def __reduce__(self) -> tuple[type[SqlError], tuple[str, str]]:
        return SqlError, (self.why, self.message)  # sent back from a worker


class SqlWorkers:
    """`slots` worker processes, started when first needed; a query waits `wait` seconds at
    most for one to be free."""

    def __init__(self, slots: int, memory: int = PROCESS_MEMORY):
        self.memory = memory
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(slots):
            self._idle.put(None)  # a slot whose process is not started yet

    def run(self, query: Query, wait: float) -> Answer:
        try:
            worker = self._idle.get(timeout=wait)
        except queue.Empty:
            raise SqlError("busy") from None
        try:
            if worker is None or not worker.process.is_alive():  # killed: started again
                worker = _Worker(self.memory)
            return worker.ask(query)
        finally:
            self._idle.put(worker)


_shared: SqlWorkers | None = None
_shared_lock = threading.Lock()


def shared_workers(slots: int) -> SqlWorkers:
    """The server process's workers, shared by every build it serves."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SqlWorkers(slots)
        return _shared


class _Worker:
    def __init__(self, memory: int):
        context = multiprocessing.get_context("spawn")  # never fork a threaded server
        self.channel, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, memory), daemon=True)
        self.process.start()
        theirs.close()
        self.started = False  # answered once: its start-up is behind it

    def ask(self, query: Query) -> Answer:
        self.channel.send(query.seen_from_a_worker())
        # Its start (~0.5 s: Python, DuckDB, pyarrow) is not the query's time.
        if not self.channel.poll(query.timeout + GRACE + (0 if self.started else 10)):
            self._kill()
            raise SqlError("timeout")
        try:
            reply = pickle.loads(self.channel.recv_bytes(MAX_ANSWER + 4096))
        except (EOFError, OSError):  # it died: a crash past its memory
            self._kill()
            raise SqlError("memory") from None
        self.started = True
        if isinstance(reply, SqlError):
            raise reply
        answer: Answer = reply
        return answer

    def _kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.channel.close()


def _serve(channel: Connection, memory: int) -> None:
    """A worker's life: one query after another until its server goes (its end of the pipe
    closes). A terminal's Ctrl+C reaches the whole process group: the server's to act on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    while True:
        try:
            query: Query = channel.recv()
        except EOFError:
            return
        try:
            reply: Answer | SqlError = _answer(query)
            data = pickle.dumps(reply)
        except SqlError as exc:
            data = pickle.dumps(exc)
        except MemoryError:
            data = pickle.dumps(SqlError("memory"))
        except Exception as exc:  # a value Python cannot hold (INTERVAL 100000000 YEAR)
            data = pickle.dumps(SqlError("invalid", f"{type(exc).__name__}: {exc}"))
        if len(data) > MAX_ANSWER:
            data = pickle.dumps(SqlError("too_large"))
        channel.send_bytes(data)


def _answer(query: Query) -> Answer:
    from .database import connect, create_view

    connection = connect(query.datasets)
    try:
        for resource_id, parquet in query.views.items():
            create_view(connection, resource_id, parquet)
        timer = threading.Timer(query.timeout, connection.interrupt)
        timer.start()
        try:
            cursor = connection.execute(query.sql)
            rows = cursor.fetchmany(query.max_rows)
            description = cursor.description or []
        finally:
            timer.cancel()
    except duckdb.InterruptException:
        raise SqlError("timeout") from None
    except duckdb.OutOfMemoryException:
        raise SqlError("memory") from None
    except duckdb.PermissionException as exc:
        raise SqlError("refused", str(exc)) from None
    except duckdb.Error as exc:
        raise SqlError("invalid", str(exc).splitlines()[0]) from None
    finally:
        connection.close()
    return Answer([str(d[0]) for d in description], [str(d[1]) for d in description], rows)
