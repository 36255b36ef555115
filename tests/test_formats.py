"""The published CSV and Parquet agree, read by pandas, pyarrow and DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

RESOURCES = [
    ("plan-indicators", "indicators"),
    ("plan-indicators", "indicator-values"),
    ("facility-counts", "facility-counts"),
    ("survey-results", "survey-results"),
]


@pytest.mark.parametrize(("dataset", "resource"), RESOURCES)
def test_parquet_and_csv_hold_the_same_rows(built_site: Path, dataset: str, resource: str) -> None:
    folder = built_site / "datasets" / dataset
    parquet = pq.read_table(folder / f"{resource}.parquet")
    csv_types = {
        f.name: (pa.string() if pa.types.is_dictionary(f.type) else f.type) for f in parquet.schema
    }
    csv = pacsv.read_csv(
        folder / f"{resource}.csv",
        convert_options=pacsv.ConvertOptions(column_types=csv_types, strings_can_be_null=True),
    )
    assert parquet.num_rows == csv.num_rows > 0
    for name in parquet.column_names:
        assert (
            parquet.column(name).cast(csv_types[name]).to_pylist() == csv.column(name).to_pylist()
        ), name


@pytest.mark.parametrize(("dataset", "resource"), RESOURCES)
def test_duckdb_reads_both_formats_alike(built_site: Path, dataset: str, resource: str) -> None:
    """DuckDB reads the CSV with the types the datapackage.json declares, as a user would."""
    folder = built_site / "datasets" / dataset
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    fields = next(r for r in package["resources"] if r["name"] == resource)["schema"]["fields"]
    sql_types = {"integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN", "string": "VARCHAR"}
    types = ", ".join(f"'{f['name']}': '{sql_types[f['type']]}'" for f in fields)
    con = duckdb.connect()
    from_parquet = con.execute(
        f"SELECT * FROM read_parquet('{folder / resource}.parquet')"
    ).fetchall()
    from_csv = con.execute(
        f"SELECT * FROM read_csv('{folder / resource}.csv', header=true, types={{{types}}})"
    ).fetchall()
    assert len(from_parquet) == len(from_csv)
    assert [tuple(map(str, r)) for r in from_parquet] == [tuple(map(str, r)) for r in from_csv]


def test_pandas_reads_the_bom_csv_with_clean_headers(built_site: Path) -> None:
    frame = pd.read_csv(built_site / "datasets/plan-indicators/indicator-values.csv")
    assert frame.columns[0] == "indicator_id"  # the BOM is not part of the name
    assert frame["value"].dtype == "float64"


def test_parquet_types_follow_the_table_schema(built_site: Path) -> None:
    schema = pq.read_schema(built_site / "datasets/plan-indicators/indicator-values.parquet")
    assert schema.field("fiscal_year").type == pa.int64()
    assert schema.field("value").type == pa.float64()
    assert schema.field("estimated").type == pa.bool_()
    assert schema.field("indicator_id").type == pa.string()
    assert pa.types.is_dictionary(schema.field("kind").type)  # an enum: low cardinality


def test_parquet_carries_titles_and_dataset_identity(built_site: Path) -> None:
    path = built_site / "datasets/plan-indicators/indicators.parquet"
    schema = pq.read_schema(path)
    assert schema.field("name").metadata[b"title"].decode() == "成果指標名"
    identity = json.loads(schema.metadata[b"opendata"])
    assert identity["dataset"] == "plan-indicators" and identity["license"] == ["CC-BY-4.0"]
    meta = pq.ParquetFile(path).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_resources_declare_format_mediatype_encoding_bytes_and_sha256(built_site: Path) -> None:
    import hashlib

    folder = built_site / "datasets/plan-indicators"
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert package["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    formats = sorted((r["name"], r["format"], r["mediatype"]) for r in package["resources"])
    assert formats == [
        ("indicator-values", "csv", "text/csv"),
        ("indicator-values-parquet", "parquet", "application/vnd.apache.parquet"),
        ("indicators", "csv", "text/csv"),
        ("indicators-parquet", "parquet", "application/vnd.apache.parquet"),
    ]
    for resource in package["resources"]:
        data = (folder / resource["path"]).read_bytes()
        assert resource["type"] == "table"
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        if resource["format"] == "csv":
            assert resource["bytes"] == len(data) and resource["encoding"] == "utf-8"
        else:  # frictionless-py counts no Parquet bytes, so the size is ours (x-opendata)
            assert "bytes" not in resource and "encoding" not in resource
            assert resource["x-opendata"]["bytes"] == len(data)
