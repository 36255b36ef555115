"""`opendata import --ckan URL --organization NAME`: the datasets of an existing CKAN
organization brought into dataset folders, to be built, released and published from here on.

For each dataset: the metadata mapped back from CKAN's dict (title, notes, tags, licence,
groups → themes, the extras `publish --ckan` writes), every resource downloaded (streamed,
its sha256 checked against CKAN's `hash` where CKAN keeps a sha256, within the DOWNLOAD
limit, retried), each table drafted as `init` drafts it (pipeline/infer.py: cp932, title rows,
a `Ver20260714` footer), every other file kept as a file resource. A file no catalog format
can publish (an .xls, a .docx) is saved in the folder and reported, not listed.

Each imported folder holds `ckan-import.json`: where it came from, a fingerprint of what CKAN
said, and the sha256 of every file import wrote. Running again changes a folder only when the
fingerprint changed, and never overwrites a file edited since (its sha256 differs from the
one recorded): that file is kept and the run says so. Folders import did not make are never
touched. A folder changes in one atomic swap, staged beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from pipeline.build import telling
from pipeline.files import locked, read_json, replace_directory, sha256_file, staging_beside
from pipeline.infer import Draft, InitError, draft
from pipeline.vocabulary import (
    DEFINITION,
    FILE_FORMATS,
    FREQUENCIES,
    LICENSES,
    NAME_PATTERN,
    RESERVED_FILE_NAMES,
    SEMVER,
    THEMES,
    file_format,
)

from .ckanclient import Ckan, CkanError, expected_answers, token_warning

STATE_FILE = "ckan-import.json"
PAGE = 100  # datasets per package_search page
TABLES = (".csv", ".xlsx")
SAFE_FILE_NAME = re.compile(r"[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]{0,150}")
SHA256 = re.compile(r"(?:sha256:)?([0-9a-f]{64})")
# The extras `publish --ckan` writes (catalog/metadata/ckan.py) that a definition holds.
EXTRAS = {"title_en": "title_en", "notes_en": "description_en", "spatial_code": "spatial"}
FREQUENCY_EXTRAS = ("frequency", "更新頻度")  # ours, and the name Japanese catalogs use
# …and those derived from the definition, so nothing is lost when they are not carried.
DERIVED_EXTRAS = {
    *FREQUENCY_EXTRAS,
    "frequency_ja",
    "spatial",
    "temporal_start",
    "temporal_end",
    "language",
    "data_modified",
    "version_notes",
    "source",
    "source_sha256",
    "opendata_managed",
}
HEADER = """\
# opendata import の下書き / drafted by `opendata import` from {url}
# 確認して書き足してください / check and fill in what CKAN did not say (build warns of each
# blank). 編集したファイルは次の import でも上書きされません / files you edit here are kept
# by the next import (it reports the upstream change instead).
"""


@dataclass(frozen=True)
class Change:
    """What the import did, or would do, to one dataset folder (or one file in it)."""

    kind: str  # new, update, unchanged, kept, skipped, saved, failed
    dataset: str
    detail: str = ""

    def render(self) -> str:
        return f"{self.kind:9} {self.dataset}" + (f"  ({self.detail})" if self.detail else "")


@dataclass
class ImportOutcome:
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.kind == "failed" for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "changes": [
                {"kind": c.kind, "dataset": c.dataset, "detail": c.detail} for c in self.changes
            ],
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Fetched:
    """One downloaded resource, in the staging folder under the name it will keep."""

    file: str
    resource: dict[str, Any]  # CKAN's resource dict
    sha256: str  # computed while it downloaded


class ImportFailed(Exception):
    """One dataset cannot be imported; the others go on."""


def import_ckan(
    url: str,
    token: str | None,
    organization: str,
    datasets_dir: Path,
    names: list[str] | None = None,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportOutcome:
    """Import an organization's datasets (or the `names` among them) into `datasets_dir`."""
    client = Ckan(url, token)
    outcome = ImportOutcome()
    if warning := token_warning(url, token):
        outcome.warnings.append(warning)
    with expected_answers():
        owner = client.organization_id(organization)
        packages = (
            [_package(client, n, owner, organization) for n in names]
            if names
            else list(_organization_packages(client, owner))
        )
    datasets_dir.mkdir(parents=True, exist_ok=True)
    for done, package in enumerate(packages):
        tell = telling(progress, done, len(packages))
        tell(package["name"])
        try:
            with expected_answers():
                changes = _import_one(client, url, package, datasets_dir, dry_run, outcome, tell)
        except (CkanError, ImportFailed) as exc:
            changes = [Change("failed", package["name"], str(exc))]
        for change in changes:
            outcome.changes.append(change)
            say(("(dry-run) " if dry_run else "") + change.render())
    return outcome


