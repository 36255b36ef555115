"""Shared helpers: a real `datasets/` folder written into tmp_path, and the real CLI."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pty
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pyshacl import validate
from rdflib import RDF, Graph, URIRef

from catalog.cli import cli

pytest_plugins = [
    "ckan_site",  # the `ckan_site` fixture: a real CKAN on loopback
    "s3_site",  # `s3_site`: a real S3-compatible server (SeaweedFS) on loopback
]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

MINIMAL = {
    "name": "sample-budget",
    "title": "予算の例",
    "license": "CC-BY-4.0",
    "resources": [
        {
            "name": "items",
            "path": "items.csv",
            "schema": {
                "fields": [
                    {"name": "id", "title": "番号", "type": "integer"},
                    {"name": "label", "title": "名称", "type": "string"},
                    {"name": "amount", "title": "金額", "type": "number"},
                    {"name": "fiscal_year", "title": "年度", "type": "integer"},
                ],
                "primaryKey": ["id"],
            },
        }
    ],
}

# MINIMAL with the metadata a release asks for (catalog/metadata/quality.py).
PUBLISHABLE = MINIMAL | {
    "description": "港区の予算事業の例です。テスト用に作った小さな表で、1行が1つの事業、金額は千円単位、年度は会計年度を表します。",
    "created": "2024-03-01",
    "keywords": ["予算", "テスト"],
    "sources": [{"title": "テスト用の表"}],
    "x-opendata": {
        "title_en": "Sample budget",
        "description_en": "A small sample of budget items for tests.",
        "department": "企画経営部",
        "frequency": "annual",
    },
}

MINIMAL_CSV = "番号,名称,金額,年度\n1,庁舎管理,3200,令和4年度\n2,情報化推進,150.5,2023\n"


# A standard dataset (07, legacy layout), for the presets' and the places' tests.
WIFI_HEADER = (
    "都道府県コード又は市区町村コード,NO,都道府県名,市区町村名,名称,名称＿カナ,住所,緯度,経度,"
    "電話番号,URL,整理番号"
)  # no 名称_英語, 方書, 設置者, 内線番号, SSID, 提供エリア, 備考; a full-width ＿; one column of our own
WIFI_ROWS = [
    "131032,1,東京都,港区,港区役所,ミナトクヤクショ,港区芝公園1-5-25,35.658,139.7515,03-3578-2111,https://www.city.minato.tokyo.jp/,A-1",
    "131032,2,東京都,港区,赤坂地区総合支所,アカサカチクソウゴウシショ,港区赤坂4-18-13,35.6725,139.7355,03-5413-7011,,A-2",
]


def wifi_case(rows: list[str], header: str = WIFI_HEADER) -> dict:
    """A 公衆無線LANアクセスポイント一覧 (legacy layout) as an officer keeps it."""
    definition = PUBLISHABLE | {
        "name": "wifi-spots",
        "title": "公衆無線LANアクセスポイント一覧",
        "resources": [
            {
                "name": "wifi-spots",
                "path": "wifi.csv",
                "title": "公衆無線LANアクセスポイント一覧",
                "standard": "公衆無線LANアクセスポイント一覧",
            }
        ],
    }
    return {"definition": definition, "files": {"wifi.csv": "\n".join([header, *rows]) + "\n"}}


def write_dataset(
    root: Path,
    definition: dict[str, Any],
    files: dict[str, str | bytes],
    encoding: str = "utf-8",
) -> Path:
    """A dataset folder under `root/datasets/` as an officer would leave it."""
    folder = root / "datasets" / definition["name"]
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(definition, allow_unicode=True)
    (folder / "dataset.yaml").write_text(text, encoding="utf-8")
    for file_name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode(encoding)
        (folder / file_name).write_bytes(data)
    return folder


@dataclass(frozen=True)
class Ran:
    """What a user of the command line sees: exit status, standard output and error."""

    returncode: int
    stdout: str
    stderr: str


def opendata(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Ran:
    """The real command line, run in-process (click's runner): the same group, options, exit
    codes and streams as the installed `opendata`, without a second of interpreter start-up.
    Tests where the process itself is the point (SIGKILL, the server, CKAN) start one."""
    with contextlib.chdir(cwd or ROOT):
        done = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return Ran(done.exit_code, done.stdout, done.stderr)


def on_a_terminal(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`opendata ARGS` in its own process on a real pty (what a progress bar needs): its exit
    status and everything the terminal showed."""
    primary, secondary = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:  # the terminal's other end closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    done = subprocess.run(
        [sys.executable, "-m", "catalog", *args],
        stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, cwd=ROOT, timeout=300,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    os.close(secondary)
    reader.join(timeout=10)
    os.close(primary)
    return done.returncode, b"".join(chunks).decode("utf-8", errors="replace")


def frictionless_report(package: Path) -> dict[str, Any]:
    """`frictionless validate --json` on a published datapackage.json: its own process, as a
    consumer runs it (it reads the files beside the descriptor)."""
    done = subprocess.run(
        [sys.executable, "-m", "frictionless", "validate", "--json", package.name],
        capture_output=True,
        text=True,
        cwd=package.parent,
        check=False,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its sha256: a tree compared byte for byte."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def report(*args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    done = opendata(*args, "--json", cwd=cwd)
    return done.returncode, json.loads(done.stdout)


def errors_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for d in result["datasets"] for e in d["errors"]] + result["errors"]


@pytest.fixture
def interruptible() -> Iterator[None]:
    """Ctrl+C as a terminal gives it: a suite started in the background (`make test &`)
    ignores SIGINT, and so would the commands it starts, which keep an ignored signal."""
    import signal

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.fixture
def minimal(tmp_path: Path) -> Path:
    write_dataset(tmp_path, MINIMAL, {"items.csv": MINIMAL_CSV})
    return tmp_path


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real catalog, built once from the repository's datasets/."""
    out = tmp_path_factory.mktemp("site") / "dist"
    done = opendata("build", "--datasets", str(ROOT / "datasets"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


RELEASE_EPOCH = 1764400000


def _release(datasets: Path, site: Path, epoch: int) -> None:
    for args in (
        ("build", "--datasets", str(datasets), "--out", str(site)),
        ("release", "--site", str(site), "--datasets", str(datasets)),
    ):
        done = opendata(*args, env={"SOURCE_DATE_EPOCH": str(epoch)})
        assert done.returncode == 0, done.stderr + done.stdout


@pytest.fixture(scope="session")
def two_releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The repository's datasets released (site_a), then a corrected value released too
    (site_b holds both releases), for the publish tests; read only."""
    root = tmp_path_factory.mktemp("releases")
    datasets = root / "datasets"
    shutil.copytree(ROOT / "datasets", datasets)
    site_b = root / "b" / "dist"
    _release(datasets, site_b, RELEASE_EPOCH)
    site_a = root / "a" / "dist"
    shutil.copytree(site_b, site_a)
    survey = datasets / "survey-results" / "survey-results.csv"
    survey.write_text(survey.read_text(encoding="utf-8").replace("89.3％", "89.4％", 1), "utf-8")
    _release(datasets, site_b, RELEASE_EPOCH + 86400)
    return site_a, site_b


def latest_snapshot(site: Path) -> Path:
    """The site as its latest release published it."""
    return sorted(site.glob("releases/*/site"))[-1]


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different free loopback ports (all bound at once, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def launch_server(site: Path, *options: str) -> tuple[subprocess.Popen, str, float]:
    """The real `opendata serve` on a free loopback port: process, base URL, seconds to answer."""
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "catalog",
            "serve",
            "--site",
            str(site),
            "--port",
            str(port),
            *options,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/3/action/status_show", timeout=1)
            return process, base, time.monotonic() - started
        except OSError:
            if process.poll() is not None or time.monotonic() - started > 20:
                raise RuntimeError(process.stderr.read().decode()) from None
            time.sleep(0.02)


@contextlib.contextmanager
def serving(site: Path, *options: str) -> Iterator[str]:
    """The real `opendata serve` for as long as the block runs: its base URL."""
    process, base, _ = launch_server(site, *options)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def call_action(base: str, action: str, **params: Any) -> tuple[int, dict[str, Any]]:
    """An API action as a JSON POST: the status and CKAN's envelope, whatever the status."""
    request = urllib.request.Request(
        f"{base}/api/3/action/{action}",
        data=json.dumps(params).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="session")
def server(built_site: Path) -> Iterator[str]:
    with serving(built_site) as base:
        yield base


# -- DCAT: rdflib graphs checked with pyshacl against the official DCAT-AP 3.0.1 shapes ------
SHAPES = SHARED / "reference/dcat-ap-3.0.1"


def rdf_graph(path: Path) -> Graph:
    graph = Graph()
    graph.parse(path, format="json-ld" if path.suffix == ".jsonld" else "turtle")
    return graph


def shacl_violations(data: Graph, shapes_file: str) -> list[str]:
    if not SHAPES.is_dir():
        pytest.skip("../shared/reference/dcat-ap-3.0.1 is not present")
    shapes = Graph().parse(SHAPES / shapes_file, format="turtle")
    _conforms, report, _text = validate(data, shacl_graph=shapes, inference="none", advanced=True)
    sh = "http://www.w3.org/ns/shacl#"
    return [
        str(report.value(r, URIRef(sh + "resultMessage")))
        for r in report.subjects(RDF.type, URIRef(sh + "ValidationResult"))
        if report.value(r, URIRef(sh + "resultSeverity")) == URIRef(sh + "Violation")
    ]


# -- Debian's Chromium, one for the session (the site, its audits, cross-origin requests) ------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# For a closed network (every background connection would be refused); Playwright adds
# --headless itself, Lighthouse takes these as one string.
CHROME_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require(ready: bool, what: str, how: str) -> None:
    """Skip a test whose tool is not installed — except in CI, which must have installed it."""
    if ready:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must install {what}: {how}")
    pytest.skip(f"{what} is not installed ({how})")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require(Path(CHROMIUM).exists(), "Debian's chromium", "`make browser`")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_FLAGS)
        yield instance
        instance.close()
