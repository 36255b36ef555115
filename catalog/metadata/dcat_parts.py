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

import itertools
import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.files import compact_json, replaced


@dataclass(frozen=True)
class Part:
    turtle: str
    jsonld: str


def write_catalog(head: Part, parts: Iterable[Part], turtle: Path, jsonld: Path) -> None:
    """The catalog's Turtle and JSON-LD files from its own node's and the datasets' parts,
    taken one at a time: what is held is the JSON-LD nodes as compact UTF-8 (they must be
    sorted and merged by `@id`), never every part's text or objects."""
    prefixes: set[str] = set()
    nodes: dict[str, bytes] = {}
    context: Any = None
    # The statements wait in a temporary file until every part's prefixes are known.
    with tempfile.TemporaryFile(dir=turtle.parent) as bodies:
        for at, part in enumerate(itertools.chain([head], parts)):
            body = _turtle_body(part.turtle, prefixes)
            if body:
                bodies.write((b"\n\n" if bodies.tell() else b"") + body.encode("utf-8"))
            document = json.loads(part.jsonld)
            context = document["@context"] if at == 0 else context
            for node in document.get("@graph", []):
                _add_node(nodes, node)
        bodies.seek(0)
        with replaced(turtle) as sink:
            sink.write(("\n".join(sorted(prefixes)) + "\n\n").encode("utf-8"))
            shutil.copyfileobj(bodies, sink)
            sink.write(b"\n")
    with replaced(jsonld) as sink:
        sink.write(b'{"@context":' + _sorted_json(context) + b',"@graph":[')
        for at, identifier in enumerate(sorted(nodes)):
            sink.write(b"," + nodes[identifier] if at else nodes[identifier])
        sink.write(b"]}\n")


def _turtle_body(turtle: str, prefixes: set[str]) -> str:
    """A part's statements; its prefix lines go into `prefixes`."""
    lines = turtle.splitlines()
    prefixes.update(line for line in lines if line.startswith("@prefix "))
    return "\n".join(line for line in lines if not line.startswith("@prefix ")).strip()


def _add_node(nodes: dict[str, bytes], node: dict[str, Any]) -> None:
    """A node into the catalog's, merged with the same `@id` from an earlier part."""
    encoded = _sorted_json(node)
    known = nodes.get(node["@id"])
    if known is None or known == encoded:
        nodes[node["@id"]] = encoded
    else:
        nodes[node["@id"]] = _sorted_json(_merged(json.loads(known), node))


def _sorted_json(value: Any) -> bytes:
    """Compact, keys sorted: one node the same bytes whichever part described it."""
    return compact_json(value, sort_keys=True)


def read_part(turtle: Path, jsonld: Path) -> Part:
    return Part(turtle.read_text(encoding="utf-8"), jsonld.read_text(encoding="utf-8"))


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
