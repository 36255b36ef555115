"""The same 100,000 datasets served by Datasette, as a user would pick it for a searchable
catalog: one SQLite table with an FTS5 index (the `trigram` tokenizer, the one that finds a
Japanese word inside a text), facets by Datasette's `_facet` and `_facet_array`.

Datasette gets the folded text our index searches, so both answer the same question; words of
three or more characters go to `_search` (FTS5), shorter ones — which a trigram index cannot
look up — to `_where=text_key LIKE '%word%'`. bench_serve.py checks that both count the same
datasets for every query before it times them.

    make .venv-datasette/.ok   # Datasette 0.65 in its own venv (benchmarks only)
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pyarrow.compute as pc

from catalog.api.index import read_index
from catalog.text import fold

DATASETTE = Path(__file__).parent.parent / ".venv-datasette" / "bin" / "datasette"
LISTS = ("tags", "groups", "res_format")
SINGLE = ("organization", "license_id")
TRIGRAM = 3  # the shortest word FTS5's trigram tokenizer can look up


def database(site: Path) -> Path:
    """`site`'s search index as a SQLite database with an FTS5 trigram index (made once)."""
    path = site.with_suffix(".db")
    if path.exists():
        return path
    table, _ = read_index(site)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with sqlite3.connect(partial) as db:
        db.execute(
            "CREATE TABLE datasets (name TEXT PRIMARY KEY, title TEXT, text_key TEXT,"
            " tags TEXT, groups TEXT, res_format TEXT, organization TEXT, license_id TEXT)"
        )
        columns = {c: table.column(c).to_pylist() for c in ("name", "title", "text_key")}
        for c in (*LISTS, *SINGLE):
            values = table.column(c).to_pylist()
            columns[c] = (
                [json.dumps(v, ensure_ascii=False) for v in values] if c in LISTS else values
            )
        names = ("name", "title", "text_key", *LISTS, *SINGLE)
        db.executemany(
            f"INSERT INTO datasets VALUES ({', '.join('?' * len(names))})",
            zip(*(columns[n] for n in names), strict=True),
        )
        db.execute(
            # content="datasets" in double quotes: how Datasette finds a table's FTS index
            'CREATE VIRTUAL TABLE datasets_fts USING fts5(text_key, content="datasets",'
            " tokenize='trigram')"
        )
        db.execute("INSERT INTO datasets_fts(datasets_fts) VALUES ('rebuild')")
        for c in SINGLE:
            db.execute(f"CREATE INDEX datasets_{c} ON datasets({c})")
    partial.rename(path)
    return path


def start(db: Path, port: int) -> subprocess.Popen[bytes]:
    """`datasette serve` on the database, with time limits that let every facet finish (its
    defaults would cut facets short after 200 ms and report them as timed out)."""
    process = subprocess.Popen(
        [
            str(DATASETTE),
            "serve",
            str(db),
            "--port",
            str(port),
            "--setting",
            "sql_time_limit_ms",
            "60000",
            "--setting",
            "facet_time_limit_ms",
            "60000",
            "--setting",
            "num_sql_threads",
            "4",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json", timeout=1)
            return process
        except OSError:
            time.sleep(0.05)


def search_path(db: Path, q: str) -> str:
    """Datasette's URL for our `package_search?q=…` with the five facets and 10 rows."""
    words = [fold(w) for w in q.split()]
    params = [("_size", "10"), ("_facet", "organization"), ("_facet", "license_id")]
    params += [("_facet_array", c) for c in LISTS]
    long_words = [w for w in words if len(w) >= TRIGRAM]
    if long_words:
        params.append(("_search", " ".join(long_words)))
    params += [("_where", f"text_key LIKE '%{w}%'") for w in words if len(w) < TRIGRAM]
    return f"/{db.stem}/datasets.json?" + urllib.parse.urlencode(params)


def count(port: int, path: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120) as response:
        return int(json.loads(response.read())["filtered_table_rows_count"])


def expected_count(site: Path, q: str) -> int:
    """The datasets whose folded text holds every word: what both servers must count."""
    table, _ = read_index(site)
    keep = None
    for word in (fold(w) for w in q.split()):
        found = pc.match_substring(table.column("text_key"), word)
        keep = found if keep is None else pc.and_(keep, found)
    return int(pc.sum(keep).as_py() or 0)
