"""`opendata` — a thin command line over the library: pipeline/ for datasets, catalog/ for the site."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from pipeline.errors import HINTS, printable
from pipeline.files import Busy

from . import paths

if TYPE_CHECKING:
    from pipeline.build import RunResult
    from pipeline.errors import Problem

    from .publish.ckan import Outcome

EXIT_INVALID = 1
Command = TypeVar("Command", bound=Callable[..., Any])
EXIT_INTERNAL = 2
EXIT_BUSY = 3
EXIT_INTERRUPTED = 130  # the shells' own code for a command ended by Ctrl+C (128 + SIGINT)


@contextmanager
def _progress(action: str, as_json: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar per dataset on a terminal (rich, on stderr, cleared when done); nothing
    when stderr is not a terminal or the output is JSON."""
    if as_json or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(action, total=None)

        def told(name: str, done: int, total: int) -> None:
            what = name or "カタログ / catalog"
            bar.update(task, description=f"{action}: {what}", completed=done, total=total)

        yield told


def _print_result(result: RunResult, as_json: bool, action: str) -> None:
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    for problem in result.problems:
        click.echo(problem.render(), err=True)
    for dataset in result.datasets:
        if dataset.valid:
            rows = ", ".join(
                [f"{name} {count}行" for name, count in dataset.rows.items()]
                + [f"{name} ({fmt})" for name, fmt in dataset.files.items()]
            )
            click.echo(f"✓ {printable(dataset.name)}: {rows}")
        else:
            click.echo(
                f"✗ {printable(dataset.name)}: {dataset.report.total} 件の問題 / problems "
                f"({', '.join(f'{t} {n}' for t, n in sorted(dataset.report.counts.items()))})",
                err=True,
            )
            for problem in dataset.report.problems:
                click.echo(problem.render(), err=True)
            for type_ in sorted({p.type for p in dataset.report.problems}):
                hint_ja, hint_en = HINTS.get(type_, HINTS["package-error"])
                click.echo(f"  → [{type_}] {hint_ja} / {hint_en}", err=True)
            hidden = dataset.report.total - len(dataset.report.problems)
            if hidden > 0:
                click.echo(f"    … ほか {hidden} 件 / and {hidden} more", err=True)
        for warning in dataset.report.warnings:
            click.echo(f"! {warning.render()}", err=True)
    if result.valid:
        where = f" → {result.output}" if result.output else ""
        click.echo(f"{action}: OK{where}")
    else:
        tail = "（出力は変更していません / output left unchanged）" if action == "build" else ""
        click.echo(f"{action}: 問題があります / invalid {tail}", err=True)


# Options the data commands share.
datasets_option = click.option(
    "--datasets",
    "datasets_dir",
    default="datasets",
    type=click.Path(path_type=Path),
    show_default=True,
    help="データセットのフォルダ / folder of dataset folders",
)


site_option = click.option(
    "--site",
    "site",
    default="dist",
    type=click.Path(path_type=Path),
    show_default=True,
    help="作成済みのサイト / a built site folder",
)


def report_options(command: Command) -> Command:
    command = click.option(
        "--limit",
        default=1000,
        type=click.IntRange(min=0),  # 0: counted, none listed
        show_default=True,
        help="一覧にする問題の上限 / problems listed",
    )(command)
    return click.option(
        "--json", "as_json", is_flag=True, help="機械可読な報告 / machine-readable report"
    )(command)


