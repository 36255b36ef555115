"""Reading `datasets/<name>/dataset.yaml`: a Data Package descriptor (v2 names) in YAML.

Table Schema says how values are typed and constrained. What it cannot say — how to read
the officer's file and reshape it — lives under one extension key, `x-opendata`, on the
resource; catalog metadata beyond Data Package lives under the same key on the package.
"""

from __future__ import annotations

import codecs
import datetime as dt
import errno
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from .descriptors import load_yaml, shape_problems
from .errors import DefinitionError, Problem
from .geo import Location
from .presets import Standard, UnknownStandard, find
from .vocabulary import (
    DEFINITION,
    EXTENSION,
    FIELD_NAME_PATTERN,
    FILE_FORMATS,
    FORMAT_ALIASES,
    LICENSES,
    NAME_PATTERN,
    RESERVED_FILE_NAMES,
    SEMVER,
    SUPPORTED_TYPES,
    file_format,
)

# A resource's keys that describe how to read the source, not the published resource.
OWN_RESOURCE_KEYS = {
    *("name", "path", "schema", EXTENSION, "encoding", "format", "dialect"),
    *("standard", "layout", "type", "mediatype", "bytes", "hash"),
}
RESOURCE_TYPES = ("table", "file")

RESOURCE_OPTION_KEYS = {
    "sheet",
    "header_row",
    "footer_rows",
    "unpivot",
    "ranges",
    "labels",
    "markers",
    "values",
    "allow_formulas",
    "location",
}


@dataclass(frozen=True)
class Unpivot:
    """Wide → long: every column whose header matches `columns` becomes rows."""

    columns: re.Pattern[str]
    names_to: str
    values_to: str


@dataclass(frozen=True)
class ReadOptions:
    """The resource's `x-opendata` options (documented in README, 'dataset.yaml reference')."""

    sheet: str | None = None
    header_row: int = 1
    footer_rows: int = 0  # records under the table (a `Ver20260714` stamp, a note): left out
    unpivot: Unpivot | None = None
    # source column → (value, comparator[, value_max]); without value_max a range is refused
    ranges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    markers: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    allow_formulas: frozenset[str] = frozenset()

    def derived_fields(self) -> set[str]:
        """Fields filled from other columns rather than read from a column of their own."""
        derived = set(self.labels) | set(self.markers.values())
        for targets in self.ranges.values():
            derived.update(targets)
        return derived


@dataclass(frozen=True)
class ResourceDef:
    name: str
    paths: tuple[Path, ...]  # one table, read from these files in order (a monthly series)
    schema: dict[str, Any]
    options: ReadOptions
    descriptor: dict[str, Any]  # the remaining Data Package resource properties (title, ...)
    encoding: str | None = None
    standard: Standard | None = None  # a national standard layout: its items are the fields
    location: Location | None = None  # the fields that hold its points: GeoJSON, GeoParquet
    # A file published as it is (`type: file`): its format (FILE_FORMATS); None for a table.
    file_format: str | None = None

    @property
    def is_file(self) -> bool:
        return self.file_format is not None

    def published_names(self) -> list[str]:
        """The files this resource puts into the package folder."""
        if self.is_file:
            return [self.paths[0].name]
        names = [f"{self.name}.csv", f"{self.name}.parquet"]
        return names + ([f"{self.name}.geojson"] if self.location is not None else [])

    @property
    def fields(self) -> list[dict[str, Any]]:
        fields: list[dict[str, Any]] = self.schema["fields"]
        return fields

    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]


@dataclass(frozen=True)
class DatasetDef:
    name: str
    folder: Path
    descriptor: dict[str, Any]  # package-level properties, without resources
    resources: list[ResourceDef]

    @property
    def metadata(self) -> dict[str, Any]:
        """Catalog metadata beyond Data Package (English title, department, coverage...)."""
        return self.descriptor.get(EXTENSION) or {}


