"""The static catalog site: an index with client-side Japanese search, and a page per dataset.

Every page works from disk (file://) with no server: links are relative, the search index lives
in the index page itself, and charts are inline SVG. All text is escaped by Jinja2.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from pipeline.vocabulary import FREQUENCIES

from .. import paths
from ..metadata import schemaorg
from ..metadata.opendata_list import NAME as OPENDATA_LIST
from ..model import (
    FORMAT_LABELS,
    Catalog,
    fiscal_period,
    issued,
    meta,
    modified,
    versions,
)
from ..release import archive
from ..release.diff import DatasetDiff, diff_sites
from ..text import fold

PREVIEW_ROWS = 10
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
ENV = Environment(
    loader=PackageLoader("catalog.site"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)
# Readable JSON in pages (Jinja's tojson escapes every Japanese character).
ENV.filters["as_json"] = lambda value: json.dumps(value, ensure_ascii=False, default=str)


def write_site(catalog: Catalog, diffs: list[DatasetDiff] | None = None) -> None:
    """The pages; `diffs` are the changes since the last release when already known."""
    site = catalog.site
    shutil.copytree(Path(__file__).with_name("static"), site / paths.STATIC, dirs_exist_ok=True)
    (site / paths.INDEX_PAGE).write_text(_index(catalog), encoding="utf-8")
    for name in catalog.packages:
        paths.dataset_page(site, name).write_text(_dataset_page(catalog, name), encoding="utf-8")
    (site / paths.CHANGES_PAGE).write_text(_changes_page(catalog, diffs), encoding="utf-8")


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


def _index(catalog: Catalog) -> str:
    datasets = []
    for name, package in catalog.packages.items():
        extra = meta(package)
        fields = [f.get("title", "") for r in package["resources"] for f in r["schema"]["fields"]]
        searchable = " ".join(
            [
                package.get("title", ""),
                extra.get("title_en", ""),
                package.get("description", ""),
                *(package.get("keywords") or []),
                *fields,
                *(r.get("title", "") for r in package["resources"]),
            ]
        )
        datasets.append(
            {
                "name": name,
                "title": package.get("title", name),
                "title_en": extra.get("title_en"),
                "summary": _summary(package.get("description", "")),
                "themes": extra.get("themes") or [],
                "tags": package.get("keywords") or [],
                "formats": sorted({FORMAT_LABELS[r["format"]] for r in package["resources"]}),
                "modified": modified(package) or "",
                "search": fold(searchable),
            }
        )
    datasets.sort(key=lambda d: (d["modified"], d["name"]), reverse=True)
    return ENV.get_template("index.html").render(
        root="",
        publisher=catalog.publisher,
        datasets=datasets,
        themes=sorted({t for d in datasets for t in d["themes"]}),
        tags=sorted({t for d in datasets for t in d["tags"]}),
        formats=sorted({f for d in datasets for f in d["formats"]}),
    )


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:,} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1024
    return str(count)


def _preview(folder: Path, resource: dict[str, Any]) -> tuple[list[list[str]], int]:
    """The first rows and the row count, from the Parquet twin: its footer knows the count and
    its first batch is all that is read, however large the file."""
    parquet = pq.ParquetFile(folder / Path(resource["path"]).with_suffix(".parquet"))
    batch = next(parquet.iter_batches(batch_size=PREVIEW_ROWS), None)
    rows = batch.to_pylist() if batch is not None else []
    cells = [["" if v is None else str(v) for v in row.values()] for row in rows]
    return cells, parquet.metadata.num_rows


def _dataset_page(catalog: Catalog, name: str) -> str:
    package = catalog.packages[name]
    extra = meta(package)
    folder = paths.dataset(catalog.site, name)
    files = [
        {
            "path": r["path"],
            "title": r.get("title", r["name"]),
            "format": FORMAT_LABELS[r["format"]],
            "size": _size(r["bytes"]),
            "sha256": r["hash"].removeprefix("sha256:"),
        }
        for r in package["resources"]
    ]
    resources = []
    for resource in package["resources"]:
        if resource["format"] != "csv":
            continue
        preview, rows = _preview(folder, resource)
        resources.append({**resource, "preview": preview, "rows": rows})
    period = fiscal_period(package)
    licence = package["licenses"][0]
    jsonld = json.dumps(schemaorg.dataset(catalog, name), ensure_ascii=False, indent=1)
    return ENV.get_template("dataset.html").render(
        root="../../",
        publisher=catalog.publisher,
        p=package,
        m=extra,
        summary=_summary(package.get("description", "")),
        jsonld=_script_json(jsonld),
        files=files,
        resources=resources,
        licence=licence,
        attribution=f"出典：{catalog.publisher.catalog_title}（{catalog.dataset_url(name)}）",
        frequency=" / ".join(
            [FREQUENCIES[extra["frequency"]][0], extra["frequency"]]
            if extra.get("frequency") in FREQUENCIES
            else ["—"]
        ),
        period=f"{period[0]} ～ {period[1]}（年度 fiscal years {extra['temporal']['start']}–{extra['temporal']['end']}）"
        if period
        else "—",
        issued=issued(package) or "",
        modified=modified(package) or "",
        versions=versions(package),
        changes=CHANGE_LABELS,
        charts=_charts(folder) if name == "plan-indicators" else [],
        snippets=_snippets(catalog, name, package),
    )


def _script_json(text: str) -> Markup:
    """JSON safe inside <script>: no character of the data can end the element or start markup."""
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escape)
    return Markup(text)


def _charts(folder: Path) -> list[dict[str, str]]:
    from .charts import indicator_charts  # matplotlib only for the pages that have charts

    indicators = pq.read_table(folder / "indicators.parquet").to_pylist()
    values = pq.read_table(folder / "indicator-values.parquet").to_pylist()
    svgs = indicator_charts(indicators, values)
    return [
        {
            "id": i["indicator_id"],
            "name": i["name"],
            "unit": i.get("unit") or "",
            "svg": svgs[i["indicator_id"]],
        }
        for i in indicators
        if i["indicator_id"] in svgs
    ]


def _snippets(catalog: Catalog, name: str, package: dict[str, Any]) -> list[dict[str, str]]:
    csv = next(r for r in package["resources"] if r["format"] == "csv")
    parquet = next((r for r in package["resources"] if r["format"] == "parquet"), csv)
    csv_url = catalog.file_url(name, csv["path"])
    parquet_url = catalog.file_url(name, parquet["path"])
    sha = csv["hash"].removeprefix("sha256:")
    return [
        {
            "title": "curl（ダウンロードとハッシュの確認 / download and verify）",
            "code": f"curl -fLO {csv_url}\necho '{sha}  {csv['path']}' | sha256sum -c -",
        },
        {
            "title": "pandas",
            "code": f'import pandas as pd\n\ndf = pd.read_parquet("{parquet_url}")\n# CSV: pd.read_csv("{csv_url}")',
        },
        {"title": "DuckDB", "code": f"SELECT * FROM read_parquet('{parquet_url}') LIMIT 10;"},
        {
            "title": "CKAN API",
            "code": f"curl '{catalog.base_url}api/3/action/package_show?id={name}'\n"
            f"# without a server: {catalog.file_url(name, paths.CKAN_PACKAGE)}",
        },
    ]
