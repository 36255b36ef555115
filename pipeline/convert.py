"""Source text → typed Arrow columns, one batch at a time.

`bind` matches the officer's headers to schema fields (by name or title); `convert` applies
the resource's normalisations and Table Schema types, recording every cell it cannot read.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import cells
from .definition import ResourceDef
from .errors import Problem, Report
from .reshape import unpivot
from .sources import RawBatch, column_keys

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "time": pa.time32("s"),
    "datetime": pa.timestamp("s"),
    "year": pa.int32(),
}


def header_key(text: str) -> str:
    """Headers match whatever the width, spacing or line breaks Excel left in them."""
    return "".join(unicodedata.normalize("NFKC", text).split())


@dataclass
class Binding:
    """Which source column feeds which field, for one resource."""

    resource: ResourceDef
    file: str
    columns: dict[str, str]  # field name → source header
    ignored: list[str] = field(default_factory=list)  # header-less columns
    absent: list[str] = field(default_factory=list)  # optional standard items: published empty

    @property
    def missing_values(self) -> list[str]:
        return list(self.resource.schema.get("missingValues", [""]))

    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field(f["name"], ARROW_TYPES[f.get("type", "string")])
                for f in self.resource.fields
            ]
        )


def bind(
    resource: ResourceDef, header: list[str], file: str, dataset: str
) -> tuple[Binding, list[Problem]]:
    """Match headers to fields; report duplicate, missing and unexpected columns."""
    options = resource.options
    problems: list[Problem] = []

    def problem(type_: str, message: str, **where: Any) -> None:
        problems.append(
            Problem(type_, message, dataset=dataset, resource=resource.name, file=file, **where)
        )

    keys = column_keys(header)
    blank = {key for key, name in zip(keys, header, strict=True) if not name.strip()}
    header = keys
    available = list(header)
    if options.unpivot:
        available = [h for h in header if not options.unpivot.columns.search(h)]
        if len(available) == len(header):
            problem(
                "missing-label",
                f"unpivot.columns（{options.unpivot.columns.pattern}）に合う列がありません"
                " / no column matches unpivot.columns",
                column=options.unpivot.columns.pattern,
            )
        available += [options.unpivot.names_to, options.unpivot.values_to]
    seen: dict[str, str] = {}
    for name in available:
        key = header_key(name)
        if key and key in seen:
            problem(
                "duplicate-label",
                f"見出し「{name}」が2回あります / header appears twice",
                column=name,
            )
        seen.setdefault(key, name)

    columns: dict[str, str] = {}
    derived = options.derived_fields()
    items = {item.name: item for item in resource.standard.items} if resource.standard else {}
    absent: list[str] = []
    required_missing: list[str] = []
    for fld in resource.fields:
        if fld["name"] in derived:
            continue
        for candidate in (fld["name"], fld.get("title")):
            if candidate and header_key(candidate) in seen:
                columns[fld["name"]] = seen[header_key(candidate)]
                break
        else:
            item = items.get(fld["name"])
            if item is not None:  # the standard's whole header is published, empty if need be
                (required_missing if item.required else absent).append(item.name)
                continue
            title = f"（{fld['title']}）" if fld.get("title") else ""
            problem(
                "missing-label",
                f"項目 {fld['name']}{title} の列が見つかりません / no column for field {fld['name']}",
                field=fld["name"],
                column=fld.get("title") or fld["name"],
            )
    if required_missing and resource.standard:
        problem(
            "missing-label",
            f"{resource.standard.name}の必須項目の列がありません：{'、'.join(required_missing)}"
            f" / required items of the standard are missing: {', '.join(required_missing)}",
            column="、".join(required_missing),
        )
    consumed = set(columns.values()) | set(options.ranges) | set(options.labels.values())
    consumed_keys = {header_key(c) for c in consumed}
    ignored = []
    extras: list[dict[str, Any]] = []
    for name in available:
        if header_key(name) in consumed_keys:
            continue
        if name in blank:
            ignored.append(name)  # a header-less column: values in it are reported per row
            continue
        if resource.standard:  # kept, after the standard's items, under its own header
            extras.append({"name": name, "title": name, "type": "string"})
            columns[name] = name
            continue
        problem(
            "extra-label",
            f"列「{name}」に対応する項目が schema にありません / no field for this column",
            column=name,
        )
    if extras:
        schema = {**resource.schema, "fields": [*resource.fields, *extras]}
        resource = replace(resource, schema=schema)
    for source in [*options.ranges, *options.labels.values()]:
        if header_key(source) not in seen:
            problem(
                "missing-label", f"列「{source}」が見つかりません / column not found", column=source
            )
    return Binding(resource, file, columns, ignored, absent), problems


@dataclass
class Located:
    """A typed batch, with where each field's cells came from (for problem messages)."""

    table: pa.Table
    rows: np.ndarray
    origins: dict[str, str | pa.Array]  # field → source header, or a header per row
    raw: dict[str, pa.Array]  # field → the cell text as written
    unreadable: dict[str, np.ndarray]  # field → cells already reported as type errors

    def column_at(self, name: str, i: int) -> str | None:
        origin = self.origins.get(name)
        if isinstance(origin, str) or origin is None:
            return origin
        return origin[i].as_py()

    def report_cells(
        self,
        report: Report,
        binding: Binding,
        dataset: str,
        type_: str,
        name: str,
        mask: np.ndarray,
        message: str,
        fix: Callable[[str], str | None] | None = None,
        warning: bool = False,
    ) -> None:
        """Add a problem per flagged cell (with its fix where `fix` computes one), listing as
        many as the report has room for; a warning is listed, never counted as a problem."""
        flagged = np.flatnonzero(mask)
        if not len(flagged):
            return
        listed = report.warnings if warning else report.problems
        room = max(report.limit - len(listed), 0)
        raw = self.raw.get(name)
        for i in flagged[:room]:
            i = int(i)
            value = raw[i].as_py() if raw is not None else self.table.column(name)[i].as_py()
            text = None if value is None else str(value)
            problem = Problem(
                type_,
                message,
                dataset=dataset,
                resource=binding.resource.name,
                file=binding.file,
                row=int(self.rows[i]),
                column=self.column_at(name, i),
                field=name,
                value=text,
                fix=fix(text) if fix is not None and text is not None else None,
            )
            report.warn(problem) if warning else report.add(problem)
        if not warning:
            report.add_count(type_, len(flagged) - min(room, len(flagged)))


