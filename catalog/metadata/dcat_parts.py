"""DCAT at ward scale: the catalog's files assembled from each dataset's serialisation instead
of serialising the whole catalog graph again.

rdflib's serialisers are most of a catalog build's time (600 datasets: ~70 of ~100 s), and
the whole catalog serialised once more doubled it; a dataset's own files are serialised once
per change (catalog/reuse.py keeps them otherwise). The catalog files are the catalog's own
node followed by every dataset's part:
Turtle as one prefix block and the parts' statements (a graph is a set: a node described in
two parts is one node), JSON-LD as the union of the parts' `@graph` nodes, merged by `@id`.
The triples are exactly those of `dcat.catalog_graph` (tests/test_dcat.py checks that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Part:
    turtle: str
    jsonld: str


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
    # Compact: Python indents in pure Python, and this is the whole catalog (~6 MB at 600).
    return json.dumps(assembled, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


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
