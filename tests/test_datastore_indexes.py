"""`q` answered by the in-memory n-gram index (catalog/api/textindex.py) finds exactly the rows a
plain substring scan of the folded text finds — full-/half-width variants, several words,
with filters and a sort, per field, words whose pairs of characters all occur apart — over a
real build, in chunks much smaller than a row group so that the chunks' seams are crossed;
filters answered by the value index (catalog/api/valueindex.py) find what the scan finds."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from catalog.api import datastore, textindex, valueindex
from catalog.api.datastore import DataStore, Search, Table, tables_of
from catalog.text import fold

from conftest import PUBLISHABLE, errors_of, report, write_dataset

NAMES = [
    "芝浦港南公園", "芝浦と浦港", "ＷｉＦｉスポット", "Wi-Fi スポット", "ﾐﾅﾄ図書館", "ミナト図書館",
    "港区立　芝公園", "No.１２３－４", "Café ÉCOLE", "赤坂", "",
]  # fmt: skip
KINDS = ["公園", "図書館", "ｽﾎﾟｰﾂ施設", ""]
QUERIES: list[str | dict[str, str]] = [
    "芝", "芝浦", "芝浦港", "ｗｉｆｉ", "Wi-Fi", "ミナト", "ﾐﾅﾄ 図書", "芝 公園", "123-4",
    "café", "公園¦", "存在しない", "ー", {"name": "芝浦港"}, {"name": "ミナト", "kind": "図書館"},
    {"n": "7"},
]  # fmt: skip
ROWS = 600


def _rows() -> list[dict[str, Any]]:
    pick = random.Random(7)
    return [
        {
            "n": i,
            "name": pick.choice(NAMES) + pick.choice(["", "1号館", " 分館"]),
            "kind": pick.choice(KINDS),
            "area": pick.choice([None, 10.5, 20.0, 35.25]),
            "opened": pick.choice(["2024-04-01", "1999-12-31", ""]),
            "open": pick.choice(["true", "false", ""]),
        }
        for i in range(1, ROWS + 1)
    ]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Table, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("ledger")
    rows = _rows()
    lines = "".join(
        f"{r['n']},{r['name']},{r['kind']},{'' if r['area'] is None else r['area']},"
        f"{r['opened']},{r['open']}\n"
        for r in rows
    )
    fields = [
        {"name": "n", "title": "番号", "type": "integer"},
        {"name": "name", "title": "名称", "type": "string"},
        {"name": "kind", "title": "種類", "type": "string"},
        {"name": "area", "title": "面積", "type": "number"},
        {"name": "opened", "title": "開設日", "type": "date"},
        {"name": "open", "title": "開館中", "type": "boolean"},
    ]
    definition = PUBLISHABLE | {
        "name": "ledger",
        "resources": [{"name": "ledger", "path": "ledger.csv", "schema": {"fields": fields}}],
    }
    write_dataset(root, definition, {"ledger.csv": "番号,名称,種類,面積,開設日,開館中\n" + lines})
    site = root / "dist"
    code, result = report("build", "--datasets", str(root / "datasets"), "--out", str(site))
    assert code == 0, errors_of(result)
    package = json.loads((site / "datasets/ledger/package.json").read_text(encoding="utf-8"))
    return site, next(iter(tables_of(site, "ledger", package).values())), rows


def _search(store: DataStore, table: Table, **given: Any) -> dict[str, Any]:
    query = Search(
        **{
            "filters": {},
            "q": "",
            "distinct": False,
            "fields": None,
            "sort": [],
            "limit": ROWS,
            "offset": 0,
            "include_total": True,
            "records_format": "objects",
            "links": {},
            "given": {},
            **given,
        }
    )
    return store.search(table, query)


def _scanned(site: Path, table: Table, q: str | dict[str, str]) -> list[dict[str, Any]]:
    """The published rows a substring scan finds: every word, folded, in the folded text (the
    text columns joined by ¦, as the DataStore joins them, or the one field's text)."""
    import pyarrow.parquet as pq

    rows = pq.read_table(table.parquet).to_pylist()
    words = [(None, w) for w in q.split()] if isinstance(q, str) else [
        (name, w) for name, text in q.items() for w in text.split()
    ]  # fmt: skip

    def text(row: dict[str, Any], name: str | None) -> str:
        if name is None:
            return text(row, "name") + "¦" + text(row, "kind")
        return "" if row[name] is None else str(row[name])

    return [
        {"_id": i, **{k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}}
        for i, row in enumerate(rows, start=1)
        if all(fold(w) in fold(text(row, name)) for name, w in words)
    ]


@pytest.fixture
def store(ledger, monkeypatch: pytest.MonkeyPatch) -> DataStore:
    monkeypatch.setattr(datastore, "CHUNK_ROWS", 64)  # ten chunks: their seams are crossed
    return DataStore(ledger[0])


@pytest.mark.parametrize("q", QUERIES, ids=str)
def test_q_finds_what_a_substring_scan_finds(ledger, store: DataStore, q) -> None:
    site, table, _ = ledger
    expected = _scanned(site, table, q)
    result = _search(store, table, q=q)
    assert [r["_id"] for r in result["records"]] == [r["_id"] for r in expected]
    assert result["records"] == expected and result["total"] == len(expected)


def test_a_word_whose_pairs_occur_apart_is_not_found_where_it_is_not(ledger, store) -> None:
    """「芝浦と浦港」 holds 芝浦 and 浦港, not 芝浦港: the candidates are confirmed."""
    table = ledger[1]
    found = {r["name"] for r in _search(store, table, q="芝浦港")["records"]}
    assert found and all("芝浦港" in name for name in found)
    assert any("芝浦と浦港" in r["name"] for r in _search(store, table, q="浦港")["records"])


@pytest.mark.parametrize("q", ["芝", "ﾐﾅﾄ 図書", {"name": "公園"}], ids=str)
def test_q_with_filters_a_sort_and_pages(ledger, store: DataStore, q) -> None:
    site, table, _ = ledger
    rows = [r for r in _scanned(site, table, q) if r["kind"] in ("公園", "図書館")]
    rows.sort(key=lambda r: (r["area"] is None, -(r["area"] or 0), r["_id"]))
    given = {"filters": {"kind": ["公園", "図書館"]}, "sort": [("area", True)]}
    result = _search(store, table, q=q, offset=3, limit=20, **given)
    assert [r["_id"] for r in result["records"]] == [r["_id"] for r in rows[3:23]]
    assert result["total"] == len(rows)


def test_q_alone_pages_from_the_index(ledger, store: DataStore) -> None:
    site, table, _ = ledger
    expected = [r["_id"] for r in _scanned(site, table, "芝")]
    for offset in (0, 7, len(expected) - 3, len(expected) + 5):
        result = _search(store, table, q="芝", offset=offset, limit=10)
        assert [r["_id"] for r in result["records"]] == expected[offset : offset + 10]
        assert result["total"] == len(expected)
    unsized = _search(store, table, q="芝", limit=5, include_total=False)
    assert "total" not in unsized and len(unsized["records"]) == 5
    distinct = _search(store, table, q="芝", distinct=True, fields=["kind"])
    assert {r["kind"] for r in distinct["records"]} == {
        r["kind"] for r in _scanned(site, table, "芝")
    }


def test_text_too_large_to_index_is_scanned_alike(ledger, monkeypatch) -> None:
    site, table, _ = ledger
    indexed = [_search(DataStore(site), table, q=q)["records"] for q in QUERIES]
    monkeypatch.setattr(textindex, "MAX_TEXT_BYTES", 0)
    scanning = DataStore(site)
    assert [_search(scanning, table, q=q)["records"] for q in QUERIES] == indexed
    assert scanning._text_index(table, "name") is None


def test_an_index_is_built_once_however_many_ask_at_once() -> None:
    built: list[int] = []
    gate = threading.Event()

    def build() -> int:
        gate.wait(5)
        built.append(1)
        return len(built)

    once: textindex.BuiltOnce[str, int] = textindex.BuiltOnce()
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda: answers.append(once.get("r", build))) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join()
    assert built == [1] and answers == [1] * 6


