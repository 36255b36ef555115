"""The `download-stats` dataset: `opendata stats --append` adds new months to its source CSVs
(never rewriting a month already there), and `opendata build` publishes it like any dataset.

Small counts: a cell of one dataset and format in one month under `THRESHOLD` downloads is
published empty with `below_threshold` true. Such a cell can point at one reader's act (a
resident who knows they fetched a rarely used file on a given day sees it confirmed); monthly
totals over the whole catalog and the fiscal-year KPI are the plan's own figure and published
exactly.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

JST = timezone(timedelta(hours=9))
NAME = "download-stats"
FISCAL_RESOURCE = "fiscal-years"  # drawn on the plan-indicators page (catalog/site/charts.py)
THRESHOLD = 10
MONTHLY, BY_DATASET, FISCAL = "monthly.csv", "by-dataset.csv", "fiscal-years.csv"
HEADERS = {
    MONTHLY: ["month", "downloads", "datastore_api_calls"],
    BY_DATASET: ["month", "dataset", "format", "downloads", "below_threshold"],
    FISCAL: ["fiscal_year", "through_month", "months_covered", "downloads", "monthly_average"],
}
MONTH = {
    "name": "month",
    "title": "月",
    "type": "string",
    "constraints": {"required": True, "pattern": "[0-9]{4}-[0-9]{2}"},
}

DEFINITION: dict[str, Any] = {
    "name": NAME,
    "title": "オープンデータのダウンロード数（カタログ実測）",
    "description": (
        "港区オープンデータカタログの公開ファイルが月ごとに何回ダウンロードされたかを、Web"
        "サーバーのアクセスログから数えたデータです。基本計画の成果指標 P24-2-1「月平均のオープン"
        "データダウンロード数」を、年度（4月～翌3月）の月平均として、集計した月数とともに示します。"
        "同じ利用者が同じ日に同じファイルを何度取得しても1回と数え、クローラーや HEAD・304・エラーの"
        "応答は数えません。データセット・形式別の値が10未満の月は値を空欄にしています。"
    ),
    "version": "1.0.0",
    "keywords": ["ダウンロード数", "成果指標", "オープンデータ", "アクセスログ", "港区"],
    "license": "CC-BY-4.0",
    "sources": [{"title": "オープンデータカタログの Web サーバーのアクセスログ（opendata stats）"}],
    "x-opendata": {
        "title_en": "Open-data downloads measured by the catalog",
        "description_en": (
            "Monthly downloads of the catalog's published files counted from the web server's "
            "access logs, and the Basic Plan indicator P24-2-1 (monthly average downloads) per "
            "fiscal year with the months covered."
        ),
        "department": "企画経営部区長室",
        "frequency": "monthly",
        "spatial": "131032",
        "themes": ["行政・財政"],
    },
    "resources": [
        {
            "name": "monthly",
            "title": "月別ダウンロード数（カタログ全体）",
            "description": "月（日本時間）ごとの公開ファイルのダウンロード数と、API の datastore 呼び出し数（別に集計）です。",
            "path": MONTHLY,
            "schema": {
                "fields": [
                    MONTH,
                    {
                        "name": "downloads",
                        "title": "ダウンロード数",
                        "type": "integer",
                        "constraints": {"required": True, "minimum": 0},
                    },
                    {
                        "name": "datastore_api_calls",
                        "title": "API datastore 呼び出し数",
                        "type": "integer",
                        "constraints": {"minimum": 0},
                    },
                ],
                "primaryKey": ["month"],
            },
        },
        {
            "name": "by-dataset",
            "title": "データセット・形式別の月別ダウンロード数",
            "description": f"月・データセット・形式ごとのダウンロード数です。{THRESHOLD}未満の値は空欄にし、below_threshold を true にしています。",
            "path": BY_DATASET,
            "schema": {
                "fields": [
                    MONTH,
                    {
                        "name": "dataset",
                        "title": "データセット",
                        "type": "string",
                        "constraints": {"required": True},
                    },
                    {
                        "name": "format",
                        "title": "形式",
                        "type": "string",
                        "constraints": {"required": True},
                    },
                    {
                        "name": "downloads",
                        "title": "ダウンロード数",
                        "type": "integer",
                        "constraints": {"minimum": THRESHOLD},
                    },
                    {
                        "name": "below_threshold",
                        "title": f"{THRESHOLD}未満",
                        "type": "boolean",
                        "constraints": {"required": True},
                    },
                ],
                "primaryKey": ["month", "dataset", "format"],
            },
        },
        {
            "name": FISCAL_RESOURCE,
            "title": "年度の月平均ダウンロード数（成果指標 P24-2-1）",
            "description": "年度（4月～翌3月）の月平均ダウンロード数です。月を追加するたびに、その月までの集計を1行追加します（through_month までの months_covered か月の平均）。年度の最後の行がその年度の値です。",
            "path": FISCAL,
            "schema": {
                "fields": [
                    {
                        "name": "fiscal_year",
                        "title": "年度",
                        "type": "integer",
                        "constraints": {"required": True},
                    },
                    dict(MONTH, name="through_month", title="集計した最後の月"),
                    {
                        "name": "months_covered",
                        "title": "集計した月数",
                        "type": "integer",
                        "constraints": {"required": True, "minimum": 1, "maximum": 12},
                    },
                    {
                        "name": "downloads",
                        "title": "ダウンロード数（年度累計）",
                        "type": "integer",
                        "constraints": {"required": True, "minimum": 0},
                    },
                    {
                        "name": "monthly_average",
                        "title": "月平均ダウンロード数",
                        "type": "number",
                        "constraints": {"required": True, "minimum": 0},
                    },
                ],
                "primaryKey": ["fiscal_year", "through_month"],
            },
        },
    ],
}


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _append(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows added at the end; the lines already there are left byte for byte."""
    header = HEADERS[path.name]
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n")
    if not path.is_file():
        writer.writeheader()
    writer.writerows(rows)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(out.getvalue())


