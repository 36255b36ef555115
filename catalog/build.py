"""`opendata build`: every dataset through the pipeline, then the catalog around them.

The site is assembled in a hidden sibling of the output folder — packages, the release archive
carried forward, the catalog's metadata, site and search index — and swapped in with one atomic
exchange only when everything is valid, so `dist/` is never half old and half new.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import build as pipeline
from pipeline.build import RunResult
from pipeline.files import locked, replace_directory, staging_beside, write_json
from pipeline.publisher import Publisher, load_publisher
from pipeline.reuse import SourceHashes

from . import paths
from .release import archive
from .release.diff import DatasetDiff

if TYPE_CHECKING:
    from .model import Catalog


def build_site(
    datasets_dir: Path,
    out_dir: Path,
    base_url: str | None = None,
    with_catalog: bool = True,
    limit: int = 1000,
    progress: pipeline.Progress | None = None,
    force: bool = False,
    engine: pipeline.Engine | None = None,
) -> RunResult:
    """Build every dataset (and the catalog); replace `out_dir` only if all is valid.
    `base_url` defaults to the publisher's `site_url`; `progress` hears of each dataset, then
    of the catalog ("" as the name). Datasets whose inputs are unchanged since the build in
    `out_dir` are carried over from it (pipeline/reuse.py), unless `force`; `engine` builds
    the others (pipeline/parallel.py: on Dask workers)."""
    out_dir = out_dir.resolve()
    with locked(out_dir, "build"), staging_beside(out_dir, "build") as staging:
        previous = None if force or not out_dir.is_dir() else paths.datasets(out_dir)
        hashes = SourceHashes.load(None if force else paths.source_hashes(out_dir))
        result = pipeline.build(
            datasets_dir, paths.datasets(staging), limit, progress, previous, engine, hashes
        )
        hashes.save(paths.source_hashes(out_dir))  # right whatever the outcome
        if result.valid and out_dir.is_dir():
            archive.carry_forward(out_dir, staging)
            archive.stamp_released(staging)
        if result.valid and with_catalog:
            if progress:
                progress("", len(result.datasets), len(result.datasets))
            publisher = load_publisher(datasets_dir)
            last = None if force or not out_dir.is_dir() else out_dir
            build_catalog(staging, publisher, base_url or publisher.site_url, result, None, last)
        if result.valid:
            replace_directory(staging, out_dir)
            result.output = out_dir
    return result


def build_catalog(
    site: Path,
    publisher: Publisher,
    base_url: str,
    result: RunResult,
    diffs: list[DatasetDiff] | None = None,
    last: Path | None = None,
) -> None:
    """Add everything the catalog site needs next to the packages; problems go into `result`.
    `diffs`: the changes since the last release, when the caller has them already; `last`:
    the last build, whose catalog files of unchanged datasets are kept (catalog/reuse.py)."""
    # Imported once the datasets are written: the catalog's libraries (matplotlib, rdflib,
    # Jinja2) stay out of the data phase's memory peak.
    from . import reuse
    from .api.index import IndexRows, write_index
    from .metadata import ckan, dcat, dcat_parts, opendata_list
    from .metadata.quality import metadata_problems
    from .model import Catalog
    from .site.pages import write_site

    catalog = Catalog.load(site, base_url, publisher)
    own = opendata_list.build(catalog, publisher)
    result.datasets.append(own)
    if not own.valid:
        return
    catalog.add(own.name)  # the オープンデータ一覧, just built
    by_name = {d.name: d for d in result.datasets}
    for name, package in catalog.packages.items():
        for warning in metadata_problems(package):
            by_name[name].report.warn(warning)

    rows = IndexRows()
    fresh: dict[str, str] = {}  # datasets whose catalog files are made now, their keys
    context = reuse.context_key(catalog)
    with ckan.search_result_file(site / paths.CATALOG_JSON) as results:
        for name in catalog.packages:
            key = reuse.dataset_key(context, site, name)
            ckan_package = reuse.carry_over(last, site, name, key) if last else None
            if ckan_package is None:
                ckan_package = ckan.package_dict(catalog, name)
                write_json(paths.ckan_package(site, name), ckan_package)
                _write_dcat_files(catalog, name)
                fresh[name] = key
            results.add(ckan_package)
            rows.add(ckan_package, catalog.packages[name].field_titles)
    write_index(site, rows)
    write_json(site / paths.SITE_JSON, ckan.site_facts(catalog))
    dcat_parts.write_catalog(
        dcat.serialize(dcat.catalog_head(catalog)),
        (
            dcat_parts.read_part(
                paths.dcat_dataset(site, name, "ttl"), paths.dcat_nodes(site, name)
            )
            for name in catalog.packages
        ),
        paths.dcat_catalog(site, "ttl"),
        paths.dcat_catalog(site, "jsonld"),
    )
    write_site(catalog, diffs, set(fresh))
    for name, key in fresh.items():  # now that its page and feed are written too
        reuse.remember(site, name, key)


def _write_dcat_files(catalog: Catalog, name: str) -> None:
    """A dataset's DCAT-AP files, serialised (new files: the last build's may be linked),
    and its nodes as the catalog's files are assembled from them."""
    from .metadata import dcat, dcat_parts

    turtle, jsonld = dcat.serialize(dcat.dataset_graph(catalog, name))
    for suffix, text in (("ttl", turtle), ("jsonld", jsonld)):
        path = paths.dcat_dataset(catalog.site, name, suffix)
        path.unlink(missing_ok=True)
        path.write_text(text, encoding="utf-8")
    dcat_parts.write_nodes(paths.dcat_nodes(catalog.site, name), jsonld)
