"""The pipeline's steps for each dataset: define → read → convert → check → write → describe.

`build` writes every dataset of a `datasets/` folder into an output folder, one package
folder each; `validate` runs the same steps and writes nothing. Where the output goes and
when it is published is the caller's business (catalog/build.py stages and swaps a site).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from . import definition as defs
from . import reuse
from .convert import Binding, bind, convert
from .errors import DefinitionError, Problem, Report
from .file_checks import check as check_file
from .file_checks import sniff
from .files import FileChanged, FileUnreadable, pinned, sha256_file, write_json
from .limits import FILE
from .package import BuiltFile, BuiltResource, SourceFile, descriptor
from .publisher import PUBLISHER_FILE, Publisher, load_publisher
from .sources import SourceError, open_source
from .validate import KeyChecks, check_batch, check_foreign_keys
from .vocabulary import DESCRIPTOR_FILE, FILE_FORMATS
from .writers import (
    BackgroundWriter,
    CsvSink,
    GeoJsonSink,
    HashingFile,
    ParquetSink,
    Sink,
    WrittenFile,
    parquet_schema,
)


@dataclass
class DatasetResult:
    name: str
    report: Report
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # file resources: name → format

    @property
    def valid(self) -> bool:
        return self.report.valid

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "valid": self.valid,
            "rows": self.rows,
            "files": self.files,
            "error_count": self.report.total,
            "error_counts": dict(sorted(self.report.counts.items())),
            "errors": [p.to_dict() for p in self.report.problems],
            "warnings": [p.to_dict() for p in self.report.warnings],
        }


@dataclass
class RunResult:
    datasets: list[DatasetResult]
    problems: list[Problem] = field(default_factory=list)  # not tied to one dataset
    output: Path | None = None

    @property
    def valid(self) -> bool:
        return not self.problems and all(d.valid for d in self.datasets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "output": str(self.output) if self.output else None,
            "errors": [p.to_dict() for p in self.problems],
            "datasets": [d.to_dict() for d in self.datasets],
        }


# Told of each dataset as it starts: its name, how many came before it, how many there are.
Progress = Callable[[str, int, int], None]


def validate(
    datasets_dir: Path,
    names: list[str] | None = None,
    limit: int = 1000,
    progress: Progress | None = None,
) -> RunResult:
    return _run(datasets_dir, None, names, limit, progress)


def build(
    datasets_dir: Path,
    out_dir: Path,
    limit: int = 1000,
    progress: Progress | None = None,
    previous: Path | None = None,
    engine: Engine | None = None,
    hashes: reuse.SourceHashes | None = None,
) -> RunResult:
    """Build every dataset into `out_dir/<name>/`; the caller decides what to do with it.
    `previous`: the last build's packages folder, whose unchanged datasets are carried over
    (pipeline/reuse.py) instead of built again; `engine`: where the others are built (in this
    process by default; pipeline/parallel.py: on Dask workers); `hashes`: the sources' sha256
    known from the last build, and those of this one (the caller keeps them)."""
    return _run(datasets_dir, out_dir, None, limit, progress, previous, engine, hashes)


def _run(
    datasets_dir: Path,
    out_dir: Path | None,
    names: list[str] | None,
    limit: int,
    progress: Progress | None = None,
    previous: Path | None = None,
    engine: Engine | None = None,
    hashes: reuse.SourceHashes | None = None,
) -> RunResult:
    if not datasets_dir.is_dir():
        return RunResult(
            [],
            [Problem("package-error", f"フォルダ {datasets_dir} がありません / folder not found")],
        )
    try:
        publisher = load_publisher(datasets_dir)
    except DefinitionError as exc:
        return RunResult([], exc.problems)
    folders, unreadable = defs.discover(datasets_dir)
    result = RunResult([], [p for p in unreadable if not names or p.dataset in names])
    if names:
        unknown = set(names) - {f.name for f in folders} - {p.dataset for p in unreadable}
        result.problems += [
            Problem(
                "package-error", f"データセット {n!r} がありません / no such dataset", dataset=n
            )
            for n in sorted(unknown)
        ]
        folders = [f for f in folders if f.name in names]
    slots: list[DatasetResult | None] = [None] * len(folders)
    jobs: list[Job] = []
    hashes = hashes or reuse.SourceHashes({}, 0)
    shared = reuse.run_key(datasets_dir / PUBLISHER_FILE, limit, hashes) if out_dir else ""
    for position, folder in enumerate(folders):
        if out_dir is None:  # validating: nothing to carry over
            jobs.append(Job(position, folder, ""))
            continue
        try:
            key = reuse.input_key(folder, shared, hashes)
        except OSError as exc:  # a folder or file in it that the build could not read either
            where = os.path.relpath(exc.filename or folder, datasets_dir)
            result.problems.append(defs.unreadable(folder.name, exc, where))
            continue
        carried = reuse.carry_over(previous, out_dir / folder.name, key) if previous else None
        if carried is not None:
            slots[position] = _carried(folder.name, carried, limit)
        else:
            jobs.append(Job(position, folder, key))
    run_jobs = engine if engine is not None and out_dir is not None else in_this_process
    run = Context(out_dir, publisher, limit, progress, len(folders) - len(jobs), len(folders))
    for job, built in run_jobs(jobs, run):
        if out_dir and built.valid:  # its datapackage.json is written
            reuse.remember(
                out_dir / job.folder.name, job.key, built.rows, built.files, built.report
            )
        slots[job.position] = built
    result.datasets = [slot for slot in slots if slot is not None]
    return result


@dataclass(frozen=True)
class Job:
    """One dataset to build: its place in the run, its folder, its inputs' key."""

    position: int
    folder: Path
    key: str


