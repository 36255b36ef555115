"""`opendata serve` as HTTP clients and proxies see it: gzip with its own ETag and `Vary`,
`Last-Modified` from the catalog's dates, and a site served under a sub-path (`--root-path`).
The server is the real command, on loopback (conftest's session `server`)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from catalog.model import BuiltPackage

from conftest import serving

CSV = "datasets/plan-indicators/indicator-values.csv"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET"):
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=10) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _package(site: Path, name: str) -> BuiltPackage:
    return BuiltPackage.of(json.loads((site / "datasets" / name / "datapackage.json").read_text()))


def test_text_files_are_gzipped_with_their_own_etag_and_vary(server: str, built_site: Path) -> None:
    stored = (built_site / CSV).read_bytes()
    status, plain, body = _get(f"{server}/{CSV}")
    assert status == 200 and body == stored and "content-encoding" not in plain
    assert plain["vary"] == "Accept-Encoding"  # a cache keeps the two apart
    status, packed, body = _get(f"{server}/{CSV}", {"Accept-Encoding": "gzip, br"})
    assert status == 200 and packed["content-encoding"] == "gzip"
    assert gzip.decompress(body) == stored and len(body) < len(stored) / 2
    assert packed["vary"] == "Accept-Encoding" and packed["etag"] != plain["etag"]
    assert (
        _get(f"{server}/{CSV}", {"Accept-Encoding": "gzip", "If-None-Match": packed["etag"]})[0]
        == 304
    )
    # The identity tag does not validate the gzipped representation, nor the other way round.
    assert _get(f"{server}/{CSV}", {"If-None-Match": packed["etag"]})[0] == 200


def test_ranges_heads_and_binary_files_are_never_gzipped(server: str, built_site: Path) -> None:
    stored = (built_site / CSV).read_bytes()
    status, headers, body = _get(
        f"{server}/{CSV}", {"Accept-Encoding": "gzip", "Range": "bytes=0-9"}
    )
    assert status == 206 and body == stored[:10] and "content-encoding" not in headers
    status, headers, body = _get(f"{server}/{CSV}", {"Accept-Encoding": "gzip"}, method="HEAD")
    assert status == 200 and "content-encoding" not in headers
    assert int(headers["content-length"]) == len(stored)
    parquet = "datasets/plan-indicators/indicators.parquet"
    status, headers, body = _get(f"{server}/{parquet}", {"Accept-Encoding": "gzip"})
    assert "content-encoding" not in headers and body == (built_site / parquet).read_bytes()


def test_last_modified_is_when_the_data_changed_not_when_it_was_built(
    server: str, built_site: Path
) -> None:
    package = _package(built_site, "plan-indicators")
    assert package.data_modified  # before any release: the dataset's `created`
    _, headers, _ = _get(f"{server}/{CSV}")
    served = parsedate_to_datetime(headers["last-modified"])
    assert served == dt.datetime.fromisoformat(package.data_modified)
    assert served.timestamp() < (built_site / CSV).stat().st_mtime - 86400  # not the build's
    # The dataset page says when anything of it changed; the front page, the newest of those.
    _, page, _ = _get(f"{server}/datasets/plan-indicators/")
    changed = parsedate_to_datetime(page["last-modified"])
    assert changed == dt.datetime.fromisoformat(package.modified or "")
    found = built_site.glob("datasets/*/datapackage.json")
    dates = [_package(built_site, p.parent.name).modified or "" for p in found]
    front = parsedate_to_datetime(_get(f"{server}/")[1]["last-modified"])
    assert front == max(dt.datetime.fromisoformat(d) for d in dates)


def test_if_modified_since_answers_304_from_the_data_date(server: str) -> None:
    _, headers, _ = _get(f"{server}/{CSV}")
    changed = headers["last-modified"]
    assert _get(f"{server}/{CSV}", {"If-Modified-Since": changed})[0] == 304
    assert _get(f"{server}/{CSV}", {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200
    assert _get(f"{server}/{CSV}", {"If-Modified-Since": "not a date"})[0] == 200
    # If-None-Match decides when both are sent (RFC 9110 §13.1.3).
    both = {"If-Modified-Since": changed, "If-None-Match": '"other"'}
    assert _get(f"{server}/{CSV}", both)[0] == 200


@pytest.fixture(scope="module")
def under_sub_path(built_site: Path):
    with serving(built_site, "--root-path", "/opendata/") as base:
        yield base


def test_a_site_served_under_a_sub_path(under_sub_path: str, built_site: Path) -> None:
    """A proxy maps https://city.example/opendata/… to the server, stripping /opendata."""
    status, _, body = _get(f"{under_sub_path}/api/3/action/status_show")
    assert status == 200 and json.loads(body)["success"]
    status, _, body = _get(f"{under_sub_path}/{CSV}")
    assert status == 200 and body == (built_site / CSV).read_bytes()
    # A redirect names the public URL, prefix included, so the browser comes back through it.
    status, headers, _ = _get(f"{under_sub_path}/datasets/plan-indicators")
    assert status in (301, 307) and headers["location"].endswith(
        "/opendata/datasets/plan-indicators/"
    )
    # The pages link relatively, so they work under any prefix.
    page = (built_site / "datasets/plan-indicators/index.html").read_text("utf-8")
    assert 'href="/' not in page and 'src="/' not in page


def test_a_browser_app_on_another_origin_posts_json_and_reads_ranges(browser, server: str) -> None:
    """Chromium enforces CORS: a page on http://localhost:<port> is another origin than
    http://127.0.0.1:<port>, so its JSON POST and its suffix `Range` request (neither is a
    "simple" request) are preflighted — and fetch() rejects both unless the preflight is
    answered (Chromium sends preflights from its network service, out of Playwright's sight;
    the server answered them with 405 before, which failed both calls)."""
    port = server.rsplit(":", 1)[1]
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"http://localhost:{port}/index.html")
        answers = page.evaluate(
            """async (api) => {
                const search = await fetch(api + "/api/3/action/package_search", {
                    method: "POST",
                    headers: {"Content-Type": "application/json"},
                    body: JSON.stringify({q: "tags:人権", rows: 5}),
                });
                const file = await fetch(api + "/datasets/plan-indicators/indicators.parquet",
                                         {headers: {Range: "bytes=-8"}});
                const tail = new Uint8Array(await file.arrayBuffer());
                return {
                    search: (await search.json()).result.count,
                    status: file.status,
                    range: file.headers.get("Content-Range"),
                    magic: String.fromCharCode(...tail.slice(4)),
                };
            }""",
            f"http://127.0.0.1:{port}",
        )
    finally:
        context.close()
    assert answers["search"] >= 1
    assert answers["status"] == 206 and answers["range"].startswith("bytes ")
    assert answers["magic"] == "PAR1"  # the last bytes of a Parquet file


def test_a_request_http_cannot_read_gets_ckans_json_error(server: str) -> None:
    """A request line past h11's 16 KB bound is refused before the app sees it — with CKAN's
    envelope as JSON, as OpenAPI documents every error (schemathesis found uvicorn's plain text)."""
    import socket
    import time

    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(b"GET /api/3/action/status_show?x=")
        try:
            for _ in range(10):
                client.sendall(b"a" * 4000)
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: read what it said
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"content-type: application/json" in head
    error = json.loads(body)
    assert error["success"] is False and error["error"]["__type"] == "Bad Request"
    assert error["help"].endswith("/api/3/action/help_show")  # every key OpenAPI requires
    assert _get(f"{server}/api/3/action/status_show")[0] == 200  # and it serves the next one
