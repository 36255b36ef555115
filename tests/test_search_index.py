"""The catalog search index finds a word by where its pairs of characters occur
(catalog/api/index.py writes them, catalog/api/search.py lines them up): exactly the rows a
substring scan finds, for words of any length, and never a word that runs across two rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog import paths
from catalog.api.grams import code_points, pair_starts
from catalog.api.index import IndexRows, _grouped_pairs, pair_table, starts_column
from catalog.api.search import Pairs

from conftest import opendata

# Few letters, so that words repeat, overlap and straddle rows; one beyond the BMP.
LETTERS = "あいう子育てab\U00020b9f"
texts = st.lists(st.text(LETTERS, max_size=12), min_size=1, max_size=30)
words = st.text(LETTERS, min_size=2, max_size=5)


def pairs_of(rows: list[str]) -> Pairs:
    """The pairs of these rows, read as the search reads the index (IndexRows' row starts)."""
    index = IndexRows()
    for at, row in enumerate(rows):
        index.add(_package(f"{at:04d}", row), [])
    table = index.table()
    return Pairs(
        pair_table(table, "title_key"), table.column(starts_column("title_key")).to_numpy()
    )


def _package(name: str, title: str) -> dict[str, object]:
    """A CKAN package dict with just what the index reads (its title folds to itself)."""
    return {"name": name, "id": name, "title": title, "notes": "", "tags": [], "groups": [],
            "organization": {"name": "o"}, "resources": [], "license_id": "cc-by-4.0"}  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(texts, st.lists(words, min_size=1, max_size=5))
def test_a_word_is_found_in_exactly_the_rows_that_contain_it(
    rows: list[str], terms: list[str]
) -> None:
    index = pairs_of(rows)
    for term in [*terms, *(row[1:4] for row in rows if len(row) >= 3)]:
        found = index.rows(term)
        assert found is not None
        assert found.tolist() == [i for i, row in enumerate(rows) if term in row], term


def test_a_word_across_two_rows_is_not_found() -> None:
    index = pairs_of(["公園あ", "いう", "", "保育園"])
    assert index.rows("あい").tolist() == []
    assert index.rows("園あい").tolist() == []
    assert index.rows("育園").tolist() == [3]
    assert index.rows("公園あ").tolist() == [0]
    assert index.rows("公") is None  # one character: no pair to look up


@settings(max_examples=100, deadline=None)
@given(texts)
def test_the_packed_sort_and_the_plain_one_agree(rows: list[str]) -> None:
    points, lengths = code_points(pa.array(rows, pa.string()))
    starts_pair = pair_starts(lengths)
    packed = _grouped_pairs(points, starts_pair)
    plain = _grouped_pairs(points, starts_pair, packed=False)
    for ours, theirs in zip(packed, plain, strict=True):
        assert ours.tolist() == theirs.tolist()


def test_serve_on_an_index_of_an_older_version_says_to_rebuild(
    built_site: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(built_site / "api", site / "api")
    (site / paths.SEARCH_PAIRS["text_key"]).unlink()  # as an index with bigrams only
    ran = opendata("serve", "--site", str(site), "--port", "0")
    assert ran.returncode == 1
    assert "opendata build" in ran.stderr and "older version" in ran.stderr


def test_an_index_of_no_datasets_is_empty_not_an_error() -> None:
    table = IndexRows().table()
    assert table.num_rows == 0 and pair_table(table, "text_key").num_rows == 0
