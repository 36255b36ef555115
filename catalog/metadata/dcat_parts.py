"""DCAT at ward scale: the catalog's files assembled from each dataset's serialisation instead
of serialising the whole catalog graph again.

rdflib's serialisers are most of a catalog build's time (600 datasets: ~70 of ~100 s), and
the whole catalog serialised once more doubled it; a dataset's own files are serialised once
per change (catalog/reuse.py keeps them otherwise). The catalog files are the catalog's own
node followed by every dataset's part:
Turtle as one prefix block and the parts' statements (a graph is a set: a node described in
two parts is one node), JSON-LD as the union of the parts' `@graph` nodes, merged by `@id`.
The triples are exactly those of `dcat.catalog_graph` (tests/test_dcat.py checks that).

A dataset's JSON-LD nodes are kept ready for that, compact with sorted keys, a line each
beside its records (`write_nodes` when it is serialised; catalog/reuse.py links the file
while it is unchanged): a rebuild then reads them instead of parsing and encoding every
dataset's JSON-LD again, most of the assembly's time at 6,000 datasets.
"""

from __future__ import annotations

import itertools
import json
import mmap
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pipeline.files import compact_json, replaced


@dataclass(frozen=True)
class Part:
    turtle: str
    nodes: list[tuple[str, bytes]]  # the JSON-LD `@graph`: each node's `@id`, its encoding


def write_catalog(head: tuple[str, str], parts: Iterable[Part], turtle: Path, jsonld: Path) -> None:
    """The catalog's Turtle and JSON-LD files from its own node's serialisation (`head`:
    Turtle, JSON-LD) and the datasets' parts, taken one at a time: what is held is the
    JSON-LD nodes' `@id`s (they must be sorted and merged by `@id`), never every part's
    text or objects."""
    prefixes: set[str] = set()
    document = json.loads(head[1])
    # The statements wait in a temporary file until every part's prefixes are known, the
    # nodes in another until every `@id` is.
    with (
        tempfile.TemporaryFile(dir=turtle.parent) as bodies,
        tempfile.TemporaryFile(dir=turtle.parent) as spool,
    ):
        nodes = _SpooledNodes(spool)
        for part in itertools.chain([Part(head[0], _encoded(document))], parts):
            body = _turtle_body(part.turtle, prefixes)
            if body:
                bodies.write((b"\n\n" if bodies.tell() else b"") + body.encode("utf-8"))
            for identifier, encoded in part.nodes:
                nodes.add(identifier, encoded)
        bodies.seek(0)
        with replaced(turtle) as sink:
            sink.write(("\n".join(sorted(prefixes)) + "\n\n").encode("utf-8"))
            shutil.copyfileobj(bodies, sink)
            sink.write(b"\n")
        with replaced(jsonld) as sink:
            sink.write(b'{"@context":' + _sorted_json(document["@context"]) + b',"@graph":[')
            for at, encoded in enumerate(nodes.by_id()):
                sink.write(b"," + encoded if at else encoded)
            sink.write(b"]}\n")


class _SpooledNodes:
    """JSON-LD nodes by `@id`, each node's encoding written to `spool` as it comes (38 MB at
    6,000 datasets): held are where each is, and the few nodes that several parts describe
    (the publisher, the file types), merged."""

    def __init__(self, spool: BinaryIO):
        self.spool = spool  # appended to; read by offset (os.pread, mmap), never sought
        self.end = 0
        self.where: dict[str, tuple[int, int]] = {}  # @id → offset and size in `spool`
        self.shared: dict[str, bytes] = {}  # @id → its encoding, once a second part has it

    def add(self, identifier: str, encoded: bytes) -> None:
        """A node into the catalog's, merged with the same `@id` from an earlier part."""
        if identifier not in self.where:
            self.where[identifier] = (self.end, len(encoded))
            self.spool.write(encoded)
            self.end += len(encoded)
            return
        known = self.encoded(identifier)
        if known != encoded:
            encoded = _sorted_json(_merged(json.loads(known), json.loads(encoded)))
        self.shared[identifier] = encoded

    def encoded(self, identifier: str) -> bytes:
        if identifier in self.shared:
            return self.shared[identifier]
        offset, size = self.where[identifier]
        self.spool.flush()
        return os.pread(self.spool.fileno(), size, offset)

    def by_id(self) -> Iterator[bytes]:
        """Every node's encoding, sorted by `@id` (read through a map of the spool, not a
        system call each)."""
        self.spool.flush()
        if not self.end:
            return
        with mmap.mmap(self.spool.fileno(), self.end, access=mmap.ACCESS_READ) as spooled:
            for identifier in sorted(self.where):
                offset, size = self.where[identifier]
                yield self.shared.get(identifier) or spooled[offset : offset + size]


def _turtle_body(turtle: str, prefixes: set[str]) -> str:
    """A part's statements; its prefix lines, which lead it, go into `prefixes`."""
    at = 0
    while turtle.startswith("@prefix ", at):
        end = turtle.find("\n", at)
        end = len(turtle) if end < 0 else end
        prefixes.add(turtle[at:end])
        at = end + 1
    return turtle[at:].strip()


def _encoded(document: dict[str, Any]) -> list[tuple[str, bytes]]:
    return [(node["@id"], _sorted_json(node)) for node in document.get("@graph", [])]


def write_nodes(path: Path, jsonld: str) -> None:
    """A dataset's JSON-LD nodes as the catalog's assembly reads them: a line each, its `@id`
    and its encoding apart by a tab. Neither holds a tab or a line break: compact JSON escapes
    control characters, a blank node's name is hex, and pyoxigraph has refused any IRI with
    a space of any kind while `dcat.serialize` wrote the Turtle."""
    with replaced(path) as sink:
        for identifier, encoded in _encoded(json.loads(jsonld)):
            sink.write(identifier.encode("utf-8") + b"\t" + encoded + b"\n")


def _sorted_json(value: Any) -> bytes:
    """Compact, keys sorted: one node the same bytes whichever part described it."""
    return compact_json(value, sort_keys=True)


def read_part(turtle: Path, nodes: Path) -> Part:
    """A dataset's part: its Turtle file, and the nodes `write_nodes` kept."""
    with open(nodes, "rb") as lines:
        pairs = [line.rstrip(b"\n").split(b"\t", 1) for line in lines]
    return Part(turtle.read_text(encoding="utf-8"), [(i.decode("utf-8"), e) for i, e in pairs])


def _merged(known: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """One node described differently in two parts (the publisher, a file type): the union
    of both."""
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
