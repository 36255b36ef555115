"""A build's files over HTTP: the published media types, Range and 304 (Starlette), and two
guarantees Starlette's own file serving lacks:

- a download is never torn: the file is opened once, and its length, its ETag and every byte
  sent come from that one open file, whatever is swapped in at its name meanwhile;
- the ETag is derived from the content (unchanged bytes keep it across rebuilds), and is
  computed in a worker thread, once per file version, never on the event loop;
- `Last-Modified` is when the data last changed (the catalog's dates), not when a build
  happened to write the file;
- text (CSV, JSON, Turtle, HTML, SVG…) is gzipped for clients that accept it, streamed, with
  its own ETag and `Vary: Accept-Encoding`; a `Range` request gets the bytes as stored.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import zlib
from collections.abc import AsyncIterator
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Receive, Scope, Send

from pipeline.files import FileVersion, file_version, open_path, read_json, sha256_file
from pipeline.vocabulary import SEMVER

from .. import paths
from ..media import IMMUTABLE, media_type
from ..model import BuiltPackage
from .protocol import accepts_gzip


class SiteFiles(StaticFiles):
    """The files of one build (`directory`: the build's open folder)."""

    def __init__(self, directory: Path):
        super().__init__(directory=directory, html=True, follow_symlink=False)
        self._etags: dict[FileVersion, str] = {}
        self._lock = threading.Lock()
        self.dates = DataDates(directory)

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """Starlette's lookup (inside the folder, no symlinks out), run in a worker thread —
        where the ETag of a file version not seen before is computed too, and the dates read.
        Hidden names (the build's records, lock files) are no files of the site."""
        if any(part.startswith(".") for part in Path(path).parts):
            return "", None
        full_path, stat = super().lookup_path(path)
        if stat is not None and os.path.isfile(full_path):
            self._etag(Path(full_path), stat)
            self.dates.load()
        return full_path, stat

    async def get_response(self, path: str, scope: Scope) -> Response:
        """Starlette's answer, with a folder's redirect (to its URL ending in "/") made from
        the folder found: Starlette builds it from the client's own `Host` header and path,
        where `//evil.example%2f..` would make a link to another site."""
        response = await super().get_response(path, scope)
        if "location" in response.headers:
            parts = [p for p in (scope.get("root_path", "").strip("/"), path.strip("/")) if p]
            location = quote("/" + "/".join(parts) + "/")
            if query := scope.get("query_string", b"").decode("latin-1"):
                location += "?" + query
            response.headers["location"] = location
        return response

    def _etag(self, path: Path, stat: os.stat_result) -> str:
        key = file_version(stat)
        with self._lock:
            known = self._etags.get(key)
        if known is None:
            known = '"' + sha256_file(path)[:32] + '"'
            with self._lock:
                self._etags[key] = known
        return known

    def file_response(
        self,
        full_path: Any,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        fd = os.open(full_path, os.O_RDONLY)
        opened = os.fstat(fd)  # the file as it is now; served whole from this descriptor
        response = _OpenFileResponse(
            fd,
            open_path(fd, Path(full_path)),
            status_code=status_code,
            stat_result=opened,
            media_type=media_type(str(full_path)),
        )
        parts = tuple(part for part in get_route_path(scope).split("/") if part)
        response.headers["cache-control"] = _cache_control(parts)
        if changed := self.dates.last_modified(parts):
            response.headers["last-modified"] = changed
        with self._lock:
            etag = self._etags.get(file_version(opened))
        request = Headers(scope=scope)
        gzipped = False
        if _compressible(response.media_type, opened.st_size):
            response.headers["vary"] = "Accept-Encoding"  # on both representations
            gzipped = _wants_gzip(scope["method"], request)
            if gzipped and etag is not None:
                etag = etag[:-1] + '-gzip"'  # another representation, another tag
        if etag is None:  # another version than the one looked up: no content-derived tag
            del response.headers["etag"]
        else:
            response.headers["etag"] = etag
        if status_code == 200 and _not_modified(request, etag, changed):
            response.close()
            return NotModifiedResponse(response.headers)
        if gzipped:
            return response.gzipped()
        return response


class _OpenFileResponse(FileResponse):
    """A FileResponse of an open file, which it closes however the response ends (a Range
    Starlette refuses returns before any background task would run)."""

    def __init__(self, fd: int, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._fd: int | None = fd

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def gzipped(self) -> StreamingResponse:
        """The same file gzipped as it is sent, chunk by chunk in a worker thread."""
        skip = ("content-length", "accept-ranges")
        headers = {k: v for k, v in self.headers.items() if k not in skip}
        headers["content-encoding"] = "gzip"
        return StreamingResponse(self._gzip_chunks(), headers=headers, media_type=self.media_type)

    async def _gzip_chunks(self) -> AsyncIterator[bytes]:
        packer = zlib.compressobj(5, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: gzip framing
        try:
            while self._fd is not None and (
                chunk := await run_in_threadpool(os.read, self._fd, CHUNK)
            ):
                if packed := await run_in_threadpool(packer.compress, chunk):
                    yield packed
            yield packer.flush()
        finally:
            self.close()


REVALIDATE = "public, no-cache"  # latest URLs, pages, catalog: ask each time (a 304 is cheap)


def _cache_control(parts: tuple[str, ...]) -> str:
    return IMMUTABLE if paths.never_changes(parts) else REVALIDATE


def _not_modified(request: Headers, etag: str | None, changed: str | None) -> bool:
    """RFC 9110 §13.1: If-None-Match decides when present; else If-Modified-Since."""
    if "if-none-match" in request:
        wanted = [tag.strip() for tag in request["if-none-match"].split(",")]
        return etag is not None and (etag in wanted or "*" in wanted)
    since, last = request.get("if-modified-since"), changed
    if not (since and last):
        return False
    try:
        return parsedate_to_datetime(last) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):  # an unreadable date is ignored, as the RFC says
        return False


# Types worth compressing (images, Parquet and zip are compressed already).
TEXT_TYPES = (
    "text/",
    "application/json",
    "application/ld+json",
    "application/javascript",
    "image/svg+xml",
    "application/xml",
    "application/atom+xml",
)
GZIP_MIN_BYTES = 1024
CHUNK = 256 * 1024


def _compressible(media_type: str | None, size: int) -> bool:
    return (media_type or "").startswith(TEXT_TYPES) and size >= GZIP_MIN_BYTES


def _wants_gzip(method: str, request: Headers) -> bool:
    """A whole GET from a client that takes gzip (a `Range` counts the stored bytes: pyarrow
    and DuckDB read files in ranges; a HEAD describes the stored file)."""
    accepts = accepts_gzip(request.get("accept-encoding", ""))
    return method == "GET" and accepts and "range" not in request


class DataDates:
    """`Last-Modified` of a site path from the catalog's own dates: a dataset's files carry when
    its data last changed, its pages and metadata when anything of it did, a released version
    its release date, and the rest of the site the newest of those. Read once per build."""

    def __init__(self, site: Path):
        self._site = site
        self._packages: dict[str, BuiltPackage] | None = None
        self._lock = threading.Lock()

    def load(self) -> dict[str, BuiltPackage]:
        with self._lock:
            if self._packages is None:
                found = sorted(paths.datasets(self._site).glob("*/datapackage.json"))
                self._packages = {p.parent.name: BuiltPackage.of(read_json(p)) for p in found}
            return self._packages

    def last_modified(self, parts: tuple[str, ...]) -> str | None:
        """The HTTP date for the path, or None where the catalog has no date for it."""
        packages = self.load()
        if parts[:1] == (paths.RELEASES,):
            return None  # the archive: the file's own time, written once at release
        if len(parts) >= 2 and parts[0] == paths.DATASETS and parts[1] in packages:
            package = packages[parts[1]]
            if len(parts) > 3 and SEMVER.fullmatch(parts[2]):
                dates = [v.date for v in package.versions if v.version == parts[2]]
                return _http_date(dates[0] if dates else None)
            data = {(r.path,) for r in package.resources}
            return _http_date(package.data_modified if parts[2:] in data else package.modified)
        return _http_date(max((p.modified or "" for p in packages.values()), default=None))


JST = dt.timezone(dt.timedelta(hours=9))


def _http_date(stamp: str | None) -> str | None:
    """'2026-04-01' (midnight in Japan) or an RFC 3339 time, as an HTTP date (RFC 9110)."""
    if not stamp:
        return None
    moment = dt.datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    return format_datetime(moment.astimezone(dt.UTC), usegmt=True)