FILTERS: list[dict[str, Any]] = [
    {"kind": "公園"}, {"kind": ["公園", "図書館"]}, {"kind": "ｽﾎﾟｰﾂ施設"}, {"kind": None},
    {"area": 20}, {"area": "20.0"}, {"area": [None, 10.5]}, {"area": "広い"}, {"n": [1, "2", 600]},
    {"opened": "2024-04-01"}, {"open": True}, {"open": "false"}, {"kind": "公園", "area": 35.25},
    {"kind": []},
]  # fmt: skip


@pytest.mark.parametrize("filters", FILTERS, ids=str)
def test_indexed_filters_find_what_the_scan_finds(ledger, monkeypatch, filters) -> None:
    site, table, _ = ledger
    asked: list[dict[str, Any]] = [
        {"filters": filters},
        {"filters": filters, "q": "芝", "offset": 2, "limit": 30},
        {"filters": filters, "sort": [("area", True)], "limit": 50},
        {"filters": filters, "distinct": True, "fields": ["kind"]},
    ]

    def answers(store: DataStore) -> list[dict[str, Any]]:
        found = [_search(store, table, **given) for given in asked]
        found[-1]["records"].sort(key=str)  # DISTINCT without a sort: in no particular order
        return found

    indexed = answers(DataStore(site))
    monkeypatch.setattr(valueindex, "MAX_DISTINCT", -1)  # nothing indexed: all scanned
    monkeypatch.setattr(textindex, "MAX_TEXT_BYTES", -1)
    assert answers(DataStore(site)) == indexed
    assert indexed[0]["total"] == len(indexed[0]["records"])


