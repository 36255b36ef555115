"""The search index `opendata build` writes into `dist/api/` and `opendata serve` memory-maps.

- `index.arrow`: one row per dataset (sorted by name) with its folded title, folded
  description and folded text (NFKC, lower case, no spaces or hyphens — the folding of the
  site's search too; the text holds title, description and the rest), facet values as lists,
  and the modification time;
- `bigrams.arrow` and `title-bigrams.arrow`: for every two-character sequence of the folded
  texts (titles), the rows having it.

Arrow IPC files, uncompressed: the server memory-maps them, so start-up reads next to nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from .. import paths
from ..text import bigrams, fold


def index_table(packages: list[dict[str, Any]], field_titles: dict[str, list[str]]) -> pa.Table:
    """The search index of these CKAN package dicts (and their fields' Japanese titles)."""

    def text(p: dict[str, Any]) -> str:
        extras = {e["key"]: e["value"] for e in p.get("extras", [])}
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
            "notes_key": [fold(p.get("notes") or "") for p in packages],
            "tags": [[t["name"] for t in p["tags"]] for p in packages],
            "groups": [[g["name"] for g in p["groups"]] for p in packages],
            "organization": [p["organization"]["name"] for p in packages],
            "res_format": [sorted({r["format"] for r in p["resources"]}) for p in packages],
            "license_id": [p["license_id"] for p in packages],
            "metadata_modified": pa.array(
                [_modified(p) for p in packages],
                pa.timestamp("s", tz="UTC"),
            ),
            "resource_ids": [[r["id"] for r in p["resources"]] for p in packages],
        }
    ).sort_by("name")


def _modified(package: dict[str, Any]) -> datetime:
    """When the package last changed; a package without dates sorts as the oldest."""
    stamp = package.get("metadata_modified")
    return datetime.fromisoformat(stamp) if stamp else datetime(1970, 1, 1, tzinfo=UTC)


def bigram_table(index: pa.Table, column: str) -> pa.Table:
    """For each bigram of a folded column, the (ascending) rows that contain it."""
    postings: dict[str, list[int]] = {}
    for row, text in enumerate(index.column(column).to_pylist()):
        for gram in bigrams(text):
            postings.setdefault(gram, []).append(row)
    grams = sorted(postings)
    return pa.table(
        {"bigram": grams, "rows": pa.array([postings[g] for g in grams], pa.list_(pa.int32()))}
    )


def write_index(
    site: Path, packages: list[dict[str, Any]], field_titles: dict[str, list[str]]
) -> None:
    (site / paths.SEARCH_INDEX).parent.mkdir(parents=True, exist_ok=True)
    index = index_table(packages, field_titles)
    _write_arrow(index, site / paths.SEARCH_INDEX)
    for column, path in paths.SEARCH_BIGRAMS.items():
        _write_arrow(bigram_table(index, column), site / path)


def _write_arrow(table: pa.Table, path: Path) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_index(site: Path) -> tuple[pa.Table, dict[str, pa.Table]]:
    """The index and its bigram postings, memory-mapped."""
    bigrams = {c: _read_arrow(site / p) for c, p in paths.SEARCH_BIGRAMS.items()}
    return _read_arrow(site / paths.SEARCH_INDEX), bigrams


def _read_arrow(path: Path) -> pa.Table:
    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
