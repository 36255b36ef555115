"""DCAT at ward scale: each dataset's graph is serialised once per change, and the catalog's
files are assembled from the parts instead of serialising the whole catalog again.

rdflib's serialisers are most of a catalog build's time (600 datasets: ~70 of ~100 s), and
the whole catalog serialised once more doubled it. Here a dataset's Turtle and JSON-LD are
kept with the sha256 of its graph's triples (`.build/<name>.dcat.json`, never published); a
build whose graph for that dataset has the same digest takes the files of the last build as
they are. The catalog files are the catalog's own node followed by every dataset's part:
Turtle as one prefix block and the parts' statements (a graph is a set: a node described in
two parts is one node), JSON-LD as the union of the parts' `@graph` nodes, merged by `@id`.
The triples are exactly those of `dcat.catalog_graph` (tests/test_dcat.py checks that).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdflib import Graph

from pipeline.files import read_json, write_json

from .. import paths
from . import dcat


@dataclass(frozen=True)
class Part:
    turtle: str
    jsonld: str


def digest(graph: Graph) -> str:
    """The sha256 of a graph's triples (blank nodes have stable ids: dcat._bnode)."""
    lines = sorted(" ".join(term.n3() for term in triple) for triple in graph)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def dataset_part(graph: Graph, site: Path, name: str, previous: Path | None) -> Part:
    """A dataset's DCAT files in `site`: the last build's (in `previous`) when its graph is
    the same, else serialised now; the part either way."""
    key = digest(graph)
    record = paths.build_records(site) / f"{name}.dcat.json"
    if previous is not None:
        reused = _reuse(previous, name, key)
        if reused is not None:
            _write(site, name, reused)
            write_json(record, {"graph": key})
            return reused
    turtle, jsonld = dcat.serialize(graph)
    part = Part(turtle, jsonld)
    _write(site, name, part)
    write_json(record, {"graph": key})
    return part


def _reuse(previous: Path, name: str, key: str) -> Part | None:
    try:
        if read_json(paths.build_records(previous) / f"{name}.dcat.json").get("graph") != key:
            return None
        return Part(
            paths.dcat_dataset(previous, name, "ttl").read_text(encoding="utf-8"),
            paths.dcat_dataset(previous, name, "jsonld").read_text(encoding="utf-8"),
        )
    except (OSError, ValueError, AttributeError):
        return None


def _write(site: Path, name: str, part: Part) -> None:
    for suffix, text in (("ttl", part.turtle), ("jsonld", part.jsonld)):
        path = paths.dcat_dataset(site, name, suffix)
        path.unlink(missing_ok=True)  # a new file, never a write into one a release links to
        path.write_text(text, encoding="utf-8")


def assemble(head: Part, parts: list[Part]) -> Part:
    """The catalog's Turtle and JSON-LD from its own node's and the datasets' parts."""
    return Part(_turtle([head, *parts]), _jsonld([head, *parts]))


def _turtle(parts: list[Part]) -> str:
    prefixes: set[str] = set()
    bodies: list[str] = []
    for part in parts:
        lines = part.turtle.splitlines()
        prefixes.update(line for line in lines if line.startswith("@prefix "))
        body = "\n".join(line for line in lines if not line.startswith("@prefix ")).strip()
        if body:
            bodies.append(body)
    return "\n".join(sorted(prefixes)) + "\n\n" + "\n\n".join(bodies) + "\n"


def _jsonld(parts: list[Part]) -> str:
    documents = [json.loads(part.jsonld) for part in parts]
    nodes: dict[str, dict[str, Any]] = {}
    for document in documents:
        for node in document.get("@graph", []):
            nodes[node["@id"]] = _merged(nodes.get(node["@id"]), node)
    assembled = {"@context": documents[0]["@context"], "@graph": sorted(nodes.values(), key=_id)}
    return json.dumps(assembled, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _id(node: dict[str, Any]) -> str:
    return str(node["@id"])


def _merged(known: dict[str, Any] | None, node: dict[str, Any]) -> dict[str, Any]:
    """One node described in two parts (the publisher, a file type): the union of both."""
    if known is None or known == node:
        return node
    merged = dict(known)
    for key, value in node.items():
        if key not in merged:
            merged[key] = value
        elif merged[key] != value:
            values = [*_listed(merged[key]), *_listed(value)]
            unique = {json.dumps(v, sort_keys=True, ensure_ascii=False): v for v in values}
            merged[key] = [unique[k] for k in sorted(unique)]
    return merged


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
