"""Shared helpers: a real `datasets/` folder written into tmp_path, and the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest_plugins = ["ckan_site"]  # the `ckan_site` fixture: a real CKAN on loopback

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

MINIMAL = {
    "name": "sample-budget",
    "title": "予算の例",
    "license": "CC-BY-4.0",
    "resources": [
        {
            "name": "items",
            "path": "items.csv",
            "schema": {
                "fields": [
                    {"name": "id", "title": "番号", "type": "integer"},
                    {"name": "label", "title": "名称", "type": "string"},
                    {"name": "amount", "title": "金額", "type": "number"},
                    {"name": "fiscal_year", "title": "年度", "type": "integer"},
                ],
                "primaryKey": ["id"],
            },
        }
    ],
}

# MINIMAL with the metadata a release asks for (catalog/quality.py).
PUBLISHABLE = MINIMAL | {
    "description": "港区の予算事業の例です。テスト用に作った小さな表で、1行が1つの事業、金額は千円単位、年度は会計年度を表します。",
    "created": "2024-03-01",
    "keywords": ["予算", "テスト"],
    "sources": [{"title": "テスト用の表"}],
    "x-opendata": {
        "title_en": "Sample budget",
        "description_en": "A small sample of budget items for tests.",
        "department": "企画経営部",
        "frequency": "annual",
    },
}

MINIMAL_CSV = "番号,名称,金額,年度\n1,庁舎管理,3200,令和4年度\n2,情報化推進,150.5,2023\n"


def write_dataset(
    root: Path,
    definition: dict[str, Any],
    files: dict[str, str | bytes],
    encoding: str = "utf-8",
) -> Path:
    """A dataset folder under `root/datasets/` as an officer would leave it."""
    folder = root / "datasets" / definition["name"]
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(definition, allow_unicode=True)
    (folder / "dataset.yaml").write_text(text, encoding="utf-8")
    for file_name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode(encoding)
        (folder / file_name).write_bytes(data)
    return folder


def opendata(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command line as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        check=False,
    )


def report(*args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    done = opendata(*args, "--json", cwd=cwd)
    return done.returncode, json.loads(done.stdout)


def errors_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for d in result["datasets"] for e in d["errors"]] + result["errors"]


@pytest.fixture
def minimal(tmp_path: Path) -> Path:
    write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    return tmp_path


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real catalog, built once from the repository's datasets/."""
    out = tmp_path_factory.mktemp("site") / "dist"
    done = opendata("build", "--datasets", str(ROOT / "datasets"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out
