"""`opendata stats` on the real access log of Debian's nginx serving a web root made by
`opendata publish --to`, after real requests: curl, requests, pyarrow reading Parquet over HTTP
by ranges (fsspec), a crawler and a polite client fetching robots.txt."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests

from conftest import MINIMAL_CSV, PUBLISHABLE, free_port, opendata, require, write_dataset

EPOCH = 1764400000
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CRAWLER = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"

CONFIG = """
user root;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    types {{ application/vnd.apache.parquet parquet; }}
    access_log {run}/access.log combined;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """nginx on a free loopback port serving a published web root: (base URL, site, run dir)."""
    require(Path(NGINX).exists(), "Debian's nginx", "`make nginx`")
    root = tmp_path_factory.mktemp("nginx")
    write_dataset(root, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    site, webroot, run = root / "dist", root / "www", root / "run"
    env = {"SOURCE_DATE_EPOCH": str(EPOCH)}
    for args in (
        ("build", "--datasets", str(root / "datasets"), "--out", str(site)),
        ("release", "--site", str(site), "--datasets", str(root / "datasets")),
        ("publish", "--site", str(site), "--to", str(webroot)),
    ):
        done = opendata(*args, env=env)
        assert done.returncode == 0, done.stderr
    run.mkdir()
    port = free_port()
    conf = run / "nginx.conf"
    conf.write_text(CONFIG.format(run=run, port=port, root=webroot), encoding="utf-8")
    process = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(run), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    process.stderr.read().decode() if process.stderr else ""
                ) from None
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", site, run
    process.terminate()
    process.wait(timeout=10)


def test_nginx_log_counts_what_was_downloaded(nginx: tuple[str, Path, Path]) -> None:
    import fsspec

    base, site, run = nginx
    csv = f"{base}/datasets/sample-budget/items.csv"
    parquet = f"{base}/datasets/sample-budget/items.parquet"
    versioned = f"{base}/datasets/sample-budget/1.0.0/items.parquet"
    curl = ["curl", "-sf", "-o", "/dev/null"]
    subprocess.run([*curl, csv + "?utm_source=newsletter"], check=True)  # download 1
    subprocess.run([*curl, csv], check=True)  # the same client again: a repeat
    subprocess.run([*curl, "-I", csv], check=True)  # HEAD
    answer = requests.get(versioned, timeout=5)  # download 2 (the versioned URL)
    answer.raise_for_status()
    again = requests.get(versioned, headers={"If-None-Match": answer.headers["ETag"]}, timeout=5)
    assert again.status_code == 304
    assert requests.get(f"{base}/datasets/sample-budget/nothing.csv", timeout=5).status_code == 404
    assert requests.get(f"{base}/index.html", timeout=5).ok
    # pyarrow reads the Parquet file by ranges over HTTP: one reader, one download (3).
    fs = fsspec.filesystem("http")
    with fs.open(parquet, block_size=512) as handle:
        assert pq.read_table(handle).num_rows == 2
    crawler = requests.Session()
    crawler.headers["User-Agent"] = CRAWLER
    assert crawler.get(f"{base}/robots.txt", timeout=5).ok
    assert crawler.get(csv, timeout=5).ok
    polite = requests.Session()
    polite.headers["User-Agent"] = "polite-fetcher/1.0"
    assert polite.get(f"{base}/robots.txt", timeout=5).ok
    assert polite.get(parquet, timeout=5).ok
    time.sleep(0.2)  # nginx writes its log line after the answer

    log = run / "access.log"
    text = log.read_text(encoding="utf-8")
    assert " 206 " in text and "utm_source" in text  # ranges were read; nginx keeps the query
    done = opendata("stats", "--site", str(site), "--logs", str(log), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["downloads"] == 3
    assert [(r["format"], r["downloads"]) for r in result["by_dataset"]] == [
        ("csv", 1),
        ("parquet", 2),
    ]
    excluded = result["excluded"]
    assert excluded["corrupt"] == 0
    assert excluded["head"] >= 1  # curl -I (and fsspec's own HEAD for the size)
    assert excluded["not_modified"] == 1
    assert excluded["status"] == 1
    assert excluded["site"] == 3  # index.html, robots.txt twice
    assert excluded["robot_user_agent"] == 1
    assert excluded["robots_txt"] == 1
    assert excluded["repeat"] >= 2  # curl's second GET, fsspec's further ranges
    assert excluded["not_in_catalog"] == 0 and not result["different_site"]
    assert sum(excluded.values()) + result["downloads"] == result["lines"]
    assert "utm_source" not in done.stdout and "127.0.0.1" not in done.stdout
