"""Japanese search over the catalog, column-wise with Arrow and NumPy, on the index that
`opendata build` wrote (catalog/api/index.py).

A query term is looked up by its bigrams (the rows having all of them); a longer term is then
confirmed by a substring test on those rows only, so any Japanese word matches — two characters long or ten,
「人権」 inside 「人権意識」 — which CKAN's whitespace tokenizer cannot do. A one-character term
scans every row. Title hits rank above description hits. Facets are counted with bincount over
pre-coded values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..text import bigrams, fold
from .index import read_index
from .params import DEFAULT_SORT, FACETS

LIST_FIELDS = {"tags", "groups", "res_format"}
FILTER_FIELDS = {*FACETS, "name", "metadata_modified"}
SORTS = ("score", "metadata_modified", "name", "title_string")
MAX_CLAUSES = 20
MAX_TERMS = 10  # distinct words of q: each costs a look-up, a one-character one a full scan
# One clause at a given position; no part can backtrack into another, so parsing is linear.
CLAUSE = re.compile(r'([^\s:]+):("[^"]*"|\[[^\]]*\]|\S+)')


class QueryError(ValueError):
    """A query the index cannot run (CKAN's 'Search Query Error')."""


@dataclass
class SearchResult:
    count: int
    names: list[str]
    facets: dict[str, list[tuple[str, int]]]


class Postings:
    """A bigram → rows index, as memory-mapped Arrow lists."""

    def __init__(self, table: pa.Table):
        rows = table.column("rows").combine_chunks()
        self._rows = _ints(rows.values)
        self._offsets = _ints(rows.offsets)
        self._grams = {g: i for i, g in enumerate(table.column("bigram").to_pylist())}

    def _list(self, gram: str) -> np.ndarray:
        index = self._grams.get(gram)
        if index is None:
            return np.empty(0, dtype=np.int32)
        return self._rows[self._offsets[index] : self._offsets[index + 1]]

    def rows(self, term: str) -> np.ndarray | None:
        """Rows having every bigram of the term (None: too short to look up)."""
        if len(term) < 2:
            return None
        lists = sorted((self._list(g) for g in bigrams(term)), key=len)
        found = lists[0]
        for other in lists[1:]:
            if not len(found):
                break
            found = np.intersect1d(found, other, assume_unique=True)
        return found


@dataclass
class Coded:
    """A facet's values as codes: for list fields one (row, code) pair per value."""

    values: list[str]
    rows: np.ndarray
    codes: np.ndarray


class SearchIndex:
    def __init__(self, table: pa.Table, grams: dict[str, pa.Table]):
        self.table = table
        self.size = table.num_rows
        self.names = table.column("name").to_pylist()
        self._positions = {name: i for i, name in enumerate(self.names)}
        self._ids: dict[str, str] | None = None  # built on the first lookup by id
        self._modified = _ints(table.column("metadata_modified").cast(pa.int64()))
        self._titles: np.ndarray | None = None
        self._postings = {column: Postings(table) for column, table in grams.items()}
        self._coded = {field: _code(table.column(field), field in LIST_FIELDS) for field in FACETS}

    @classmethod
    def load(cls, site: Path) -> SearchIndex:
        return cls(*read_index(site))

    def resolve(self, name_or_id: str) -> str | None:
        if name_or_id in self._positions:
            return name_or_id
        if self._ids is None:
            self._ids = dict(zip(self.table.column("id").to_pylist(), self.names, strict=True))
        return self._ids.get(name_or_id)

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
        rows = self._postings[column].rows(term)
        if rows is None:  # one character: every row is a candidate
            rows = np.arange(self.size)
        if within is not None:
            rows = np.intersect1d(rows, within, assume_unique=True)
        if len(term) == 2:
            return rows  # a two-character term is its own bigram: no check needed
        found = pc.match_substring(self.table.column(column).take(_arrow_ints(rows)), term)
        return rows[_mask(found)]

    def _score(self, q: str) -> np.ndarray:
        """0 for no match; per term, 2 for a title hit and 1 for a hit elsewhere."""
        score = np.ones(self.size, dtype=np.int64)
        terms = list(
            dict.fromkeys(filter(None, (fold(t) for t in q.split() if t not in ("*:*", "*"))))
        )
        if len(terms) > MAX_TERMS:
            raise QueryError(f"q の語は {MAX_TERMS} 語までです / q is limited to {MAX_TERMS} words")
        for term in terms:
            in_text = self._matches("text_key", term)
            in_title = self._matches("title_key", term, within=in_text)
            term_score = np.zeros(self.size, dtype=np.int64)
            term_score[in_text] = 1
            term_score[in_title] = 2
            score *= term_score
        return score

    def _filter(self, fq: str) -> np.ndarray:
        keep = np.ones(self.size, dtype=bool)
        for field, value in parse_fq(fq or ""):
            negate = field.startswith("-")
            field = field.lstrip("+-")
            if field not in FILTER_FIELDS:
                raise QueryError(f"fq field {field!r} is not one of {sorted(FILTER_FIELDS)}")
            mask = self._clause(field, value.strip('"'))
            keep &= ~mask if negate else mask
        return keep

    def _clause(self, field: str, value: str) -> np.ndarray:
        if field == "metadata_modified":
            low, high = _range(value)
            return (self._modified >= low) & (self._modified <= high)
        if field == "name":
            mask = np.zeros(self.size, dtype=bool)
            if value in self._positions:
                mask[self._positions[value]] = True
            return mask
        coded = self._coded[field]
        mask = np.zeros(self.size, dtype=bool)
        if value in coded.values:
            mask[coded.rows[coded.codes == coded.values.index(value)]] = True
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


def parse_fq(fq: str) -> list[tuple[str, str]]:
    """fq's clauses (field, value) in one pass, left to right: FIELD:VALUE with the value a
    "quoted string", a [range] or a word, clauses apart by spaces or AND."""
    clauses: list[tuple[str, str]] = []
    position = 0
    while True:
        while position < len(fq) and fq[position].isspace():
            position += 1
        if position == len(fq):
            return clauses
        if fq.startswith("AND", position) and fq[position + 3 : position + 4].isspace():
            position += 3
            continue
        match = CLAUSE.match(fq, position)
        if match is None:
            shown = fq[position : position + 40]
            raise QueryError(f"fq の書式が読めません / cannot parse fq: {shown!r}")
        clauses.append((match.group(1), match.group(2)))
        if len(clauses) > MAX_CLAUSES:
            raise QueryError(f"fq clauses are limited to {MAX_CLAUSES}")
        position = match.end()


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


def _range(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"\[\s*(\S+)\s+TO\s+(\S+)\s*\]", value)
    if not match:
        raise QueryError(f"metadata_modified wants [FROM TO TO]: {value!r}")
    return _time(match.group(1), low=True), _time(match.group(2), low=False)


def _time(text: str, low: bool) -> int:
    """Seconds since the epoch, as the index stores modification times."""
    if text == "*":
        return -(2**62) if low else 2**62
    if text.upper() == "NOW":
        return int(datetime.now(UTC).timestamp())
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(f"not a time: {text!r}") from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp())