class Opendata(click.Group):
    """The command group; no Python traceback reaches an officer unless OPENDATA_DEBUG is set
    (the same whether the command runs as a process or in-process under click's test runner)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, EOFError):
            raise
        except Busy as exc:  # another command is using the same folder: try again later
            click.echo(str(exc), err=True)
            ctx.exit(EXIT_BUSY)
        except KeyboardInterrupt:  # every command leaves its output whole when stopped
            click.echo("\n中断しました / interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # the reader went away (`| head`): click handles it
                raise
            _internal_error(ctx, exc)
        except Exception as exc:  # the last line of defence; data problems never get here
            _internal_error(ctx, exc)


def _internal_error(ctx: click.Context, exc: Exception) -> NoReturn:
    _say_internal_error(exc)
    ctx.exit(EXIT_INTERNAL)


def _say_internal_error(exc: Exception) -> None:
    if os.environ.get("OPENDATA_DEBUG"):
        traceback.print_exc()
    click.echo(
        f"内部エラーが発生しました / internal error: {type(exc).__name__}: {exc}\n"
        "OPENDATA_DEBUG=1 を付けて再実行すると詳細が表示されます"
        " / rerun with OPENDATA_DEBUG=1 for details",
        err=True,
    )


def _site_url(value: str | None) -> str | None:
    """A URL the site's addresses start with: every IRI of the catalog's DCAT is one."""
    from pipeline.publisher import is_web_url, url_rule

    if value is not None and not is_web_url(value):
        raise click.BadParameter(f"{value!r}: {url_rule('--base-url')}")
    return value


@click.group(cls=Opendata)
@click.version_option(package_name="minato-opendata")
def cli() -> None:
    """港区オープンデータの公開パイプライン / Minato City open-data publishing pipeline."""


@cli.command("build")
@datasets_option
@click.option(
    "--out",
    "out_dir",
    default="dist",
    type=click.Path(path_type=Path),
    show_default=True,
    help="出力先（全件が正しいときだけ置き換え） / output, replaced only when all is valid",
)
@click.option(
    "--base-url",
    default=None,
    callback=lambda _ctx, _param, value: _site_url(value),
    help="公開URL（既定は catalog.yaml） / URL dist/ is served at",
)
@click.option(
    "--catalog/--no-catalog",
    default=True,
    show_default=True,
    help="カタログとサイトも作る / also build the catalog and site",
)
@click.option(
    "--force",
    is_flag=True,
    help="変更のないデータセットも作り直す / rebuild datasets whose inputs are unchanged too",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="並列に作るプロセス数（Dask LocalCluster） / datasets built at once (Dask processes)",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Dask の分散スケジューラ（tcp://host:8786） / a Dask distributed scheduler's address",
)
@click.option(
    "--watch",
    is_flag=True,
    help="データの変更のたびに作り直す（Ctrl+C で終了） / build again whenever the datasets"
    " change (Ctrl+C stops)",
)
@report_options
def build_command(
    datasets_dir: Path,
    out_dir: Path,
    base_url: str | None,
    catalog: bool,
    force: bool,
    workers: int,
    scheduler: str | None,
    watch: bool,
    as_json: bool,
    limit: int,
) -> None:
    """全データセットとカタログを作る / build every dataset, then the catalog and site.

    前回のビルドから入力が変わっていないデータセットは作り直さずに引き継ぎます
    / datasets whose inputs are unchanged since the last build are carried over."""

    from .build import build_site

    if watch and as_json:  # one JSON document per build would be no JSON a reader can parse
        raise click.UsageError("--watch と --json は同時に使えません / --watch is not for --json")
    if watch and datasets_dir.resolve() in out_dir.resolve().parents:
        raise click.UsageError(  # each build would be a change of the datasets: no end
            "--watch では出力先をデータセットのフォルダの外にしてください"
            " / with --watch, --out must be outside --datasets"
        )
    engine = None  # made once the options are known to be right: it may start a cluster
    if workers > 1 or scheduler:
        from pipeline.parallel import engine as dask_engine

        engine = dask_engine(workers, scheduler)

    def once(force: bool = force) -> RunResult:
        started = time.perf_counter()
        with _progress("build", as_json) as progress:
            result = build_site(
                datasets_dir, out_dir, base_url, catalog, limit, progress, force, engine
            )
        _print_result(result, as_json, "build")
        if watch:
            seconds = time.perf_counter() - started
            click.echo(f"{seconds:.2f} 秒 / s。変更を待っています / watching for changes", err=True)
        return result

    if not watch:
        sys.exit(0 if once().valid else EXIT_INVALID)
    from .watch import watch as rebuild_on_change

    forcing = [force]  # --force the first build that runs: the next ones are incremental

    def watched() -> None:
        try:
            once(forcing[0])
            forcing[0] = False
        except Busy as exc:  # a release or another build has the folder: try at the next change
            click.echo(f"{exc}（次の変更で作り直します / built at the next change）", err=True)
        except Exception as exc:  # said, as the command would; the watch goes on
            _say_internal_error(exc)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C: a build stopped leaves dist/ as it was
        rebuild_on_change(datasets_dir, watched, threading.Event())
    sys.exit(0)


@cli.command("validate")
@click.argument("names", nargs=-1)
@datasets_option
@report_options
@click.option(
    "--report",
    "report_path",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    help="問題のセルに印を付けた報告（.xlsx か .html） / a report marking the problem cells"
    " (.xlsx or .html)",
)
def validate_command(
    names: tuple[str, ...],
    datasets_dir: Path,
    as_json: bool,
    limit: int,
    report_path: Path | None,
) -> None:
    """元データを検証する（何も書き出さない） / check sources, write nothing."""
    from pipeline import build as pipeline

    from .report import ReportError, check_path, write_report

    try:
        if report_path is not None:
            check_path(report_path, datasets_dir)  # before the sources are read, not after
        with _progress("validate", as_json) as progress:
            result = pipeline.validate(datasets_dir, list(names) or None, limit, progress)
        _print_result(result, as_json, "validate")
        if report_path is not None:
            write_report(result, datasets_dir, report_path)
            click.echo(f"report: {report_path}", err=as_json)
    except ReportError as exc:
        click.echo(f"validate: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    sys.exit(0 if result.valid else EXIT_INVALID)


@cli.command("init")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", default=None, help="データセット名（既定はファイル名） / dataset name")
@datasets_option
@click.option(
    "--force", is_flag=True, help="既存のフォルダを上書きする / overwrite a dataset folder"
)
@click.option("--json", "as_json", is_flag=True, help="機械可読な報告 / machine-readable report")
def init_command(
    file: Path, name: str | None, datasets_dir: Path, force: bool, as_json: bool
) -> None:
    """表ファイルから dataset.yaml の下書きを作る / draft a dataset.yaml from a CSV or XLSX."""
    from .init import InitRefused, init_dataset

    try:
        result = init_dataset(file, datasets_dir, name=name, force=force)
    except InitRefused as exc:
        if as_json:
            click.echo(
                json.dumps(
                    {"ok": False, "problem": exc.problem.to_dict()}, ensure_ascii=False, indent=2
                )
            )
        else:
            click.echo(exc.problem.render(), err=True)
        sys.exit(EXIT_INVALID)
    if as_json:
        click.echo(json.dumps({"ok": True, **result}, ensure_ascii=False, indent=2))
        return
    click.echo(f"✓ {printable(result['dataset'])}: {result['definition']}")
    for line in result["lines"]:
        click.echo(f"  {line}")


@cli.command("diff")
@click.argument("old", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.argument("new", required=False, type=click.Path(path_type=Path, file_okay=False))
@site_option
@click.option("--json", "as_json", is_flag=True, help="機械可読な報告 / machine-readable report")
def diff_command(old: Path | None, new: Path | None, site: Path, as_json: bool) -> None:
    """差分（既定は最後のリリースと現在のビルド） / what changed (default: last release → build)."""
    from .release.archive import latest
    from .release.diff import diff_sites, render, to_json

    if old is None:
        last = latest(site)
        if last is None:
            click.echo(
                f"{site} にはまだリリースがありません（全データセットが初版です）"
                f" / no release in {site} yet: every dataset is new",
                err=True,
            )
            sys.exit(EXIT_INVALID)
        old = last.site
    new = new or site
    for folder in (old, new):
        if not folder.is_dir():
            click.echo(f"{folder} がありません / no such folder", err=True)
            sys.exit(EXIT_INVALID)
    diffs = diff_sites(old, new)
    if as_json:
        click.echo(json.dumps(to_json(diffs), ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(render(diffs))


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """NAME=TEXT options as a dict; a malformed or repeated one is a usage error."""
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        name = name.strip()
        if not sep or not name:
            raise click.BadParameter(f"{value!r}: NAME=… の形で / use NAME=…", param_hint=option)
        if name in pairs:
            raise click.BadParameter(f"{name} が2回あります / given twice", param_hint=option)
        pairs[name] = text.strip()
    return pairs


@cli.command("release")
@site_option
@datasets_option
@click.option("--notes", default="", help="リリースノート / release notes")
@click.option(
    "--dataset-notes", multiple=True, metavar="NAME=TEXT", help="データセットごとのノート / notes"
)
@click.option(
    "--set-version", multiple=True, metavar="NAME=X.Y.Z", help="版を手で決める / override"
)
@click.option("--reason", multiple=True, metavar="NAME=TEXT", help="版を決めた理由 / why")
@click.option("--dry-run", is_flag=True, help="版の判定だけ表示する / only show the versions")
@click.option("--json", "as_json", is_flag=True, help="機械可読な報告 / machine-readable report")
def release_command(
    site: Path,
    datasets_dir: Path,
    notes: str,
    dataset_notes: tuple[str, ...],
    set_version: tuple[str, ...],
    reason: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """現在のビルドをリリースにする / turn the current build into a dated, immutable release."""
    from pipeline.errors import DefinitionError
    from pipeline.publisher import load_publisher

    from .release import release

    reasons = _pairs(reason, "--reason")
    versions = _pairs(set_version, "--set-version")
    if set(reasons) - set(versions):
        raise click.BadParameter(
            "--set-version のないデータセットです / a reason without --set-version",
            param_hint="--reason",
        )
    overrides = {name: release.Override(v, reasons.get(name, "")) for name, v in versions.items()}
    notes_by_name = _pairs(dataset_notes, "--dataset-notes")
    try:
        with _progress("release", as_json) as progress:
            if dry_run:
                made, decisions = None, release.review(site, overrides, notes_by_name, progress)
            else:
                publisher = load_publisher(datasets_dir)
                made, decisions = release.create(
                    site, publisher, notes, notes_by_name, overrides, progress=progress
                )
    except (release.ReleaseError, DefinitionError) as exc:
        _print_problems(exc.problems, as_json, "release")
        sys.exit(EXIT_INVALID)
    if as_json:
        report = {
            "release": made.manifest if made else None,
            "decisions": [d.to_dict() for d in decisions],
        }
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for d in decisions:
        before = d.previous["version"] if d.previous else "—"
        after = "—" if d.change == "removed" else d.version
        why = "; ".join(d.reasons[:3]) + (f"（指定 override: {d.override}）" if d.override else "")
        click.echo(f"{d.name}: {before} → {after} [{d.change or '変更なし unchanged'}] {why}")
    changed = any(d.change for d in decisions)
    if made:
        click.echo(f"release: {made.id} → {made.folder}")
    elif not changed:
        click.echo("変更がないためリリースしません / nothing changed, no release made")
    else:
        click.echo("dry-run: 上の内容でリリースされます / a release would be made as above")


def _print_problems(problems: list[Problem], as_json: bool, action: str) -> None:
    if as_json:
        report = {"valid": False, "errors": [p.to_dict() for p in problems]}
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for problem in problems:
        click.echo(problem.render(), err=True)
        click.echo(f"  → {problem.hint_ja} / {problem.hint_en}", err=True)
    click.echo(
        f"{action}: 問題があります / refused (何も変更していません / nothing changed)", err=True
    )


@cli.command("publish")
@site_option
@click.option(
    "--to",
    "target",
    metavar="DIR|s3://BUCKET/PREFIX",
    help="公開先フォルダ（Web サーバーの公開ディレクトリ）か S3 互換ストレージ"
    " / a web server's folder, or an S3-compatible bucket",
)
@click.option("--ckan", "ckan_url", metavar="URL", help="公開先の CKAN / a CKAN site's URL")
@click.option(
    "--organization", default=None, help="CKAN の組織（既定はサイトの組織） / CKAN organization"
)
@click.option("--dry-run", is_flag=True, help="計画だけ表示する / only print the plan")
@click.option("--json", "as_json", is_flag=True, help="機械可読な報告 / machine-readable report")
def publish_command(
    site: Path,
    target: str | None,
    ckan_url: str | None,
    organization: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """最新のリリースを公開する / publish the site's latest release (--to DIR or --ckan URL).

    CKAN の API トークンは環境変数 CKAN_API_TOKEN から、S3 の認証情報・リージョン・エンドポイントは
    AWS の標準の環境変数（AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
    AWS_ENDPOINT_URL）かプロファイル（AWS_PROFILE）から読みます / the CKAN API token is read
    from CKAN_API_TOKEN; S3 credentials, region and endpoint from the standard AWS variables
    or a profile."""
    if (target is None) == (ckan_url is None):
        raise click.UsageError(
            "--to か --ckan のどちらか一つを指定してください / give --to or --ckan"
        )
    say = (lambda _text: None) if as_json else click.echo
    if target is not None:
        from .publish import s3, webroot

        try:
            with _progress("publish", as_json) as progress:
                if target.startswith(s3.SCHEME):
                    changed = s3.publish(site, target, say, dry_run, progress)
                else:
                    changed = webroot.publish(site, Path(target), say, dry_run, progress)
        except webroot.PublishError as exc:
            click.echo(f"publish: {exc}", err=True)
            sys.exit(EXIT_INVALID)
        if as_json:
            click.echo(json.dumps({"ok": True, "changed": changed, "target": str(target)}))
        return
    from .publish import ckan

    assert ckan_url is not None  # one of --to and --ckan, checked above
    try:
        with _progress("publish", as_json) as progress:
            outcome = ckan.publish(
                site,
                ckan_url,
                os.environ.get("CKAN_API_TOKEN"),
                organization or ckan.site_organization(site),
                dry_run,
                say,
                progress=progress,
            )
    except (ckan.CkanError, ckan.PublishError) as exc:
        click.echo(f"publish: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_outcome(outcome, dry_run)
    sys.exit(0 if outcome.ok else EXIT_INVALID)


def _print_outcome(outcome: Outcome, dry_run: bool) -> None:
    if outcome.unchanged:
        click.echo(f"変更なし unchanged: {', '.join(outcome.unchanged)}")
    if dry_run:
        click.echo(
            f"dry-run: {len(outcome.planned)} 件の操作 / steps planned; 何も変更していません"
        )
        return
    not_done = [s for s in outcome.planned if s not in outcome.done]
    click.echo(f"publish: {len(outcome.done)} 件完了 / steps done")
    if outcome.failed:
        for step in not_done:
            click.echo(f"  未実施 not done: {step.render()}", err=True)
        click.echo(
            "publish: 途中で止まりました。原因を直して同じコマンドを再実行すると残りを行います"
            " / stopped midway; fix the cause and run the same command again to finish",
            err=True,
        )


@cli.command("import")
@click.option(
    "--ckan", "ckan_url", required=True, metavar="URL", help="取り込み元の CKAN / a CKAN site"
)
@click.option("--organization", required=True, help="CKAN の組織 / the CKAN organization")
@click.option(
    "--dataset", "names", multiple=True, metavar="NAME", help="このデータセットだけ / only these"
)
@datasets_option
@click.option("--dry-run", is_flag=True, help="計画だけ表示する / only print what it would do")
@click.option("--json", "as_json", is_flag=True, help="機械可読な報告 / machine-readable report")
def import_command(
    ckan_url: str,
    organization: str,
    names: tuple[str, ...],
    datasets_dir: Path,
    dry_run: bool,
    as_json: bool,
) -> None:
    """CKAN の組織のデータセットをフォルダに取り込む / import a CKAN organization's datasets.

    API トークン（非公開の組織や CKAN が求めるとき）は環境変数 CKAN_API_TOKEN から読みます
    / an API token, where the site needs one, is read from CKAN_API_TOKEN."""
    from .ckanclient import CkanError
    from .ckanimport import import_ckan

    say = (lambda _text: None) if as_json else click.echo
    try:
        with _progress("import", as_json) as progress:
            outcome = import_ckan(
                ckan_url,
                os.environ.get("CKAN_API_TOKEN"),
                organization,
                datasets_dir,
                list(names) or None,
                dry_run,
                say,
                progress,
            )
    except CkanError as exc:
        click.echo(f"import: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2))
    else:
        for warning in outcome.warnings:
            click.echo(f"! {printable(warning)}", err=True)
        counts = Counter(change.kind for change in outcome.changes)
        summary = ", ".join(f"{kind} {n}" for kind, n in counts.items())
        click.echo(f"import{' (dry-run)' if dry_run else ''}: {summary or '0'}")
    sys.exit(0 if outcome.ok else EXIT_INVALID)


@cli.command("stats")
@click.option(
    "--logs",
    "logs",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="アクセスログ（.gz も可、何個でも、順不同） / access log files (.gz too, any order)",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["combined", "json"]),
    default="combined",
    show_default=True,
    help="combined: nginx・Apache / json: opendata serve --access-log",
)
@site_option
@datasets_option
@click.option(
    "--append", is_flag=True, help="download-stats の元データに新しい月を追加 / append new months"
)
@click.option("--until", default=None, metavar="YYYY-MM", help="追加する最後の月 / last month")
@click.option(
    "--max-requests-per-day",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="これを超えるクライアントはロボット扱い / above it a client is a robot",
)
@report_options
def stats_command(
    logs: tuple[Path, ...],
    fmt: str,
    site: Path,
    datasets_dir: Path,
    append: bool,
    until: str | None,
    max_requests_per_day: int,
    as_json: bool,
    limit: int,
) -> None:
    """アクセスログからダウンロード数を数える / count downloads from access logs."""

    from .stats import dataset
    from .stats.count import count

    if not (site / paths.DATASETS).is_dir():
        click.echo(f"{site} に作成済みのサイトがありません / no built site in {site}", err=True)
        sys.exit(EXIT_INVALID)
    if until is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", until):
        raise click.BadParameter("YYYY-MM の形で / use YYYY-MM", param_hint="--until")
    result = count(list(logs), site, fmt, max_requests_per_day, limit)
    if append and not result["different_site"]:
        result["append"] = dataset.append(datasets_dir, result, until)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_stats(result)
    sys.exit(EXIT_INVALID if result["different_site"] else 0)


def _print_stats(result: dict[str, Any]) -> None:
    for entry in result["files"]:
        note = ""
        if "duplicate_of" in entry:
            note = f"（{entry['duplicate_of']} と同じ内容: 数えません / same as it: not counted again）"
        if "truncated" in entry:
            note += f"（途中で切れています / cut short: {entry['truncated']}）"
        click.echo(f"{entry['file']}: {entry['lines']:,} 行 / lines {note}")
    for month in result["months"]:
        click.echo(
            f"{month['month']}: ダウンロード {month['downloads']:,} / downloads"
            f"（API datastore {month['datastore_api_calls']:,}）"
        )
    for row in result["by_dataset"]:
        click.echo(f"  {row['month']} {row['dataset']} {row['format']}: {row['downloads']:,}")
    click.echo("除外した行 / lines excluded:")
    for rule, n in result["excluded"].items():
        click.echo(f"  {n:>10,}  {result['rules'][rule]}")
    for bad in result["corrupt_lines"]:
        click.echo(f"! {bad['file']}:{bad['line']}: 読めない行 / corrupt line", err=True)
    unknown = result["not_in_catalog"]
    if unknown["count"]:
        click.echo(
            f"! カタログにない URL {unknown['count']:,} 件 / URLs not in the catalog: "
            + ", ".join(unknown["paths"][:5]),
            err=True,
        )
    if result["different_site"]:
        click.echo(
            "stats: このサイトのログではないようです（公開ファイルより、カタログにない URL が多い）"
            " / this looks like the log of a different site (more URLs not in the catalog than"
            " published files); nothing appended",
            err=True,
        )
    if done := result.get("append"):
        click.echo(
            f"append: {done['dataset']} に {', '.join(done['appended']) or 'なし none'} を追加"
            f" / appended; 次回 / left for later: {', '.join(done['left_for_later']) or '—'}"
        )


@cli.command("serve")
@site_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="要求ヘッダーを待つ秒数 / seconds a client has to send a request's headers",
)
@click.option(
    "--root-path",
    default="",
    callback=lambda _ctx, _param, value: value.rstrip("/"),
    help="サブパスで公開するときのパス（例 /opendata。プロキシはこの接頭辞を外して転送）"
    " / the sub-path the site is served under behind a proxy that strips it",
)
@click.option(
    "--access-log",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="アクセスログ（JSON Lines、既定はなし） / write an access log (JSON lines; off by default)",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1, max=64),
    help="応答するプロセスの数（検索索引はメモリマップで共有） / processes answering on the port"
    " (each maps the same search index files)",
)
def serve_command(
    site: Path,
    host: str,
    port: int,
    header_timeout: float,
    root_path: str,
    access_log: Path | None,
    workers: int,
) -> None:
    """CKAN 互換の読み取り API とファイルを配信する / serve the CKAN-compatible read API and files."""
    if not (site / paths.SEARCH_INDEX).is_file():
        click.echo(
            f"{site} に作成済みのカタログがありません。先に opendata build を実行してください"
            f" / no built catalog in {site}; run `opendata build` first",
            err=True,
        )
        sys.exit(EXIT_INVALID)
    if not all((site / path).is_file() for path in paths.SEARCH_PAIRS.values()):
        click.echo(
            f"{site} の検索索引は古い版で作られています。opendata build で作り直してください"
            f" / the search index in {site} was built by an older version; rebuild it with"
            " `opendata build`",
            err=True,
        )
        sys.exit(EXIT_INVALID)
    from .api.workers import CannotListen, Serving, serve

    try:
        serve(Serving(site, host, port, header_timeout, root_path, access_log), workers)
    except CannotListen as exc:
        click.echo(f"待ち受けできません / cannot listen on {exc}", err=True)
        sys.exit(EXIT_INVALID)


def main() -> None:
    cli()
