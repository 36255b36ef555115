"""CKAN's Action API over requests, for `publish --ckan` and `import --ckan`: retries with
backoff on timeouts and 5xx, answers read within a size and a time limit (anything reachable
over the network is hostile input), and every refusal a `CkanError` an officer can read."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests_toolbelt import MultipartEncoder

from pipeline.limits import DOWNLOAD

RETRIES = 4
TIMEOUT = (10, 300)  # connect, read: an upload of a large file takes a while
MAX_ANSWER = 64 << 20  # bytes of one answer: a package dict is kilobytes
ANSWER_DEADLINE = 120.0  # seconds to read one answer, however slowly it drips


class CkanError(Exception):
    """An answer CKAN refused, or no answer at all; the message is for the officer."""

    def __init__(self, message: str, status: int | None = None, error: Any = None):
        super().__init__(message)
        self.status = status
        self.error = error or {}


class Ckan:
    """CKAN's Action API over requests: retries with backoff on timeouts and 5xx."""

    def __init__(self, url: str, token: str | None, pause: float = 0.5):
        try:
            parts = urlsplit(url)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # an unclosed [IPv6 bracket
            usable = False
        if not usable:
            raise CkanError(
                f"CKAN の URL {url!r} は https://ckan.example.jp の形にしてください"
                " / the CKAN URL must look like https://ckan.example.jp"
            )
        self.base = url.rstrip("/") + "/api/3/action/"
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "minato-opendata"
        if token:
            self.session.headers["Authorization"] = token
        self.pause = pause

    def call(self, action: str, **data: Any) -> Any:
        url = self.base + action
        return self._send(
            action, lambda: self.session.post(url, json=data, timeout=TIMEOUT, stream=True)
        )

    def upload(
        self, action: str, fields: dict[str, Any], path: Path, mimetype: str, retry: bool = True
    ) -> Any:
        """A multipart request whose file part streams from disk, reopened on each attempt.
        `retry=False` for a create, which a lost answer would otherwise make twice."""
        form = {k: _form_value(v) for k, v in fields.items() if v is not None}

        def attempt() -> requests.Response:
            with path.open("rb") as stream:
                encoder = MultipartEncoder({**form, "upload": (path.name, stream, mimetype)})
                headers = {"Content-Type": encoder.content_type}
                return self.session.post(
                    self.base + action, data=encoder, headers=headers, timeout=TIMEOUT, stream=True
                )

        return self._send(action, attempt, RETRIES if retry else 0)

    def download(self, url: str, folder: Path) -> tuple[Path, str]:
        """A resource's file, streamed into a new file in `folder` (sha256 computed on the
        way); its path and sha256. Retried like the API; refused past the DOWNLOAD limit.
        The API token goes only to the CKAN site itself, never to a file hosted elsewhere."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise CkanError(f"http(s) ではない URL です / not an http(s) URL: {url!r}")
        same_site = _origin(url) == _origin(self.base)
        headers = {} if same_site else {"Authorization": None}  # None: the session's dropped
        for number in range(RETRIES + 1):
            try:
                with self.session.get(url, headers=headers, timeout=TIMEOUT, stream=True) as got:
                    if got.status_code < 500 or number == RETRIES:
                        return _save(url, got, folder)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if number == RETRIES:
                    raise CkanError(
                        f"{url} をダウンロードできません / cannot download ({type(exc).__name__})"
                    ) from None
            except requests.RequestException as exc:
                raise CkanError(f"{url}: {type(exc).__name__}") from None
            time.sleep(self.pause * 2**number)
        raise AssertionError("unreachable")

    def organization_id(self, name: str) -> str:
        """The id of an organization, by name; a clear error when CKAN has none."""
        try:
            found = self.call(
                "organization_show",
                id=name,
                # Nothing but the organization itself (its dataset count would ask Solr).
                include_datasets=False,
                include_dataset_count=False,
                include_groups=False,
                include_users=False,
                include_tags=False,
                include_extras=False,
                include_followers=False,
            )
        except CkanError as exc:
            if exc.status == 404:
                raise CkanError(
                    f"CKAN に組織 {name!r} がありません / no such organization in CKAN"
                    " (--organization)",
                    404,
                ) from None
            raise
        return str(found["id"])

    def _send(
        self, action: str, attempt: Callable[[], requests.Response], retries: int = RETRIES
    ) -> Any:
        for number in range(retries + 1):
            try:
                response = attempt()
            except (requests.ConnectionError, requests.Timeout) as exc:
                if number == retries:
                    raise CkanError(
                        f"CKAN {self.base} に接続できません / cannot reach CKAN"
                        f" ({type(exc).__name__})"
                    ) from None
            except requests.RequestException as exc:  # a URL requests cannot use
                raise CkanError(f"CKAN {self.base}: {type(exc).__name__}") from None
            else:
                if response.status_code < 500 or number == retries:
                    return _answer(action, response)
            time.sleep(self.pause * 2**number)
        raise AssertionError("unreachable")


def token_warning(url: str, token: str | None) -> str | None:
    """What to tell the officer when the token would travel in the clear."""
    if token and urlsplit(url).scheme == "http":
        return (
            "⚠ API トークンを暗号化されない http:// で送ります。https:// の URL を使ってください"
            " / the API token travels unencrypted over http://; use the https:// URL"
        )
    return None


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _save(url: str, response: requests.Response, folder: Path) -> tuple[Path, str]:
    """The answer's body into a new temporary file of `folder`, within the DOWNLOAD limit."""
    if response.status_code != 200:
        raise CkanError(
            f"{url} のダウンロードに失敗しました (HTTP {response.status_code})"
            f" / download failed with HTTP {response.status_code}",
            response.status_code,
        )
    digest = hashlib.sha256()
    size = 0
    handle, name = tempfile.mkstemp(dir=folder, prefix=".download-")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in response.iter_content(1 << 20):
                size += len(chunk)
                if size > DOWNLOAD.bytes:
                    raise CkanError(
                        f"{url} が {DOWNLOAD.megabytes} MB を超えました（上限は"
                        f" {DOWNLOAD.variable} で変えられます） / the file is over"
                        f" {DOWNLOAD.megabytes} MB (raise {DOWNLOAD.variable} if it is meant to be)"
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name), digest.hexdigest()