@dataclass(frozen=True)
class Context:
    """What the jobs of one run share."""

    out_dir: Path | None  # None: validating only
    publisher: Publisher
    limit: int
    progress: Progress | None
    done: int  # datasets already done (carried over) before the jobs
    total: int


# Builds the jobs (each into out_dir/<name>/), yielding each with its result when it is done.
Engine = Callable[[list[Job], Context], Iterator[tuple[Job, DatasetResult]]]


def in_this_process(jobs: list[Job], run: Context) -> Iterator[tuple[Job, DatasetResult]]:
    """One dataset after another, here."""
    for number, job in enumerate(jobs, start=run.done):
        tell = telling(run.progress, number, run.total)
        tell(job.folder.name)
        target = run.out_dir / job.folder.name if run.out_dir else None
        yield job, build_dataset(job.folder, target, run.publisher, run.limit, tell)


def _carried(name: str, record: dict[str, Any], limit: int) -> DatasetResult:
    """The result of a dataset carried over from the last build, as building it said."""
    report = Report(limit=limit)
    for warning in reuse.warnings_of(record):
        report.warn(warning)
    return DatasetResult(name, report, dict(record["rows"]), dict(record["files"]))


def telling(progress: Progress | None, done: int, total: int) -> Callable[[str], None]:
    """What is being worked on now (a dataset, one of its resources) on the progress bar."""
    if progress is None:
        return lambda _what: None
    return lambda what: progress(what, done, total)


def build_dataset(
    folder: Path,
    out_dir: Path | None,
    publisher: Publisher,
    limit: int = 1000,
    tell: Callable[[str], None] = lambda _what: None,
) -> DatasetResult:
    """All steps for one dataset folder; writes `out_dir` only when given; `tell` hears of
    each resource as it starts."""
    report = Report(limit=limit)
    result = DatasetResult(folder.name, report)
    try:
        dataset = defs.load(folder)
    except DefinitionError as exc:
        report.extend(exc.problems)
        return result
    if out_dir:
        out_dir.mkdir(parents=True)
    referenced = _referenced_keys(dataset)
    keys: dict[str, KeyChecks] = {}
    built: list[BuiltResource | BuiltFile] = []
    for resource in defs.dependency_order(dataset.resources):
        tell(f"{folder.name}: {resource.name}")
        if resource.is_file:
            published = _build_file(dataset, resource, out_dir, publisher.extent, report)
            if published is not None:
                result.files[resource.name] = published.format
                built.append(published)
            continue
        outcome = _build_resource(
            dataset,
            resource,
            out_dir,
            Checks(referenced.get(resource.name, []), keys, publisher.extent),
            report,
        )
        if outcome is not None:
            result.rows[resource.name] = outcome.csv.rows
            built.append(outcome)
    if out_dir and report.valid:
        order = [r.name for r in dataset.resources]
        built.sort(key=lambda b: order.index(b.definition.name))
        write_json(out_dir / DESCRIPTOR_FILE, descriptor(dataset, built, publisher))
    return result


