"""`opendata publish --to s3://bucket/prefix`: the latest release into an S3-compatible object
store, for a CDN to serve.

An object store has no atomic rename, so the order of the uploads is what keeps readers safe:
the release's immutable files first (released versions and manifests: keys no published page
names yet), then the files at stable URLs (data, then each dataset's metadata and pages, then
the catalog), the release pointer `releases/latest.json` last, and only then the removal of
objects the release no longer has. Every object carries its sha256 (`x-amz-meta-sha256`), so
only what differs is sent: a run that died midway is finished by the same command, and a
second run sends nothing. Credentials, region and endpoint come from the standard AWS
environment variables or a profile (botocore reads them) and are never printed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.build import Progress
from pipeline.files import locked, sha256_file

from .. import paths
from ..media import IMMUTABLE, media_type
from ..release.archive import DATA_SUFFIXES, Release
from .webroot import PublishError, check_not_newer, latest_release

SCHEME = "s3://"
SHA256 = "sha256"  # our user metadata, x-amz-meta-sha256: this tool uploaded the object
SHORT = "public, max-age=60"  # stable URLs and the catalog: a CDN serves a switch within a minute
IMMUTABLE_FIRST, CONTENT, DATASET_META, CATALOG, POINTER = range(5)  # the upload order


@dataclass(frozen=True)
class Target:
    bucket: str
    prefix: str  # "" or ending in "/"

    @classmethod
    def parse(cls, url: str) -> Target:
        bucket, _, prefix = url.removeprefix(SCHEME).partition("/")
        prefix = prefix.strip("/")
        if not bucket or ".." in prefix.split("/"):
            raise PublishError(
                f"{url} は s3://バケット名/プレフィックス の形で指定してください"
                " / give the target as s3://bucket/prefix"
            )
        return cls(bucket, prefix + "/" if prefix else "")

    def key(self, path: str) -> str:
        return self.prefix + path

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class Upload:
    path: str  # inside the site and under the prefix
    file: Path
    sha256: str
    reason: str  # new, changed

    @property
    def headers(self) -> dict[str, str]:
        return {"ContentType": content_type(self.path), "CacheControl": cache_control(self.path)}


@dataclass(frozen=True)
class Plan:
    current: str | None  # the release the bucket's pointer names
    uploads: list[Upload]  # in upload order
    removals: list[str]  # paths of our objects the release no longer has
    unchanged: int


def upload_rank(path: str) -> int:
    """Where a file goes in the upload order: what others name before what names them."""
    parts = tuple(path.split("/"))
    if path == paths.LATEST:
        return POINTER
    if paths.never_changes(parts):
        return IMMUTABLE_FIRST
    if parts[0] == paths.STATIC or Path(path).suffix.lower() in DATA_SUFFIXES:
        return CONTENT
    if parts[0] == paths.DATASETS:
        return DATASET_META
    return CATALOG


def content_type(path: str) -> str:
    found = media_type(path)
    return f"{found}; charset=utf-8" if found.startswith("text/") else found  # as serve says


def cache_control(path: str) -> str:
    return IMMUTABLE if upload_rank(path) == IMMUTABLE_FIRST else SHORT


class Bucket:
    """The objects under one prefix of one bucket, through s3fs."""

    def __init__(self, target: Target):
        import s3fs  # botocore's start-up only for this target

        self.target = target
        # A fresh client: credentials read now, and no listing cached from an earlier run.
        self.fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)

    def heads(self) -> dict[str, dict[str, Any]]:
        """Every object under the prefix: its path → its HEAD (metadata and headers)."""
        from fsspec.asyn import sync

        keys = self._keys()
        found = sync(self.fs.loop, self._head_all, keys)  # side by side: one HEAD per object
        return {
            key.removeprefix(self.target.prefix): head
            for key, head in zip(keys, found, strict=True)
        }

    def _keys(self) -> list[str]:
        keys: list[str] = []
        more: dict[str, str] = {}
        while True:
            try:
                page = self._call(
                    "list_objects_v2", Bucket=self.target.bucket, Prefix=self.target.prefix, **more
                )
            except FileNotFoundError:
                raise PublishError(
                    f"バケット {self.target.bucket} がありません。先に作成してください"
                    f" / the bucket {self.target.bucket} does not exist; create it first"
                ) from None
            keys += [item["Key"] for item in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return keys
            more = {"ContinuationToken": page["NextContinuationToken"]}

    async def _head_all(self, keys: list[str]) -> list[dict[str, Any]]:
        heads = (self.fs._call_s3("head_object", Bucket=self.target.bucket, Key=k) for k in keys)
        return list(await asyncio.gather(*heads))

    def read_json(self, path: str) -> Any:
        return json.loads(self.fs.cat_file(self._url(path)))

    def put(self, upload: Upload) -> None:
        self.fs.put_file(
            str(upload.file),
            self._url(upload.path),
            Metadata={SHA256: upload.sha256},
            **upload.headers,
        )

    def remove(self, path: str) -> None:
        self._call("delete_object", Bucket=self.target.bucket, Key=self.target.key(path))

    def _url(self, path: str) -> str:
        return f"{self.target.bucket}/{self.target.key(path)}"

    def _call(self, method: str, **kwargs: Any) -> Any:
        return self.fs.call_s3(method, **kwargs)


def plan(release: Release, bucket: Bucket) -> Plan:
    """Compare the release's files with the bucket's objects (sha256 and headers)."""
    theirs = bucket.heads()
    _check_only_ours(bucket.target, theirs)
    files = {f.relative_to(release.site).as_posix(): f for f in release.site.rglob("*")}
    uploads, unchanged = [], 0
    for path, file in sorted(files.items()):
        if not file.is_file():
            continue
        upload = Upload(path, file, sha256_file(file), "changed" if path in theirs else "new")
        if path in theirs and _same(upload, theirs[path]):
            unchanged += 1
        else:
            uploads.append(upload)
    # Old released versions stay: a CDN or a reader may hold links to them.
    removals = sorted(p for p in theirs if p not in files and upload_rank(p) != IMMUTABLE_FIRST)
    current = bucket.read_json(paths.LATEST) if paths.LATEST in theirs else None
    return Plan(
        current["id"] if current else None,
        sorted(uploads, key=lambda u: (upload_rank(u.path), u.path)),
        removals,
        unchanged,
    )


def _check_only_ours(target: Target, theirs: dict[str, dict[str, Any]]) -> None:
    """Refuse a prefix holding what a publish here would overwrite or remove unasked."""
    foreign = sorted(path for path, head in theirs.items() if SHA256 not in head["Metadata"])
    if foreign:
        raise PublishError(
            f"{target} には opendata が公開したものでないオブジェクトが {len(foreign)} 件"
            f"あります（{foreign[0]} など）。空のプレフィックスを指定してください / {target}"
            f" holds {len(foreign)} objects opendata did not publish ({foreign[0]}, …);"
            " give an empty prefix"
        )
    nested = sorted(p for p in theirs if p.endswith("/" + paths.LATEST))
    if nested:  # its objects are not this release's: removing them would unpublish it
        raise PublishError(
            f"{target} の中に別の公開 ({nested[0]}) があります。重ならないプレフィックスを"
            f"指定してください / {target} holds another publish ({nested[0]});"
            " give a prefix of its own"
        )


def _same(upload: Upload, head: dict[str, Any]) -> bool:
    found = {"ContentType": head.get("ContentType"), "CacheControl": head.get("CacheControl")}
    return head["Metadata"][SHA256] == upload.sha256 and found == upload.headers


def publish(
    site: Path,
    url: str,
    say: Callable[[str], None] = print,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> bool:
    """Put the site's latest release under `url` (s3://bucket/prefix); False when there was
    nothing to do. `progress` hears of each object as it is uploaded."""
    target = Target.parse(url)
    with locked(site.resolve(), "publish", shared=True), _store_errors(target):
        release = latest_release(site)
        bucket = Bucket(target)
        todo = plan(release, bucket)
        check_not_newer(site, str(target), {"id": todo.current} if todo.current else None, release)
        if not todo.uploads and not todo.removals:
            say(f"{target}: リリース {release.id} は公開済みです / already published")
            return False
        if dry_run:
            _say_plan(target, release, todo, say)
            return False
        say(
            f"{target}: リリース {release.id} を公開します / publishing release {release.id}"
            f" ({todo.current or '—'} →; {len(todo.uploads)} uploads, {todo.unchanged} unchanged)"
        )
        for number, upload in enumerate(todo.uploads, 1):
            if progress:
                progress(upload.path, number, len(todo.uploads))
            bucket.put(upload)
        for path in todo.removals:  # after the pointer: no published page names them now
            bucket.remove(path)
    say(
        f"{target}: 公開しました / published {release.id}"
        f" ({len(todo.uploads)} uploaded, {len(todo.removals)} removed)"
    )
    return True


def _say_plan(target: Target, release: Release, todo: Plan, say: Callable[[str], None]) -> None:
    for upload in todo.uploads:
        say(f"(dry-run) upload {upload.path}  ({upload.reason}; {cache_control(upload.path)})")
    for path in todo.removals:
        say(f"(dry-run) remove {path}")
    say(
        f"(dry-run) {target}: {todo.current or '—'} → {release.id}: {len(todo.uploads)} uploads,"
        f" {len(todo.removals)} removals, {todo.unchanged} unchanged"
        "（何も変更していません / nothing changed）"
    )


@contextmanager
def _store_errors(target: Target) -> Iterator[None]:
    """The store's failures as the officer's errors; never the credentials, nor the server's
    own words about them."""
    from botocore.exceptions import BotoCoreError, NoCredentialsError

    try:
        yield
    except PermissionError:
        raise PublishError(
            f"{target} に書き込めません: 認証情報が誤っているか、このバケットへの権限がありません"
            "（AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY か AWS_PROFILE を確認してください）"
            f" / access denied to {target}: wrong credentials, or no rights on the bucket"
            " (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
        ) from None
    except NoCredentialsError:
        raise PublishError(
            "S3 の認証情報がありません（AWS_ACCESS_KEY_ID と AWS_SECRET_ACCESS_KEY か"
            " AWS_PROFILE を設定してください） / no S3 credentials: set AWS_ACCESS_KEY_ID and"
            " AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        ) from None
    except (OSError, BotoCoreError) as exc:
        raise PublishError(
            f"{target} に接続できないか、書き込めません / cannot reach or write {target}:"
            f" {type(exc).__name__}: {exc}"
        ) from None