def discover(datasets_dir: Path) -> tuple[list[Path], list[Problem]]:
    """Every dataset folder (one holding a dataset.yaml), in a stable order, and a problem
    for each folder that cannot be read or has vanished: a dataset never drops out silently."""
    folders: list[Path] = []
    problems: list[Problem] = []
    try:
        entries = sorted(os.scandir(datasets_dir), key=lambda e: e.name)
    except OSError as exc:
        return [], [unreadable(datasets_dir.name, exc, str(datasets_dir))]
    for entry in entries:
        if entry.name.startswith("."):
            continue
        folder = Path(entry.path)
        try:
            if not entry.is_dir():
                if entry.is_symlink():  # a link whose folder is gone
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
                continue
            with os.scandir(folder):  # listable at all?
                pass
            if os.path.lexists(folder / DEFINITION):  # a dangling dataset.yaml is reported by load
                folders.append(folder)
            elif misnamed := _misnamed_definition(folder):
                problems.append(misnamed)
        except OSError as exc:
            problems.append(unreadable(entry.name, exc, entry.name))
    return folders, problems


def _spelled_otherwise(target: Path) -> Path:
    """The file of `target`'s folder whose name is `target`'s once both are composed (NFC):
    macOS saves がっこう.csv with the voiced marks apart, which dataset.yaml spells joined."""
    wanted = unicodedata.normalize("NFC", target.name)
    try:
        names = os.listdir(target.parent)
    except OSError:
        return target
    same = [n for n in names if n != target.name and unicodedata.normalize("NFC", n) == wanted]
    return target.parent / same[0] if len(same) == 1 else target


def _misnamed_definition(folder: Path) -> Problem | None:
    """A folder whose definition is all but named dataset.yaml (dataset.yml, Dataset.yaml):
    meant as a dataset, it would otherwise be left out without a word."""
    near = sorted(n for n in os.listdir(folder) if n.lower() in ("dataset.yaml", "dataset.yml"))
    if not near:
        return None
    return Problem(
        "package-error",
        f"{folder.name}/{near[0]} をデータセットとして読むには、名前を {DEFINITION} にしてください"
        f" / rename {folder.name}/{near[0]} to {DEFINITION}: only that name defines a dataset",
        dataset=folder.name,
        file=f"{folder.name}/{near[0]}",
        value=near[0],
        fix=DEFINITION,
    )


def unreadable(name: str, exc: OSError, file: str) -> Problem:
    """Dataset `name` could not be read at `file` (a path from the datasets folder)."""
    return Problem(
        "package-error",
        f"{file} を読めません（{exc.strerror}）。権限と、リンクならリンク先を確認してください"
        f" / cannot read {file}: {exc.strerror}; check its permissions, and a link's target",
        dataset=name,
        file=file,
    )


def load(folder: Path) -> DatasetDef:
    """Read and check one dataset definition; raise DefinitionError listing every problem."""
    file = f"{folder.name}/{DEFINITION}"
    raw = load_yaml(folder / DEFINITION, file, folder.name)
    shape = shape_problems(raw, "dataset.schema.json", file, folder.name)
    checker = _Checker(dataset=folder.name, file=file)
    try:
        dataset = checker.dataset_def(folder, raw)
    except Exception:
        # The checker reads values of the declared shape; where the shape is wrong it may
        # fail, and the shape problems already say why. Everything it found until then stays.
        if not shape:
            raise
        dataset = None
    problems = list(dict.fromkeys([*shape, *checker.problems]))  # each problem once
    if problems or dataset is None:
        raise DefinitionError(problems)
    return dataset