def _referenced_keys(dataset: defs.DatasetDef) -> dict[str, list[tuple[str, ...]]]:
    """Per resource, the key tuples that other resources' foreign keys point at."""
    wanted: dict[str, list[tuple[str, ...]]] = {}
    for resource in dataset.resources:
        for fk in resource.schema.get("foreignKeys") or []:
            ref = fk["reference"]
            fields = ref["fields"]
            wanted.setdefault(ref.get("resource") or resource.name, []).append(
                (fields,) if isinstance(fields, str) else tuple(fields)
            )
    return wanted


@dataclass(frozen=True)
class Checks:
    """What a resource is checked against beyond its own rows."""

    referenced: list[tuple[str, ...]]  # key tuples other resources' foreign keys point at
    keys: dict[str, KeyChecks]  # the keys of the resources read so far
    area: tuple[float, float, float, float] | None  # the publisher's extent, for points


def _build_file(
    dataset: defs.DatasetDef,
    resource: defs.ResourceDef,
    out_dir: Path | None,
    area: tuple[float, float, float, float] | None,
    report: Report,
) -> BuiltFile | None:
    """A file published as it is: within the size limit, checked by its format's validator,
    then copied byte for byte (the bytes checked are the bytes published and hashed)."""
    source = resource.paths[0]
    display = f"{dataset.name}/{source.name}"
    assert resource.file_format is not None
    try:
        with pinned(source) as path:
            size = path.stat().st_size
            if size > FILE.bytes:
                problem = Problem(
                    "size-error",
                    f"ファイルが {size >> 20:,} MB あり、上限 {FILE.megabytes:,} MB（{FILE.variable}）"
                    f"を超えます / the file is {size >> 20:,} MB, over the limit of"
                    f" {FILE.megabytes:,} MB ({FILE.variable})",
                    file=display,
                    value=f"{size:,} bytes",
                )
                report.add(_located(problem, dataset.name, resource.name))
                return None
            fmt = sniff(resource.file_format, path)
            findings = check_file(fmt, path, display, area)
            report.extend([_located(p, dataset.name, resource.name) for p in findings.errors])
            report.add_count("file-error", findings.counted)
            for warning in findings.warnings:
                report.warn(_located(warning, dataset.name, resource.name))
            if findings.errors or out_dir is None:
                return None
            target = HashingFile(out_dir / source.name)
            with target, path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    target.write(chunk)
            written = target.facts(fmt, FILE_FORMATS[fmt][0], 0)
    except (FileChanged, FileUnreadable) as exc:
        report.add(_located(_unread(exc, display), dataset.name, resource.name))
        return None
    box = list(findings.bbox) if findings.bbox else None
    return BuiltFile(resource, replace(written, bbox=box), fmt, findings.facts)


def _build_resource(
    dataset: defs.DatasetDef,
    resource: defs.ResourceDef,
    out_dir: Path | None,
    checks: Checks,
    report: Report,
) -> BuiltResource | None:
    """Read, check and write one resource: its files in order, as one table."""
    table = _Table(dataset, out_dir, checks, report)
    for source in resource.paths:
        display = f"{dataset.name}/{source.name}"
        try:
            with pinned(source) as path:
                if not table.read(resource, path, source.name):
                    break
        except (FileChanged, FileUnreadable) as exc:
            report.add(_located(_unread(exc, display), dataset.name, resource.name))
            break
    return table.finish()


