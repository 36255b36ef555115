"""`opendata stats`: the counting rules on synthetic log lines, corrupt and rotated logs, the
download-stats dataset it appends to, and `opendata serve --access-log`."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import MINIMAL_CSV, PUBLISHABLE, ROOT, launch_server, opendata, write_dataset

EPOCH = 1764400000
CSV = "/datasets/sample-budget/items.csv"
PARQUET = "/datasets/sample-budget/items.parquet"
VERSIONED = "/datasets/sample-budget/1.0.0/items.parquet"


def line(
    path: str,
    *,
    ip: str = "203.0.113.1",
    when: str = "02/Dec/2026:10:00:00 +0900",
    method: str = "GET",
    status: int = 200,
    ua: str = "Mozilla/5.0 (X11; Linux x86_64)",
) -> str:
    return f'{ip} - - [{when}] "{method} {path} HTTP/1.1" {status} 512 "-" "{ua}"\n'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A released site of one dataset (stable and versioned URLs)."""
    root = tmp_path_factory.mktemp("stats")
    write_dataset(root, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    env = {"SOURCE_DATE_EPOCH": str(EPOCH)}
    for args in (
        ("build", "--datasets", str(root / "datasets"), "--out", str(root / "dist")),
        ("release", "--site", str(root / "dist"), "--datasets", str(root / "datasets")),
    ):
        done = opendata(*args, env=env)
        assert done.returncode == 0, done.stderr
    return root / "dist"


def stats(site: Path, *logs: Path, extra: tuple[str, ...] = ()) -> tuple[int, dict]:
    args = ["stats", "--site", str(site), "--json", *extra]
    for log in logs:
        args += ["--logs", str(log)]
    done = opendata(*args)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_every_rule_excludes_its_lines_and_says_how_many(site: Path, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    crawler = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    log.write_text(
        line(CSV + "?utm_source=mail")  # 1 download (the query string is dropped)
        + line(CSV, when="02/Dec/2026:18:00:00 +0900")  # repeat: same client, file, day
        + line(PARQUET, status=206)  # a Range reader: 1 download …
        + line(PARQUET, status=206)  # … however many ranges it reads
        + line(VERSIONED, ip="203.0.113.2")  # the versioned URL: 1 download
        + line(CSV, ip="203.0.113.2", when="03/Dec/2026:09:00:00 +0900")  # next day: 1 more
        + line(CSV, ip="192.0.2.1", method="HEAD")
        + line(CSV, ip="192.0.2.2", method="POST", status=405)
        + line(CSV, ip="192.0.2.3", status=304)
        + line("/datasets/sample-budget/missing.csv", ip="192.0.2.4", status=404)
        + line("/api/3/action/datastore_search", ip="192.0.2.5")
        + line("/index.html", ip="192.0.2.6")
        + line("/datasets/sample-budget/", ip="192.0.2.6")
        + line("/static/site.css", ip="192.0.2.6")
        + line("/wp-login.php", ip="192.0.2.7")  # not in the catalog (nor the site's)
        + line(CSV, ip="198.51.100.7", ua=crawler)
        + line("/robots.txt", ip="198.51.100.8", ua="polite-fetcher/1.0")
        + line(CSV, ip="198.51.100.8", ua="polite-fetcher/1.0")
        + line(CSV, ip="198.51.100.9", ua="hammer/1.0")
        + line("/index.html", ip="198.51.100.9", ua="hammer/1.0") * 4
        + "not a log line\n",
        encoding="utf-8",
    )
    code, result = stats(site, log, extra=("--max-requests-per-day", "4"))
    assert code == 0
    assert result["downloads"] == 4
    assert result["excluded"] == {
        "corrupt": 1,
        "head": 1,
        "method": 1,
        "not_modified": 1,
        "status": 1,
        "datastore_api": 1,
        "site": 8,  # index.html ×5, the dataset page, site.css, robots.txt
        "not_in_catalog": 1,
        "robot_user_agent": 1,
        "robots_txt": 1,
        "rate": 1,
        "repeat": 2,
    }
    assert sum(result["excluded"].values()) + result["downloads"] == result["lines"] == 24
    assert result["months"] == [{"month": "2026-12", "downloads": 4, "datastore_api_calls": 1}]
    assert result["by_dataset"] == [
        {"month": "2026-12", "dataset": "sample-budget", "format": "csv", "downloads": 2},
        {"month": "2026-12", "dataset": "sample-budget", "format": "parquet", "downloads": 2},
    ]
    assert result["corrupt_lines"] == [{"file": str(log), "line": 24}]
    assert result["not_in_catalog"] == {"count": 1, "paths": ["/wp-login.php"]}
    text = json.dumps(result)
    for private in ("203.0.113", "198.51", "192.0.2", "Mozilla", "Googlebot", "utm_", "hammer"):
        assert private not in text


def test_months_are_japan_time(site: Path, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        line(CSV, ip="10.0.0.1", when="31/Mar/2026:14:59:59 +0000")  # 23:59:59 JST: March
        + line(CSV, ip="10.0.0.2", when="31/Mar/2026:15:00:00 +0000")  # 00:00 JST: April
        + line(CSV, ip="10.0.0.3", when="01/Apr/2026:00:30:00 +0900")  # April
        + line(CSV, ip="10.0.0.1", when="31/Mar/2026:15:00:01 +0000"),  # a new Japan day
        encoding="utf-8",
    )
    _, result = stats(site, log)
    assert [(m["month"], m["downloads"]) for m in result["months"]] == [
        ("2026-03", 1),
        ("2026-04", 3),
    ]


def test_rotated_logs_in_any_order_and_a_copy_counted_once(site: Path, tmp_path: Path) -> None:
    old = line(CSV, ip="10.0.0.1", when="01/Nov/2026:10:00:00 +0900")
    new = line(CSV, ip="10.0.0.2", when="02/Nov/2026:10:00:00 +0900")
    (tmp_path / "access.log").write_text(new, encoding="utf-8")
    (tmp_path / "access.log.1").write_text(old, encoding="utf-8")
    with gzip.open(tmp_path / "access.log.2.gz", "wt", encoding="utf-8") as gz:
        gz.write(line(PARQUET, when="31/Oct/2026:10:00:00 +0900"))
    with gzip.open(tmp_path / "access.log.1.gz", "wt", encoding="utf-8") as gz:
        gz.write(old)  # the same text as access.log.1: rotated and kept twice
    logs = ["access.log.1.gz", "access.log", "access.log.2.gz", "access.log.1"]
    _, result = stats(site, *(tmp_path / n for n in logs))
    assert result["downloads"] == 3
    assert [f.get("duplicate_of") for f in result["files"]] == [
        None,
        None,
        None,
        str(tmp_path / "access.log.1.gz"),
    ]


def test_corrupt_and_truncated_logs_are_reported_never_a_crash(site: Path, tmp_path: Path) -> None:
    good = line(CSV) * 3
    text = good + "\x00\x01 garbage\n" + line(PARQUET)[:40] + "\n" + "\xff日本語\n" + good
    log = tmp_path / "mixed.log"
    log.write_bytes(text.encode("utf-8").replace("\xff".encode(), b"\xff"))
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(gzip.compress((line(PARQUET, ip="10.9.9.9") * 2000).encode())[:300])
    code, result = stats(site, log, cut)
    assert code == 0
    assert result["excluded"]["corrupt"] >= 3
    assert result["corrupt_lines"][:3] == [
        {"file": str(log), "line": 4},
        {"file": str(log), "line": 5},
        {"file": str(log), "line": 6},
    ]
    assert "truncated" in result["files"][1]
    assert result["downloads"] >= 1
    done = opendata("stats", "--site", str(site), "--logs", str(log))
    assert f"{log}:4" in done.stderr and "Traceback" not in done.stderr


def test_a_log_of_a_different_site_is_reported_as_such(site: Path, tmp_path: Path) -> None:
    log = tmp_path / "other.log"
    log.write_text(
        "".join(line(f"/datasets/budget-{i}/data.csv", ip=f"10.0.0.{i}") for i in range(5)),
        encoding="utf-8",
    )
    code, result = stats(site, log)
    assert code == 1 and result["different_site"]
    done = opendata("stats", "--site", str(site), "--logs", str(log))
    assert "different site" in done.stderr


def test_append_adds_new_months_only_and_builds_as_a_dataset(site: Path, tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    shutil.copytree(site.parent / "datasets", datasets)
    log = tmp_path / "a.log"
    rows = [
        line(CSV, ip=f"10.0.{m}.{i}", when=f"0{d}/{mon}/2026:10:00:00 +0900")
        for m, (mon, d, n) in enumerate([("Feb", 2, 12), ("Mar", 3, 3), ("Apr", 4, 30)])
        for i in range(n)
    ]
    log.write_text("".join(rows), encoding="utf-8")
    append = ("--append", "--datasets", str(datasets))
    code, result = stats(site, log, extra=append)
    assert code == 0
    assert result["append"]["appended"] == ["2026-02", "2026-03"]
    assert result["append"]["left_for_later"] == ["2026-04"]  # may be under way
    folder = datasets / "download-stats"
    before = {p.name: p.read_bytes() for p in folder.glob("*.csv")}
    assert (folder / "by-dataset.csv").read_text(encoding="utf-8").splitlines() == [
        "month,dataset,format,downloads,below_threshold",
        "2026-02,sample-budget,csv,12,false",
        "2026-03,sample-budget,csv,,true",  # 3: under 10, not published
    ]
    assert (folder / "fiscal-years.csv").read_text(encoding="utf-8").splitlines()[1:] == [
        "2025,2026-02,1,12,12.0",
        "2025,2026-03,2,15,7.5",  # FY2025 (April 2025–March 2026): two months covered
    ]
    # Next month: May's log (and April's again). Past lines are kept byte for byte.
    log2 = tmp_path / "b.log"
    log2.write_text("".join(rows[-30:]) + line(CSV, when="01/May/2026:10:00:00 +0900"), "utf-8")
    _, result = stats(site, log, log2, extra=append)
    assert result["append"]["appended"] == ["2026-04"]
    assert result["append"]["kept"] == ["2026-02", "2026-03"]
    for name, data in before.items():
        assert (folder / name).read_bytes().startswith(data)
    assert (folder / "fiscal-years.csv").read_text(encoding="utf-8").splitlines()[-1] == (
        "2026,2026-04,1,30,30.0"
    )
    shutil.copytree(ROOT / "datasets" / "plan-indicators", datasets / "plan-indicators")
    out = tmp_path / "dist"
    done = opendata("build", "--datasets", str(datasets), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "download-stats" in done.stdout
    # The plan's P24-2-1 chart shows the measured monthly average beside the plan's figures.
    page = (out / "datasets" / "plan-indicators" / "index.html").read_text(encoding="utf-8")
    chart = page.split('id="chart-P24-2-1"', 1)[1].split("</figure>", 1)[0]
    assert "カタログ実測 measured" in chart
    assert "2025: 7.5（2か月、2026-03まで" in chart and "2026: 30（1か月" in chart
    assert "2,400" in chart or "2400" in chart  # the plan's own actual, as printed
    other = page.split('id="chart-P24-2-2"', 1)[1].split("</figure>", 1)[0]
    assert "カタログ実測" not in other
    assert yaml.safe_load((folder / "dataset.yaml").read_text(encoding="utf-8"))["name"] == (
        "download-stats"
    )


def test_serve_writes_a_json_access_log_that_stats_reads(site: Path, tmp_path: Path) -> None:
    import urllib.request

    log = tmp_path / "serve.log"
    process, base, _ = launch_server(site, "--access-log", str(log))
    try:
        for path in (CSV + "?key=secret", VERSIONED, "/index.html"):
            urllib.request.urlopen(base + path, timeout=5).read()
        request = urllib.request.Request(base + CSV, method="HEAD")
        urllib.request.urlopen(request, timeout=5).read()
    finally:
        process.terminate()
        process.wait(timeout=10)
    text = log.read_text(encoding="utf-8")
    assert "secret" not in text and "key=" not in text
    entries = [json.loads(t) for t in text.splitlines()]
    assert [e["path"] for e in entries][1:] == [CSV, VERSIONED, "/index.html", CSV]
    code, result = stats(site, log, extra=("--format", "json"))
    assert code == 0
    assert result["downloads"] == 2
    assert result["excluded"]["head"] == 1
    assert result["excluded"]["site"] == 2  # index.html and the launcher's status_show


def test_a_new_month_appended_is_a_minor_release(site: Path, tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    shutil.copytree(site.parent / "datasets", datasets)
    out = tmp_path / "dist"
    months = [("Jan", 1), ("Feb", 2), ("Mar", 3)]
    logs = []
    for n, (mon, day) in enumerate(months):
        logs.append(tmp_path / f"{mon}.log")
        logs[-1].write_text(
            "".join(
                line(CSV, ip=f"10.1.{n}.{i}", when=f"0{day}/{mon}/2026:10:00:00 +0900")
                for i in range(11)
            ),
            encoding="utf-8",
        )
    for count, epoch in ((2, EPOCH + 86400), (3, EPOCH + 2 * 86400)):
        code, _ = stats(site, *logs[:count], extra=("--append", "--datasets", str(datasets)))
        assert code == 0
        env = {"SOURCE_DATE_EPOCH": str(epoch)}
        done = opendata("build", "--datasets", str(datasets), "--out", str(out), env=env)
        assert done.returncode == 0, done.stderr
        done = opendata(
            "release", "--site", str(out), "--datasets", str(datasets), "--json", env=env
        )
        assert done.returncode == 0, done.stdout + done.stderr
        decisions = {d["name"]: d for d in json.loads(done.stdout)["decisions"]}
    assert decisions["download-stats"]["change"] == "minor"
    assert decisions["download-stats"]["version"] == "1.1.0"
