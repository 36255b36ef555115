"""Row-level queries side by side: a real CKAN 2.12 DataStore (PostgreSQL 15) against
`opendata serve` (DuckDB over the published Parquet), the same resource, the same queries,
the same HTTP client.

The resource is bench_build.py's synthetic facility ledger; CKAN gets it through
`datastore_create` + `datastore_upsert` in chunks (as a harvester or the DataPusher would), our
server gets it from `opendata build`. Each query runs at 1 and at 4 concurrent clients; p50/p95
latency and throughput are reported, and each server's memory (CKAN: its process and its
PostgreSQL; ours: the one process). One untimed request per query, server and client count
comes first: it warms caches, and on our side pays what a resource's first `q` builds (its
text index, a few seconds per million rows).

    .venv/bin/python benchmarks/bench_datastore.py [--rows 1000000] [--requests 40] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import requests

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from ckan_site import running_ckan  # noqa: E402
from conftest import ROOT, free_port, launch_server  # noqa: E402
from generate import generate  # noqa: E402

CHUNK = 20_000
CKAN_TYPES = {"integer": "int8", "number": "numeric", "date": "date", "string": "text"}


def queries(resource: str) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "equality filter": ("datastore_search", {"filters": {"category": "公園"}, "limit": 100}),
        "Japanese q (芝)": ("datastore_search", {"q": "芝", "limit": 100}),
        "sort + offset 5,000": (
            "datastore_search",
            {"sort": "floor_area desc", "offset": 5000, "limit": 100},
        ),
        "filter + include_total": (
            "datastore_search",
            {"filters": {"category": "図書館"}, "include_total": True, "limit": 10},
        ),
        "SQL GROUP BY": (
            "datastore_search_sql",
            {
                "sql": f'SELECT category, count(*) AS n, avg(floor_area) AS area FROM "{resource}" GROUP BY category'
            },
        ),
    }


def load_ckan(
    url: str, token: str, organization: str, parquet: Path, fields: list[dict[str, Any]]
) -> str:
    """The ledger into CKAN's DataStore; its resource id."""
    session = requests.Session()
    session.headers["Authorization"] = token

    def act(action: str, body: dict[str, Any]) -> Any:
        answer = session.post(f"{url}/api/3/action/{action}", json=body, timeout=600).json()
        assert answer["success"], answer
        return answer["result"]

    package = act("package_create", {"name": "facility-ledger", "owner_org": organization})
    resource = act(
        "resource_create",
        {"package_id": package["id"], "name": "ledger", "url": "https://example.org/ledger.csv"},
    )
    ckan_fields = [{"id": f["name"], "type": CKAN_TYPES[f.get("type", "string")]} for f in fields]
    act(
        "datastore_create",
        {
            "resource_id": resource["id"],
            "fields": ckan_fields,
            "force": True,
        },
    )
    table = pq.read_table(parquet)
    started = time.perf_counter()
    for start in range(0, table.num_rows, CHUNK):
        rows = table.slice(start, CHUNK).to_pylist()
        for row in rows:
            row["opened"] = row["opened"].isoformat() if row["opened"] else None
        act(
            "datastore_upsert",
            {"resource_id": resource["id"], "records": rows, "method": "insert", "force": True},
        )
    print(f"CKAN DataStore loaded {table.num_rows:,} rows in {time.perf_counter() - started:.0f} s")
    return str(resource["id"])


def timed(
    base: str, action: str, body: dict[str, Any], clients: int, count: int
) -> tuple[float, float, float, int]:
    """p50 and p95 in ms, requests per second, and how many answers were errors (a refused
    or timed-out query is counted, with its time, not hidden)."""
    sessions = [requests.Session() for _ in range(clients)]

    def one(i: int) -> tuple[float, bool]:
        started = time.perf_counter()
        answer = sessions[i % clients].post(f"{base}/api/3/action/{action}", json=body, timeout=120)
        return time.perf_counter() - started, answer.status_code != 200

    one(0)  # warm
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(one, range(count)))
    wall = time.perf_counter() - started
    latencies = sorted(t for t, _ in answers)
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    errors = sum(failed for _, failed in answers)
    return statistics.median(latencies) * 1000, p95 * 1000, count / wall, errors