class _Table:
    """One resource being built: bound by its first file, which the others must match."""

    def __init__(
        self, dataset: defs.DatasetDef, out_dir: Path | None, checks: Checks, report: Report
    ):
        self.dataset, self.out_dir, self.checks, self.report = dataset, out_dir, checks, report
        self.binding: Binding | None = None
        self.writer: BackgroundWriter | None = None
        self.key_checks: KeyChecks | None = None
        self.sources: list[SourceFile] = []

    def read(self, resource: defs.ResourceDef, path: Path, file_name: str) -> bool:
        """Read one pinned file (`path`, the file named `file_name` in the dataset's folder)
        into the table; False when the rest cannot follow."""
        name, report = self.dataset.name, self.report
        display = f"{name}/{file_name}"
        try:
            source = open_source(
                path,
                display,
                header_row=resource.options.header_row,
                sheet=resource.options.sheet,
                encoding=resource.encoding,
                footer_rows=resource.options.footer_rows,
            )
        except SourceError as exc:
            report.add(_located(exc.problem, name, resource.name))
            return False
        binding, label_problems = bind(resource, source.header, display, name)
        label_problems += self._same_columns(binding, display)
        if label_problems:
            report.extend(label_problems)
            return False
        if self.binding is None:
            self._start(binding)
        assert self.writer is not None and self.key_checks is not None
        try:
            for batch in source.batches:
                located = convert(batch, binding, report, name)
                check_batch(located, binding, report, name, self.checks.area)
                check_foreign_keys(located, binding, self.checks.keys, report, name)
                self.key_checks.add(located)
                if report.valid:
                    self.writer.write(located.table)
                pa.default_memory_pool().release_unused()  # keep the footprint at one batch
        except SourceError as exc:
            report.add(_located(exc.problem, name, resource.name))
        report.extend([_located(p, name, resource.name) for p in source.problems])
        footer = [_footer_row(display, row, text) for row, text in source.footer]
        for warning in [*source.warnings, *footer]:
            report.warn(_located(warning, name, resource.name))
        # The provenance describes the very bytes the rows came from (the pinned file).
        self.sources.append(SourceFile(file_name, sha256_file(path), path.stat().st_size))
        return True

    def _same_columns(self, binding: Binding, display: str) -> list[Problem]:
        """A later file of the series must bring the same fields as the first."""
        if self.binding is None or binding.resource.fields == self.binding.resource.fields:
            return []
        first = [f["name"] for f in self.binding.resource.fields]
        now = [f["name"] for f in binding.resource.fields]
        return [
            Problem(
                "extra-label" if len(now) > len(first) else "missing-label",
                "最初のファイルと列が違います。同じ見出しにそろえてください"
                " / the columns differ from the first file's; give every file the same header",
                dataset=self.dataset.name,
                resource=binding.resource.name,
                file=display,
                column="、".join(n for n in [*first, *now] if (n in first) != (n in now)),
            )
        ]

    def _start(self, binding: Binding) -> None:
        # A standard resource gains the file's extra columns: the bound resource is the one built.
        self.binding = binding
        resource = binding.resource
        self.key_checks = KeyChecks.for_resource(binding, self.dataset.name, self.checks.referenced)
        self.checks.keys[resource.name] = self.key_checks
        sinks = _open_sinks(self.dataset, resource, binding.arrow_schema(), self.out_dir)
        self.writer = BackgroundWriter(sinks)

    def finish(self) -> BuiltResource | None:
        if self.binding is None or self.writer is None or self.key_checks is None:
            return None
        self.key_checks.check(self.report)
        files: list[WrittenFile] = self.writer.close()
        if not files:
            return None
        geojson = files[2] if len(files) > 2 else None
        return BuiltResource(self.binding.resource, files[0], files[1], self.sources, geojson)


def _open_sinks(
    dataset: defs.DatasetDef, resource: defs.ResourceDef, schema: pa.Schema, out_dir: Path | None
) -> list[Sink]:
    if out_dir is None:
        return []
    metadata = {
        "opendata": {
            "dataset": dataset.name,
            "resource": resource.name,
            "title": dataset.descriptor.get("title"),
            "license": [lic["name"] for lic in dataset.descriptor["licenses"]],
        }
    }
    sinks: list[Sink] = [
        CsvSink(out_dir / f"{resource.name}.csv", schema),
        ParquetSink(
            out_dir / f"{resource.name}.parquet",
            parquet_schema(schema, resource.fields),
            metadata,
            resource.location,
        ),
    ]
    if resource.location is not None:
        sinks.append(GeoJsonSink(out_dir / f"{resource.name}.geojson", resource.location))
    return sinks


def _unread(exc: FileChanged | FileUnreadable, display: str) -> Problem:
    """A source that changed while it was read, or vanished or became unreadable since the
    definition was read."""
    if isinstance(exc, FileChanged):
        message = (
            "読み込みの途中でファイルが書き換えられました。保存が終わってから、もう一度 build してください"
            " / the file was rewritten while it was read; build again once it is saved"
        )
    else:
        message = f"ファイルを読めません（{exc.reason}） / cannot read the file: {exc.reason}"
    return Problem("format-error", message, file=display)


def _footer_row(display: str, row: int, text: str) -> Problem:
    return Problem(
        "footer-row",
        "表の下の行を表から除きました（footer_rows） / a row under the table was left out"
        " (footer_rows)",
        file=display,
        row=row,
        value=text[:200],
    )


def _located(problem: Problem, dataset: str, resource: str) -> Problem:
    return replace(
        problem, dataset=problem.dataset or dataset, resource=problem.resource or resource
    )
