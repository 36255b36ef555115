"""What every catalog output is made from: the built packages, the publisher and the base URL.

A built `datapackage.json` is read once into a `BuiltPackage`, a typed view that names what
the catalog uses — titles, dates, versions, resources, the `x-opendata` metadata — so the
outputs (CKAN, DCAT, schema.org, pages, the オープンデータ一覧) never dig through raw dicts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.files import read_json
from pipeline.publisher import Publisher
from pipeline.vocabulary import CHART_RESOURCES, EXTENSION, FREQUENCIES

from . import paths
from .release.versioning import Level

FORMAT_LABELS = {
    "csv": "CSV",
    "parquet": "Parquet",
    "json": "JSON",
    "geojson": "GeoJSON",
    "gtfs": "GTFS",
    "zip": "ZIP",
    "pdf": "PDF",
    "png": "PNG",
    "jpg": "JPEG",
}
ChangeLevel = Literal["new", Level]  # a released version: the first, or a bump


@dataclass(frozen=True)
class ReleasedVersion:
    """One entry of a dataset's changelog (`x-opendata.versions`, newest first)."""

    version: str
    release: str
    date: str
    change: ChangeLevel
    notes: str

    @classmethod
    def of(cls, entry: dict[str, Any]) -> ReleasedVersion:
        return cls(
            entry["version"], entry["release"], entry["date"], entry["change"], entry["notes"]
        )


@dataclass(frozen=True)
class Resource:
    """One published file of a package, as its `datapackage.json` describes it."""

    name: str
    path: str
    format: str
    mediatype: str
    bytes: int
    sha256: str
    title: str
    description: str
    fields: list[dict[str, Any]]
    # A file published as it is (GTFS, PDF, …), with what its check found (pages, stops, …);
    # otherwise a table's CSV or one of its twins (Parquet, GeoJSON).
    is_file: bool = False
    facts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Resource:
        extension = raw.get(EXTENSION) or {}
        return cls(
            name=raw["name"],
            path=raw["path"],
            format=raw["format"],
            mediatype=raw["mediatype"],
            # Parquet keeps its size under x-opendata (pipeline/package.py says why)
            bytes=raw["bytes"] if "bytes" in raw else raw[EXTENSION]["bytes"],
            sha256=raw["hash"].removeprefix("sha256:"),
            title=raw.get("title", raw["name"]),
            description=raw.get("description", ""),
            fields=(raw.get("schema") or {}).get("fields", []),
            is_file=extension.get("kind") == "file",
            facts={k: v for k, v in extension.items() if k not in ("kind", "bytes")},
        )

    @property
    def label(self) -> str:
        """The format as people write it: CSV, Parquet, JSON."""
        return FORMAT_LABELS.get(self.format, self.format.upper())


