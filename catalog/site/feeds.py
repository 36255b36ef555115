"""Atom feeds (RFC 4287) of releases: the catalog's (`feeds/dataset.atom`, CKAN's path) and each
dataset's (`feeds/dataset/<name>.atom`), one entry per released version — for app builders and
the ward's announcements. Static files written with the site, so a web root serves them too.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from .. import paths
from ..model import BuiltPackage, Catalog, ReleasedVersion

ATOM = "http://www.w3.org/2005/Atom"
CHANGES = {
    "new": "初版 / first release",
    "major": "大きな変更（互換性なし） / major: not compatible",
    "minor": "追加 / minor: additions",
    "patch": "訂正 / patch: corrections",
}


def write_feeds(catalog: Catalog, datasets: set[str] | None = None) -> None:
    """The catalog's feed, and the feeds of `datasets` (None: all; the others are kept)."""
    site = catalog.site
    everything = [(name, p, v) for name, p in catalog.packages.items() for v in p.versions]
    _write(site / paths.CATALOG_FEED, _feed(catalog, None, everything))
    for name in catalog.packages if datasets is None else sorted(datasets):
        entries = [(name, catalog.packages[name], v) for v in catalog.packages[name].versions]
        _write(paths.dataset_feed(site, name), _feed(catalog, name, entries))


def _feed(
    catalog: Catalog, name: str | None, entries: list[tuple[str, BuiltPackage, ReleasedVersion]]
) -> ET.Element:
    publisher = catalog.publisher
    url = catalog.base_url + (paths.dataset_feed_path(name) if name else paths.CATALOG_FEED)
    title = (
        f"{catalog.packages[name].title} の更新 / updates"
        if name
        else f"{publisher.catalog_title} の更新 / {publisher.catalog_title_en} updates"
    )
    # Newest first, in a stable order; the feed is as old as its newest entry.
    entries = sorted(entries, key=lambda e: (e[2].date, e[0], e[2].version), reverse=True)
    newest = entries[0][2].date if entries else _newest(catalog, name)
    feed = ET.Element("feed", {"xmlns": ATOM, "{http://www.w3.org/XML/1998/namespace}lang": "ja"})
    _text(feed, "id", url)
    _text(feed, "title", title)
    _text(feed, "updated", newest)
    ET.SubElement(feed, "link", {"rel": "self", "href": url, "type": "application/atom+xml"})
    home = catalog.dataset_url(name) if name else catalog.base_url
    ET.SubElement(feed, "link", {"rel": "alternate", "href": home, "type": "text/html"})
    author = ET.SubElement(feed, "author")
    _text(author, "name", publisher.name)
    _text(author, "uri", publisher.url)
    for dataset, package, version in entries:
        feed.append(_entry(catalog, dataset, package, version))
    return feed


def _entry(
    catalog: Catalog, name: str, package: BuiltPackage, version: ReleasedVersion
) -> ET.Element:
    entry = ET.Element("entry")
    folder = f"{catalog.dataset_url(name)}{version.version}/"
    _text(entry, "id", folder)
    _text(entry, "title", f"{package.title} {version.version}")
    _text(entry, "updated", version.date)
    _text(entry, "published", version.date)
    ET.SubElement(entry, "link", {"rel": "alternate", "href": catalog.dataset_url(name)})
    ET.SubElement(
        entry,
        "link",
        {"rel": "enclosure", "href": folder + "datapackage.json", "type": "application/json"},
    )
    ET.SubElement(
        entry,
        "category",
        {"term": version.change, "label": CHANGES.get(version.change, version.change)},
    )
    summary = f"{CHANGES.get(version.change, version.change)}（リリース {version.release}）"
    _text(entry, "summary", summary + (f"：{version.notes}" if version.notes else ""))
    return entry


def _newest(catalog: Catalog, name: str | None) -> str:
    """A feed without entries yet: as old as what it describes (Atom needs an `updated`)."""
    packages = [catalog.packages[name]] if name else list(catalog.packages.values())
    return max((p.modified or "" for p in packages), default="") or "1970-01-01T00:00:00Z"


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _write(path: Path, feed: ET.Element) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # a new file: the old one may be a release's link
    ET.indent(feed)
    body = ET.tostring(feed, encoding="unicode")
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n", encoding="utf-8")