WSGI = """
from ckan.cli import CKANConfigLoader
from ckan.config.middleware import make_app

application = make_app(CKANConfigLoader("{ini}").get_config())
"""


@contextmanager
def production_ckan(root: Path) -> Iterator[str]:
    """The same CKAN as production serves it: gunicorn, one process per core (the test site's
    `ckan run` is Flask's development server); its URL. Ended with the test site."""
    (root / "wsgi.py").write_text(WSGI.format(ini=root / "ckan.ini"), encoding="utf-8")
    port = free_port()
    gunicorn = ROOT / ".venv-ckan/bin/gunicorn"
    command = [str(gunicorn), "--workers", "2", "--bind", f"127.0.0.1:{port}", "--chdir", str(root)]
    server = subprocess.Popen(
        [*command, "--timeout", "300", "wsgi:application"],
        stdout=subprocess.DEVNULL,
        stderr=(root / "gunicorn.log").open("wb"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if requests.get(f"{url}/api/3/action/status_show", timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise RuntimeError((root / "gunicorn.log").read_text()[-3000:])
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def pids_of(pattern: str) -> list[int]:
    """Processes whose command line names `pattern`, and their children (PostgreSQL's
    backends carry no path in their titles)."""
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    pids = [int(p) for p in found.split()]
    for pid in list(pids):
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        pids += [int(p) for p in children.stdout.split()]
    return sorted(set(pids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40, help="per query and client count")
    parser.add_argument("--work", type=Path, default=HERE / "data" / "datastore", help="emptied")
    args = parser.parse_args()
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    generate(work, rows=args.rows)
    build = [sys.executable, "-m", "catalog", "build", "--datasets", "datasets", "--out", "dist"]
    subprocess.run(build, cwd=work, check=True, stdout=subprocess.DEVNULL)
    folder = work / "dist/datasets/facility-ledger"
    package = json.loads((folder / "package.json").read_text())
    ours_id = next(r["id"] for r in package["resources"] if r["format"] == "CSV")
    fields = json.loads((folder / "datapackage.json").read_text())["resources"][0]["schema"][
        "fields"
    ]
    process, ours, _ = launch_server(work / "dist")
    try:
        with ExitStack() as stack:
            ckan = stack.enter_context(running_ckan(datastore=True))
            theirs_id = load_ckan(
                ckan.url, ckan.token, ckan.organization, folder / "facility-ledger.parquet", fields
            )
            production = stack.enter_context(production_ckan(ckan.logs))
            servers: dict[str, tuple[str, str, Callable[[], float]]] = {
                "CKAN DataStore": (production, theirs_id, lambda: rss_mb(pids_of(str(ckan.logs)))),
                "opendata serve": (ours, ours_id, lambda: rss_mb([process.pid])),
            }
            print(f"\n{args.rows:,} rows; {args.requests} requests per query and client count\n")
            print(
                f"{'query':26} {'server':16} {'p50 1c':>8} {'p95 1c':>8} {'req/s 1c':>9} {'p50 4c':>8} {'p95 4c':>8} {'req/s 4c':>9} {'errors':>7}"
            )
            for name in queries(ours_id):
                for server, (base, resource, _) in servers.items():
                    action, body = queries(resource)[name]
                    body = (
                        {"resource_id": resource, **body} if action == "datastore_search" else body
                    )
                    one = timed(base, action, body, 1, args.requests)
                    four = timed(base, action, body, 4, args.requests)
                    print(
                        f"{name:26} {server:16} {one[0]:8.1f} {one[1]:8.1f} {one[2]:9.1f} {four[0]:8.1f} {four[1]:8.1f} {four[2]:9.1f} {one[3] + four[3]:7d}"
                    )
            for server, (_, _, memory) in servers.items():
                print(f"memory, {server}: {memory():.0f} MB RSS")
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