# -- reading CKAN -------------------------------------------------------------------------------
def _organization_packages(client: Ckan, owner: str) -> Iterator[dict[str, Any]]:
    """Every dataset of the organization, private ones included where the token may see them."""
    start = 0
    while True:
        page = client.call(
            "package_search",
            fq=f'owner_org:"{owner}"',
            include_private=True,
            rows=PAGE,
            start=start,
            sort="name asc",
        )
        results = page["results"]
        yield from results
        start += len(results)
        if not results or start >= int(page["count"]):
            return


def _package(client: Ckan, name: str, owner: str, organization: str) -> dict[str, Any]:
    try:
        package: dict[str, Any] = client.call("package_show", id=name)
    except CkanError as exc:
        if exc.status in (403, 404):
            raise CkanError(
                f"CKAN にデータセット {name!r} がありません / no such dataset"
            ) from None
        raise
    if package.get("owner_org") != owner:
        raise CkanError(
            f"データセット {name!r} は組織 {organization!r} のものではありません"
            f" / {name!r} does not belong to organization {organization!r}"
        )
    return package


# -- one dataset --------------------------------------------------------------------------------
def _import_one(
    client: Ckan,
    url: str,
    package: dict[str, Any],
    datasets_dir: Path,
    dry_run: bool,
    outcome: ImportOutcome,
    tell: Callable[[str], None],
) -> list[Change]:
    name = str(package["name"])
    if not NAME_PATTERN.match(name):
        raise ImportFailed(f"データセット名が使えません / unusable dataset name: {name!r}")
    if package.get("private"):
        return [
            Change(
                "skipped",
                name,
                "非公開のため取り込みません（カタログは全件を公開します） / private in CKAN:"
                " not imported, as the catalog publishes all it holds",
            )
        ]
    folder = datasets_dir / name
    state = _state(folder)
    if folder.exists() and state is None:
        return [
            Change(
                "skipped",
                name,
                "import が作ったフォルダではないので触りません / the folder was not made by"
                " import: left as it is",
            )
        ]
    fingerprint = _fingerprint(package)
    if state is not None and state["fingerprint"] == fingerprint:
        return [Change("unchanged", name)]
    kind = "new" if state is None else "update"
    if dry_run:
        return [Change(kind, name, f"{len(package.get('resources') or [])} files")]
    with locked(folder, "import"), staging_beside(folder, "import") as stage:
        changes, written = _stage(client, url, package, stage, outcome, tell)
        if state is not None:
            changes += _carry_local(folder, stage, state, written)
        record = {"ckan": url, "id": package["id"], "fingerprint": fingerprint, "files": written}
        (stage / STATE_FILE).write_text(_json(record), encoding="utf-8")
        replace_directory(stage, folder)
    return [Change(kind, name, f"{len(written) - 1} files"), *changes]


