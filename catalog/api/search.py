"""Japanese search over the catalog, column-wise with Arrow and NumPy, on the index that
`opendata build` wrote (catalog/api/index.py).

`q` and `fq` are parsed into a query tree (catalog/api/query.py: Solr's standard syntax as
CKAN clients send it) and the tree is evaluated a whole column at a time: each node gives a
score per dataset (0: no match), AND multiplies, OR adds, NOT complements.

A word is looked up by where its pairs of neighbouring characters occur: the places where
the first pair is followed by the second, the third… are exactly where the word is, so any
Japanese word matches — two characters long or ten, 「人権」 inside 「人権意識」 — which CKAN's
whitespace tokenizer cannot do, with no text read back. A one-character word scans every
row. Title hits rank above description hits. Field clauses (tags:, res_format:, …) are masks
over pre-coded values; facets are counted with bincount over the same codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .grams import Rows, intersect, pair_key, run_starts
from .index import read_index, starts_column
from .params import DEFAULT_SORT, FACETS
from .query import (
    FIELDS,
    All,
    And,
    Exact,
    Exists,
    Kind,
    Node,
    Not,
    Or,
    Prefix,
    QueryError,
    Range,
    Text,
    parse,
)

__all__ = ["QueryError", "SearchIndex", "SearchResult"]

LIST_FIELDS = {"tags", "groups", "res_format"}
SORTS = ("score", "metadata_modified", "name", "title_string")
# A text field → the folded column searched, and the column whose pairs find its candidates:
# the description has no pairs of its own, as the text holds it.
TEXT_COLUMNS = {"text": "text_key", "title": "title_key", "notes": "notes_key"}
PAIRS_OF = {"text_key": "text_key", "title_key": "title_key", "notes_key": "text_key"}


@dataclass
class SearchResult:
    count: int
    names: list[str]
    facets: dict[str, list[tuple[str, int]]]


class Pairs:
    """Where each pair of neighbouring characters occurs in a folded column (index.pair_table,
    memory-mapped), and so where any word of two or more characters does."""

    def __init__(self, table: pa.Table, row_starts: np.ndarray):
        offsets = table.column("offsets").combine_chunks()
        self._keys = np.frombuffer(
            table.column("pair").combine_chunks().buffers()[1], np.uint64, count=table.num_rows
        )
        self._bounds = _ints(offsets.offsets)
        self._offsets = np.frombuffer(offsets.values.buffers()[1], np.uint32)
        self._row_starts = row_starts

    def _at(self, key: np.uint64) -> Rows:
        at = int(np.searchsorted(self._keys, key))
        if at == len(self._keys) or self._keys[at] != key:
            return np.empty(0, dtype=np.int64)
        return self._offsets[self._bounds[at] : self._bounds[at + 1]].astype(np.int64)

    def rows(self, term: str) -> Rows | None:
        """The rows (ascending) whose text contains the term (None: one character, which
        has no pair)."""
        if len(term) < 2:
            return None
        # The i-th pair of the word lies i characters after its start.
        starts = [self._at(pair_key(ord(a), ord(b))) - i for i, (a, b) in enumerate(pairwise(term))]
        found = reduce(intersect, sorted(starts, key=len))
        rows = np.searchsorted(self._row_starts, found, side="right") - 1
        return rows[run_starts(rows)]


@dataclass
class Coded:
    """A facet's values as codes: for list fields one (row, code) pair per value."""

    values: list[str]
    rows: np.ndarray
    codes: np.ndarray

    def __post_init__(self) -> None:
        self.lookup = {value: code for code, value in enumerate(self.values)}