@dataclass(frozen=True)
class BuiltPackage:
    """A typed view of one built `datapackage.json`: what the catalog reads of it (the
    build holds one of each dataset, so not the whole descriptor)."""

    name: str
    title: str
    description: str
    keywords: list[str]
    licences: list[dict[str, str]]  # {name, path, title}
    created: str | None
    version: str | None
    sources: list[dict[str, Any]]
    resources: list[Resource]
    extra: dict[str, Any]  # x-opendata, for the keys named below

    @classmethod
    def of(cls, raw: dict[str, Any]) -> BuiltPackage:
        return cls(
            name=raw["name"],
            title=raw.get("title", raw["name"]),
            description=raw.get("description", ""),
            keywords=list(raw.get("keywords") or []),
            licences=list(raw.get("licenses") or []),
            created=raw.get("created"),
            version=raw.get("version"),
            sources=list(raw.get("sources") or []),
            resources=[Resource.of(r) for r in raw.get("resources") or []],
            extra=raw.get(EXTENSION) or {},
        )

    @property
    def licence(self) -> dict[str, str]:
        """The licence the catalog shows (the first)."""
        return self.licences[0] if self.licences else {}

    # -- x-opendata --------------------------------------------------------------------------
    @property
    def title_en(self) -> str | None:
        return self.extra.get("title_en")

    @property
    def description_en(self) -> str | None:
        return self.extra.get("description_en")

    @property
    def department(self) -> str | None:
        return self.extra.get("department")

    @property
    def frequency(self) -> str | None:
        """One of the vocabulary's frequencies, or None."""
        value = self.extra.get("frequency")
        return value if value in FREQUENCIES else None

    @property
    def themes(self) -> list[str]:
        return list(self.extra.get("themes") or [])

    @property
    def spatial(self) -> str | None:
        value = self.extra.get("spatial")
        return str(value) if value else None

    @property
    def extent(self) -> list[float] | None:
        """[west, south, east, north] of the dataset's points (None without a location)."""
        return self.extra.get("extent")

    @property
    def upstream_sha256(self) -> str | None:
        upstream = self.extra.get("upstream")
        return upstream.get("sha256", "") if upstream else None

    @property
    def standard_dataset(self) -> str | None:
        return self.extra.get("standard_dataset")

    @property
    def chart(self) -> str | None:
        """The site's chart for this dataset (catalog/site/charts.py), if it asks for one."""
        return self.extra.get("chart")

    @property
    def chart_missing(self) -> list[str]:
        """The resources the chart reads that the package lacks (all, for an unknown kind)."""
        needed = CHART_RESOURCES.get(self.chart or "", ("?",))
        return [name for name in needed if name not in {r.name for r in self.tables}]

    # -- dates and versions ------------------------------------------------------------------
    @property
    def issued(self) -> str | None:
        return self.created

    @property
    def modified(self) -> str | None:
        """When anything of the dataset last changed (a release's date; `created` before one)."""
        return self.extra.get("modified") or self.created

    @property
    def data_modified(self) -> str | None:
        """When its data last changed — a metadata-only release leaves this alone."""
        return self.extra.get("data_modified") or self.modified

    @property
    def released(self) -> bool:
        """Whether a release has dated its data (before one, only `created` is known)."""
        return bool(self.extra.get("data_modified"))

    @property
    def versions(self) -> list[ReleasedVersion]:
        """The released versions, newest first (empty before the first release)."""
        return [ReleasedVersion.of(v) for v in self.extra.get("versions") or []]

    @property
    def version_notes(self) -> str | None:
        current = [v for v in self.versions if v.version == self.version]
        return current[0].notes or None if current else None

    @property
    def fiscal_years(self) -> tuple[int, int] | None:
        """Temporal coverage: the first and last fiscal year (`x-opendata.temporal`)."""
        temporal = self.extra.get("temporal") or {}
        if "start" not in temporal or "end" not in temporal:
            return None
        return int(temporal["start"]), int(temporal["end"])

    @property
    def fiscal_period(self) -> tuple[str, str] | None:
        """The fiscal years as dates: 2019–2026 is 2019-04-01 … 2027-03-31."""
        if self.fiscal_years is None:
            return None
        start, end = self.fiscal_years
        return f"{start}-04-01", f"{end + 1}-03-31"

    # -- resources ---------------------------------------------------------------------------
    @property
    def tables(self) -> list[Resource]:
        """The CSV resources: each carries its table's schema (the Parquet twin has the same)."""
        return [r for r in self.resources if r.format == "csv" and not r.is_file]

    @property
    def files(self) -> list[Resource]:
        """The files published as they are (GTFS, PDF, GeoJSON, images): no table, no preview."""
        return [r for r in self.resources if r.is_file]

    @property
    def formats(self) -> list[str]:
        return sorted({r.label for r in self.resources})

    @property
    def field_titles(self) -> list[str]:
        return [f.get("title", "") for r in self.resources for f in r.fields]


@dataclass
class Catalog:
    """The built packages of one site, addressed under one base URL."""

    site: Path
    base_url: str
    publisher: Publisher
    packages: dict[str, BuiltPackage] = field(default_factory=dict)

    @classmethod
    def load(cls, site: Path, base_url: str, publisher: Publisher) -> Catalog:
        packages = {
            name: BuiltPackage.of(read_json(paths.datapackage(site, name)))
            for name in paths.built_names(site)
        }
        base = base_url if base_url.endswith("/") else base_url + "/"
        return cls(site, base, publisher, packages)

    def add(self, name: str) -> None:
        """A package built into the site since it was loaded, in the order `load` gives."""
        self.packages[name] = BuiltPackage.of(read_json(paths.datapackage(self.site, name)))
        self.packages = {n: self.packages[n] for n in sorted(self.packages)}

    # Addresses — the same layout as dist/, so a static copy of dist/ serves them.
    def dataset_url(self, name: str) -> str:
        return f"{self.base_url}{paths.DATASETS}/{name}/"

    def file_url(self, name: str, path: str) -> str:
        return f"{self.dataset_url(name)}{path}"

    def version_url(self, name: str, version: str) -> str:
        """A released version's folder: its files never change (the latest are one up)."""
        return f"{self.dataset_url(name)}{version}/"

    @property
    def catalog_url(self) -> str:
        return self.base_url

    # Stable identifiers: UUID v5 of names, so a rebuild never changes them.
    def uuid(self, *parts: str) -> str:
        return str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"urn:jp-lg:{self.publisher.code}:" + ":".join(parts))
        )
