"""schema.org `Dataset` JSON-LD for search engines (Google Dataset Search), one per page."""

from __future__ import annotations

from typing import Any

from ..model import BuiltPackage, Catalog


def dataset(catalog: Catalog, name: str) -> dict[str, Any]:
    package = catalog.packages[name]
    publisher = catalog.publisher
    organization = {"@type": "GovernmentOrganization", "name": publisher.name, "url": publisher.url}
    document: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": package.title,
        "alternateName": package.title_en,
        "description": package.description,
        "url": catalog.dataset_url(name),
        "identifier": name,
        "keywords": package.keywords,
        "license": package.licence["path"],
        "isAccessibleForFree": True,
        "inLanguage": "ja",
        "version": package.version,
        "dateModified": package.modified,
        "creator": organization,
        "publisher": organization,
        "spatialCoverage": {
            "@type": "Place",
            "name": publisher.prefecture + publisher.name,
            "identifier": publisher.code,
        },
        "variableMeasured": _variables(package),
        "includedInDataCatalog": {
            "@type": "DataCatalog",
            "name": publisher.catalog_title,
            "url": catalog.catalog_url,
        },
        "distribution": [
            {
                "@type": "DataDownload",
                "name": r.title,
                "contentUrl": catalog.file_url(name, r.path),
                "encodingFormat": r.mediatype,
                "contentSize": f"{r.bytes} B",
                "sha256": r.sha256,
            }
            for r in package.resources
        ],
    }
    if period := package.fiscal_period:
        document["temporalCoverage"] = f"{period[0]}/{period[1]}"
    return {k: v for k, v in document.items() if v not in (None, "", [])}


def _variables(package: BuiltPackage) -> list[dict[str, Any]]:
    """Each published field once."""
    seen: dict[str, dict[str, Any]] = {}
    for resource in package.tables:
        for field in resource.fields:
            seen.setdefault(
                field["name"],
                {
                    "@type": "PropertyValue",
                    "name": field.get("title", field["name"]),
                    "alternateName": field["name"],
                    "description": field.get("description"),
                },
            )
    return [{k: v for k, v in var.items() if v} for var in seen.values()]
