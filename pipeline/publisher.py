"""Who publishes the catalog: a municipality, read from `datasets/catalog.yaml`.

Minato City is the default; another municipality changes this one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .descriptors import load_yaml, shape_problems
from .errors import DefinitionError, Problem


@dataclass(frozen=True)
class Publisher:
    name: str = "港区"
    name_en: str = "Minato City"
    code: str = "131032"  # 全国地方公共団体コード
    prefecture: str = "東京都"
    url: str = "https://www.city.minato.tokyo.jp/"
    organization: str = "minatoku"  # the CKAN organization name
    catalog_title: str = "港区オープンデータカタログサイト"
    catalog_title_en: str = "Minato City Open Data Catalog"
    site_url: str = "https://opendata.city.minato.tokyo.jp/"  # where dist/ is served
    catalog_department: str = "企画経営部区長室"  # the office that runs the catalog
    email: str | None = None

    def contributors(self, department: str | None) -> list[dict[str, Any]]:
        people: list[dict[str, Any]] = [
            {"title": self.name, "path": self.url, "roles": ["publisher", "rightsHolder"]}
        ]
        if department:
            people.append({"title": department, "organization": self.name, "roles": ["contact"]})
        return people


def check_code(code: str) -> bool:
    """全国地方公共団体コード check digit: S = 6a+5b+4c+3d+2e, check = (11 − S mod 11) mod 10."""
    if len(code) != 6 or not code.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(code[:5], (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10 == int(code[5])


def load_publisher(datasets_dir: Path) -> Publisher:
    path = datasets_dir / "catalog.yaml"
    if not path.exists():
        return Publisher()
    raw = load_yaml(path, path.name) or {}
    shape = shape_problems(raw, "catalog.schema.json", path.name)
    if shape:
        raise DefinitionError(shape)
    known = set(Publisher.__dataclass_fields__)
    unknown = set(raw.get("publisher", {})) - known
    publisher = Publisher(**{k: str(v) for k, v in raw.get("publisher", {}).items() if k in known})
    problems = [
        Problem(
            "package-error",
            f"catalog.yaml の知らない項目です / unknown key: {key}",
            file="catalog.yaml",
        )
        for key in sorted(unknown)
    ]
    if not check_code(publisher.code):
        problems.append(
            Problem(
                "package-error",
                f"全国地方公共団体コード {publisher.code} の検査数字が合いません / bad check digit",
                file="catalog.yaml",
                value=publisher.code,
            )
        )
    if problems:
        raise DefinitionError(problems)
    return publisher