def convert(batch: RawBatch, binding: Binding, report: Report, dataset: str) -> Located:
    """Normalise and type one batch; cells that cannot be read become nulls plus problems."""
    options = binding.resource.options
    # Trimmed once here; every normaliser downstream expects trimmed text.
    trimmed = {name: pc.utf8_trim_whitespace(text) for name, text in batch.columns.items()}
    batch = _drop_blank_rows(RawBatch(trimmed, batch.rows, batch.origins), binding, report, dataset)
    for key in binding.ignored:
        _report_headerless_values(batch, key, binding, report, dataset)
    if options.unpivot:
        batch = unpivot(batch, options.unpivot, binding.missing_values)
    by_key = {header_key(name): name for name in batch.columns}

    def source(header: str) -> tuple[str, pa.Array]:
        actual = by_key[header_key(header)]
        return actual, batch.columns[actual]

    fields = {f["name"]: f for f in binding.resource.fields}
    texts = {name: source(header) for name, header in binding.columns.items()}
    range_texts = {header: source(header) for header in options.ranges}
    flags = _strip_markers(options.markers, fields, texts, range_texts, len(batch))

    arrays: dict[str, pa.Array] = {}
    origins: dict[str, str | pa.Array] = {}
    raw: dict[str, pa.Array] = {}
    typed_problems: list[tuple[str, np.ndarray, str]] = []

    for name, (header, text) in texts.items():
        fld = fields[name]
        if name in options.values:
            text = cells.map_values(text, options.values[name])
        missing = cells.missing_mask(
            text, binding.missing_values + list(fld.get("missingValues", []))
        )
        if missing.any():
            text = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text)
        values, bad, reason = _parse(text, fld)
        bad &= ~missing
        values = pc.if_else(pa.array(missing | bad), pa.scalar(None, values.type), values)
        arrays[name] = values
        origins[name] = batch.origins.get(header, header)
        raw[name] = batch.columns[header]
        if bad.any():
            typed_problems.append((name, bad, reason))

    for header, targets in options.ranges.items():
        actual, text = range_texts[header]
        missing = cells.missing_mask(text, binding.missing_values)
        bound = cells.parse_bound(text, fields[targets[0]])
        reason = bound.reason
        if len(targets) == 2:  # no value_max field: a range (「70～80％」) cannot be kept
            bound.bad = bound.bad | cells.as_mask(pc.is_valid(bound.value_max))
            reason = (
                "数値・比較として読めません（例: 89.3％, 1.00以上, 80％超。範囲は上限値の項目がないため書けません）"
                " / not a number or bound (e.g. 89.3％, 1.00以上, 80％超; no ranges: no value_max field)"
            )
        bad = bound.bad & ~missing
        for name, values in zip(
            targets, (bound.value, bound.comparator, bound.value_max), strict=False
        ):
            arrays[name] = pc.if_else(pa.array(missing | bad), pa.scalar(None, values.type), values)
            origins[name] = batch.origins.get(actual, actual)
            raw[name] = batch.columns[actual]
        if bad.any():
            typed_problems.append((targets[0], bad, reason))

    for name, header in options.labels.items():
        actual, text = source(header)
        years = cells.parse_year(text)
        arrays[name] = cells.fiscal_year_label(years.values)
        origins[name] = batch.origins.get(actual, actual)
        raw[name] = text

    for name, flag in flags.items():
        arrays[name] = pa.array(flag)

    for name in binding.absent:
        arrays[name] = pa.nulls(len(batch), ARROW_TYPES[fields[name].get("type", "string")])

    table = pa.table(
        {
            n: pc.cast(arrays[n], t)
            for n, t in zip(fields, binding.arrow_schema().types, strict=True)
        }
    )
    unreadable = {name: bad for name, bad, _ in typed_problems}
    located = Located(table, np.asarray(batch.rows), origins, raw, unreadable)
    for name, bad, reason in typed_problems:
        located.report_cells(report, binding, dataset, "type-error", name, bad, reason)
    return located