class _Checker:
    """Collects definition problems so the officer sees all of them at once."""

    def __init__(self, dataset: str, file: str):
        self.dataset = dataset
        self.file = file
        self.problems: list[Problem] = []

    def fail(self, message: str, type_: str = "package-error", **where: Any) -> None:
        self.problems.append(
            Problem(type=type_, message=message, dataset=self.dataset, file=self.file, **where)
        )

    def dataset_def(self, folder: Path, raw: dict[str, Any]) -> DatasetDef | None:
        name = raw.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            self.fail(
                f"データセット名 {name!r} は CKAN の規則（英小文字・数字・-・_ の2～100文字）に合いません"
                " / dataset name must be 2–100 of a-z 0-9 - _",
                value=str(name),
            )
        elif name != folder.name:
            self.fail(
                f"name {name!r} がフォルダ名 {folder.name!r} と違います"
                " / name must equal the folder name",
                value=name,
            )
        for key in ("title", "description"):
            if key in raw and not isinstance(raw[key], str):
                self.fail(f"{key} は文字列にしてください / {key} must be text", value=str(raw[key]))
        if not isinstance(raw.get("title"), str):
            self.fail("title（タイトル）がありません / title is missing")
        if "created" in raw and not _real_date(raw["created"]):
            self.fail(
                "created の日付がありえません（例：2024-03-01） / created is not a real date",
                value=str(raw["created"]),
            )
        if "version" in raw and not SEMVER.fullmatch(str(raw["version"])):
            self.fail(
                "version は 1.0.0 の形（MAJOR.MINOR.PATCH）にしてください。初めてのリリースの版"
                "になり、その後はリリースが決めます / version must be MAJOR.MINOR.PATCH (the"
                " first release's version; releases decide the later ones)",
                value=str(raw["version"]),
            )
        descriptor = {k: v for k, v in raw.items() if k not in ("resources", "license")}
        descriptor["licenses"] = self.licenses(raw)
        if EXTENSION in raw and not isinstance(raw[EXTENSION], dict):
            self.fail(f"{EXTENSION} は項目の一覧にしてください / {EXTENSION} must be a mapping")
        resources_raw = raw.get("resources")
        if not isinstance(resources_raw, list) or not resources_raw:
            self.fail("resources が1つもありません / resources must list at least one resource")
            return None
        resources = [self.resource_def(folder, r, i) for i, r in enumerate(resources_raw)]
        names = [r.name for r in resources if r]
        for dup in {n for n in names if names.count(n) > 1}:
            self.fail(f"リソース名 {dup!r} が重複しています / duplicate resource name", value=dup)
        valid = [r for r in resources if r is not None]
        self.check_foreign_keys(valid)
        self.check_published_names(valid)
        if not isinstance(name, str):
            return None
        return DatasetDef(name=name, folder=folder, descriptor=descriptor, resources=valid)

    def licenses(self, raw: dict[str, Any]) -> list[dict[str, str]]:
        declared = raw.get("licenses")
        if declared is None and "license" in raw:
            declared = [{"name": raw["license"]}]
        if declared is None:
            self.fail("license がありません（例: CC-BY-4.0） / license is missing (e.g. CC-BY-4.0)")
            return []
        result = []
        for item in declared if isinstance(declared, list) else [declared]:
            lic_id = item.get("name") if isinstance(item, dict) else item
            known = LICENSES.get(str(lic_id))
            if known is None:
                self.fail(
                    f"ライセンス {lic_id!r} は使えません。{', '.join(LICENSES)} から選んでください"
                    f" / unknown licence id; use one of {', '.join(LICENSES)}",
                    value=str(lic_id),
                )
                continue
            result.append({"name": str(lic_id), **known})
        return result

    def resource_def(self, folder: Path, raw: Any, index: int) -> ResourceDef | None:
        if not isinstance(raw, dict):
            self.fail(f"resources[{index}] は項目の一覧にしてください / must be a mapping")
            return None
        name = raw.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            self.fail(
                f"リソース名 {name!r} は英小文字・数字・-・_ の2～100文字にしてください"
                " / resource name must be 2–100 of a-z 0-9 - _",
                resource=str(name),
                value=str(name),
            )
            return None
        if "type" in raw and raw["type"] not in RESOURCE_TYPES:
            self.fail(
                "type は table（表）か file（ファイルをそのまま公開）にしてください"
                " / type must be table or file",
                resource=name,
                value=str(raw["type"]),
            )
            return None
        if _is_file_resource(raw):
            return self.file_def(folder, raw, name)
        given = raw.get("path")
        paths = [
            self.resource_path(folder, p, name)
            for p in (given if isinstance(given, list) else [given])
        ]
        standard = self.standard(raw, name)
        if standard is False:
            return None
        schema = self.schema(raw.get("schema"), name, standard or None)
        options = self.read_options(raw.get(EXTENSION) or {}, name, schema)
        if not paths or None in paths or schema is None or options is None:
            return None
        encoding = raw.get("encoding")
        if encoding is not None and not _known_encoding(encoding):
            self.fail(
                f"encoding {encoding!r} は知らない文字コードです（utf-8, cp932 など。省略すると自動判別）"
                " / unknown encoding (utf-8, cp932, …; leave it out to detect it)",
                resource=name,
                value=str(encoding),
            )
            return None
        descriptor = {k: v for k, v in raw.items() if k not in OWN_RESOURCE_KEYS}
        location = self.location(raw.get(EXTENSION) or {}, schema, name)
        files = tuple(p for p in paths if p is not None)
        return ResourceDef(
            name, files, schema, options, descriptor, encoding, standard or None, location
        )

    def file_def(self, folder: Path, raw: dict[str, Any], name: str) -> ResourceDef | None:
        """A file published as it is: one path, a known format, nothing about reading a table."""
        ok = True
        for key in ("schema", "standard", "layout", "encoding", "dialect", EXTENSION):
            if key in raw:
                self.fail(
                    f"ファイルをそのまま公開するリソースに {key} は書けません（表なら type: table と"
                    f" schema を） / a file resource takes no {key} (a table needs type: table and a"
                    " schema)",
                    resource=name,
                    value=key,
                )
                ok = False
        given = raw.get("path")
        if isinstance(given, list):
            self.fail(
                "ファイルをそのまま公開するリソースの path は1つにしてください"
                " / a file resource has exactly one path",
                resource=name,
            )
            return None
        path = self.resource_path(folder, given, name)
        declared = raw.get("format")
        fmt = (
            FORMAT_ALIASES.get(str(declared).lower(), str(declared).lower())
            if declared is not None
            else file_format(str(given))
        )
        if fmt not in FILE_FORMATS:
            known = ", ".join(FILE_FORMATS)
            self.fail(
                f"そのまま公開できるファイルの形式は {known} です（format: で指定できます）"
                f" / a file resource's format must be one of {known} (say it with format:)",
                resource=name,
                value=str(declared if declared is not None else given),
            )
            return None
        if path is None or not ok:
            return None
        if path.name in RESERVED_FILE_NAMES:
            self.fail(
                f"ファイル名 {path.name} はカタログが使う名前です。別の名前にしてください"
                f" / {path.name} is a name the catalog writes; rename the file",
                type_="resource-error",
                resource=name,
                value=path.name,
            )
            return None
        descriptor = {k: v for k, v in raw.items() if k not in OWN_RESOURCE_KEYS}
        empty: dict[str, Any] = {"fields": []}
        return ResourceDef(name, (path,), empty, ReadOptions(), descriptor, file_format=fmt)

    def check_published_names(self, resources: list[ResourceDef]) -> None:
        """Two resources may not write one file (a file named like a table's CSV, say)."""
        owners: dict[str, list[str]] = {}
        for resource in resources:
            for published in resource.published_names():
                owners.setdefault(published, []).append(resource.name)
        for published, names in sorted(owners.items()):
            if len(names) > 1:
                self.fail(
                    f"リソース {'、'.join(names)} が同じファイル {published} を公開します。ファイル名か"
                    f"リソース名を変えてください / resources {', '.join(names)} would publish the same"
                    f" file {published}; rename one",
                    type_="resource-error",
                    value=published,
                )

    def location(
        self, options: dict[str, Any], schema: dict[str, Any], resource: str
    ) -> Location | None:
        """A standard's 緯度/経度, or `x-opendata.location: {latitude, longitude}` (numbers)."""
        location = Location.of(schema["fields"], options)
        if location is None:
            return None
        types = {f["name"]: f.get("type", "string") for f in schema["fields"]}
        for name in (location.latitude, location.longitude):
            if types.get(name) not in ("number", "integer"):
                self.fail(
                    f"location の {name!r} は数値（number）の項目にしてください"
                    " / location names a field that is not a number",
                    resource=resource,
                    field=name,
                )
                return None
        return location

    def standard(self, raw: dict[str, Any], resource: str) -> Standard | Literal[False] | None:
        """The preset a resource names with `standard:` (None: none named; False: a bad name)."""
        if "standard" not in raw:
            if "layout" in raw:
                self.fail(
                    "layout は standard と一緒に書いてください / layout needs standard",
                    resource=resource,
                )
                return False
            return None
        try:
            return find(str(raw["standard"]), raw.get("layout"))
        except UnknownStandard as exc:
            self.fail(str(exc), resource=resource, value=str(raw["standard"]))
            return False

    def resource_path(self, folder: Path, path: Any, resource: str) -> Path | None:
        if not isinstance(path, str) or not path:
            self.fail("path がありません / path is missing", resource=resource)
            return None
        root = folder.resolve()
        target = (folder / path).resolve()
        if Path(path).is_absolute() or not target.is_relative_to(root):
            self.fail(
                f"path {path!r} がデータセットのフォルダの外を指しています"
                " / path leaves the dataset folder",
                type_="resource-error",
                resource=resource,
                value=path,
            )
            return None
        if not target.exists():
            target = _spelled_otherwise(target)  # a name a Mac saved decomposed (NFD)
        if not target.is_file():
            said = (
                ("はファイルではなくフォルダです", "is a folder, not a file")
                if target.is_dir()
                else ("が見つかりません", "not found")
            )
            self.fail(
                f"ファイル {path!r} {said[0]} / file {said[1]}",
                type_="resource-error",
                resource=resource,
                value=path,
            )
            return None
        return target

    def schema(
        self, schema: Any, resource: str, standard: Standard | None = None
    ) -> dict[str, Any] | None:
        if standard is not None:
            # The standard's items first, in its order; declared fields type extra columns.
            declared = dict(schema) if isinstance(schema, dict) else {}
            keys = as_list(declared.pop("primaryKey", None) or [])
            own = self.schema({"fields": [], **declared}, resource)
            if own is None:
                return None
            merged = {**own, "fields": standard.fields() + own["fields"]}
            every = [f["name"] for f in merged["fields"]]
            clashes = sorted({n for n in every if every.count(n) > 1})
            unknown = [k for k in keys or [] if k not in every]
            for name in clashes:
                self.fail(
                    f"項目 {name!r} は標準の項目です。fields から外してください"
                    " / the standard has this item already; remove it from fields",
                    resource=resource,
                    field=name,
                )
            for key in unknown:
                self.fail(
                    f"primaryKey の {key!r} が項目にありません / primaryKey names an unknown field",
                    resource=resource,
                    value=key,
                )
            if keys:
                merged["primaryKey"] = keys
            return None if clashes or unknown else merged
        if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
            self.fail(
                "schema.fields がありません（ファイルをそのまま公開するなら type: file）"
                " / schema.fields is missing (type: file publishes a file as it is)",
                resource=resource,
            )
            return None
        ok = True
        names: list[str] = []
        for index, fld in enumerate(schema["fields"]):
            if not isinstance(fld, dict) or not isinstance(fld.get("name"), str):
                self.fail(
                    f"fields[{index}] に name がありません / field has no name", resource=resource
                )
                ok = False
                continue
            fname = fld["name"]
            names.append(fname)
            if not FIELD_NAME_PATTERN.match(fname):
                self.fail(
                    f"項目名 {fname!r} は英小文字の snake_case にしてください（日本語は title へ）"
                    " / field names are ASCII snake_case; Japanese goes into title",
                    resource=resource,
                    field=fname,
                    value=fname,
                )
                ok = False
            ftype = fld.get("type", "string")
            if ftype not in SUPPORTED_TYPES:
                self.fail(
                    f"型 {ftype!r} には未対応です（{', '.join(sorted(SUPPORTED_TYPES))}）"
                    " / unsupported field type",
                    resource=resource,
                    field=fname,
                    value=str(ftype),
                )
                ok = False
        for dup in {n for n in names if names.count(n) > 1}:
            self.fail(f"項目名 {dup!r} が重複しています / duplicate field name", resource=resource)
            ok = False
        for fld in schema["fields"]:
            for message in _field_problems(fld) if isinstance(fld, dict) else []:
                self.fail(message, resource=resource, field=str(fld.get("name")))
                ok = False
        if not _is_text_list(schema.get("missingValues", [])):
            self.fail(
                "missingValues は文字列のリストにしてください / missingValues must be a list of strings",
                resource=resource,
            )
            ok = False
        for key in schema.get("primaryKey") or []:
            if key not in names:
                self.fail(
                    f"primaryKey の {key!r} が fields にありません / primaryKey names an unknown field",
                    resource=resource,
                    value=key,
                )
                ok = False
        return schema if ok else None

    def read_options(
        self, raw: Any, resource: str, schema: dict[str, Any] | None
    ) -> ReadOptions | None:
        if not isinstance(raw, dict):
            self.fail(
                f"{EXTENSION} は項目の一覧にしてください / must be a mapping", resource=resource
            )
            return None
        unknown = set(raw) - RESOURCE_OPTION_KEYS
        for key in sorted(unknown):
            self.fail(
                f"{EXTENSION} の {key!r} は知らない項目です（{', '.join(sorted(RESOURCE_OPTION_KEYS))}）"
                " / unknown option",
                resource=resource,
                value=key,
            )
        try:
            options = ReadOptions(
                sheet=raw.get("sheet"),
                header_row=int(raw.get("header_row", 1)),
                footer_rows=int(raw.get("footer_rows", 0)),
                unpivot=_unpivot(raw.get("unpivot")),
                ranges={str(k): tuple(v) for k, v in (raw.get("ranges") or {}).items()},
                labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
                markers={str(k): str(v) for k, v in (raw.get("markers") or {}).items()},
                values={
                    str(k): {str(a): str(b) for a, b in v.items()}
                    for k, v in (raw.get("values") or {}).items()
                },
                allow_formulas=frozenset(raw.get("allow_formulas") or []),
            )
        except (TypeError, ValueError, AttributeError, re.error) as exc:
            self.fail(
                f"{EXTENSION} の値が読めません / cannot read option: {exc}", resource=resource
            )
            return None
        if options.header_row < 1:
            self.fail(
                "header_row は1以上にしてください / header_row starts at 1", resource=resource
            )
        if options.footer_rows < 0:
            self.fail(
                "footer_rows は0以上にしてください / footer_rows is 0 or more", resource=resource
            )
        if any(len(t) not in (2, 3) for t in options.ranges.values()):
            self.fail(
                "ranges は [値, 比較, 上限値] の3項目（範囲がなければ [値, 比較] の2項目）を指定してください"
                " / ranges name three fields: [value, comparator, value_max], or two without ranges",
                resource=resource,
            )
        if schema is not None:
            names = {f["name"] for f in schema["fields"]}
            referenced = options.derived_fields() | set(options.values) | options.allow_formulas
            for fname in sorted(referenced - names):
                self.fail(
                    f"{EXTENSION} が指す項目 {fname!r} が fields にありません"
                    " / option names an unknown field",
                    resource=resource,
                    value=fname,
                )
        return None if unknown else options

    def check_foreign_keys(self, resources: list[ResourceDef]) -> None:
        by_name = {r.name: r for r in resources}
        for res in resources:
            for fk in res.schema.get("foreignKeys") or []:
                ref = fk.get("reference", {})
                target = by_name.get(ref.get("resource") or res.name)
                fields = as_list(fk.get("fields"))
                ref_fields = as_list(ref.get("fields"))
                if target is None or not set(ref_fields) <= set(target.field_names()):
                    self.fail(
                        f"foreignKeys の参照先 {ref!r} が見つかりません / foreign key target not found",
                        resource=res.name,
                    )
                elif len(fields) != len(ref_fields) or not set(fields) <= set(res.field_names()):
                    self.fail(
                        f"foreignKeys の fields {fields!r} が正しくありません / bad foreign key fields",
                        resource=res.name,
                    )


