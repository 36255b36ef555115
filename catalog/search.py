"""Japanese search over the catalog, column-wise with Arrow.

`opendata build` writes `dist/api/index.parquet`: one row per dataset with its folded title and
folded text (NFKC, lower case, no spaces or hyphens — the same folding as the site's search),
facet values as lists, and the modification time. A query is a substring scan of those two
columns, so any Japanese word matches, two characters long or ten (「人権」 inside 「人権意識」),
which CKAN's whitespace tokenizer cannot do. Title hits rank above description hits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .site import fold

INDEX = Path("api") / "index.parquet"
FACETS = ("tags", "organization", "groups", "res_format", "license_id")
LIST_FIELDS = {"tags", "groups", "res_format"}
FILTER_FIELDS = {*FACETS, "name", "metadata_modified"}
SORTS = ("score", "metadata_modified", "name", "title_string")
MAX_CLAUSES = 20


class QueryError(ValueError):
    """A query the index cannot run (CKAN's 'Search Query Error')."""


def index_table(packages: list[dict[str, Any]], field_titles: dict[str, list[str]]) -> pa.Table:
    """The search index of these CKAN package dicts (and their fields' Japanese titles)."""

    def text(p: dict[str, Any]) -> str:
        extras = {e["key"]: e["value"] for e in p["extras"]}
        return " ".join(
            [
                p["title"],
                p.get("notes") or "",
                extras.get("title_en", ""),
                *(t["name"] for t in p["tags"]),
                *(r["name"] for r in p["resources"]),
                *field_titles.get(p["name"], []),
            ]
        )

    return pa.table(
        {
            "name": [p["name"] for p in packages],
            "id": [p["id"] for p in packages],
            "title": [p["title"] for p in packages],
            "title_key": [fold(p["title"]) for p in packages],
            "text_key": [fold(text(p)) for p in packages],
            "tags": [[t["name"] for t in p["tags"]] for p in packages],
            "groups": [[g["name"] for g in p["groups"]] for p in packages],
            "organization": [p["organization"]["name"] for p in packages],
            "res_format": [sorted({r["format"] for r in p["resources"]}) for p in packages],
            "license_id": [p["license_id"] for p in packages],
            "metadata_modified": pa.array(
                [datetime.fromisoformat(p["metadata_modified"]) for p in packages],
                pa.timestamp("s", tz="UTC"),
            ),
            "resource_ids": [[r["id"] for r in p["resources"]] for p in packages],
        }
    ).sort_by("name")


def write_index(
    site: Path, packages: list[dict[str, Any]], field_titles: dict[str, list[str]]
) -> None:
    path = site / INDEX
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(index_table(packages, field_titles), path, compression="zstd")


@dataclass
class SearchResult:
    count: int
    names: list[str]
    facets: dict[str, list[tuple[str, int]]]


class SearchIndex:
    def __init__(self, table: pa.Table):
        self.table = table
        self.names = table.column("name").to_pylist()
        self._positions = {name: i for i, name in enumerate(self.names)}
        self._ids = dict(zip(table.column("id").to_pylist(), self.names, strict=True))
        self._modified = table.column("metadata_modified").cast(pa.int64()).to_numpy()
        self._titles: np.ndarray | None = None

    @classmethod
    def load(cls, site: Path) -> SearchIndex:
        return cls(pq.read_table(site / INDEX))

    def resolve(self, name_or_id: str) -> str | None:
        return name_or_id if name_or_id in self._positions else self._ids.get(name_or_id)

    def dataset_of_resource(self, resource_id: str) -> str | None:
        ids = self.table.column("resource_ids")
        found = pc.is_in(pc.list_flatten(ids), value_set=pa.array([resource_id]))
        hits = np.flatnonzero(found.to_numpy(zero_copy_only=False))
        if not len(hits):
            return None
        parents = pc.list_parent_indices(ids).to_numpy()
        return self.names[int(parents[hits[0]])]

    def search(
        self,
        q: str = "",
        fq: str = "",
        sort: str = "score desc, metadata_modified desc",
        rows: int = 10,
        start: int = 0,
        facet_fields: list[str] | None = None,
        facet_limit: int = 50,
        facet_mincount: int = 1,
    ) -> SearchResult:
        keep = self._filter(fq)
        score = self._score(q)
        keep &= score > 0
        positions = np.flatnonzero(keep)
        order = self._order(positions, score, sort)
        page = order[start : start + rows]
        facets = {
            field: self._facet(positions, field, facet_limit, facet_mincount)
            for field in facet_fields or []
        }
        return SearchResult(len(positions), [self.names[int(i)] for i in page], facets)

    def _score(self, q: str) -> np.ndarray:
        """0 for no match; per term, 2 for a title hit and 1 for a hit elsewhere."""
        score = np.ones(self.table.num_rows, dtype=np.int64)
        terms = [fold(term) for term in q.split() if term not in ("*:*", "*")]
        for term in filter(None, terms):
            in_title = pc.match_substring(self.table.column("title_key"), term).to_numpy(
                zero_copy_only=False
            )
            in_text = pc.match_substring(self.table.column("text_key"), term).to_numpy(
                zero_copy_only=False
            )
            score = score * np.where(in_title, 2, np.where(in_text, 1, 0))
        return score

    def _filter(self, fq: str) -> np.ndarray:
        keep = np.ones(self.table.num_rows, dtype=bool)
        clauses = re.findall(r'(\S+?):("[^"]*"|\[[^\]]*\]|\S+)', fq or "")
        leftover = (
            re.sub(r'(\S+?):("[^"]*"|\[[^\]]*\]|\S+)', "", fq or "").replace("AND", "").strip()
        )
        if leftover:
            raise QueryError(f"fq の書式が読めません / cannot parse fq: {leftover!r}")
        if len(clauses) > MAX_CLAUSES:
            raise QueryError(f"fq clauses are limited to {MAX_CLAUSES}")
        for field, value in clauses:
            negate = field.startswith("-")
            field = field.lstrip("+-")
            if field not in FILTER_FIELDS:
                raise QueryError(f"fq field {field!r} is not one of {sorted(FILTER_FIELDS)}")
            mask = self._clause(field, value.strip('"'))
            keep &= ~mask if negate else mask
        return keep

    def _clause(self, field: str, value: str) -> np.ndarray:
        column = self.table.column(field)
        if field == "metadata_modified":
            low, high = _range(value)
            return pc.and_(pc.greater_equal(column, low), pc.less_equal(column, high)).to_numpy(
                zero_copy_only=False
            )
        if field in LIST_FIELDS:
            flat = pc.is_in(pc.list_flatten(column), value_set=pa.array([value]))
            mask = np.zeros(self.table.num_rows, dtype=bool)
            parents = pc.list_parent_indices(column).to_numpy()
            mask[parents[flat.to_numpy(zero_copy_only=False)]] = True
            return mask
        return pc.equal(column, value).to_numpy(zero_copy_only=False)

    def _order(self, positions: np.ndarray, score: np.ndarray, sort: str) -> np.ndarray:
        keys = []
        for part in (sort or "score desc").split(","):
            words = part.split()
            if len(words) != 2 or words[0] not in SORTS or words[1] not in ("asc", "desc"):
                raise QueryError(f"sort {part.strip()!r} is not one of {sorted(SORTS)} asc|desc")
            values = {
                "score": lambda: score[positions],
                "metadata_modified": lambda: self._modified[positions],
                "name": lambda: positions,  # the index is sorted by name
                "title_string": lambda: self._title_ranks()[positions],
            }[words[0]]()
            keys.append(-values if words[1] == "desc" else values)
        keys.append(positions)  # ties in name order
        return positions[np.lexsort(keys[::-1])]

    def _title_ranks(self) -> np.ndarray:
        if self._titles is None:
            self._titles = np.unique(
                self.table.column("title").to_numpy(zero_copy_only=False), return_inverse=True
            )[1]
        return self._titles

    def _facet(
        self, positions: np.ndarray, field: str, limit: int, mincount: int
    ) -> list[tuple[str, int]]:
        if field not in FACETS:
            raise QueryError(f"facet.field {field!r} is not one of {list(FACETS)}")
        column = self.table.column(field).take(pa.array(positions))
        values = pc.list_flatten(column) if field in LIST_FIELDS else column
        counts = pc.value_counts(values).to_pylist() if len(values) else []
        items = sorted(
            ((c["values"], c["counts"]) for c in counts if c["counts"] >= mincount),
            key=lambda x: (-x[1], x[0]),
        )
        return items[:limit] if limit >= 0 else items


def _range(value: str) -> tuple[pa.Scalar, pa.Scalar]:
    match = re.fullmatch(r"\[\s*(\S+)\s+TO\s+(\S+)\s*\]", value)
    if not match:
        raise QueryError(f"metadata_modified wants [FROM TO TO]: {value!r}")
    return _time(match.group(1), low=True), _time(match.group(2), low=False)


def _time(text: str, low: bool) -> pa.Scalar:
    if text == "*":
        stamp = datetime(1, 1, 1, tzinfo=UTC) if low else datetime(9999, 12, 31, tzinfo=UTC)
    elif text.upper() == "NOW":
        stamp = datetime.now(UTC)
    else:
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise QueryError(f"not a time: {text!r}") from exc
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
    return pa.scalar(stamp, pa.timestamp("s", tz="UTC"))