def test_indexed_and_scanned_conditions_together_page_in_id_order(ledger, monkeypatch) -> None:
    """`q` indexed, the filters scanned (more values than MAX_DISTINCT): the index's `_id`s join
    the scan — a join DuckDB may run with the file's side hashed — and the page is still the
    rows in file order."""
    site, table, _ = ledger
    given = {"filters": {"opened": "2024-04-01"}, "q": "芝", "offset": 2, "limit": 30}
    monkeypatch.setattr(valueindex, "MAX_DISTINCT", 1)
    mixed = _search(DataStore(site), table, **given)
    monkeypatch.setattr(valueindex, "MAX_DISTINCT", -1)
    monkeypatch.setattr(textindex, "MAX_TEXT_BYTES", -1)
    assert mixed == _search(DataStore(site), table, **given)
    ids = [r["_id"] for r in mixed["records"]]
    assert ids == sorted(ids) and len(ids) > 2


def test_past_the_index_memory_budget_conditions_are_scanned_alike(ledger, monkeypatch) -> None:
    site, table, _ = ledger
    given = {"filters": {"kind": "公園"}, "q": "芝 公園", "offset": 1, "limit": 20}
    first = DataStore(site)
    indexed = _search(first, table, **given)
    assert first._index_bytes > 0
    monkeypatch.setattr(datastore, "INDEX_MEMORY", first._index_bytes)  # spent: none more
    second = DataStore(site)
    second._index_bytes = first._index_bytes
    assert _search(second, table, **given) == indexed
    assert second._index_bytes == first._index_bytes
    assert second._text_index(table, "name") is None and second._value_index(table, "n") is None


SORTS = [(name, descending) for name in ("n", "name", "kind", "area", "opened", "open", "_id") for descending in (False, True)]  # fmt: skip


@pytest.mark.parametrize(("column", "descending"), SORTS, ids=str)
def test_a_sorted_page_from_held_rows_is_duckdbs_page(
    ledger, monkeypatch, column, descending
) -> None:
    """A one-field sort with no condition or only indexed ones is paged from the rows held in
    memory; the pages and totals are those of DuckDB's `ORDER BY … NULLS LAST, _id` (nothing
    held: INDEX_MEMORY 0)."""
    site, table, _ = ledger
    sort = {"sort": [(column, descending)]}
    asked: list[dict[str, Any]] = [
        {**sort, "limit": 25, "offset": 0},
        {**sort, "limit": 40, "offset": 37},
        {**sort, "limit": 10, "offset": ROWS - 5},
        {**sort, "filters": {"kind": ["公園", ""]}, "offset": 3, "limit": 50},
        {**sort, "q": "芝", "offset": 1, "limit": 30, "fields": ["name", "area"]},
        {**sort, "q": "存在しない"},
    ]
    held = DataStore(site)
    answers = [_search(held, table, **given) for given in asked]
    assert held._held_rows(table) is not None and held._sort_orders._values
    monkeypatch.setattr(datastore, "INDEX_MEMORY", 0)
    scanning = DataStore(site)
    assert [_search(scanning, table, **given) for given in asked] == answers
    assert scanning._held_rows(table) is None


def test_a_sort_order_places_nan_and_null_as_duckdb_does() -> None:
    import duckdb
    import numpy as np
    import pyarrow as pa

    from catalog.api.heldrows import HeldRows, SortOrder

    values = [1.0, float("nan"), None, 3.0, 1.0, float("nan"), None, 2.0, -0.0, 0.0]
    rows = pa.table({"_id": np.arange(1, len(values) + 1), "v": pa.array(values, pa.float64())})
    held = HeldRows.hold(rows)
    for descending in (False, True):
        way = "DESC" if descending else "ASC"
        expected = duckdb.sql(f"SELECT _id FROM rows ORDER BY v {way} NULLS LAST, _id").fetchall()
        order = SortOrder.build(held, "v", descending)
        assert order.ids(None).tolist() == [i for (i,) in expected]
        assert order.ids(np.array([2, 3, 4, 9])).tolist() == [
            i for (i,) in expected if i in (2, 3, 4, 9)
        ]
