"""What changed between two builds, per dataset: metadata, schema, and rows keyed on the
primary key with the changed cells (old → new). Columnar: Arrow joins over the Parquet files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.files import read_json
from pipeline.vocabulary import EXTENSION

from .. import paths

SHOWN = 20  # rows of each kind listed; all are counted
# Not compared as metadata: resources are compared on their own; the version and the release
# facts are what a release decides; provenance is the source file's bytes, whose content the
# rows already compare.
IGNORED_METADATA = {"resources", "x-opendata", "version"}
IGNORED_EXTENSION = {"provenance", "modified", "data_modified", "versions"}
DESCRIBING_KEYS = ("title", "description")


DatasetStatus = Literal["added", "removed", "changed", "unchanged"]
ResourceStatus = Literal["added", "removed", "changed"]
SchemaChangeKind = Literal[
    "added", "removed", "renamed", "reordered", "described", "retyped", "constraints", "primaryKey"
]
# What each kind of schema change says beyond its kind (and so what its JSON holds).
SCHEMA_CHANGE_KEYS: dict[str, tuple[str, ...]] = {
    "added": ("field",),
    "removed": ("field",),
    "described": ("field",),
    "renamed": ("field", "new_name"),
    "reordered": ("old",),
    "retyped": ("field", "old", "new"),
    "constraints": ("field", "old", "new"),
    "primaryKey": ("old", "new"),
}


@dataclass(frozen=True)
class MetadataChange:
    key: str  # title, x-opendata.department, resources.<name>.description, …
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class SchemaChange:
    change: SchemaChangeKind
    field: str = ""
    new_name: str | None = None
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"change": self.change} | {
            k: getattr(self, k) for k in SCHEMA_CHANGE_KEYS[self.change]
        }


@dataclass(frozen=True)
class CellChange:
    old: Any
    new: Any


@dataclass(frozen=True)
class ChangedRow:
    key: dict[str, Any]
    cells: dict[str, CellChange]

    def to_dict(self) -> dict[str, Any]:
        cells = {c: {"old": v.old, "new": v.new} for c, v in self.cells.items()}
        return {"key": self.key, "cells": cells}


@dataclass(frozen=True)
class FileChange:
    """A file published as it is whose bytes changed (its sha256), or whose format did."""

    old_sha256: str
    new_sha256: str
    old_bytes: int
    new_bytes: int
    old_format: str
    new_format: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_sha256": self.old_sha256,
            "new_sha256": self.new_sha256,
            "old_bytes": self.old_bytes,
            "new_bytes": self.new_bytes,
            "old_format": self.old_format,
            "new_format": self.new_format,
        }


@dataclass
class ResourceDiff:
    name: str
    status: ResourceStatus = "changed"
    kind: Literal["table", "file"] = "table"
    file: FileChange | None = None  # a file resource's new bytes
    schema: list[SchemaChange] = field(default_factory=list)
    key: list[str] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    changed: int = 0
    added_rows: list[dict[str, Any]] = field(default_factory=list)
    removed_rows: list[dict[str, Any]] = field(default_factory=list)
    changed_rows: list[ChangedRow] = field(default_factory=list)
    note: str | None = None  # how the rows were compared, when not by the primary key

    @property
    def empty(self) -> bool:
        changes = self.schema or self.added or self.removed or self.changed or self.file
        return not changes and self.status == "changed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "kind": self.kind,
            "file": self.file.to_dict() if self.file else None,
            "schema": [c.to_dict() for c in self.schema],
            "key": self.key,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "added_rows": self.added_rows,
            "removed_rows": self.removed_rows,
            "changed_rows": [r.to_dict() for r in self.changed_rows],
            "note": self.note,
        }


@dataclass
class DatasetDiff:
    name: str
    status: DatasetStatus
    metadata: list[MetadataChange] = field(default_factory=list)
    resources: list[ResourceDiff] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "metadata": [m.to_dict() for m in self.metadata],
            "resources": [r.to_dict() for r in self.resources],
        }


def diff_sites(old: Path, new: Path) -> list[DatasetDiff]:
    """Every dataset of either build, compared."""
    old_names = set(paths.built_names(old))
    new_names = set(paths.built_names(new))
    result = []
    for name in sorted(old_names | new_names):
        if name not in old_names:
            result.append(DatasetDiff(name, "added"))
        elif name not in new_names:
            result.append(DatasetDiff(name, "removed"))
        else:
            result.append(diff_dataset(paths.dataset(old, name), paths.dataset(new, name)))
    return result


def _package(folder: Path) -> dict[str, Any]:
    return read_json(paths.descriptor(folder))


def diff_dataset(old: Path, new: Path) -> DatasetDiff:
    before, after = _package(old), _package(new)
    metadata = [
        MetadataChange(key, before.get(key), after.get(key))
        for key in sorted((set(before) | set(after)) - IGNORED_METADATA)
        if before.get(key) != after.get(key)
    ]
    old_meta = _extension(before)
    new_meta = _extension(after)
    metadata += [
        MetadataChange(f"{EXTENSION}.{key}", old_meta.get(key), new_meta.get(key))
        for key in sorted(set(old_meta) | set(new_meta))
        if old_meta.get(key) != new_meta.get(key)
    ]
    old_tables = {r["name"]: r for r in before["resources"] if _is_table(r)}
    new_tables = {r["name"]: r for r in after["resources"] if _is_table(r)}
    resources = []
    for name in sorted(set(old_tables) | set(new_tables)):
        if name not in old_tables or name not in new_tables:
            resources.append(ResourceDiff(name, "added" if name in new_tables else "removed"))
            continue
        metadata += [
            MetadataChange(
                f"resources.{name}.{key}", old_tables[name].get(key), new_tables[name].get(key)
            )
            for key in DESCRIBING_KEYS
            if old_tables[name].get(key) != new_tables[name].get(key)
        ]
        resources.append(diff_resource(old, new, old_tables[name], new_tables[name]))
    old_files = {r["name"]: r for r in before["resources"] if is_file(r)}
    new_files = {r["name"]: r for r in after["resources"] if is_file(r)}
    for name in sorted(set(old_files) | set(new_files)):
        if name not in old_files or name not in new_files:
            status: ResourceStatus = "added" if name in new_files else "removed"
            resources.append(ResourceDiff(name, status, kind="file"))
            continue
        was, now = old_files[name], new_files[name]
        metadata += [
            MetadataChange(f"resources.{name}.{key}", was.get(key), now.get(key))
            for key in DESCRIBING_KEYS
            if was.get(key) != now.get(key)
        ]
        resources.append(diff_file(was, now))
    resources = [r for r in resources if not r.empty]
    return DatasetDiff(
        old.name, "changed" if metadata or resources else "unchanged", metadata, resources
    )


def is_file(resource: dict[str, Any]) -> bool:
    """A file published as it is (GTFS, PDF, …): its bytes are its content."""
    return bool((resource.get(EXTENSION) or {}).get("kind") == "file")


def _is_table(resource: dict[str, Any]) -> bool:
    return resource["format"] == "csv" and not is_file(resource)


def diff_file(before: dict[str, Any], after: dict[str, Any]) -> ResourceDiff:
    """A file is compared by its sha256 (and its format): its inside is not a table of rows."""
    result = ResourceDiff(before["name"], kind="file")
    if before["hash"] != after["hash"] or before["format"] != after["format"]:
        result.file = FileChange(
            before["hash"].removeprefix("sha256:"),
            after["hash"].removeprefix("sha256:"),
            before["bytes"],
            after["bytes"],
            before["format"],
            after["format"],
        )
    return result


def _extension(package: dict[str, Any]) -> dict[str, Any]:
    extension = package.get(EXTENSION) or {}
    return {k: v for k, v in extension.items() if k not in IGNORED_EXTENSION}


def schema_changes(old: dict[str, Any], new: dict[str, Any]) -> list[SchemaChange]:
    """Fields added, removed, renamed (same place and type, new name), reordered, retyped,
    re-constrained or re-described."""
    before = {f["name"]: f for f in old["fields"]}
    after = {f["name"]: f for f in new["fields"]}
    changes: list[SchemaChange] = []
    gone = [f for f in old["fields"] if f["name"] not in after]
    came = [f for f in new["fields"] if f["name"] not in before]
    for removed in list(gone):
        position = old["fields"].index(removed)
        twin = new["fields"][position] if position < len(new["fields"]) else None
        if twin is not None and twin in came and twin.get("type") == removed.get("type"):
            changes.append(SchemaChange("renamed", removed["name"], new_name=twin["name"]))
            gone.remove(removed)
            came.remove(twin)
    changes += [SchemaChange("removed", f["name"]) for f in gone]
    changes += [SchemaChange("added", f["name"]) for f in came]
    kept = [f["name"] for f in old["fields"] if f["name"] in after]
    if kept != [f["name"] for f in new["fields"] if f["name"] in before]:
        changes.append(SchemaChange("reordered", old=kept))
    for name in before.keys() & after.keys():
        if any(before[name].get(k) != after[name].get(k) for k in DESCRIBING_KEYS):
            changes.append(SchemaChange("described", name))
        if before[name].get("type") != after[name].get("type"):
            changes.append(
                SchemaChange(
                    "retyped", name, old=before[name].get("type"), new=after[name].get("type")
                )
            )
        if (before[name].get("constraints") or {}) != (after[name].get("constraints") or {}):
            old_rules, new_rules = before[name].get("constraints"), after[name].get("constraints")
            changes.append(SchemaChange("constraints", name, old=old_rules, new=new_rules))
    if old.get("primaryKey") != new.get("primaryKey"):
        changes.append(
            SchemaChange("primaryKey", old=old.get("primaryKey"), new=new.get("primaryKey"))
        )
    return sorted(changes, key=lambda c: (c.change, c.field))


def diff_resource(
    old: Path, new: Path, before: dict[str, Any], after: dict[str, Any]
) -> ResourceDiff:
    result = ResourceDiff(before["name"], schema=schema_changes(before["schema"], after["schema"]))
    if before["hash"] == after["hash"] and not result.schema:
        return result  # the same CSV bytes: the same rows
    old_table, new_table = _table(old, before), _table(new, after)
    key = list(after["schema"].get("primaryKey") or [])
    if (
        key
        and before["schema"].get("primaryKey") == key
        and set(key) <= set(old_table.column_names)
    ):
        _keyed_rows(result, old_table, new_table, key)
    else:
        result.note = (
            "主キーが同じでないため行全体で比較しました（変更は追加と削除として数えます）"
            " / no common primary key: whole rows compared, a change counts as removed + added"
        )
        _whole_rows(result, old_table, new_table)
    return result


def _keyed_rows(
    result: ResourceDiff, old_table: pa.Table, new_table: pa.Table, key: list[str]
) -> None:
    result.key = key
    order = [(k, "ascending") for k in key]  # joins return rows in no set order
    added = new_table.join(old_table.select(key), keys=key, join_type="left anti").sort_by(order)
    removed = old_table.join(new_table.select(key), keys=key, join_type="left anti").sort_by(order)
    result.added, result.removed = added.num_rows, removed.num_rows
    result.added_rows = added.slice(0, SHOWN).to_pylist()
    result.removed_rows = removed.slice(0, SHOWN).to_pylist()
    common = [c for c in new_table.column_names if c in old_table.column_names and c not in key]
    joined = old_table.select([*key, *common]).join(
        new_table.select([*key, *common]), keys=key, join_type="inner", right_suffix=" (new)"
    )
    differs = pa.array([False] * joined.num_rows, pa.bool_())
    for column in common:
        differs = pc.or_(differs, _differs(joined.column(column), joined.column(f"{column} (new)")))
    changed = joined.filter(differs).sort_by(order)
    result.changed = changed.num_rows
    for row in changed.slice(0, SHOWN).to_pylist():
        cells = {
            c: CellChange(row[c], row[f"{c} (new)"]) for c in common if row[c] != row[f"{c} (new)"]
        }
        result.changed_rows.append(ChangedRow({k: row[k] for k in key}, cells))


def _whole_rows(result: ResourceDiff, old_table: pa.Table, new_table: pa.Table) -> None:
    """Rows present on one side only, each row compared as a whole over the common columns."""
    common = [c for c in new_table.column_names if c in old_table.column_names]
    old_rows, new_rows = _row_text(old_table, common), _row_text(new_table, common)
    added = new_table.filter(pc.invert(pc.is_in(new_rows, value_set=old_rows)))
    removed = old_table.filter(pc.invert(pc.is_in(old_rows, value_set=new_rows)))
    result.added, result.removed = added.num_rows, removed.num_rows
    result.added_rows = added.slice(0, SHOWN).to_pylist()
    result.removed_rows = removed.slice(0, SHOWN).to_pylist()


def _row_text(table: pa.Table, columns: list[str]) -> pa.Array:
    """Each row as one string (null written apart from any text), to compare rows whole."""
    if not columns:
        return pa.array([""] * table.num_rows)
    cells = [pc.fill_null(pc.cast(table.column(c), pa.string()), "\x00") for c in columns]
    return pc.binary_join_element_wise(*cells, "\x1f").combine_chunks()


def _table(folder: Path, resource: dict[str, Any]) -> pa.Table:
    table = pq.read_table(folder / Path(resource["path"]).with_suffix(".parquet"))
    # Enum columns are dictionary-encoded; joins and comparisons want their plain values.
    return table.cast(
        pa.schema(
            [
                pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                for f in table.schema
            ]
        )
    )


def _differs(old: pa.ChunkedArray, new: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cells whose value changed, a null on one side only counting as a change."""
    if old.type != new.type:
        old, new = old.cast(pa.string()), new.cast(pa.string())
    both_null = pc.and_(pc.is_null(old), pc.is_null(new))
    return pc.and_(pc.invert(both_null), pc.fill_null(pc.not_equal(old, new), True))