def fiscal_year(month: str) -> int:
    year, number = int(month[:4]), int(month[5:])
    return year if number >= 4 else year - 1


def append(datasets: Path, result: dict[str, Any], until: str | None) -> dict[str, Any]:
    """The months of `result` after the dataset's last month, up to `until` (default: the month
    before the newest one in the logs, which may still be under way), appended; the dataset is
    created on the first run. Returns what was appended and what was left."""
    folder = datasets / NAME
    folder.mkdir(parents=True, exist_ok=True)
    definition = folder / "dataset.yaml"
    if not definition.is_file():
        created = {"created": datetime.now(JST).date().isoformat()}  # the first run's day
        text = yaml.safe_dump(DEFINITION | created, allow_unicode=True, sort_keys=False)
        definition.write_text(text, encoding="utf-8")
    monthly = _rows(folder / MONTHLY)
    last = max((r["month"] for r in monthly), default="")
    covered: list[str] = result["months_covered"]
    limit = until or (covered[-1] if covered else "")
    if until is None and covered:
        limit = max((m for m in covered if m < covered[-1]), default="")
    new = [m for m in covered if last < m <= limit]
    kept = [m for m in covered if m <= last]
    by_month = {m["month"]: m for m in result["months"]}
    _append(folder / MONTHLY, [by_month[m] for m in new])
    _append(
        folder / BY_DATASET,
        [
            {
                **row,
                "downloads": row["downloads"] if row["downloads"] >= THRESHOLD else "",
                "below_threshold": "true" if row["downloads"] < THRESHOLD else "false",
            }
            for row in result["by_dataset"]
            if row["month"] in new
        ],
    )
    totals = {r["month"]: int(r["downloads"]) for r in monthly} | {
        m: by_month[m]["downloads"] for m in new
    }
    fiscal = []
    for month in new:
        year = fiscal_year(month)
        months = [m for m in totals if fiscal_year(m) == year and m <= month]
        total = sum(totals[m] for m in months)
        fiscal.append(
            {
                "fiscal_year": year,
                "through_month": month,
                "months_covered": len(months),
                "downloads": total,
                "monthly_average": round(total / len(months), 1),
            }
        )
    _append(folder / FISCAL, fiscal)
    left = [m for m in covered if m > limit]
    return {"dataset": str(folder), "appended": new, "kept": kept, "left_for_later": left}
