"""A synthetic 1,000,000-row dataset shaped like a ward's facility ledger (about 45 MB of CSV).

Columns: an integer key, Japanese names, dates, an enum and a number; written as a dataset folder
(`dataset.yaml` + CSV) for `opendata build`, and as a frictionless resource descriptor with the
same schema for `frictionless validate`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import yaml

CATEGORIES = ["学校", "公園", "図書館", "保育園", "会館", "体育館", "庁舎", "集会所"]
PLACES = ["芝", "麻布", "赤坂", "高輪", "芝浦港南", "台場", "白金", "六本木", "青山", "新橋"]

SCHEMA = {
    "fields": [
        {
            "name": "facility_id",
            "title": "施設番号",
            "type": "integer",
            "constraints": {"required": True},
        },
        {"name": "name", "title": "施設名", "type": "string", "constraints": {"required": True}},
        {
            "name": "category",
            "title": "分類",
            "type": "string",
            "constraints": {"enum": CATEGORIES},
        },
        {"name": "opened", "title": "開設日", "type": "date"},
        {
            "name": "floor_area",
            "title": "延床面積",
            "type": "number",
            "constraints": {"minimum": 0},
        },
    ],
    "primaryKey": ["facility_id"],
}


def generate(folder: Path, rows: int = 1_000_000, seed: int = 20261129) -> Path:
    """Write `folder/datasets/facility-ledger/` and `folder/frictionless.json`; return the CSV."""
    rng = np.random.default_rng(seed)
    dataset = folder / "datasets" / "facility-ledger"
    dataset.mkdir(parents=True, exist_ok=True)
    place = pa.array(PLACES).take(pa.array(rng.integers(0, len(PLACES), rows)))
    category = pa.array(CATEGORIES).take(pa.array(rng.integers(0, len(CATEGORIES), rows)))
    number = pc.cast(pa.array(rng.integers(1, 10_000, rows)), pa.string())
    names = pc.binary_join_element_wise(place, number, "号館", "")
    days = pa.array(
        rng.integers(0, 365 * 60, rows).astype("timedelta64[D]") + np.datetime64("1965-01-01")
    )
    table = pa.table(
        {
            "施設番号": pa.array(np.arange(1, rows + 1)),
            "施設名": names,
            "分類": category,
            "開設日": pc.cast(days, pa.date32()),
            "延床面積": pa.array(np.round(rng.uniform(10, 5_000, rows), 1)),
        }
    )
    csv_path = dataset / "facility-ledger.csv"
    pacsv.write_csv(table, csv_path, write_options=pacsv.WriteOptions(quoting_style="none"))
    definition = {
        "name": "facility-ledger",
        "title": "施設台帳（合成データ）",
        "license": "CC-BY-4.0",
        "resources": [{"name": "facility-ledger", "path": csv_path.name, "schema": SCHEMA}],
    }
    (dataset / "dataset.yaml").write_text(
        yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8"
    )
    frictionless_schema = json.loads(json.dumps(SCHEMA))
    for field in frictionless_schema["fields"]:
        field["name"] = field["title"]  # frictionless matches the CSV header by name
    frictionless_schema["primaryKey"] = ["施設番号"]
    path = str(csv_path.relative_to(folder))
    resource = {"name": "facility-ledger", "path": path, "schema": frictionless_schema}
    (folder / "frictionless.json").write_text(
        json.dumps(resource, ensure_ascii=False), encoding="utf-8"
    )
    return csv_path


def change_one_percent(csv_path: Path, folder: Path, seed: int = 3) -> Path:
    """A copy of the generated dataset under `folder/datasets/` with 1% of the floor areas
    changed (+1.0): the next version of the table, for the diff and release benchmarks."""
    table = pacsv.read_csv(csv_path)
    rows = table.num_rows
    changed = np.zeros(rows, dtype=bool)
    changed[np.random.default_rng(seed).choice(rows, rows // 100, replace=False)] = True
    area = pc.if_else(
        pa.array(changed), pc.add(table.column("延床面積"), 1.0), table.column("延床面積")
    )
    table = table.set_column(table.column_names.index("延床面積"), "延床面積", area)
    target = folder / "datasets" / csv_path.parent.name
    shutil.copytree(csv_path.parent, target)
    pacsv.write_csv(
        table, target / csv_path.name, write_options=pacsv.WriteOptions(quoting_style="none")
    )
    return target / csv_path.name
