"""`opendata serve` follows the site and bounds every request (issue "Nothing lost, nothing
stale"): each request is answered from one build, a rebuild is picked up without a restart
and without a failed request, a download is never torn, and no request can stall the rest.
The real server on loopback, builds made in-process beside it."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import MINIMAL_CSV, PUBLISHABLE, launch_server, opendata, write_dataset


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _slow_get(url: str) -> tuple[int, dict[str, str], bytes]:
    """A client on a slow line: 64 KB at a time."""
    with urllib.request.urlopen(url, timeout=30) as response:
        body = b""
        while chunk := response.read(65536):
            body += chunk
            time.sleep(0.005)
        return response.status, dict(response.headers), body


def _build(root: Path, csv_text: str, *others: str) -> None:
    write_dataset(root, PUBLISHABLE, {"items.csv": csv_text})
    for name in others:
        write_dataset(root, {**PUBLISHABLE, "name": name}, {"items.csv": csv_text})
    done = opendata("build", "--datasets", str(root / "datasets"), "--out", str(root / "dist"))
    assert done.returncode == 0, done.stderr


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    _build(tmp_path, MINIMAL_CSV, "extra-dataset")
    process, base, _ = launch_server(tmp_path / "dist")
    yield tmp_path, base
    process.terminate()
    process.wait(timeout=10)


def _show(base: str, name: str) -> tuple[int, dict]:
    status, _, body = _get(f"{base}/api/3/action/package_show?id={name}")
    return status, json.loads(body)


def test_a_rebuild_is_served_without_a_restart(live: tuple[Path, str]) -> None:
    root, base = live
    _, before = _show(base, "sample-budget")
    changed = MINIMAL_CSV.replace("3200", "3300")
    (root / "datasets/extra-dataset/dataset.yaml").unlink()  # a dataset removed
    import shutil

    shutil.rmtree(root / "datasets/extra-dataset")
    _build(root, changed)
    status, after = _show(base, "sample-budget")
    csv_resource = next(r for r in after["result"]["resources"] if r["format"] == "CSV")
    assert status == 200 and csv_resource["hash"] != next(
        r["hash"] for r in before["result"]["resources"] if r["format"] == "CSV"
    )
    _, _, body = _get(csv_resource["url"].replace("https://opendata.city.minato.tokyo.jp", base))
    assert hashlib.sha256(body).hexdigest() == csv_resource["hash"]  # metadata and file agree
    assert _show(base, "extra-dataset")[0] == 404  # gone, not a 500
    _, _, listing = _get(f"{base}/api/3/action/package_list")
    assert json.loads(listing)["result"] == ["opendata-list", "sample-budget"]


def test_downloads_during_rebuilds_are_never_torn(live: tuple[Path, str]) -> None:
    """Clients download while builds swap two versions in and out: every answer is one
    version whole, its Content-Length that version's length."""
    root, base = live
    # of other lengths, the second 2 MB: read slowly, it spans several swaps
    versions = [MINIMAL_CSV, MINIMAL_CSV.replace("庁舎管理", "庁" * 700_000)]
    expected = set()
    for number, text in enumerate(versions):  # what each version publishes, built apart
        _build(root / f"v{number}", text)
        expected.add((root / f"v{number}/dist/datasets/sample-budget/items.csv").read_bytes())
    url = f"{base}/datasets/sample-budget/items.csv"
    seen: list[tuple[int, int, str]] = []
    stop = threading.Event()

    def download() -> None:
        while not stop.is_set():
            status, headers, body = _slow_get(url)
            seen.append(
                (status, int({k.lower(): v for k, v in headers.items()}["content-length"]), body)
            )

    clients = [threading.Thread(target=download) for _ in range(3)]
    for client in clients:
        client.start()
    try:
        for round_ in range(6):
            _build(root, versions[round_ % 2])
    finally:
        stop.set()
        for client in clients:
            client.join()
    assert len(seen) > 20 and len(expected) == 2
    for status, length, body in seen:
        assert status == 200, status
        assert length == len(body) and body in expected