def _is_file_resource(raw: dict[str, Any]) -> bool:
    """`type: file`, or no schema and no standard with a file format's extension or `format`."""
    if raw.get("type") is not None:
        return bool(raw["type"] == "file")
    if "schema" in raw or "standard" in raw:
        return False
    declared = raw.get("format")
    if declared is not None:
        return FORMAT_ALIASES.get(str(declared).lower(), str(declared).lower()) in FILE_FORMATS
    path = raw.get("path")
    return isinstance(path, str) and file_format(path) is not None


def _is_text_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _typed_value(value: Any, ftype: str) -> Any:
    """A constraint value as the field's type; ValueError/TypeError when it is not one."""
    if isinstance(value, bool) and ftype != "boolean":
        raise TypeError("a boolean")
    if ftype in ("integer", "year"):
        if float(value) != int(value):
            raise ValueError("not whole")
        return int(value)
    if ftype == "number":
        return float(value)
    if ftype == "date":
        return dt.date.fromisoformat(str(value))
    if ftype == "boolean":
        if not isinstance(value, bool):
            raise TypeError("not a boolean")
        return value
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _field_problems(fld: dict[str, Any]) -> list[str]:
    """Constraints and options a field cannot be checked with (said before any row is read)."""
    name, ftype = fld.get("name"), fld.get("type", "string")
    constraints = fld.get("constraints") or {}
    problems = []
    if not isinstance(constraints, dict):
        return [f"{name}: constraints は項目の一覧にしてください / constraints must be a mapping"]
    for key in ("minimum", "maximum"):
        if key in constraints:
            try:
                _typed_value(constraints[key], ftype)
            except (TypeError, ValueError):
                problems.append(
                    f"{name}: {key} {constraints[key]!r} は {ftype} ではありません / {key} is not a {ftype}"
                )
    if "enum" in constraints:
        try:
            [_typed_value(v, ftype) for v in constraints["enum"]]
        except (TypeError, ValueError):
            problems.append(
                f"{name}: enum の値がすべて {ftype} ではありません / every enum value must be a {ftype}"
            )
    for key in ("minLength", "maxLength"):
        if key in constraints and (
            isinstance(constraints[key], bool) or not isinstance(constraints[key], int)
        ):
            problems.append(f"{name}: {key} は整数にしてください / {key} must be an integer")
    if "pattern" in constraints:
        try:  # checked by Arrow's RE2, which lacks some of Python's syntax (backreferences)
            pc.match_substring_regex(
                pa.array([""]), f"^(?:{constraints['pattern']})$"
            )  # one cell: RE2 compiles lazily
        except (pa.ArrowInvalid, TypeError) as exc:
            problems.append(
                f"{name}: pattern が正規表現（RE2）として読めません / pattern is not an RE2 regular"
                f" expression: {str(exc).split(': ', 1)[-1]}"
            )
    if "missingValues" in fld and not _is_text_list(fld["missingValues"]):
        problems.append(
            f"{name}: missingValues は文字列のリストにしてください / missingValues must be a list of strings"
        )
    return problems


