"""The catalog step: built packages in a site folder → CKAN dicts, DCAT, schema.org, the
national オープンデータ一覧 and the static site, all written into the same folder."""

from __future__ import annotations

from pathlib import Path

from pipeline.build import RunResult
from pipeline.diff import DatasetDiff
from pipeline.history import write_json
from pipeline.publisher import Publisher

from . import ckan, dcat, opendata_list
from .context import THEMES, Catalog
from .quality import metadata_problems
from .search import write_index
from .site import write_site


def build_catalog(
    site: Path,
    publisher: Publisher,
    base_url: str,
    result: RunResult,
    diffs: list[DatasetDiff] | None = None,
) -> None:
    """Add everything the catalog site needs next to the packages; problems go into `result`.
    `diffs`: the changes since the last release, when the caller has them already."""
    own = opendata_list.build(Catalog.load(site, base_url, publisher), publisher)
    result.datasets.append(own)
    if not own.valid:
        return
    catalog = Catalog.load(site, base_url, publisher)
    by_name = {d.name: d for d in result.datasets}
    for name, package in catalog.packages.items():
        for warning in metadata_problems(package):
            by_name[name].report.warn(warning)

    packages = []
    for name in catalog.packages:
        package = ckan.package_dict(catalog, name)
        write_json(site / "datasets" / name / "package.json", package)
        packages.append(package)
        turtle, jsonld = dcat.serialize(dcat.dataset_graph(catalog, name))
        (site / "datasets" / name / "dataset.ttl").write_text(turtle, encoding="utf-8")
        (site / "datasets" / name / "dataset.jsonld").write_text(jsonld, encoding="utf-8")
    write_json(site / "catalog.json", ckan.search_result(packages))
    field_titles = {
        name: [f.get("title", "") for r in p["resources"] for f in r["schema"]["fields"]]
        for name, p in catalog.packages.items()
    }
    write_index(site, packages, field_titles)
    write_json(
        site / "api" / "site.json",
        {
            "organization": ckan.organization(catalog),
            "groups": [ckan.group(catalog, title) for title in THEMES],
            "status": {
                "site_title": publisher.catalog_title,
                "site_description": publisher.catalog_title_en,
                "site_url": catalog.base_url,
            },
        },
    )
    turtle, jsonld = dcat.serialize(dcat.catalog_graph(catalog))
    (site / "catalog.ttl").write_text(turtle, encoding="utf-8")
    (site / "catalog.jsonld").write_text(jsonld, encoding="utf-8")
    write_site(catalog, diffs)
