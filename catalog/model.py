"""What every catalog output is made from: the built packages, the publisher and the base URL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.files import read_json
from pipeline.publisher import Publisher
from pipeline.vocabulary import EXTENSION

from . import paths

FORMAT_LABELS = {"csv": "CSV", "parquet": "Parquet", "json": "JSON"}


@dataclass
class Catalog:
    """The built packages of one site, addressed under one base URL."""

    site: Path
    base_url: str
    publisher: Publisher
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, site: Path, base_url: str, publisher: Publisher) -> Catalog:
        packages = {}
        for name in paths.built_names(site):
            packages[name] = read_json(paths.datapackage(site, name))
        base = base_url if base_url.endswith("/") else base_url + "/"
        return cls(site, base, publisher, packages)

    # Addresses — the same layout as dist/, so a static copy of dist/ serves them.
    def dataset_url(self, name: str) -> str:
        return f"{self.base_url}datasets/{name}/"

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


def meta(package: dict[str, Any]) -> dict[str, Any]:
    return package.get(EXTENSION) or {}


def issued(package: dict[str, Any]) -> str | None:
    return package.get("created")


def modified(package: dict[str, Any]) -> str | None:
    """When anything of the dataset last changed (a release's date; `created` before one)."""
    return meta(package).get("modified") or package.get("created")


def data_modified(package: dict[str, Any]) -> str | None:
    """When its data last changed — a metadata-only release leaves this alone."""
    return meta(package).get("data_modified") or modified(package)


def versions(package: dict[str, Any]) -> list[dict[str, Any]]:
    """The released versions, newest first (empty before the first release)."""
    return list(meta(package).get("versions") or [])


def version_notes(package: dict[str, Any]) -> str | None:
    current = [v for v in versions(package) if v["version"] == package.get("version")]
    return current[0]["notes"] or None if current else None


def fiscal_period(package: dict[str, Any]) -> tuple[str, str] | None:
    """Temporal coverage in fiscal years (2019–2026) as dates: 2019-04-01 … 2027-03-31."""
    temporal = meta(package).get("temporal") or {}
    if "start" not in temporal or "end" not in temporal:
        return None
    return f"{int(temporal['start'])}-04-01", f"{int(temporal['end']) + 1}-03-31"