def to_json(diffs: list[DatasetDiff]) -> list[dict[str, Any]]:
    return [d.to_dict() for d in diffs]


def _summary(d: DatasetDiff) -> str:
    counts = [f"metadata {len(d.metadata)}"] if d.metadata else []
    for r in d.resources:
        if r.status != "changed":
            counts.append(f"[{r.name}] resource {r.status}")
            continue
        if r.file:
            counts.append(f"[{r.name}] file changed")
            continue
        counts.append(
            f"[{r.name}] +{r.added} -{r.removed} ~{r.changed}"
            + (f" schema {len(r.schema)}" if r.schema else "")
        )
    return f"{d.name}: {d.status}" + (f" — {', '.join(counts)}" if counts else "")


def render(diffs: list[DatasetDiff]) -> str:
    """Counts first, then the first rows of each kind — for a reviewing officer."""
    lines = [_summary(d) for d in diffs if d.status != "unchanged"]
    if lines:
        lines.append("")
    for d in diffs:
        if d.status == "unchanged":
            continue
        lines.append(f"■ {d.name}: {d.status}")
        for m in d.metadata:
            lines.append(
                f"  metadata {m.key}: {json.dumps(m.old, ensure_ascii=False)[:80]} → {json.dumps(m.new, ensure_ascii=False)[:80]}"
            )
        for r in d.resources:
            counts = f"+{r.added} 追加 added, -{r.removed} 削除 removed, ~{r.changed} 変更 changed"
            if r.status != "changed":
                counts = f"resource {r.status}"
            elif r.file:
                f = r.file
                counts = (
                    f"ファイル変更 file changed: sha256 {f.old_sha256[:12]}… → {f.new_sha256[:12]}…,"
                    f" {f.old_bytes:,} → {f.new_bytes:,} bytes"
                    + (f", {f.old_format} → {f.new_format}" if f.old_format != f.new_format else "")
                )
            lines.append(f"  [{r.name}] {counts}" + (f" ({r.note})" if r.note else ""))
            lines += [
                f"    schema {c.change}: {json.dumps(c.to_dict(), ensure_ascii=False)}"
                for c in r.schema
            ]
            lines += [
                f"    + {json.dumps(row, ensure_ascii=False, default=str)}" for row in r.added_rows
            ]
            lines += [
                f"    - {json.dumps(row, ensure_ascii=False, default=str)}"
                for row in r.removed_rows
            ]
            for row in r.changed_rows:
                cells = ", ".join(f"{c}: {v.old!r} → {v.new!r}" for c, v in row.cells.items())
                lines.append(
                    f"    ~ {json.dumps(row.key, ensure_ascii=False, default=str)} {cells}"
                )
    return "\n".join(lines) if lines else "変更はありません / no changes"
