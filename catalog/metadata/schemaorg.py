"""schema.org `Dataset` JSON-LD for search engines (Google Dataset Search), one per page."""

from __future__ import annotations

from typing import Any

from ..model import Catalog, fiscal_period, meta, modified


def dataset(catalog: Catalog, name: str) -> dict[str, Any]:
    package = catalog.packages[name]
    extra = meta(package)
    publisher = catalog.publisher
    organization = {"@type": "GovernmentOrganization", "name": publisher.name, "url": publisher.url}
    document: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": package["title"],
        "alternateName": extra.get("title_en"),
        "description": package.get("description", ""),
        "url": catalog.dataset_url(name),
        "identifier": name,
        "keywords": package.get("keywords") or [],
        "license": package["licenses"][0]["path"],
        "isAccessibleForFree": True,
        "inLanguage": "ja",
        "version": package.get("version"),
        "dateModified": modified(package),
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
                "name": r.get("title", r["name"]),
                "contentUrl": catalog.file_url(name, r["path"]),
                "encodingFormat": r["mediatype"],
                "contentSize": f"{r['bytes']} B",
                "sha256": r["hash"].removeprefix("sha256:"),
            }
            for r in package["resources"]
        ],
    }
    if period := fiscal_period(package):
        document["temporalCoverage"] = f"{period[0]}/{period[1]}"
    return {k: v for k, v in document.items() if v not in (None, "", [])}


def _variables(package: dict[str, Any]) -> list[dict[str, Any]]:
    """Each published field once (CSV resources carry the schemas)."""
    seen: dict[str, dict[str, Any]] = {}
    for resource in package["resources"]:
        if resource["format"] != "csv":
            continue
        for field in resource["schema"]["fields"]:
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
