"""A 100,000-row point dataset (a 公衆無線LANアクセスポイント一覧 in the legacy standard layout:
value rules, CSV + GeoParquet + GeoJSON) against the 1,000,000-row ledger of bench_build.py,
side by side in one run: the cost per row of a standard dataset with places, as a multiple of
the plain table's. Each is also built at 100 rows, and that run's time (start-up: Python,
pyarrow, the definitions) is taken off before dividing by the rows.

    .venv/bin/python benchmarks/bench_places.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from bench_build import BIN, HERE, compiled, measure
from generate import generate

HEADER = (
    "都道府県コード又は市区町村コード,NO,都道府県名,市区町村名,名称,名称_カナ,名称_英語,住所,方書,"
    "緯度,経度,設置者,電話番号,内線番号,SSID,提供エリア,URL,備考"
)


def points(folder: Path, rows: int) -> None:
    """A dataset folder of `rows` access points spread over the ward."""
    rng = np.random.default_rng(7)
    lat = rng.uniform(35.62, 35.68, rows).round(6)
    lon = rng.uniform(139.71, 139.78, rows).round(6)
    lines = [HEADER]
    for i in range(rows):
        lines.append(
            f"131032,{i + 1},東京都,港区,アクセスポイント{i + 1},アクセスポイント{i + 1},,"
            f"港区芝公園1-5-{i % 50 + 1},,{lat[i]},{lon[i]},港区,03-3578-2111,,Minato_City_Wi-Fi,"
            f"施設内,https://www.city.minato.tokyo.jp/,"
        )
    dataset = folder / "datasets/wifi"
    dataset.mkdir(parents=True)
    (dataset / "wifi.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    definition = {
        "name": "wifi",
        "title": "公衆無線LANアクセスポイント一覧",
        "license": "CC-BY-4.0",
        "resources": [{"name": "wifi", "path": "wifi.csv", "standard": "07"}],
    }
    (dataset / "dataset.yaml").write_text(yaml.safe_dump(definition, allow_unicode=True), "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--plain-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    compiled()
    work = HERE / "data"
    for folder in ("plain", "places", "plain-small", "places-small"):  # its own: others stay
        shutil.rmtree(work / folder, ignore_errors=True)
    generate(work / "plain", rows=args.plain_rows)
    points(work / "places", args.rows)
    generate(work / "plain-small", rows=100)  # start-up alone: taken off before dividing
    points(work / "places-small", 100)
    build = [str(BIN / "opendata"), "build", "--datasets", "datasets", "--out", "dist", "--force"]
    runs = {
        f"plain ledger, {args.plain_rows:,} rows (CSV + Parquet)": ("plain", args.plain_rows),
        f"standard points, {args.rows:,} rows (rules, CSV + GeoParquet + GeoJSON)": (
            "places",
            args.rows,
        ),
    }

    def median(folder: Path) -> tuple[float, float]:
        measured = sorted(measure([*build, "--no-catalog"], folder) for _ in range(args.repeat))
        seconds, peak, code = measured[len(measured) // 2]
        assert code == 0, f"{folder}: exit {code}"
        return seconds, peak

    per_row = {}
    print(f"{'':72} {'seconds':>8} {'start-up':>8} {'peak MB':>8} {'µs/row':>8}")
    for name, (kind, rows) in runs.items():
        seconds, peak = median(work / kind)
        start_up, _ = median(work / f"{kind}-small")
        per_row[name] = (seconds - start_up) / rows * 1e6
        print(f"{name:72} {seconds:8.2f} {start_up:8.2f} {peak:8.0f} {per_row[name]:8.2f}")
    print(f"(median of {args.repeat} runs each)")
    plain, places = per_row.values()
    print(f"\ncost per row: standard points are {places / plain:.2f}× the plain ledger's")
    geojson = work / "places/dist/datasets/wifi/wifi.geojson"
    print(f"GeoJSON: {geojson.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
