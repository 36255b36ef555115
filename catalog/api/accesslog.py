"""`opendata serve --access-log FILE`: one JSON object a line for each answered request, in the
key order `opendata stats --format json` reads (catalog/stats/logs.py).

The query string is never written (the path only, as the client sent it). Lines are handed to
a writer thread through a queue, so the event loop never waits on the disk.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path
from typing import IO

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AccessLog:
    def __init__(self, app: ASGIApp, path: Path):
        self.app = app
        self.lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        handle = path.open("a", encoding="utf-8")
        self.writer = threading.Thread(target=self._write, args=(handle,), daemon=True)
        self.writer.start()

    def _write(self, handle: IO[str]) -> None:
        with handle:
            while True:
                line = self.lines.get()
                if line is None:
                    return
                batch = [line]
                while not self.lines.empty():  # whatever queued meanwhile, in one write
                    more = self.lines.get()
                    if more is None:
                        handle.write("".join(batch))
                        return
                    batch.append(more)
                handle.write("".join(batch))
                handle.flush()

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
