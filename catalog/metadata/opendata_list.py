"""The catalog's own 「オープンデータ一覧」, built through the same pipeline as every dataset."""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from pipeline.build import DatasetResult, build_dataset
from pipeline.publisher import Publisher
from pipeline.vocabulary import FREQUENCIES

from .. import paths
from ..model import FORMAT_LABELS, Catalog, issued, meta, modified

NAME = "opendata-list"
DEFINITION = Path(__file__).with_name("opendata-list.yaml")
HEADER = [
    "全国地方公共団体コード",
    "地方公共団体名",
    "データセット_ID",
    "データセット_タイトル",
    "データセット_概要",
    "データセット_キーワード",
    "データセット_分類",
    "データセット_URL",
    "データセット_更新頻度",
    "データセット_公開日",
    "データセット_最終更新日",
    "ファイル形式",
    "ファイル_ライセンス",
    "ファイル_ステータス",
]


def rows(catalog: Catalog, own: dict[str, Any]) -> list[list[str]]:
    """One row per published data file, the list itself included."""
    publisher = catalog.publisher
    packages = {**catalog.packages, NAME: own}
    last_change = max((modified(p) or "" for p in catalog.packages.values()), default="")
    table = []
    for name, package in sorted(packages.items()):
        extra = meta(package)
        updated = last_change if name == NAME else modified(package)
        for label in sorted({FORMAT_LABELS[r["format"]] for r in package["resources"]}):
            table.append(
                [
                    publisher.code,
                    publisher.prefecture + publisher.name,
                    name,
                    package["title"],
                    package.get("description", ""),
                    ";".join(package.get("keywords") or []),
                    ";".join(extra.get("themes") or []),
                    catalog.dataset_url(name),
                    FREQUENCIES.get(extra.get("frequency"), ("",))[0],
                    (issued(package) or updated or "")[:10],
                    (updated or "")[:10],
                    label,
                    package["licenses"][0]["name"],
                    "公開",
                ]
            )
    return table


def build(catalog: Catalog, publisher: Publisher) -> DatasetResult:
    """Write the list's source table next to its definition and build it into the site."""
    definition = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))
    stamps = [issued(p) for p in catalog.packages.values() if issued(p)]
    if stamps:
        definition["created"] = min(stamps)  # the catalog exists since its first dataset
    own = {
        "title": definition["title"],
        "description": definition["description"],
        "keywords": definition["keywords"],
        "licenses": [{"name": definition["license"]}],
        "created": definition.get("created"),
        "x-opendata": definition["x-opendata"],
        "resources": [{"format": "csv"}, {"format": "parquet"}],
    }
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / NAME
        folder.mkdir()
        (folder / "dataset.yaml").write_text(
            yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8"
        )
        with (folder / "opendata-list.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(rows(catalog, own))
        target = paths.dataset(catalog.site, NAME)
        shutil.rmtree(target, ignore_errors=True)
        return build_dataset(folder, target, publisher)
