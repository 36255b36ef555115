"""A build's files over HTTP: the published media types, Range and 304 (Starlette), and two
guarantees Starlette's own file serving lacks:

- a download is never torn: the file is opened once, and its length, its ETag and every byte
  sent come from that one open file, whatever is swapped in at its name meanwhile;
- the ETag is derived from the content (unchanged bytes keep it across rebuilds), and is
  computed in a worker thread, once per file version, never on the event loop.
"""

from __future__ import annotations

import mimetypes
import os
import threading
from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Receive, Scope, Send

from pipeline.files import FileVersion, file_version, open_path, sha256_file

from .. import paths

for media_type, suffix in (
    ("application/vnd.apache.parquet", ".parquet"),
    ("application/ld+json", ".jsonld"),
    ("text/turtle", ".ttl"),
    ("text/csv", ".csv"),
):
    mimetypes.add_type(media_type, suffix)


class SiteFiles(StaticFiles):
    """The files of one build (`directory`: the build's open folder)."""

    def __init__(self, directory: Path):
        super().__init__(directory=directory, html=True, follow_symlink=False)
        self._etags: dict[FileVersion, str] = {}
        self._lock = threading.Lock()

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """Starlette's lookup (inside the folder, no symlinks out), run in a worker thread —
        where the ETag of a file version not seen before is computed too."""
        full_path, stat = super().lookup_path(path)
        if stat is not None and os.path.isfile(full_path):
            self._etag(Path(full_path), stat)
        return full_path, stat

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
            media_type=mimetypes.guess_type(str(full_path))[0] or "text/plain",
        )
        response.headers["cache-control"] = _cache_control(scope)
        with self._lock:
            etag = self._etags.get(file_version(opened))
        if etag is None:  # another version than the one looked up: no content-derived tag
            del response.headers["etag"]
        else:
            response.headers["etag"] = etag
        if status_code == 200 and etag is not None and _matches(scope, etag):
            response.close()
            return NotModifiedResponse(response.headers)
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


IMMUTABLE = "public, max-age=31536000, immutable"  # a released version's file: never changes
REVALIDATE = "public, no-cache"  # latest URLs, pages, catalog: ask each time (a 304 is cheap)


def _cache_control(scope: Scope) -> str:
    parts = tuple(part for part in scope["path"].split("/") if part)
    return IMMUTABLE if paths.never_changes(parts) else REVALIDATE


def _matches(scope: Scope, etag: str) -> bool:
    headers = dict(scope["headers"])
    wanted = headers.get(b"if-none-match", b"").decode("latin-1")
    return etag in [tag.strip() for tag in wanted.split(",")]
