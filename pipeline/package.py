"""The published `datapackage.json` (Data Package v2) of one dataset."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .definition import DatasetDef, ResourceDef
from .geo import GEOMETRY
from .presets import BODIK_TAG
from .publisher import Publisher
from .vocabulary import EXTENSION
from .writers import WrittenFile

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
JST = dt.timezone(dt.timedelta(hours=9))
# How the source was written, not what the published file holds: dropped from the output schema.
SOURCE_ONLY_FIELD_KEYS = {
    "groupChar",
    "decimalChar",
    "bareNumber",
    "trueValues",
    "falseValues",
    "missingValues",
}


@dataclass(frozen=True)
class SourceFile:
    """One file a resource was read from, as it was read."""

    name: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class BuiltFile:
    """A file published as it is: copied into the package, checked, described."""

    definition: ResourceDef
    file: WrittenFile
    format: str  # the format found (a `.zip` holding a feed is `gtfs`)
    facts: dict[str, Any]  # what its check found: pages, stops, features …

    @property
    def sources(self) -> list[SourceFile]:
        return [SourceFile(self.file.path.name, self.file.sha256, self.file.bytes)]


@dataclass(frozen=True)
class BuiltResource:
    definition: ResourceDef
    csv: WrittenFile
    parquet: WrittenFile
    sources: list[SourceFile]
    geojson: WrittenFile | None = None  # where the resource has a location


def rfc3339(value: Any) -> str | None:
    """Dates in definitions become RFC 3339 timestamps in Japan time (2024-03-01 → …T00:00:00+09:00)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, dt.date):
        stamp = dt.datetime.combine(value, dt.time())
    else:
        text = str(value)
        stamp = (
            dt.datetime.fromisoformat(text)
            if "T" in text
            else dt.datetime.fromisoformat(f"{text}T00:00:00")
        )
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=JST)
    return stamp.isoformat()


def published_schema(resource: ResourceDef) -> dict[str, Any]:
    fields = [
        {k: v for k, v in fld.items() if k not in SOURCE_ONLY_FIELD_KEYS and k != EXTENSION}
        for fld in resource.fields
    ]
    schema: dict[str, Any] = {"fields": fields, "missingValues": [""]}
    for key in ("primaryKey", "foreignKeys"):
        if resource.schema.get(key):
            schema[key] = resource.schema[key]
    return schema


def _resource(built: BuiltResource, file: WrittenFile, name: str) -> dict[str, Any]:
    definition = built.definition
    descriptor: dict[str, Any] = {
        "name": name,
        "type": "table",  # Data Package v2 knows no other value
        "path": file.path.name,
        "scheme": "file",
        "format": file.format,
        "mediatype": file.mediatype,
    }
    if file.format == "geojson":  # not a table: v2 leaves `type` out, frictionless checks bytes
        del descriptor["type"]
        descriptor |= {"encoding": "utf-8", "bytes": file.bytes, "hash": f"sha256:{file.sha256}"}
        for key in ("title", "description"):
            if definition.descriptor.get(key):
                descriptor[key] = definition.descriptor[key]
        return descriptor
    if file.format == "csv":
        descriptor |= {"encoding": "utf-8", "bytes": file.bytes}
    else:
        # frictionless-py reads a Parquet table through pyarrow, not as a byte stream, so it
        # counts no bytes and would report any declared `bytes` as a mismatch: the size is
        # kept under x-opendata (the sha256 below it skips, as it counts none).
        descriptor[EXTENSION] = {"bytes": file.bytes}
    descriptor["hash"] = f"sha256:{file.sha256}"
    for key in ("title", "description"):
        if definition.descriptor.get(key):
            descriptor[key] = definition.descriptor[key]
    descriptor["schema"] = published_schema(definition)
    if file.format == "parquet" and definition.location is not None:
        descriptor["schema"]["fields"].append(
            {
                "name": GEOMETRY,
                "type": "any",
                "description": "地点（WKB、GeoParquet 1.1、WGS 84 経度・緯度）"
                " / the point as WKB (GeoParquet 1.1, WGS 84 lon/lat)",
            }
        )
    return descriptor


def _file_resource(built: BuiltFile) -> dict[str, Any]:
    """Data Package v2 reserves `type` for tables, so a file's descriptor has none; frictionless
    checks its bytes and sha256 as it does any file's."""
    file = built.file
    descriptor: dict[str, Any] = {
        "name": built.definition.name,
        "path": file.path.name,
        "scheme": "file",
        "format": built.format,
        "mediatype": file.mediatype,
    }
    if built.format in ("geojson", "json"):  # checked as UTF-8 JSON (RFC 8259)
        descriptor["encoding"] = "utf-8"
    descriptor |= {"bytes": file.bytes, "hash": f"sha256:{file.sha256}"}
    for key in ("title", "description"):
        if built.definition.descriptor.get(key):
            descriptor[key] = built.definition.descriptor[key]
    descriptor[EXTENSION] = {"kind": "file", **built.facts}
    return descriptor


def descriptor(
    dataset: DatasetDef, built: list[BuiltResource | BuiltFile], publisher: Publisher
) -> dict[str, Any]:
    """Everything a reader needs to trust and use the files: identity, licence, provenance."""
    source = dataset.descriptor
    metadata = dict(dataset.metadata)
    tables = [b for b in built if isinstance(b, BuiltResource)]
    metadata["provenance"] = [
        {
            "file": source.name,
            "resource": b.definition.name,
            "bytes": source.bytes,
            "hash": f"sha256:{source.sha256}",
        }
        for b in built
        for source in b.sources
    ]
    boxes = [b.geojson.bbox for b in tables if b.geojson is not None and b.geojson.bbox]
    boxes += [b.file.bbox for b in built if isinstance(b, BuiltFile) and b.file.bbox]
    if boxes:  # where the data's points lie: CKAN's `spatial`, DCAT's bbox
        metadata["extent"] = [
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ]
    keywords = list(source.get("keywords") or [])
    if standards := [r.standard for r in dataset.resources if r.standard]:
        # How BODIK and other aggregators find a standard dataset: its tags and its kind.
        metadata.setdefault("standard_dataset", standards[0].name)
        metadata.setdefault("standard_layout", standards[0].layout)
        tags = [BODIK_TAG, *(s.tag for s in standards), *(s.name for s in standards)]
        keywords += [t for t in dict.fromkeys(tags) if t not in keywords]
    package: dict[str, Any] = {
        "$schema": PROFILE,
        "name": dataset.name,
        "title": source.get("title"),
        "description": source.get("description"),
        "version": str(source.get("version", "1.0.0")),
        "created": rfc3339(source.get("created")),
        "keywords": keywords,
        "licenses": source["licenses"],
        "sources": list(source.get("sources") or []),
        "contributors": publisher.contributors(metadata.get("department")),
        EXTENSION: metadata,
        "resources": [],
    }
    for b in built:
        if isinstance(b, BuiltFile):
            package["resources"].append(_file_resource(b))
            continue
        package["resources"].append(_resource(b, b.csv, b.definition.name))
        package["resources"].append(_resource(b, b.parquet, f"{b.definition.name}-parquet"))
        if b.geojson is not None:
            package["resources"].append(_resource(b, b.geojson, f"{b.definition.name}-geojson"))
    return {k: v for k, v in package.items() if v not in (None, "")}