def _stage(
    client: Ckan,
    url: str,
    package: dict[str, Any],
    stage: Path,
    outcome: ImportOutcome,
    tell: Callable[[str], None],
) -> tuple[list[Change], dict[str, str]]:
    """Download the files and draft the definition into `stage`: what there is to say of
    its files, and the sha256 of each file written."""
    name = package["name"]
    fetched: list[Fetched] = []
    for position, resource in enumerate(package.get("resources") or []):
        tell(f"{name}: {resource.get('name') or position + 1}")
        fetched.append(_fetch(client, resource, position, stage, {f.file for f in fetched}))
    resources, changes = _resources(name, fetched, stage)
    definition, warnings = definition_from(package, resources)
    outcome.warnings += [f"{name}: {w}" for w in warnings]
    text = yaml.safe_dump(
        definition, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    written = (HEADER.format(url=url) + text).encode("utf-8")
    (stage / DEFINITION).write_bytes(written)
    digests = {f.file: f.sha256 for f in fetched} | {
        DEFINITION: hashlib.sha256(written).hexdigest()
    }
    return changes, dict(sorted(digests.items()))


def _fetch(
    client: Ckan, resource: dict[str, Any], position: int, stage: Path, taken: set[str]
) -> Fetched:
    file = _file_name(resource, position, taken)
    path, digest = client.download(str(resource.get("url") or ""), stage)
    expected = SHA256.fullmatch(str(resource.get("hash") or "").strip().lower())
    if expected and expected.group(1) != digest:
        path.unlink()
        raise ImportFailed(
            f"{file}: ダウンロードした内容の sha256 が CKAN の hash と違います（途中で壊れたか、"
            f"CKAN の記録が古い） / the download's sha256 {digest[:12]}… differs from CKAN's hash"
            f" {expected.group(1)[:12]}…"
        )
    os.replace(path, stage / file)
    return Fetched(file, resource, digest)


def _file_name(resource: dict[str, Any], position: int, taken: set[str]) -> str:
    """The file's own name where it is a safe one, else `resource-N` with its extension."""
    raw = unquote(urlsplit(str(resource.get("url") or "")).path.rsplit("/", 1)[-1])
    name = unicodedata.normalize("NFKC", raw).strip()
    suffix = Path(name).suffix.lower() or _suffix_of(str(resource.get("format") or ""))
    if not SAFE_FILE_NAME.fullmatch(name) or not Path(name).suffix:
        name = f"resource-{position + 1}{suffix}"
    reserved = {*RESERVED_FILE_NAMES, DEFINITION, STATE_FILE, *taken}
    stem, number = Path(name).stem, 2
    while name in reserved:
        name, number = f"{stem}-{number}{suffix}", number + 1
    return name


def _suffix_of(ckan_format: str) -> str:
    fmt = ckan_format.strip().lower()
    if f".{fmt}" in TABLES:
        return f".{fmt}"
    extensions = FILE_FORMATS.get(fmt, ("", ()))[1]
    return extensions[0] if extensions else ""


def _resources(
    dataset: str, fetched: list[Fetched], stage: Path
) -> tuple[list[dict[str, Any]], list[Change]]:
    """Each file as a resource of the definition: a drafted table or a file as it is."""
    resources: list[dict[str, Any]] = []
    saved: list[Change] = []
    names: set[str] = set()
    for item in fetched:
        path = stage / item.file
        name = _resource_name(path, len(resources), names)
        about = {
            "title": str(item.resource.get("name") or item.file),
            "description": str(item.resource.get("description") or ""),
        }
        if path.suffix.lower() in TABLES:
            try:
                drafted = draft(path, name, display=f"{dataset}/{item.file}")
            except InitError as exc:
                saved.append(Change("saved", f"{dataset}/{item.file}", exc.problem.message))
                continue
            resources.append(_with_about(drafted.descriptor["resources"][0], about))
            if notes := _noteworthy(drafted):
                saved.append(Change("drafted", f"{dataset}/{item.file}", notes))
        elif fmt := _file_format(path, item.resource):
            described = {"name": name, "path": item.file, "type": "file", **about}
            if file_format(item.file) != fmt:
                described["format"] = fmt
            resources.append(described)
        else:
            saved.append(
                Change(
                    "saved",
                    f"{dataset}/{item.file}",
                    f"形式 {item.resource.get('format') or path.suffix} はカタログで公開できません。"
                    "ファイルはフォルダに保存し、dataset.yaml には入れていません / this format"
                    " cannot be published: the file is saved in the folder, not listed",
                )
            )
        names.add(name)
    return resources, saved


def _noteworthy(drafted: Draft) -> str:
    """What an officer should know of a drafted table: a legacy encoding, a footer."""
    notes = []
    if drafted.encoding and drafted.encoding != "utf-8":
        notes.append(f"文字コード {drafted.encoding}（公開は UTF-8） / encoding {drafted.encoding}")
    if drafted.footer:
        notes.append(
            f"表の下の行を除外 / footer left out: {' | '.join(drafted.footer)} (footer_rows)"
        )
    return "; ".join(notes)


def _with_about(resource: dict[str, Any], about: dict[str, str]) -> dict[str, Any]:
    """A drafted table resource with CKAN's title and description after its name and path."""
    head = {k: resource[k] for k in ("name", "path")}
    return {**head, **about, **{k: v for k, v in resource.items() if k not in head}}


def _resource_name(path: Path, position: int, taken: set[str]) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-_")
    if not NAME_PATTERN.match(name) or name in taken:
        name = f"resource-{position + 1}"
    while name in taken:
        name += "-b"
    return name


def _file_format(path: Path, resource: dict[str, Any]) -> str | None:
    """Our file format from the extension, else from CKAN's `format`."""
    by_extension = file_format(path.name)
    if by_extension:
        return by_extension
    fmt = str(resource.get("format") or "").strip().lower()
    return fmt if fmt in FILE_FORMATS else None


# -- metadata -----------------------------------------------------------------------------------
def definition_from(
    package: dict[str, Any], resources: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[str]]:
    """dataset.yaml from a CKAN package dict; and what could not be carried over."""
    warnings: list[str] = []
    extras = {str(e["key"]): str(e["value"]) for e in package.get("extras") or []}
    extension: dict[str, Any] = {}
    for key, ours in EXTRAS.items():
        if extras.get(key):
            extension[ours] = extras[key]
    department = package.get("author") or package.get("maintainer")
    if department:
        extension["department"] = department
    if frequency := _frequency(extras):
        extension["frequency"] = frequency
    themes, unknown_groups = _themes(package.get("groups") or [])
    extension["themes"] = themes
    if unknown_groups:
        warnings.append(
            f"テーマに対応しないグループ / groups with no theme: {', '.join(unknown_groups)}"
        )
    leftover = sorted(set(extras) - set(EXTRAS) - DERIVED_EXTRAS)
    if leftover:
        warnings.append(f"取り込んでいない追加項目 / extras not carried: {', '.join(leftover)}")
    licence = _licence(package)
    if licence not in LICENSES:
        warnings.append(
            f"ライセンス {licence!r} はカタログの一覧にありません。license を直してください"
            f" / licence {licence!r} is not one the catalog knows: fix `license`"
        )
    definition: dict[str, Any] = {
        "name": package["name"],
        "title": package.get("title") or package["name"],
        "description": package.get("notes") or "",
    }
    if SEMVER.fullmatch(str(package.get("version") or "")):
        definition["version"] = package["version"]
    if created := str(package.get("metadata_created") or "")[:10]:
        definition["created"] = created
    definition["keywords"] = [str(t["name"]) for t in package.get("tags") or []]
    if package.get("url"):  # CKAN's "source" field
        definition["sources"] = [{"title": "出典 / source", "path": str(package["url"])}]
    definition["license"] = licence
    definition["x-opendata"] = extension
    definition["resources"] = resources
    return definition, warnings


def _licence(package: dict[str, Any]) -> str:
    """Our licence key for CKAN's: by id (any case), else by the licence's URL."""
    given = str(package.get("license_id") or "")
    by_id = {key.lower(): key for key in LICENSES} | {"cc-zero": "CC0-1.0"}
    if given.lower() in by_id:
        return by_id[given.lower()]
    url = str(package.get("license_url") or "").rstrip("/")
    return next((k for k, v in LICENSES.items() if v["path"].rstrip("/") == url), given)


def _frequency(extras: dict[str, str]) -> str | None:
    value = next((extras[k] for k in FREQUENCY_EXTRAS if extras.get(k)), "")
    labels = {label: key for key, (label, _) in FREQUENCIES.items()}
    return value if value in FREQUENCIES else labels.get(value)


def _themes(groups: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    # A theme by our group name (`safety`) or by its own title (防災・安全).
    known = {group: theme for theme, (group, _, _) in THEMES.items()} | {t: t for t in THEMES}
    themes: list[str] = []
    unknown: list[str] = []
    for group in groups:
        keys = (group.get("name"), group.get("title"), group.get("display_name"))
        theme = next((known[k] for k in keys if k in known), None)
        if theme is None:
            unknown.append(str(group.get("title") or group.get("name")))
        elif theme not in themes:
            themes.append(theme)
    return themes, unknown


def _fingerprint(package: dict[str, Any]) -> str:
    """What CKAN says of a dataset that import reads, hashed: equal means nothing to do."""
    resource_keys = ("id", "url", "hash", "size", "last_modified", "name", "description", "format")
    said = {
        "package": {
            k: package.get(k)
            for k in ("title", "notes", "license_id", "license_url", "version", "author")
        }
        | {
            "maintainer": package.get("maintainer"),
            "metadata_created": package.get("metadata_created"),
            "tags": sorted(str(t["name"]) for t in package.get("tags") or []),
            "groups": sorted(str(g.get("name")) for g in package.get("groups") or []),
            "extras": sorted((e["key"], e["value"]) for e in package.get("extras") or []),
        },
        "resources": [{k: r.get(k) for k in resource_keys} for r in package.get("resources") or []],
    }
    return hashlib.sha256(_json(said).encode("utf-8")).hexdigest()


# -- local edits --------------------------------------------------------------------------------
def _state(folder: Path) -> dict[str, Any] | None:
    try:
        state = read_json(folder / STATE_FILE)
    except (OSError, ValueError):
        return None
    ok = isinstance(state, dict) and isinstance(state.get("files"), dict)
    return state if ok and "fingerprint" in state else None


def _carry_local(
    folder: Path, stage: Path, state: dict[str, Any], written: dict[str, str]
) -> list[Change]:
    """Into the next folder: every file edited since the last import (kept, and said so)
    and every file the officer added; the upstream's version of an edited file is not
    written, and its sha256 recorded, so the next run still sees the edit."""
    changes: list[Change] = []
    recorded: dict[str, str] = state["files"]
    for path in sorted(folder.iterdir()):
        if path.name == STATE_FILE or not path.is_file():
            continue
        edited = path.name in recorded and sha256_file(path) != recorded[path.name]
        if path.name not in recorded or edited:
            shutil.copy2(path, stage / path.name)
        if edited:
            changed = written.get(path.name) not in (None, recorded[path.name])
            upstream = "上流も変更 / changed upstream too" if changed else ""
            changes.append(
                Change(
                    "kept",
                    f"{folder.name}/{path.name}",
                    "ローカルで編集されているので上書きしません / edited here since the last"
                    f" import: kept, not overwritten {upstream}".rstrip(),
                )
            )
    return changes


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
