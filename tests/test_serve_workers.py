"""`opendata serve --workers N`: N processes answer on one port (a real server, since the
processes are the point), share the access log line by line, and end together."""

from __future__ import annotations

import json
import signal
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import launch_server


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_workers_share_the_port_and_the_log_and_end_together(built_site: Path, tmp_path) -> None:
    log = tmp_path / "access.jsonl"
    process, base, _ = launch_server(built_site, "--workers", "2", "--access-log", str(log))
    try:
        workers = _children(process.pid)
        assert len(workers) == 2
        url = f"{base}/api/3/action/package_search?q=人権&rows=2"
        quoted = urllib.parse.quote(url, safe=":/?=&")

        def ask(_: int) -> dict:
            with urllib.request.urlopen(quoted, timeout=30) as response:
                return json.load(response)

        before = [_cpu_ticks(pid) for pid in workers]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(200)))
        assert all(a["success"] and a["result"] == answers[0]["result"] for a in answers)
        assert all(_cpu_ticks(pid) > ticks for pid, ticks in zip(workers, before, strict=True))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not any(_alive(pid) for pid in workers)
    lines = log.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # whole lines: none interleaved
    assert sum(e["path"].startswith("/api/3/action/package_search") for e in entries) == 200


def test_the_shared_port_is_bound_as_tcp_so_answers_are_not_delayed() -> None:
    """asyncio turns Nagle's algorithm off only on connections of a socket whose protocol is
    TCP; `socket.create_server` leaves it 0, and every answer then waited ~40 ms."""
    import socket

    from catalog.api.workers import _listen

    with _listen("127.0.0.1", 0) as listening:
        assert listening.proto == socket.IPPROTO_TCP
        assert listening.getsockname()[1] > 0


def test_a_port_already_taken_is_a_clear_error(built_site: Path) -> None:
    import socket

    from conftest import opendata

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        done = opendata("serve", "--site", str(built_site), "--port", port, "--workers", "2")
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