class SearchIndex:
    def __init__(self, table: pa.Table, pairs: dict[str, pa.Table]):
        self.table = table
        self.size = table.num_rows
        self.names = table.column("name").to_pylist()
        self._positions = {name: i for i, name in enumerate(self.names)}
        self._ids: dict[str, str] | None = None  # built on the first lookup by id
        self._modified = _ints(table.column("metadata_modified").cast(pa.int64()))
        self._titles: np.ndarray | None = None
        self._pairs = {
            column: Pairs(pairs[column], _ints(table.column(starts_column(column))))
            for column in pairs
        }
        self._coded = {field: _code(table.column(field), field in LIST_FIELDS) for field in FACETS}

    @classmethod
    def load(cls, site: Path) -> SearchIndex:
        return cls(*read_index(site))

    def resolve(self, name_or_id: str) -> str | None:
        if name_or_id in self._positions:
            return name_or_id
        return self.resolve_id(name_or_id)

    def resolve_id(self, package_id: str) -> str | None:
        if self._ids is None:
            self._ids = dict(zip(self.table.column("id").to_pylist(), self.names, strict=True))
        return self._ids.get(package_id)

    def dataset_of_resource(self, resource_id: str) -> str | None:
        ids = self.table.column("resource_ids")
        hits = np.flatnonzero(_mask(pc.equal(pc.list_flatten(ids), resource_id)))
        if not len(hits):
            return None
        return self.names[int(_ints(pc.list_parent_indices(ids))[hits[0]])]

    def search(
        self,
        q: str = "",
        fq: str = "",
        sort: str = DEFAULT_SORT,
        rows: int = 10,
        start: int = 0,
        facet_fields: list[str] | None = None,
        facet_limit: int = 50,
        facet_mincount: int = 1,
    ) -> SearchResult:
        score = self._score(q)
        keep = self._filter(fq) & (score > 0)
        positions = np.flatnonzero(keep)
        page = self._order(positions, score, sort, start + rows)[start : start + rows]
        facets = {
            field: self._facet(keep, field, facet_limit, facet_mincount)
            for field in facet_fields or []
        }
        return SearchResult(len(positions), [self.names[int(i)] for i in page], facets)

    def _matches(self, column: str, term: str, within: np.ndarray | None = None) -> np.ndarray:
        """Rows (ascending) whose folded column contains the term."""
        pairs_of = PAIRS_OF[column]
        rows = self._pairs[pairs_of].rows(term)
        if rows is None:  # one character: every row is a candidate
            rows = np.arange(self.size)
        if within is not None:
            rows = intersect(rows, within)
        if len(term) > 1 and pairs_of == column:
            return rows  # the pairs found the word itself: no check needed
        found = pc.match_substring(self.table.column(column).take(_arrow_ints(rows)), term)
        return rows[_mask(found)]

    def _score(self, q: str) -> np.ndarray:
        """0 for no match. A word scores 2 for a title hit and 1 for a hit elsewhere; AND
        multiplies, OR adds, a filter or NOT scores 1."""
        return self._evaluate(parse(q), {})

    def _filter(self, fq: str) -> np.ndarray:
        return self._evaluate(parse(fq), {}) > 0

    def _evaluate(self, node: Node, seen: dict[Text, np.ndarray]) -> np.ndarray:
        """The scores of a query tree, a whole column at a time (the depth is bounded by the
        parser); each distinct word is looked up once."""
        if isinstance(node, All):
            return np.ones(self.size, dtype=np.int64)
        if isinstance(node, And):
            score = self._evaluate(node.children[0], seen)
            for child in node.children[1:]:
                if not score.any():
                    break
                score = score * self._evaluate(child, seen)
            return score
        if isinstance(node, Or):
            total = np.zeros(self.size, dtype=np.int64)
            for child in node.children:
                total += self._evaluate(child, seen)
            return total
        if isinstance(node, Not):
            return (self._evaluate(node.child, seen) == 0).astype(np.int64)
        if isinstance(node, Text):
            if node not in seen:
                seen[node] = self._text(node)
            return seen[node]
        return self._leaf(node).astype(np.int64)

    def _text(self, node: Text) -> np.ndarray:
        if not node.term:  # nothing left after folding (「・」): no condition
            return np.ones(self.size, dtype=np.int64)
        score = np.zeros(self.size, dtype=np.int64)
        if node.field == "text":
            in_text = self._matches("text_key", node.term)
            score[in_text] = 1
            score[self._matches("title_key", node.term, within=in_text)] = 2
        else:
            column = self._text_column(node.field)
            score[self._matches(column, node.term)] = 2 if node.field == "title" else 1
        return score

    def _text_column(self, field: str) -> str:
        column = TEXT_COLUMNS[field]
        if column not in self.table.column_names:  # an index built before it had one
            raise QueryError(
                f"この索引には {field} がありません（opendata build で作り直してください）"
                f" / this index has no {field} (rebuild it with opendata build)"
            )
        return column

    def _leaf(self, node: Exact | Prefix | Exists | Range) -> np.ndarray:
        """The rows a field clause keeps, as a mask."""
        mask = np.zeros(self.size, dtype=bool)
        field = node.field
        if isinstance(node, Range):
            low, high = node.seconds()
            return (self._modified >= low) & (self._modified <= high)
        if isinstance(node, Exists):
            if field in self._coded:
                mask[self._coded[field].rows] = True
            elif FIELDS[field] is Kind.TEXT:
                mask[:] = _mask(pc.not_equal(self.table.column(self._text_column(field)), ""))
            else:  # name, id, metadata_modified: every dataset has one
                mask[:] = True
            return mask
        if field in ("name", "id"):
            if isinstance(node, Prefix):
                return _mask(pc.starts_with(self.table.column(field), node.prefix))
            name = node.value if field == "name" else self.resolve_id(node.value)
            if name is not None and name in self._positions:
                mask[self._positions[name]] = True
            return mask
        coded = self._coded[field]
        if isinstance(node, Prefix):
            codes = [i for i, v in enumerate(coded.values) if v.startswith(node.prefix)]
        else:
            code = coded.lookup.get(node.value)
            codes = [] if code is None else [code]
        if codes:
            mask[coded.rows[np.isin(coded.codes, codes)]] = True
        return mask

    def _order(
        self, positions: np.ndarray, score: np.ndarray, sort: str, needed: int
    ) -> np.ndarray:
        keys = []
        for part in (sort or "score desc").split(","):
            words = part.split()
            if len(words) != 2 or words[0] not in SORTS or words[1] not in ("asc", "desc"):
                raise QueryError(f"sort {part.strip()!r} is not one of {list(SORTS)} asc|desc")
            columns: dict[str, Callable[[], np.ndarray]] = {
                "score": lambda: score[positions],
                "metadata_modified": lambda: self._modified[positions],
                "name": lambda: positions,  # the index is sorted by name
                "title_string": lambda: self._title_ranks()[positions],
            }
            values = columns[words[0]]()
            keys.append(-values if words[1] == "desc" else values)
        keys.append(positions)  # ties in name order
        if len(positions) > 4 * needed and len(keys) > 1:
            # Only the first page is wanted: keep the rows that can reach it by the first key.
            cut = np.partition(keys[0], needed - 1)[needed - 1] if needed else keys[0].min()
            near = keys[0] <= cut
            positions, keys = positions[near], [k[near] for k in keys]
        return positions[np.lexsort(keys[::-1])]

    def _title_ranks(self) -> np.ndarray:
        if self._titles is None:
            titles = np.array(self.table.column("title").to_pylist(), dtype=object)
            self._titles = np.unique(titles, return_inverse=True)[1]
        return self._titles

    def _facet(
        self, keep: np.ndarray, field: str, limit: int, mincount: int
    ) -> list[tuple[str, int]]:
        if field not in FACETS:
            raise QueryError(f"facet.field {field!r} is not one of {list(FACETS)}")
        coded = self._coded[field]
        counts = np.bincount(coded.codes[keep[coded.rows]], minlength=len(coded.values))
        items = [(coded.values[i], int(n)) for i, n in enumerate(counts) if n >= mincount]
        items.sort(key=lambda item: (-item[1], item[0]))
        return items[:limit] if limit >= 0 else items


def _code(column: pa.ChunkedArray, is_list: bool) -> Coded:
    column = column.combine_chunks()
    values = pc.list_flatten(column) if is_list else column
    rows = _ints(pc.list_parent_indices(column)) if is_list else np.arange(len(column))
    encoded = values.dictionary_encode()
    return Coded(encoded.dictionary.to_pylist(), rows, _ints(encoded.indices))


# Arrow ↔ NumPy by buffers: pyarrow's own to_numpy() and pa.array() import pandas on first
# use, a third of a second that the server's start-up and first query need not pay.
_INTS = {pa.int32(): np.int32, pa.int64(): np.int64}


def _ints(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A null-free int32/int64 Arrow array as NumPy, without copying."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    dtype = np.dtype(_INTS[array.type])
    return np.frombuffer(
        array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize
    )


def _arrow_ints(values: np.ndarray) -> pa.Array:
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def _mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as NumPy (null is False)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    validity, values = array.buffers()[:2]
    window = slice(array.offset, array.offset + len(array))
    mask = np.unpackbits(np.frombuffer(values, dtype=np.uint8), bitorder="little")[window].astype(
        bool
    )
    if validity is not None and array.null_count:
        mask &= np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")[
            window
        ].astype(bool)
    return mask
