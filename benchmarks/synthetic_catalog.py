"""A synthetic built catalog of N datasets (Japanese titles and descriptions) for `opendata serve`.

Written as `opendata build` would leave it: a package.json per dataset, the search index and
the site metadata. Only the files the API reads are made (no CSV/Parquet behind them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from catalog import paths
from catalog.api.index import IndexRows, write_index
from catalog.metadata.ckan import organization, site_facts
from catalog.model import Catalog
from pipeline.publisher import Publisher
from pipeline.vocabulary import THEMES

SUBJECTS = ["人口", "防災", "保育園", "図書館", "公園", "Wi-Fi", "人権", "子育て", "介護", "ごみ", "自転車", "AED",
            "避難所", "文化財", "観光", "選挙", "予算", "税", "道路", "公衆トイレ"]  # fmt: skip
PLACES = ["芝", "麻布", "赤坂", "高輪", "芝浦港南", "台場", "白金", "六本木", "青山", "新橋"]
KINDS = ["一覧", "統計", "推移", "施設一覧", "調査結果", "計画", "実績"]
FORMATS = [["CSV"], ["CSV", "Parquet"], ["CSV", "JSON"], ["XLSX"], ["CSV", "Parquet", "JSON"]]


def generate(site: Path, count: int = 100_000, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    publisher = Publisher()
    catalog = Catalog(site, "http://127.0.0.1/", publisher)
    org = organization(catalog)
    groups = list(THEMES)
    start = datetime(2018, 4, 1, tzinfo=UTC)
    rows = IndexRows()
    for i in range(count):
        subject, other = rng.choice(SUBJECTS, 2, replace=False)
        place, kind = rng.choice(PLACES), rng.choice(KINDS)
        name = f"dataset-{i:06d}"
        title = f"{place}地区の{subject}{kind}（{2018 + i % 8}年度）"
        notes = (
            f"港区{place}地区における{subject}に関する{kind}です。{other}に関する情報もあわせて掲載し、"
            f"区民サービスの向上に活用できるよう年度ごとに集計しています。データ番号 {i}。"
        )
        stamp = (start + timedelta(minutes=int(rng.integers(0, 3_000_000)))).replace(microsecond=0)
        theme = groups[i % len(groups)]
        formats = FORMATS[i % len(FORMATS)]
        package = {
            "id": catalog.uuid("dataset", name),
            "name": name,
            "title": title,
            "type": "dataset",
            "state": "active",
            "private": False,
            "notes": notes,
            "license_id": "CC-BY-4.0",
            "license_title": "CC BY 4.0",
            "license_url": "https://creativecommons.org/licenses/by/4.0/",
            "owner_org": org["id"],
            "organization": org,
            "groups": [{"name": THEMES[theme][0], "title": theme, "display_name": theme}],
            "tags": [{"name": t, "display_name": t} for t in {subject, other, kind}],
            "extras": [{"key": "title_en", "value": f"Dataset {i}"}],
            "metadata_created": stamp.isoformat(),
            "metadata_modified": stamp.isoformat(),
            "resources": [
                {
                    "id": catalog.uuid("resource", name, f),
                    "name": f"{title}（{f}）",
                    "format": f,
                    "url": f"http://127.0.0.1/datasets/{name}/data.{f.lower()}",
                    "size": 1000 + i,
                    "hash": "0" * 64,
                }
                for f in formats
            ],
        }
        path = paths.ckan_package(site, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
        rows.add(package, [])
    write_index(site, rows)
    (site / paths.SITE_JSON).write_text(
        json.dumps(site_facts(catalog), ensure_ascii=False), encoding="utf-8"
    )