def test_no_request_stalls_the_server(live: tuple[Path, str]) -> None:
    _, base = live
    started = time.monotonic()
    status, _, _ = _get(f"{base}/api/3/action/package_search?fq={'a' * 6000}")  # no colon
    assert status == 400 and time.monotonic() - started < 2
    started = time.monotonic()
    terms = urllib.parse.quote(" ".join(chr(0x3042 + i) for i in range(60)))  # 60 words
    status, _, body = _get(f"{base}/api/3/action/package_search?q={terms}")
    assert status == 400 and "10" in json.loads(body)["error"]["message"]
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[" * 5000 + b"]" * 5000, 400),  # nested 5,000 deep
        (b'{"rows": ' + b"9" * 5000 + b"}", 400),  # a 5,000-digit integer
    ],
)
def test_json_a_parser_cannot_take_is_a_400(
    live: tuple[Path, str], body: bytes, status: int
) -> None:
    _, base = live
    request = urllib.request.Request(
        f"{base}/api/3/action/package_search",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(request, timeout=10)
        code = 200
    except urllib.error.HTTPError as error:
        code = error.code
    assert code == status


def test_a_body_over_the_limit_is_refused_before_it_is_read(live: tuple[Path, str]) -> None:
    _, base = live
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.putrequest("POST", "/api/3/action/package_search")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(500 * 1024 * 1024))  # announced, never sent
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 409 and b"Body longer" in response.read()


