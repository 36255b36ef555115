"""uvicorn's HTTP/1.1 protocol with a deadline for a request's headers, and CKAN's error
envelope for the requests HTTP itself cannot read.

uvicorn waits for headers and bodies for ever, so clients that send a byte now and then
(slowloris) hold connections until none are left. Here a connection whose request — headers
and body — is not complete within `timeout` seconds — the first request's, or a next one's
on a kept-alive connection — is closed. A body's size is bounded in server.py (64 KB).

A request line or headers past h11's bound (16 KB), or bad HTTP syntax, is refused before the
app sees it: with JSON in CKAN's shape, as every other refusal, not uvicorn's plain text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether a client's `Accept-Encoding` takes gzip: named (or `*`, gzip unnamed) with a
    weight above zero — `gzip;q=0` is a refusal, not a request (RFC 9110 §12.5.3)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, *parameters = item.split(";")
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding.strip()] = weight
    return weights.get("gzip", weights.get("*", 0.0)) > 0


def with_header_deadline(timeout: float, help_url: Callable[[], str]) -> type[H11Protocol]:
    class HeaderDeadline(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._deadline: asyncio.TimerHandle | None = None
            self._waiting_since: Any = None  # the cycle before the request awaited

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            super().handle_events()
            if self._request_in():
                self._disarm()

        def on_response_complete(self) -> None:
            finished = self.cycle
            super().on_response_complete()  # may start a pipelined request already received
            if self.cycle is finished and not self.transport.is_closing():
                self._arm()  # a next request on this connection has the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._waiting_since = self.cycle
            self._deadline = self.loop.call_later(timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def send_400_response(self, msg: str) -> None:
            error = {"__type": "Bad Request", "message": f"HTTP の要求として読めません / {msg}"}
            answer = {"help": help_url(), "success": False, "error": error}
            body = json.dumps(answer, ensure_ascii=False).encode()
            headers = [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            response = h11.Response(status_code=400, headers=headers, reason=b"Bad Request")
            for event in (response, h11.Data(data=body), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event))
            self.transport.close()

        def _request_in(self) -> bool:
            """The request's headers and body are in (a next one's, once it is awaited)."""
            cycle = self.cycle
            return cycle is not None and cycle is not self._waiting_since and not cycle.more_body

        def _too_slow(self) -> None:
            if not self._request_in() and not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadline
