"""The static catalog site: an index with client-side Japanese search, and a page per dataset.

Every page works from disk (file://) with no server: links are relative, the search index lives
in the index page itself, and charts are inline SVG. All text is escaped by Jinja2.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import pyarrow.parquet as pq
from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, select_autoescape
from jinja2.bccache import Bucket
from markupsafe import Markup, escape

from pipeline.limits import RECORD
from pipeline.vocabulary import CHART_RESOURCES, FREQUENCIES

from .. import paths
from ..metadata import schemaorg
from ..metadata.opendata_list import NAME as OPENDATA_LIST
from ..model import BuiltPackage, Catalog, Resource
from ..release import archive
from ..release.diff import DatasetDiff, diff_sites
from ..stats.dataset import FISCAL_RESOURCE as MEASURED_RESOURCE
from ..stats.dataset import NAME as MEASURED_DATASET
from ..text import fold
from .feeds import write_feeds
from .maps import point_map

if TYPE_CHECKING:
    from .charts import Chart

PREVIEW_ROWS = 10
PREVIEW_CHARACTERS = 200  # of one cell on the page (the files hold it whole)
DIFF_STATUSES = {
    "added": "新規 new",
    "removed": "削除 removed",
    "changed": "変更あり changed",
}
CHANGE_LABELS = {
    "new": "初版 first release",
    "major": "互換性のない変更 breaking (major)",
    "minor": "追加 additions (minor)",
    "patch": "訂正 corrections (patch)",
}


class _TemplateCache(FileSystemBytecodeCache):
    """The templates compiled once, not at each command's start (60–80 ms of a one-dataset
    rebuild), in Jinja's per-user temporary folder, keyed by each template's source. A
    cache that cannot be kept is no failure: the templates are compiled as before."""

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):  # the folder cleaned away, the disk full
            super().dump_bytecode(bucket)


def _template_cache() -> _TemplateCache | None:
    try:
        return _TemplateCache()
    except (OSError, RuntimeError):  # no private temporary folder to be had
        return None


ENV = Environment(
    loader=PackageLoader("catalog.site"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
    bytecode_cache=_template_cache(),
)
# Readable JSON in pages (Jinja's tojson escapes every Japanese character).
ENV.filters["as_json"] = lambda value: json.dumps(value, ensure_ascii=False, default=str)


def page_window(page: int, count: int, spread: int = 2) -> list[int | None]:
    """The list pages a page links to: the first, the last and `spread` either side of it,
    None where others are left out — not all 300 of a 6,000-dataset catalog on every page."""
    shown = {1, count, *range(max(1, page - spread), min(count, page + spread) + 1)}
    window: list[int | None] = []
    last = 0
    for n in sorted(shown):
        if n - last == 2:
            window.append(n - 1)  # one page between: itself, not "…" in its place
        elif n - last > 2:
            window.append(None)
        window.append(n)
        last = n
    return window


ENV.globals["page_window"] = page_window


def write_site(
    catalog: Catalog, diffs: list[DatasetDiff] | None = None, pages: set[str] | None = None
) -> None:
    """The pages and feeds; `diffs` are the changes since the last release when already
    known; `pages`: the datasets whose page and feed to write (None: all; the others are kept
    as they are)."""
    site = catalog.site
    shutil.copytree(Path(__file__).with_name("static"), site / paths.STATIC, dirs_exist_ok=True)
    for path, html in _index_pages(catalog).items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(html, encoding="utf-8")
    for name in catalog.packages if pages is None else sorted(pages):
        page = paths.dataset_page(site, name)
        page.unlink(missing_ok=True)  # a new file: the old one may be a release's link
        page.write_text(_dataset_page(catalog, name), encoding="utf-8")
    (site / paths.CHANGES_PAGE).write_text(_changes_page(catalog, diffs), encoding="utf-8")
    (site / paths.SITEMAP).write_text(_sitemap(catalog), encoding="utf-8")
    write_feeds(catalog, pages)
    (site / paths.ROBOTS).write_text(
        f"User-agent: *\nAllow: /\nSitemap: {catalog.base_url}{paths.SITEMAP}\n", encoding="utf-8"
    )


def _sitemap(catalog: Catalog) -> str:
    """sitemap.xml for dataset search engines: the index and every dataset page, each with the
    date it last changed (https://www.sitemaps.org/protocol.html)."""
    entries = [
        (catalog.base_url, max((p.modified or "" for p in catalog.packages.values()), default=""))
    ]
    entries += [(catalog.dataset_url(n), p.modified or "") for n, p in catalog.packages.items()]
    urls = "".join(
        f"  <url><loc>{escape(url)}</loc>"
        + (f"<lastmod>{stamp[:10]}</lastmod>" if stamp else "")
        + "</url>\n"
        for url, stamp in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + urls + "</urlset>\n"
    )


def _changes_page(catalog: Catalog, diffs: list[DatasetDiff] | None) -> str:
    """What the officer reviews before `opendata release`: the last release against this build."""
    previous = archive.latest(catalog.site)
    names = [n for n in catalog.packages if n != OPENDATA_LIST]
    if diffs is None and previous:
        diffs = [d for d in diff_sites(previous.site, catalog.site) if d.name in names]
    elif diffs is None:
        diffs = [DatasetDiff(name, "added") for name in names]
    return ENV.get_template("changes.html").render(
        root="",
        publisher=catalog.publisher,
        previous=previous,
        diffs=diffs,
        statuses=DIFF_STATUSES,
    )


def _summary(text: str, limit: int = 120) -> str:
    first = text.split("。")[0] + ("。" if "。" in text else "")
    return first if len(first) <= limit else first[: limit - 1] + "…"


PAGE_SIZE = 20  # datasets a page lists, and the script shows at a time


class IndexEntry(TypedDict):
    """One dataset on the index page (and in its client-side search)."""

    name: str
    title: str
    title_en: str | None
    summary: str
    themes: list[str]
    tags: list[str]
    formats: list[str]
    modified: str
    search: str


def _island_row(d: IndexEntry) -> list[object]:
    """An entry in the page's compact index, in the order static/search.js reads it."""
    return [d["name"], d["title"], d["title_en"], d["summary"], d["themes"], d["tags"],
            d["formats"], d["modified"], d["search"]]  # fmt: skip


def _index_pages(catalog: Catalog) -> dict[str, str]:
    """The front page — the newest PAGE_SIZE datasets, the search form and the compact index
    its script searches — and, for readers without the script, list pages of the rest."""
    datasets = _index_entries(catalog)
    count = max(1, -(-len(datasets) // PAGE_SIZE))
    page_paths = {n: paths.list_page(n) for n in range(1, count + 1)}
    common = {
        "publisher": catalog.publisher,
        "total": len(datasets),
        "page_size": PAGE_SIZE,
        "pages": count,
        "page_paths": page_paths,
        "themes": sorted({t for d in datasets for t in d["themes"]}),
        "tags": sorted({t for d in datasets for t in d["tags"]}),
        "formats": sorted({f for d in datasets for f in d["formats"]}),
        "entries": _script_json(
            json.dumps(
                [_island_row(d) for d in datasets],
                ensure_ascii=False,
                separators=(",", ":"),
            )
        ),
    }
    template = ENV.get_template("index.html")
    return {
        path: template.render(
            root="../" * path.count("/"),
            page=n,
            first=(n - 1) * PAGE_SIZE + 1,
            shown=datasets[(n - 1) * PAGE_SIZE : n * PAGE_SIZE],
            **common,
        )
        for n, path in page_paths.items()
    }


def _index_entries(catalog: Catalog) -> list[IndexEntry]:
    """Every dataset as the front page lists it, newest first."""
    datasets: list[IndexEntry] = []
    for name, package in catalog.packages.items():
        searchable = " ".join(
            [
                package.title,
                package.title_en or "",
                package.description,
                *package.keywords,
                *package.field_titles,
                *(r.title for r in package.resources),
            ]
        )
        datasets.append(
            {
                "name": name,
                "title": package.title,
                "title_en": package.title_en,
                "summary": _summary(package.description),
                "themes": package.themes,
                "tags": package.keywords,
                "formats": package.formats,
                "modified": package.modified or "",
                "search": fold(searchable),
            }
        )
    datasets.sort(key=lambda d: (d["modified"], d["name"]), reverse=True)
    return datasets


def _size(count: int) -> str:
    if count < 1024:
        return f"{count:,} B"
    size = float(count)
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:,.1f} {unit}"


def _preview(folder: Path, resource: Resource) -> tuple[list[list[str]], int]:
    """The first rows as the CSV writes them (3200, not 3200.0; true, not True) — only those
    lines are read — and the row count from the Parquet twin's footer."""
    csv.field_size_limit(max(csv.field_size_limit(), RECORD.bytes))  # a cell may be megabytes
    with (folder / resource.path).open(encoding="utf-8-sig", newline="") as fh:
        rows = list(itertools.islice(csv.reader(fh), 1, PREVIEW_ROWS + 1))
    cells = [[_cut(cell) for cell in row] for row in rows]
    parquet = pq.ParquetFile(folder / Path(resource.path).with_suffix(".parquet"))
    return cells, parquet.metadata.num_rows


def _cut(cell: str, limit: int = PREVIEW_CHARACTERS) -> str:
    return cell if len(cell) <= limit else cell[: limit - 1] + "…"


def _dataset_page(catalog: Catalog, name: str) -> str:
    package = catalog.packages[name]
    folder = paths.dataset(catalog.site, name)
    files = [
        {
            "path": r.path,
            "title": r.title,
            "format": r.label,
            "size": _size(r.bytes),
            "sha256": r.sha256,
            "about": _about(r),
        }
        for r in package.resources
    ]
    resources = []
    for table in package.tables:
        preview, rows = _preview(folder, table)
        places = point_map(folder, table, catalog.publisher.map_tiles)
        resources.append({**asdict(table), "preview": preview, "rows": rows, "map": places})
    period, years = package.fiscal_period, package.fiscal_years
    jsonld = json.dumps(schemaorg.dataset(catalog, name), ensure_ascii=False, indent=1)
    return ENV.get_template("dataset.html").render(
        root="../../",
        publisher=catalog.publisher,
        p=package,
        summary=_summary(package.description),
        jsonld=_script_json(jsonld),
        files=files,
        resources=resources,
        licence=package.licence,
        attribution=f"出典：{catalog.publisher.catalog_title}（{catalog.dataset_url(name)}）",
        frequency=f"{FREQUENCIES[package.frequency][0]} / {package.frequency}"
        if package.frequency
        else "—",
        period=f"{period[0]} ～ {period[1]}（年度 fiscal years {years[0]}–{years[1]}）"
        if period and years
        else "—",
        issued=package.issued or "",
        modified=package.modified or "",
        versions=package.versions,
        changes=CHANGE_LABELS,
        charts=_charts(package, folder),
        snippets=_snippets(catalog, name, package),
    )


def _about(resource: Resource) -> str:
    """What the check of a file published as it is found, in a line (a table's files: none)."""
    facts = resource.facts
    if not resource.is_file:
        return ""
    if gtfs := facts.get("gtfs"):
        return (
            f"GTFS：停留所 {gtfs['stops']:,}・路線 {gtfs['routes']:,}・便 {gtfs['trips']:,}"
            f" / stops {gtfs['stops']:,}, routes {gtfs['routes']:,}, trips {gtfs['trips']:,}"
        )
    if "pages" in facts:
        return f"{facts['pages']:,} ページ / pages"
    if "features" in facts:
        return f"地物 {facts['features']:,} 件 / features"
    if "width" in facts:
        return f"{facts['width']:,} × {facts['height']:,} px"
    if "files" in facts:
        return f"{facts['files']:,} ファイル / files"
    return ""


def _script_json(text: str) -> Markup:
    """JSON safe inside <script>: no character of the data can end the element or start markup."""
    for char, code in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, code)
    return Markup(text)


def _charts(package: BuiltPackage, folder: Path) -> list[Chart]:
    """The charts the dataset's metadata asks for (`x-opendata: {chart: …}`); an unknown kind
    or a missing resource draws none (the build warns: metadata/quality.py)."""
    if not package.chart or package.chart_missing:
        return []
    from .charts import CHARTS  # matplotlib only for the pages that have charts

    tables = {
        name: pq.read_table(folder / f"{name}.parquet").to_pylist()
        for name in CHART_RESOURCES[package.chart]
    }
    # The plan's own KPI measured by this catalog (the download-stats dataset, when built).
    measured = folder.parent / MEASURED_DATASET / f"{MEASURED_RESOURCE}.parquet"
    if package.chart == "indicators" and measured.is_file():
        tables[MEASURED_RESOURCE] = pq.read_table(measured).to_pylist()
    return CHARTS[package.chart](tables)


def _snippets(catalog: Catalog, name: str, package: BuiltPackage) -> list[dict[str, str]]:
    api = {
        "title": "CKAN API",
        "code": f"curl '{catalog.base_url}api/3/action/package_show?id={name}'\n"
        f"# without a server: {catalog.file_url(name, paths.CKAN_PACKAGE)}",
    }
    if not package.tables:  # files published as they are: download and verify, the API
        first = package.resources[0]
        return [_download(catalog.file_url(name, first.path), first), api]
    csv = package.tables[0]
    parquet = next((r for r in package.resources if r.format == "parquet"), csv)
    csv_url = catalog.file_url(name, csv.path)
    parquet_url = catalog.file_url(name, parquet.path)
    return [
        _download(csv_url, csv),
        {
            "title": "pandas",
            "code": f'import pandas as pd\n\ndf = pd.read_parquet("{parquet_url}")\n# CSV: pd.read_csv("{csv_url}")',
        },
        {"title": "DuckDB", "code": f"SELECT * FROM read_parquet('{parquet_url}') LIMIT 10;"},
        api,
    ]


def _download(url: str, resource: Resource) -> dict[str, str]:
    return {
        "title": "curl（ダウンロードとハッシュの確認 / download and verify）",
        "code": f"curl -fLO {url}\necho '{resource.sha256}  {resource.path}' | sha256sum -c -",
    }
