"""`opendata build`: every dataset through the pipeline, then the catalog around them.

The site is assembled in a hidden sibling of the output folder — packages, the release archive
carried forward, the catalog's metadata, site and search index — and swapped in with one atomic
exchange only when everything is valid, so `dist/` is never half old and half new.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import build as pipeline
from pipeline.build import RunResult
from pipeline.errors import Problem
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
    refused = _not_replaceable(out_dir, datasets_dir.resolve())
    if refused is not None:
        return RunResult([], [refused])
    with contextlib.ExitStack() as held:
        try:  # the lock and the staging folder, beside the output
            held.enter_context(locked(out_dir, "build"))
            staging = held.enter_context(staging_beside(out_dir, "build"))
        except OSError as exc:
            return RunResult([], [_unwritable(out_dir, exc)])
        paths.build_records(staging).mkdir(parents=True)  # what marks it a build's output
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


def _built(out_dir: Path) -> bool:
    """Whether a folder is a build's output: its records, or — made before they were kept —
    its packages (a dataset's datapackage.json)."""
    packages = paths.datasets(out_dir)
    return paths.build_records(out_dir).is_dir() or any(packages.glob("*/datapackage.json"))


def _unwritable(out_dir: Path, exc: OSError) -> Problem:
    return Problem(
        "package-error",
        f"出力先 {out_dir} の隣にファイルを作れません（{exc.strerror}）。書き込めるフォルダを"
        f" --out に指定してください / cannot write beside the output {out_dir}: {exc.strerror};"
        " give --out a folder that may be written",
        file=str(out_dir),
    )


def _not_replaceable(out_dir: Path, datasets_dir: Path) -> Problem | None:
    """Why the build may not replace `out_dir`, if it may not. The build swaps the whole
    folder, so it must be new, empty or a build's own output (its records, hidden beside
    the packages) — never the datasets nor a folder of other files, which it would delete."""
    if out_dir == datasets_dir:
        why = ("データセットのフォルダそのものです", "it is the datasets folder")
    elif out_dir in datasets_dir.parents:
        why = (f"データセットのフォルダ {datasets_dir} を含みます",
               f"it holds the datasets folder {datasets_dir}")  # fmt: skip
    elif out_dir.exists() and not out_dir.is_dir():
        why = ("フォルダではなくファイルです", "it is a file, not a folder")
    elif out_dir.is_dir() and any(out_dir.iterdir()) and not _built(out_dir):
        why = (
            "ビルドの出力ではないファイルがあります",
            "it holds files that are no build's output",
        )
    else:
        return None
    return Problem(
        "package-error",
        f"出力先 {out_dir} は{why[0]}。置き換えると消えてしまうため、何も変更していません。"
        f"新しいフォルダか空のフォルダを --out に指定してください / the output {out_dir}: "
        f"{why[1]}, which replacing it would delete; nothing was changed. Give --out a new "
        "or empty folder",
        file=str(out_dir),
    )


def _reserved(name: str) -> Problem:
    """An officer's dataset named as the catalog's own オープンデータ一覧, which would have
    been written over it."""
    return Problem(
        "package-error",
        f"データセット名 {name} は、カタログが作るオープンデータ一覧の名前です。dataset.yaml の"
        f" name を別の名前にしてください / the name {name} is the catalog's own list of its"
        " datasets (オープンデータ一覧): give this dataset another name in dataset.yaml",
        dataset=name,
        file=f"{name}/dataset.yaml",
    )


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

    if any(dataset.name == opendata_list.NAME for dataset in result.datasets):
        result.problems.append(_reserved(opendata_list.NAME))
        return
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