def _unpivot(raw: Any) -> Unpivot | None:
    if raw is None:
        return None
    return Unpivot(
        columns=re.compile(str(raw["columns"])),
        names_to=str(raw["names_to"]),
        values_to=str(raw["values_to"]),
    )


def _known_encoding(name: str) -> bool:
    """A text encoding Python knows (base64 and rot13 are codecs, not text encodings)."""
    try:
        return bool(codecs.lookup(name)._is_text_encoding)
    except LookupError:
        return False


def _real_date(value: Any) -> bool:
    """A date or RFC 3339 time that exists (2024-02-30 does not)."""
    if isinstance(value, dt.date):
        return True
    text = str(value)
    try:
        (dt.datetime.fromisoformat if len(text) > 10 else dt.date.fromisoformat)(text)
    except ValueError:
        return False
    return True


def as_list(value: Any) -> list[str]:
    """Table Schema lets key fields be one name or a list of names."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def dependency_order(resources: list[ResourceDef]) -> list[ResourceDef]:
    """Referenced resources first, so foreign keys can be checked as each one is read."""
    ordered: list[ResourceDef] = []
    pending = list(resources)
    while pending:
        done = {r.name for r in ordered}
        ready = [
            r
            for r in pending
            if all(
                (fk.get("reference", {}).get("resource") or r.name) in done | {r.name}
                for fk in r.schema.get("foreignKeys") or []
            )
        ]
        if not ready:  # a cycle: keep declaration order, the checks still run
            ready = pending[:1]
        ordered.extend(ready)
        pending = [r for r in pending if r not in ready]
    return ordered
