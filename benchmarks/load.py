"""An HTTP load from its own process: keep-alive connections on threads, latencies recorded.

python benchmarks/load.py HOST PORT CONCURRENCY PATHS_FILE   → JSON on stdout
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time


def run(host: str, port: int, concurrency: int, paths: list[str]) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = iter(enumerate(paths))

    def worker() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                break
            started = time.perf_counter()
            connection.request("GET", item[1], headers={"Accept-Encoding": "gzip"})
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[response.status] = statuses.get(response.status, 0) + 1
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "seconds": wall,
        "per_second": len(latencies) / wall,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "statuses": statuses,
    }


if __name__ == "__main__":
    host, port, concurrency, paths_file = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        sys.argv[4],
    )
    with open(paths_file, encoding="utf-8") as fh:
        paths = [line.strip() for line in fh if line.strip()]
    print(json.dumps(run(host, port, concurrency, paths)))
