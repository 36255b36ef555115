"""CKAN Action API shapes: the `package_show` dict of each dataset and the `package_search`
result of the whole catalog, field for field as CKAN 2.10/2.11 returns them — except that
`size`, `hash` and `last_modified` are never empty and timestamps carry +09:00.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from pipeline.files import compact_json, replaced
from pipeline.geo import Box, box_geojson
from pipeline.vocabulary import FREQUENCIES, THEMES

from .. import paths
from ..api.params import DEFAULT_SORT, FACETS
from ..model import BuiltPackage, Catalog, Resource


def organization(catalog: Catalog) -> dict[str, Any]:
    publisher = catalog.publisher
    return {
        "id": catalog.uuid("organization", publisher.organization),
        "name": publisher.organization,
        "title": publisher.name,
        "type": "organization",
        "description": f"{publisher.prefecture}{publisher.name}（{publisher.name_en}）",
        "image_url": "",
        "created": None,
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
        "extras": [{"key": "local_government_code", "value": publisher.code}],
    }


def site_facts(catalog: Catalog) -> dict[str, Any]:
    """api/site.json: what `opendata serve` answers for organizations, groups and the status."""
    return {
        "organization": organization(catalog),
        "groups": [group(catalog, title) for title in THEMES],
        "status": {
            "site_title": catalog.publisher.catalog_title,
            "site_description": catalog.publisher.catalog_title_en,
            "site_url": catalog.base_url,
        },
    }


def group(catalog: Catalog, title: str) -> dict[str, Any]:
    name, english, _ = THEMES[title]
    return {
        "id": catalog.uuid("group", name),
        "name": name,
        "title": title,
        "display_name": title,
        "description": english,
        "image_display_url": "",
    }


def tags(package: BuiltPackage) -> list[str]:
    return list(dict.fromkeys(package.keywords))


def package_dict(catalog: Catalog, name: str) -> dict[str, Any]:
    """What `package_show` returns for one built package."""
    package = catalog.packages[name]
    licence = package.licence
    department = package.department
    resources = resource_dicts(catalog, name)
    package_tags = [
        {
            "id": catalog.uuid("tag", t),
            "name": t,
            "display_name": t,
            "state": "active",
            "vocabulary_id": None,
        }
        for t in tags(package)
    ]
    return {
        "id": catalog.uuid("dataset", name),
        "name": name,
        "title": package.title,
        "type": "dataset",
        "state": "active",
        "private": False,
        "notes": package.description,
        "url": catalog.dataset_url(name),
        "version": package.version,
        "author": department,
        "author_email": None,
        "maintainer": department,
        "maintainer_email": catalog.publisher.email,
        "license_id": licence["name"],
        "license_title": licence.get("title"),
        "license_url": licence.get("path"),
        "isopen": True,
        "owner_org": catalog.uuid("organization", catalog.publisher.organization),
        "organization": organization(catalog),
        "groups": [group(catalog, t) for t in package.themes if t in THEMES],
        "tags": package_tags,
        "num_tags": len(package_tags),
        "extras": extras(catalog, package),
        "metadata_created": package.issued,
        "metadata_modified": package.modified,
        "resources": resources,
        "num_resources": len(resources),
        "relationships_as_subject": [],
        "relationships_as_object": [],
    }


def area(catalog: Catalog, package: BuiltPackage) -> Box | None:
    """Where the dataset lies: its points' extent, else its municipality's (when it is ours)."""
    if package.extent:
        return package.extent
    publisher = catalog.publisher
    return publisher.extent if package.spatial == publisher.code else None


def extras(catalog: Catalog, package: BuiltPackage) -> list[dict[str, str]]:
    """What CKAN has no core field for, as its string key/value extras (sorted by key)."""
    values: dict[str, str] = {}
    if package.title_en:
        values["title_en"] = package.title_en
    if package.description_en:
        values["notes_en"] = package.description_en
    if package.spatial:
        # ckanext-spatial reads `spatial` as a GeoJSON geometry (and refuses anything else), so
        # the area's code has its own key and `spatial` is the area's extent where we know it.
        values["spatial_code"] = package.spatial
    if extent := area(catalog, package):
        values["spatial"] = box_geojson(extent)
    if period := package.fiscal_period:
        values["temporal_start"], values["temporal_end"] = period
    if package.frequency:
        values["frequency"] = package.frequency
        values["frequency_ja"] = FREQUENCIES[package.frequency][0]
    if package.sources:
        values["source"] = "; ".join(s.get("title", "") for s in package.sources)
    if package.upstream_sha256 is not None:
        values["source_sha256"] = package.upstream_sha256
    values["language"] = "ja"
    if package.released:
        values["data_modified"] = package.data_modified or ""
    if notes := package.version_notes:
        values["version_notes"] = notes
    return [{"key": k, "value": v} for k, v in sorted(values.items())]


def resource_dicts(catalog: Catalog, name: str) -> list[dict[str, Any]]:
    package = catalog.packages[name]
    files = [*package.resources, _datapackage_file(catalog, name)]
    changed, stamp = package.data_modified, package.modified
    result = []
    for position, resource in enumerate(files):
        result.append(
            {
                "id": catalog.uuid("resource", name, resource.path),
                "package_id": catalog.uuid("dataset", name),
                "url": catalog.file_url(name, resource.path),
                "name": f"{resource.title}（{resource.label}）",
                "description": resource.description,
                "format": resource.label,
                "mimetype": resource.mediatype,
                "size": resource.bytes,
                "hash": resource.sha256,
                "created": package.issued,
                "last_modified": changed,
                "metadata_modified": stamp,
                "position": position,
                "url_type": None,
                "resource_type": None,
                "state": "active",
            }
        )
    return result


def _datapackage_file(catalog: Catalog, name: str) -> Resource:
    """datapackage.json is itself a download, described by its own bytes and hash."""
    path = paths.datapackage(catalog.site, name)
    data = path.read_bytes()
    return Resource(
        name="datapackage",
        path=path.name,
        format="json",
        mediatype="application/json",
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        title="データパッケージ定義 / Data Package descriptor",
        description="全ファイルの項目定義・ハッシュ・出典（Frictionless Data Package v2）",
        fields=[],
    )


@contextmanager
def search_result_file(path: Path) -> Iterator[SearchResults]:
    """catalog.json, written on leaving from the packages added meanwhile.

    with search_result_file(path) as results:
        results.add(package)  # for each package
    """
    with tempfile.TemporaryFile(dir=path.parent) as spool:
        results = SearchResults(spool)
        yield results
        results.write(path)


class SearchResults:
    """`package_search`'s result over every package (count, results, facets), one package
    at a time: each goes to `spool` as compact JSON while the facets are counted, so a build
    holds no package but the one in hand."""

    def __init__(self, spool: BinaryIO) -> None:
        self.spool = spool
        self.count = 0
        self.counts: dict[str, Counter[str]] = {f: Counter() for f in FACETS}
        self.titles: dict[tuple[str, str], str] = {}

    def add(self, package: dict[str, Any]) -> None:
        self.spool.write((b"," if self.count else b"") + compact_json(package))
        self.count += 1
        for facet, values in _facet_values(package).items():
            if facet not in self.counts:
                continue
            for value, title in values.items():
                self.counts[facet][value] += 1
                self.titles[(facet, value)] = title

    def write(self, path: Path) -> None:
        """The file as `json.dumps` would write the whole result compact (the same bytes)."""
        counts, titles = self.counts, self.titles
        facets = {f: dict(sorted(c.items())) for f, c in counts.items()}
        search_facets = {
            f: {
                "title": f,
                "items": [
                    {"name": v, "display_name": titles[(f, v)], "count": n}
                    for v, n in sorted(c.items(), key=lambda item: (-item[1], item[0]))
                ],
            }
            for f, c in counts.items()
        }
        head = {"count": self.count, "sort": DEFAULT_SORT}
        self.spool.seek(0)
        with replaced(path) as sink:
            sink.write(compact_json(head)[:-1] + b',"results":[')
            shutil.copyfileobj(self.spool, sink)
            sink.write(b'],"facets":' + compact_json(facets))
            sink.write(b',"search_facets":' + compact_json(search_facets) + b"}\n")


def _facet_values(package: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Per facet field, the values this package has (value → display name)."""
    return {
        "tags": {t["name"]: t["display_name"] for t in package["tags"]},
        "organization": {package["organization"]["name"]: package["organization"]["title"]},
        "groups": {g["name"]: g["display_name"] for g in package["groups"]},
        "res_format": {r["format"]: r["format"] for r in package["resources"]},
        "license_id": {package["license_id"]: package["license_title"] or package["license_id"]},
    }
