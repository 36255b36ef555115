"""The catalog's own 「オープンデータ一覧」, built through the same pipeline as every dataset."""

from __future__ import annotations

import csv
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml

from pipeline.build import DatasetResult, build_dataset
from pipeline.presets import find
from pipeline.publisher import Publisher
from pipeline.vocabulary import EXTENSION, FREQUENCIES

from .. import paths
from ..model import BuiltPackage, Catalog
from ..release import archive

NAME = "opendata-list"
DEFINITION = Path(__file__).with_name("opendata-list.yaml")
STANDARD = find("オープンデータ一覧", "current")  # its items are the list's header, in order


@dataclass(frozen=True)
class Listed:
    """What the list says of one dataset."""

    name: str
    title: str
    description: str
    keywords: list[str]
    themes: list[str]
    frequency: str | None
    issued: str | None
    modified: str | None
    formats: list[str]
    licence: str

    @classmethod
    def of(cls, package: BuiltPackage) -> Listed:
        return cls(
            package.name,
            package.title,
            package.description,
            package.keywords,
            package.themes,
            package.frequency,
            package.issued,
            package.modified,
            package.formats,
            package.licence["name"],
        )


def rows(catalog: Catalog, listed: list[Listed]) -> list[list[str]]:
    """One row per published data file."""
    publisher = catalog.publisher
    table = []
    for entry in sorted(listed, key=lambda e: e.name):
        frequency = FREQUENCIES[entry.frequency][0] if entry.frequency else ""
        for label in entry.formats:
            table.append(
                [
                    publisher.code,
                    publisher.prefecture + publisher.name,
                    entry.name,
                    entry.title,
                    entry.description,
                    ";".join(entry.keywords),
                    ";".join(entry.themes),
                    catalog.dataset_url(entry.name),
                    frequency,
                    (entry.issued or entry.modified or "")[:10],
                    (entry.modified or "")[:10],
                    label,
                    entry.licence,
                    "公開",
                ]
            )
    return table


def definition(publisher: Publisher) -> dict[str, Any]:
    """The list's dataset.yaml, its texts naming this publisher."""
    facts = {k: str(v) for k, v in asdict(publisher).items()}

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return Template(value).substitute(facts)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    filled: dict[str, Any] = fill(yaml.safe_load(DEFINITION.read_text(encoding="utf-8")))
    return filled


def build(catalog: Catalog, publisher: Publisher) -> DatasetResult:
    """Write the list's source table next to its definition and build it into the site."""
    own = definition(publisher)
    stamps = [p.issued for p in catalog.packages.values() if p.issued]
    if stamps:
        own["created"] = min(stamps)  # the catalog exists since its first dataset
    last_change = max((p.modified or "" for p in catalog.packages.values()), default="")
    itself = Listed(
        NAME,
        own["title"],
        own["description"],
        own["keywords"],
        own[EXTENSION]["themes"],
        own[EXTENSION]["frequency"],
        own.get("created"),
        last_change,
        ["CSV", "Parquet"],
        own["license"],
    )
    others = [Listed.of(p) for name, p in catalog.packages.items() if name != NAME]
    listed = [*others, itself]  # a list built before (a release rebuilds it) is replaced
    # Built beside the site (one filesystem), then put in place of the list's latest files:
    # its released versions' folders stay, as every dataset's do.
    with tempfile.TemporaryDirectory(dir=catalog.site, prefix=".opendata-list-") as work:
        folder = Path(work) / NAME
        folder.mkdir()
        (folder / "dataset.yaml").write_text(
            yaml.safe_dump(own, allow_unicode=True), encoding="utf-8"
        )
        with (folder / "opendata-list.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow([item.name for item in STANDARD.items])
            writer.writerows(rows(catalog, listed))
        built = Path(work) / "built"
        result = build_dataset(folder, built, publisher)
        if result.valid:
            _install(built, paths.dataset(catalog.site, NAME))
            archive.stamp_released(catalog.site, [NAME])  # its last released version, if any
        return result


def _install(built: Path, target: Path) -> None:
    """The new files in place of the old ones; the version folders (subfolders) kept."""
    target.mkdir(exist_ok=True)
    for old in target.iterdir():
        if old.is_file():
            old.unlink()
    for new in sorted(built.iterdir()):
        new.rename(target / new.name)