def _report_rows(
    batch: RawBatch,
    flagged: np.ndarray,
    problem: Problem,
    report: Report,
    column: str | None = None,
) -> None:
    """One problem per flagged source row (as many as the report lists; all are counted)."""
    rows = np.flatnonzero(flagged)
    shown = rows[: max(report.limit - len(report.problems), 0)]
    report.add_count(problem.type, len(rows) - len(shown))
    for i in shown:
        value = batch.columns[column][int(i)].as_py() if column else None
        report.add(replace(problem, row=int(batch.rows[int(i)].as_py()), value=value))


def _report_headerless_values(
    batch: RawBatch, key: str, binding: Binding, report: Report, dataset: str
) -> None:
    message = "見出しのない列に値があります / a value in a column without header"
    problem = Problem(
        "extra-cell", message, dataset, binding.resource.name, binding.file, column=key
    )
    _report_rows(
        batch, cells.as_mask(pc.not_equal(batch.columns[key], "")), problem, report, column=key
    )


def _drop_blank_rows(batch: RawBatch, binding: Binding, report: Report, dataset: str) -> RawBatch:
    """Report rows with no value at all (Excel leaves them behind) and leave them out."""
    empty = np.ones(len(batch), dtype=bool)
    for text in batch.columns.values():  # most columns rule every row out at once
        empty &= cells.as_mask(pc.equal(text, ""))
        if not empty.any():
            return batch
    if not empty.any():
        return batch
    problem = Problem(
        "blank-row", "空の行です / the row is empty", dataset, binding.resource.name, binding.file
    )
    _report_rows(batch, empty, problem, report)
    keep = pa.array(~empty)
    return RawBatch(
        columns={k: v.filter(keep) for k, v in batch.columns.items()},
        rows=batch.rows.filter(keep),
        origins={k: v.filter(keep) for k, v in batch.origins.items()},
    )


def _parse(text: pa.Array, fld: dict[str, Any]) -> tuple[pa.Array, np.ndarray, str]:
    ftype = fld.get("type", "string")
    if ftype == "string":
        return cells.clean_text(text), np.zeros(len(text), dtype=bool), ""
    parsers: dict[str, Callable[[pa.Array, dict[str, Any]], cells.Parsed]] = {
        "integer": cells.parse_integer,
        "number": cells.parse_number,
        "boolean": cells.parse_boolean,
        "date": cells.parse_date,
        "time": cells.parse_time,
        "datetime": cells.parse_datetime,
        "year": lambda t, _f: cells.parse_year(t),
    }
    parsed = parsers[ftype](text, fld)
    return parsed.values, parsed.bad, parsed.reason


def _strip_markers(
    markers: dict[str, str],
    fields: dict[str, dict[str, Any]],
    texts: dict[str, tuple[str, pa.Array]],
    range_texts: dict[str, tuple[str, pa.Array]],
    length: int,
) -> dict[str, np.ndarray]:
    """Take annotations like 「（見込）」 off numeric cells, and flag the rows that had them.

    Only columns that feed numbers, years or ranges are scanned: free text (備考) may
    mention 見込 without annotating a value.
    """
    flags = {name: np.zeros(length, dtype=bool) for name in markers.values()}
    if not markers:
        return flags
    for marker, flag_field in markers.items():
        for name, (header, text) in list(texts.items()):
            if fields[name].get("type", "string") == "string":
                continue
            stripped, has = cells.strip_marker(text, marker)
            texts[name] = (header, stripped)
            flags[flag_field] |= has
        for key, (header, text) in list(range_texts.items()):
            stripped, has = cells.strip_marker(text, marker)
            range_texts[key] = (header, stripped)
            flags[flag_field] |= has
    return flags
