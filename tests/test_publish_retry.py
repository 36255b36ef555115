"""Retries with backoff and limits in the CKAN client (catalog/ckanclient.py): the Action API
and the downloads of `import --ckan`.

A real CKAN cannot be made to answer 503 or stall on demand, so these tests use a small
stand-in HTTP server on loopback that does; everything else about CKAN is tested against the
real one in test_publish_ckan.py."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from catalog.ckanclient import RETRIES, Ckan, CkanError

from conftest import ROOT, opendata


class Flaky(BaseHTTPRequestHandler):
    failures = 0  # answers 503 this many times, then succeeds
    stall = 0.0  # seconds to wait before the first answer
    seen: ClassVar[list[int]] = []  # bytes of each request body
    tokens: ClassVar[list[str | None]] = []  # the Authorization header of each download

    def do_GET(self) -> None:  # a file download: 503 `failures` times, then 3 MB
        Flaky.tokens.append(self.headers.get("Authorization"))
        Flaky.seen.append(0)
        if len(Flaky.seen) <= Flaky.failures:
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(3 << 20))
        self.end_headers()
        self.wfile.write(b"x" * (3 << 20))

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Flaky.seen.append(len(body))
        stall, Flaky.stall = Flaky.stall, 0.0  # only the first request stalls
        time.sleep(stall)
        if len(Flaky.seen) <= Flaky.failures:
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"<html>Service Unavailable</html>")
            return
        answer = json.dumps({"success": True, "result": {"bytes": len(body)}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Flaky.failures, Flaky.stall, Flaky.seen, Flaky.tokens = 0, 0.0, [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_5xx_is_retried_until_it_succeeds(server: str) -> None:
    Flaky.failures = 2
    assert Ckan(server, "t", pause=0.01).call("status_show") == {"bytes": 2}
    assert len(Flaky.seen) == 3


def test_an_upload_is_sent_whole_again_on_each_attempt(server: str, tmp_path: Path) -> None:
    Flaky.failures = 1
    file = tmp_path / "items.csv"
    file.write_bytes(b"x" * 300_000)
    result = Ckan(server, "t", pause=0.01).upload("resource_patch", {"id": "r"}, file, "text/csv")
    assert Flaky.seen[0] == Flaky.seen[1] == result["bytes"] > 300_000


def test_it_gives_up_after_the_last_retry_with_a_clear_error(server: str) -> None:
    Flaky.failures = RETRIES + 1
    with pytest.raises(CkanError) as caught:
        Ckan(server, "t", pause=0.01).call("status_show")
    assert caught.value.status == 503 and len(Flaky.seen) == RETRIES + 1


def test_a_download_is_retried_streamed_and_hashed(server: str, tmp_path: Path) -> None:
    Flaky.failures = 2
    path, digest = Ckan(server, "t", pause=0.01).download(f"{server}/file.csv", tmp_path)
    assert path.parent == tmp_path and path.stat().st_size == 3 << 20
    assert digest == hashlib.sha256(b"x" * (3 << 20)).hexdigest()
    assert Flaky.tokens == ["t", "t", "t"]  # the CKAN site itself: its token goes along


def test_a_file_hosted_elsewhere_never_gets_the_token(server: str, tmp_path: Path) -> None:
    """A resource URL on another host (a link resource) is downloaded without the token."""
    elsewhere = server.replace("127.0.0.1", "localhost")
    Ckan(server, "secret", pause=0.01).download(f"{elsewhere}/file.csv", tmp_path)
    assert Flaky.tokens == [None]


def test_a_download_past_the_limit_is_refused_and_leaves_nothing(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENDATA_MAX_DOWNLOAD_MB", "1")
    with pytest.raises(CkanError, match="OPENDATA_MAX_DOWNLOAD_MB"):
        Ckan(server, "t", pause=0.01).download(f"{server}/file.csv", tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(CkanError, match="http"):
        Ckan(server, "t").download("file:///etc/passwd", tmp_path)


def test_a_timeout_is_retried(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("catalog.ckanclient.TIMEOUT", (1, 0.5))
    Flaky.stall = 1.0
    assert Ckan(server, "t", pause=0.01).call("status_show") == {"bytes": 2}
    assert len(Flaky.seen) == 2


class Hostile(BaseHTTPRequestHandler):
    """Answers as no CKAN would: too much, too slowly, or the wrong shape."""

    mode = "huge"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        if Hostile.mode == "huge":  # far past the cap, sent as fast as the socket takes it
            self.wfile.write(b'{"success": true, "result": "' + b"x" * (4 << 20) + b'"}')
        elif Hostile.mode == "drip":  # a byte every 0.2 s, for ever (until the client hangs up)
            for _ in range(200):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
        else:  # the Action API's envelope, without what package_show returns
            self.wfile.write(json.dumps({"success": True, "result": {"name": "x"}}).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_an_answer_over_the_cap_is_refused_without_reading_it_all(
    hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("catalog.ckanclient.MAX_ANSWER", 1 << 20)  # 1 MB: a fast test
    Hostile.mode = "huge"
    with pytest.raises(CkanError, match="MB"):
        Ckan(hostile, "t", pause=0.01).call("package_show", id="x")


def test_an_answer_that_drips_is_given_up_at_the_deadline(
    hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("catalog.ckanclient.ANSWER_DEADLINE", 1.0)
    Hostile.mode = "drip"
    started = time.monotonic()
    with pytest.raises(CkanError, match="1 s"):
        Ckan(hostile, "t", pause=0.01).call("package_show", id="x")
    assert time.monotonic() - started < 5


def test_an_answer_of_the_wrong_shape_is_a_clear_error_and_the_token_warned_over_http(
    hostile: str, built_site: Path, tmp_path: Path
) -> None:
    """Through the command: the publish names what is wrong, and warns that the token would
    have crossed the network unencrypted."""
    Hostile.mode = "shape"
    site = tmp_path / "dist"
    shutil.copytree(built_site, site)
    args = ("release", "--site", str(site), "--datasets", str(ROOT / "datasets"))
    assert opendata(*args, env={"SOURCE_DATE_EPOCH": "1764400000"}).returncode == 0
    done = opendata(
        "publish", "--site", str(site), "--ckan", hostile, env={"CKAN_API_TOKEN": "secret-token"}
    )
    assert done.returncode == 1 and "内部エラー" not in done.stderr
    assert "CKAN の応答に必要な項目がありません（KeyError: 'id'）" in done.stderr
    assert "暗号化されない http://" in done.stdout
