"""A dataset's catalog files — package.json, dataset.ttl, dataset.jsonld, its page, its Atom
feed and its JSON-LD nodes ready for the catalog's files (`.build/<name>.nodes`) — kept from
the last build when nothing they are made from changed.

They are made from the dataset's datapackage.json as the build leaves it (its data files'
sha256 and sizes included, so a data change shows there too), the catalog around it (base URL,
publisher) and the catalog's code (its modules, templates and assets). The sha256 of those is
the dataset's key, recorded with the files' sizes in `.build/<name>.catalog.json` beside
the pipeline's records (pipeline/reuse.py; never published). A dataset with the same key
is linked from the last build instead of made again: at ward scale most of a build's time
is the catalog's, and an unchanged dataset then costs its links, and reading its record,
its package dict and its DCAT parts (which the catalog-wide files are assembled from:
metadata/dcat_parts.py).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pipeline import reuse
from pipeline.files import link_file, read_json, write_json

from . import paths
from .model import Catalog

FILES = (paths.CKAN_PACKAGE, "dataset.ttl", "dataset.jsonld", paths.INDEX_PAGE)


def _files(site: Path, name: str) -> list[str]:
    """A dataset's catalog files in `site`: those of its folder, its Atom feed and its
    JSON-LD nodes kept for the catalog's files (strings: this runs for every dataset of a
    rebuild, and pathlib's objects cost more than the system calls)."""
    folder = paths.dataset(site, name)
    return [
        *(os.path.join(folder, f) for f in FILES),
        str(paths.dataset_feed(site, name)),
        str(paths.dcat_nodes(site, name)),
    ]


@functools.cache
def code_version() -> str:
    """The catalog's own files (modules, templates, static assets) and the pipeline's."""
    digest = hashlib.sha256(reuse.code_version().encode())
    here = Path(__file__).parent
    for path in sorted(here.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(here)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def context_key(catalog: Catalog) -> str:
    """What every dataset's catalog files share: the base URL, the publisher, the code."""
    publisher = json.dumps(dataclasses.asdict(catalog.publisher), sort_keys=True, default=str)
    text = f"{code_version()}\n{catalog.base_url}\n{publisher}"
    return hashlib.sha256(text.encode()).hexdigest()


def dataset_key(context: str, site: Path, name: str) -> str:
    digest = hashlib.sha256(context.encode())
    digest.update(paths.datapackage(site, name).read_bytes())
    return digest.hexdigest()


def _record(site: Path, name: str) -> str:
    return os.path.join(paths.build_records(site), f"{name}.catalog.json")


def carry_over(last: Path, site: Path, name: str, key: str) -> dict[str, Any] | None:
    """The dataset's catalog files linked from the last build when its key is the same; its
    CKAN package dict, which the catalog-wide files are made from."""
    kept = [*_files(last, name), _record(last, name)]
    try:
        record = read_json(kept[-1])
        if record.get("key") != key:
            return None
        if [os.stat(file).st_size for file in kept[:-1]] != record.get("sizes"):
            return None  # a file gone or cut short since: made again, never passed on
        package: dict[str, Any] = read_json(kept[0])  # its package.json
    except (OSError, ValueError, AttributeError):
        return None
    for file, target in zip(kept, [*_files(site, name), _record(site, name)], strict=True):
        _link_over(file, target)
    return package


def _link_over(source: str, target: str) -> None:
    """`target` as a link to `source`: in place of a file already there (never a write into
    it), in a folder made if there is none."""
    try:
        link_file(source, target)
    except FileExistsError:
        os.unlink(target)
        link_file(source, target)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        link_file(source, target)


def remember(site: Path, name: str, key: str) -> None:
    """Record a dataset's catalog files, once all are written: their key and sizes."""
    sizes = [os.stat(file).st_size for file in _files(site, name)]
    write_json(Path(_record(site, name)), {"key": key, "sizes": sizes})