def test_other_suffixes_of_a_dataset_are_404_and_the_host_header_is_not_echoed(
    live: tuple[Path, str],
) -> None:
    _, base = live
    assert _get(f"{base}/dataset/sample-budget.exe")[0] == 404
    _, _, body = _get(f"{base}/api/3/action/package_show?id=x", {"Host": "evil.example"})
    assert "evil.example" not in body.decode()
    folder = urllib.request.Request(
        f"{base}/datasets/sample-budget", headers={"Host": "evil.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as redirect:  # not followed: another host
        urllib.request.build_opener(_NoRedirect).open(folder, timeout=10)
    assert redirect.value.headers["location"] == "/datasets/sample-budget/"
    host, port = base.removeprefix("http://").split(":")
    for target in (
        "//evil.example%2f..%2fdatasets/sample-budget",
        "/%2fevil.example/..%2fdatasets/sample-budget",
    ):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", target)  # what a link on another site may send
        location = connection.getresponse().headers["location"]
        assert location == "/datasets/sample-budget/", (target, location)  # not //evil.example
    assert json.loads(body)["help"].startswith("https://opendata.city.minato.tokyo.jp/")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def test_clients_that_never_finish_their_headers_are_cut_off(tmp_path: Path) -> None:
    """Slowloris: 50 connections dripping header lines. Each is closed once the header
    deadline (1 s here) passes, and a normal client is answered meanwhile."""
    _build(tmp_path, MINIMAL_CSV)
    process, base, _ = launch_server(tmp_path / "dist", "--header-timeout", "1")
    host, port = base.removeprefix("http://").split(":")
    slow = []
    try:
        for _ in range(50):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        assert _get(f"{base}/api/3/action/status_show")[0] == 200
        for _ in range(8):  # 2 s of dripping: a header line each 0.25 s keeps none alive
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Drip: 1\r\n")
            time.sleep(0.25)
        closed = sum(_closed(sock) for sock in slow)
        assert closed == 50
        assert _get(f"{base}/api/3/action/status_show")[0] == 200
    finally:
        for sock in slow:
            sock.close()
        process.terminate()
        process.wait(timeout=10)


def test_clients_that_never_finish_their_bodies_are_cut_off_quietly(tmp_path: Path) -> None:
    """The same for a POST's body, which had no deadline: 20,000 such connections held every
    file descriptor. Cut off, each leaves no traceback in the log (ClientDisconnect)."""
    _build(tmp_path, MINIMAL_CSV)
    process, base, _ = launch_server(tmp_path / "dist", "--header-timeout", "1")
    host, port = base.removeprefix("http://").split(":")
    head = (b"POST /api/3/action/package_search HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")  # fmt: skip
    slow = []
    try:
        for _ in range(20):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(head)
            slow.append(sock)
        for _ in range(8):  # 2 s of dripping: a byte each 0.25 s keeps none alive
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b" ")
            time.sleep(0.25)
        assert sum(_closed(sock) for sock in slow) == 20
        assert _get(f"{base}/api/3/action/status_show")[0] == 200
    finally:
        for sock in slow:
            sock.close()
        process.terminate()
        _out, log = process.communicate(timeout=10)
    assert b"Traceback" not in log, log.decode()[-2000:]


def _closed(sock: socket.socket) -> bool:
    """Whether the server has hung up on this connection."""
    sock.settimeout(1)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_refused_ranges_leave_no_file_open(tmp_path: Path) -> None:
    """A Range past the end (416) or malformed (400) is answered before any body is sent:
    the file opened for it is closed all the same (counted in the server's /proc)."""
    _build(tmp_path, MINIMAL_CSV)
    process, base, _ = launch_server(tmp_path / "dist")
    try:
        url = f"{base}/datasets/sample-budget/items.csv"
        _get(url)
        before = len(list(Path(f"/proc/{process.pid}/fd").iterdir()))
        statuses = set()
        for header in ("bytes=100000-200000", "bytes=zz") * 15:
            statuses.add(_get(url, {"Range": header})[0])
        statuses.add(_get(url, {"Range": "bytes=0-3"})[0])
        time.sleep(0.2)
        after = len(list(Path(f"/proc/{process.pid}/fd").iterdir()))
        assert statuses == {416, 400, 206} and after <= before + 2, (before, after)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_browsers_get_preflights_answered_and_files_the_right_cache_rules(
    live: tuple[Path, str],
) -> None:
    root, base = live
    args = ("release", "--site", str(root / "dist"), "--datasets", str(root / "datasets"))
    assert opendata(*args, env={"SOURCE_DATE_EPOCH": "1764400000"}).returncode == 0
    preflight = urllib.request.Request(
        f"{base}/api/3/action/package_search",
        method="OPTIONS",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    with urllib.request.urlopen(preflight, timeout=10) as answer:
        headers = {k.lower(): v for k, v in answer.headers.items()}
        assert answer.status == 204
    assert headers["access-control-allow-origin"] == "*"
    assert "POST" in headers["access-control-allow-methods"]
    assert "Content-Type" in headers["access-control-allow-headers"]
    assert "Range" in headers["access-control-allow-headers"]
    versioned = _get(f"{base}/datasets/sample-budget/1.0.0/items.csv")[1]
    latest = _get(f"{base}/datasets/sample-budget/items.csv")[1]
    pointer = _get(f"{base}/releases/latest.json")[1]  # the next release rewrites it
    lower = [{k.lower(): v for k, v in h.items()} for h in (versioned, latest, pointer)]
    assert lower[0]["cache-control"] == "public, max-age=31536000, immutable"
    assert lower[1]["cache-control"] == "public, no-cache" and lower[1]["etag"]
    assert lower[2]["cache-control"] == "public, no-cache"


def test_a_form_post_is_read_as_ckan_reads_it(live: tuple[Path, str]) -> None:
    """requests.post(url, data={...}) sends a form, not JSON: CKAN takes both."""
    _, base = live
    body = urllib.parse.urlencode({"q": "予算", "rows": "1"}).encode()
    request = urllib.request.Request(
        f"{base}/api/3/action/package_search",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        result = json.loads(answer.read())["result"]
    assert result["count"] == 2 and len(result["results"]) == 1  # rows=1 was read