def _form_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _read(action: str, response: requests.Response) -> bytes:
    """The answer's body, read up to MAX_ANSWER bytes and within ANSWER_DEADLINE seconds."""
    deadline = time.monotonic() + ANSWER_DEADLINE
    body = bytearray()
    with response:
        # read1: whatever has arrived, so the deadline is checked however slowly it drips
        while chunk := response.raw.read1(64 << 10, decode_content=True):
            body += chunk
            if len(body) > MAX_ANSWER:
                raise CkanError(
                    f"{action}: CKAN の応答が {MAX_ANSWER >> 20} MB を超えました / CKAN's answer"
                    f" is over {MAX_ANSWER >> 20} MB: is this the CKAN API?",
                    response.status_code,
                )
            if time.monotonic() > deadline:
                raise CkanError(
                    f"{action}: CKAN の応答が {ANSWER_DEADLINE:.0f} 秒で届き終わりません"
                    f" / CKAN's answer did not arrive within {ANSWER_DEADLINE:.0f} s",
                    response.status_code,
                )
    return bytes(body)


def _answer(action: str, response: requests.Response) -> Any:
    try:
        body = json.loads(_read(action, response))
    except (ValueError, RecursionError):
        raise CkanError(
            f"{action}: CKAN の応答が JSON ではありません (HTTP {response.status_code})"
            f" / CKAN answered HTTP {response.status_code} without JSON",
            response.status_code,
        ) from None
    if not isinstance(body, dict):
        raise CkanError(f"{action}: CKAN の応答の形が違います / CKAN answered an unexpected shape")
    if body.get("success"):
        return body.get("result")
    error = body.get("error")
    error = error if isinstance(error, dict) else {}
    raise CkanError(f"{action}: {describe(error)}", response.status_code, error)


def describe(error: dict[str, Any]) -> str:
    if error.get("message"):
        return str(error["message"])
    return "; ".join(f"{k}: {v}" for k, v in error.items() if not k.startswith("__"))


@contextmanager
def expected_answers() -> Iterator[None]:
    """An answer without what the Action API returns (a proxy's page, another service) is a
    clear error, not a Python one."""
    try:
        yield
    except (KeyError, TypeError, AttributeError) as exc:
        raise CkanError(
            f"CKAN の応答に必要な項目がありません（{type(exc).__name__}: {exc}）。URL が CKAN の"
            f"ものか確認してください / CKAN's answer lacks what the Action API returns"
            f" ({type(exc).__name__}: {exc}); check that the URL is a CKAN site"
        ) from None
