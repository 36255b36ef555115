"""`opendata serve --access-log FILE`: one JSON object a line for each answered request, in the
key order `opendata stats --format json` reads (catalog/stats/logs.py).

The query string is never written (the path only, as the client sent it). Lines are handed to
a writer thread through a queue, so the event loop never waits on the disk.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AccessLog:
    def __init__(self, app: ASGIApp, path: Path):
        self.app = app
        self.lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        # One write(2) per batch on an O_APPEND descriptor: the worker processes of
        # `serve --workers` share the file, and whole batches never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.writer = threading.Thread(target=self._write, args=(fd,), daemon=True)
        self.writer.start()

    def _write(self, fd: int) -> None:
        try:
            done = False
            while not done:
                first = self.lines.get()
                batch = [] if first is None else [first]
                done = first is None
                while not done and not self.lines.empty():  # queued meanwhile: one write
                    more = self.lines.get()
                    done = more is None
                    batch += [] if more is None else [more]
                if batch:
                    os.write(fd, "".join(batch).encode("utf-8"))
        finally:
            os.close(fd)

    def close(self) -> None:
        self.lines.put(None)
        self.writer.join(timeout=5)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, sent = 0, 0

        async def counting(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            headers = dict(scope.get("headers", []))
            client = scope.get("client") or ("-", 0)
            raw = scope.get("raw_path") or scope["path"].encode()
            entry = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime()),
                "ip": client[0],
                "method": scope["method"],
                "path": raw.decode("latin-1"),  # percent-encoded as sent, as nginx logs it
                "status": status or 500,
                "bytes": sent,
                "ua": headers.get(b"user-agent", b"").decode("latin-1"),
            }
            self.lines.put(json.dumps(entry) + "\n")
