"""Every path inside a built site folder (`dist/`), named once.

    index.html, list/<n>.html, changes.html, static/   the static site (list: the index, page n)
    sitemap.xml, robots.txt                    for search engines
    catalog.json, catalog.ttl, catalog.jsonld  the whole catalog (CKAN search result, DCAT)
    api/site.json, api/*.arrow                 what `opendata serve` loads: site facts, search index
    datasets/<name>/                           one package: datapackage.json, data files,
                                               package.json (CKAN), dataset.ttl/.jsonld, index.html
    datasets/<name>/<version>/                 a released version's files, never rewritten
    releases/<id>/release.json, releases/<id>/site/ (the newest) or files.json (older),
    releases/objects/, releases/latest.json     the release archive

URLs follow the same layout (catalog/model.py), so a static copy of `dist/` serves them.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.reuse import RECORDS
from pipeline.vocabulary import DESCRIPTOR_FILE, SEMVER

DATASETS = "datasets"
RELEASES = "releases"
MANIFEST = "release.json"
LATEST = f"{RELEASES}/latest.json"
SITE_JSON = Path("api") / "site.json"
SEARCH_INDEX = Path("api") / "index.arrow"
SEARCH_PAIRS = {  # where each pair of neighbouring characters occurs in a folded column
    "text_key": Path("api") / "text-pairs.arrow",
    "title_key": Path("api") / "title-pairs.arrow",
}
CATALOG_JSON = "catalog.json"
INDEX_PAGE = "index.html"
CHANGES_PAGE = "changes.html"
LIST_PAGES = (
    "list"  # list/<n>.html: the front page's list, page n (n ≥ 2), for readers without scripts
)
SITEMAP = "sitemap.xml"
CATALOG_FEED = "feeds/dataset.atom"  # CKAN's path for the catalog's feed
ROBOTS = "robots.txt"
STATIC = "static"
CKAN_PACKAGE = "package.json"
SNAPSHOT = "site"  # releases/<id>/site/: the site as the newest release published it
LISTING = "files.json"  # releases/<id>/files.json: an older release's site, path → sha256
RELEASE_OBJECTS = f"{RELEASES}/objects"  # the older releases' files, one per content


def list_page(number: int) -> str:
    """The front page's list, page `number`: the front page itself, then list/<n>.html."""
    return INDEX_PAGE if number == 1 else f"{LIST_PAGES}/{number}.html"


def datasets(site: Path) -> Path:
    return site / DATASETS


def dataset(site: Path, name: str) -> Path:
    return site / DATASETS / name


def datapackage(site: Path, name: str) -> Path:
    return dataset(site, name) / DESCRIPTOR_FILE


def source_hashes(out_dir: Path) -> Path:
    """The sha256 of the datasets' sources by their file stamps (pipeline/reuse.py's
    SourceHashes): a cache of this machine's, beside the output — never in it, whose bytes
    depend on the inputs only."""
    return out_dir.with_name(f".{out_dir.name}.sources.json")


def build_records(site: Path) -> Path:
    """What incremental builds know of the last one (pipeline/reuse.py): never published."""
    return site / DATASETS / RECORDS


def ckan_package(site: Path, name: str) -> Path:
    return dataset(site, name) / CKAN_PACKAGE


def dcat_dataset(site: Path, name: str, suffix: str) -> Path:
    return dataset(site, name) / f"dataset.{suffix}"


def dcat_nodes(site: Path, name: str) -> Path:
    """A dataset's JSON-LD nodes, ready for the catalog's files (metadata/dcat_parts.py)."""
    return build_records(site) / f"{name}.nodes"


def dcat_catalog(site: Path, suffix: str) -> Path:
    return site / f"catalog.{suffix}"


def dataset_page(site: Path, name: str) -> Path:
    return dataset(site, name) / INDEX_PAGE


def version_folder(site: Path, name: str, version: str) -> Path:
    return dataset(site, name) / version


def built_names(site: Path) -> list[str]:
    """The datasets built into a site, sorted by name."""
    return sorted(
        entry.name
        for entry in _dataset_folders(site)
        if os.path.isfile(os.path.join(entry.path, DESCRIPTOR_FILE))
    )


def version_folders(site: Path) -> list[Path]:
    """Every released version's folder (`datasets/<name>/<version>/`), sorted."""
    found = []
    for dataset in _dataset_folders(site):
        with os.scandir(dataset.path) as entries:
            found += [Path(e.path) for e in entries if SEMVER.fullmatch(e.name) and e.is_dir()]
    return sorted(found)


def _dataset_folders(site: Path) -> list[os.DirEntry[str]]:
    """The folders of `datasets/`, hidden ones (the build's records) left out: read with
    os.scandir, which knows an entry's kind without a `stat` each (thousands in a rebuild)."""
    try:
        with os.scandir(site / DATASETS) as entries:
            return [e for e in entries if not e.name.startswith(".") and e.is_dir()]
    except FileNotFoundError:
        return []


def is_released(site: Path, path: Path) -> bool:
    """A file of the release archive or of a released version's folder."""
    return never_changes(path.relative_to(site).parts)


def never_changes(parts: tuple[str, ...]) -> bool:
    """A site path (as parts) whose file no later build or release changes: the release
    archive (but its pointer, latest.json) and released versions' folders
    (datasets/<name>/<version>/…)."""
    return bool(parts) and (
        (parts[0] == RELEASES and "/".join(parts) != LATEST)
        or (len(parts) > 3 and parts[0] == DATASETS and bool(SEMVER.fullmatch(parts[2])))
    )


def releases(site: Path) -> Path:
    return site / RELEASES


def release_folder(site: Path, release_id: str) -> Path:
    return site / RELEASES / release_id


def stored_object(site: Path, sha256: str) -> Path:
    """releases/objects/<ab>/<sha256>: one file's bytes, stored once for every superseded
    release whose site held them."""
    return site / RELEASE_OBJECTS / sha256[:2] / sha256


def descriptor(package_folder: Path) -> Path:
    """The datapackage.json of a package folder (a dataset's, or a released version's)."""
    return package_folder / DESCRIPTOR_FILE


def dataset_feed_path(name: str) -> str:
    """A dataset's Atom feed, under the site's URL (CKAN's path)."""
    return f"feeds/dataset/{name}.atom"


def dataset_feed(site: Path, name: str) -> Path:
    return site / dataset_feed_path(name)
