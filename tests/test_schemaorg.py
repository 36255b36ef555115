"""schema.org Dataset JSON-LD embedded in each dataset page (Google Dataset Search)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NAMES = ["facility-counts", "opendata-list", "plan-indicators", "survey-results"]


def _jsonld(page: Path) -> dict:
    html = page.read_text(encoding="utf-8")
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert len(blocks) == 1
    return json.loads(blocks[0])


@pytest.mark.parametrize("name", NAMES)
def test_dataset_page_embeds_a_complete_schema_org_dataset(built_site: Path, name: str) -> None:
    data = _jsonld(built_site / "datasets" / name / "index.html")
    package = json.loads(
        (built_site / "datasets" / name / "datapackage.json").read_text(encoding="utf-8")
    )
    assert data["@type"] == "Dataset" and data["name"] == package["title"]
    assert 50 <= len(data["description"]) <= 5000
    assert data["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert data["creator"]["name"] == "港区"
    assert data["spatialCoverage"]["identifier"] == "131032"
    assert data["includedInDataCatalog"]["@type"] == "DataCatalog"
    assert data["variableMeasured"] and all(
        v["@type"] == "PropertyValue" for v in data["variableMeasured"]
    )
    formats = {d["encodingFormat"] for d in data["distribution"]}
    assert formats == {"text/csv", "application/vnd.apache.parquet"}
    assert all(d["contentUrl"].startswith("https://") for d in data["distribution"])


def test_temporal_coverage_is_an_iso_interval(built_site: Path) -> None:
    data = _jsonld(built_site / "datasets/plan-indicators/index.html")
    assert data["temporalCoverage"] == "2019-04-01/2027-03-31"
