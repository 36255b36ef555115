"""A synthetic catalog shaped like the ward's (~600 datasets), as dataset folders to build.

Most are lists of a few hundred to a few thousand rows — a quarter in the national standard
layout of 公衆無線LANアクセスポイント一覧 (07) — a few are larger tables, and some are monthly
series of one file per month. Every dataset carries the metadata a release asks for.
Generated for benchmarks, never published.

    .venv/bin/python benchmarks/ward_catalog.py OUT_DIR [--datasets 600]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).parent
WIFI_HEADER = (
    "都道府県コード又は市区町村コード,NO,都道府県名,市区町村名,名称,名称_カナ,名称_英語,住所,方書,"
    "緯度,経度,設置者,電話番号,内線番号,SSID,提供エリア,URL,備考"
)
FIELDS = [
    {"name": "id", "title": "番号", "type": "integer"},
    {"name": "name", "title": "名称", "type": "string"},
    {"name": "count", "title": "件数", "type": "integer"},
    {"name": "note", "title": "備考", "type": "string"},
]
LARGE = 5  # tables of 100,000 rows
MONTHLY_SHARE = 0.15  # datasets that are a series of monthly files
MONTHS = 24


def _metadata(name: str, title: str) -> dict[str, object]:
    return {
        "name": name,
        "title": title,
        "description": f"{title}です。港区が保有するデータを機械判読できる形で公開しています。"
        "項目の意味は各項目の説明を参照してください。",
        "created": "2024-04-01",
        "keywords": ["港区", "合成データ"],
        "license": "CC-BY-4.0",
        "sources": [{"title": "港区（合成データ）"}],
        "x-opendata": {
            "title_en": f"Synthetic dataset {name}",
            "description_en": "A synthetic dataset shaped like the ward's, for benchmarks.",
            "department": "企画経営部",
            "frequency": "monthly",
            "themes": ["行政・財政"],
        },
    }


def _plain_rows(rng: np.random.Generator, rows: int) -> str:
    names = [f"施設{i}" for i in range(rows)]
    counts = rng.integers(0, 10_000, rows)
    return "番号,名称,件数,備考\n" + "".join(
        f"{i + 1},{names[i]},{counts[i]},\n" for i in range(rows)
    )


def _wifi_rows(rng: np.random.Generator, rows: int) -> str:
    lat = rng.uniform(35.62, 35.68, rows).round(6)
    lon = rng.uniform(139.71, 139.78, rows).round(6)
    return (
        WIFI_HEADER
        + "\n"
        + "".join(
            f"131032,{i + 1},東京都,港区,アクセスポイント{i + 1},アクセスポイント{i + 1},,"
            f"港区芝公園1-5-{i % 50 + 1},,{lat[i]},{lon[i]},港区,03-3578-2111,,Minato_Wi-Fi,"
            f"施設内,https://www.city.minato.tokyo.jp/,\n"
            for i in range(rows)
        )
    )


def fill_a_cell(source: Path, mark: str) -> None:
    """One cell of a list changed: the first row whose last cell (備考) is empty gets `mark`
    — the change the rebuild and release benchmarks make, one dataset at a time."""
    text = source.read_text(encoding="utf-8").replace(",\n", f",{mark}\n", 1)
    source.write_text(text, encoding="utf-8")


def generate(out: Path, datasets: int = 600, seed: int = 20261202) -> Path:
    """Write `out/datasets/`; return it."""
    rng = np.random.default_rng(seed)
    root = out / "datasets"
    shutil.rmtree(root, ignore_errors=True)
    monthly = int(datasets * MONTHLY_SHARE)
    for index in range(datasets):
        name = f"ward-{index:04d}"
        folder = root / name
        folder.mkdir(parents=True)
        definition = _metadata(name, f"合成データセット {index}")
        if index < LARGE:
            (folder / "table.csv").write_text(_plain_rows(rng, 100_000), encoding="utf-8")
            resource: dict[str, object] = {"name": "table", "path": "table.csv"}
        elif index < LARGE + monthly:
            files = [f"{2024 + m // 12}-{m % 12 + 1:02d}.csv" for m in range(MONTHS)]
            for file in files:
                (folder / file).write_text(_plain_rows(rng, 100), encoding="utf-8")
            resource = {"name": "monthly", "path": files}
        elif index % 4 == 0:
            rows = int(rng.integers(200, 3_000))
            (folder / "wifi.csv").write_text(_wifi_rows(rng, rows), encoding="utf-8")
            resource = {"name": "wifi", "path": "wifi.csv", "standard": "07"}
            definition["keywords"] = ["港区", "自治体標準ODS", "公衆無線LANアクセスポイント一覧"]
        else:
            rows = int(rng.integers(200, 3_000))
            (folder / "list.csv").write_text(_plain_rows(rng, rows), encoding="utf-8")
            resource = {"name": "list", "path": "list.csv"}
        if "standard" not in resource:
            schema: dict[str, object] = {"fields": FIELDS}
            if isinstance(resource["path"], str):  # a monthly series repeats its numbers
                schema["primaryKey"] = ["id"]
            resource["schema"] = schema
        definition["resources"] = [resource]
        (folder / "dataset.yaml").write_text(
            yaml.safe_dump(definition, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--datasets", type=int, default=600)
    args = parser.parse_args()
    print(generate(args.out, args.datasets))


if __name__ == "__main__":
    main()
