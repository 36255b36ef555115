"""`opendata serve` on one or several processes.

With `--workers N` the command binds the port itself and forks N processes that accept on that
one socket (the kernel hands each connection to one of them), so searches run on every core
instead of one interpreter's. Each process builds its own app after the fork — its own event
loop, threads and DataStore — over the same files: the search index is memory-mapped Arrow,
so its pages sit once in the page cache whatever the number of processes. SIGTERM or SIGINT to
the command is passed on to the processes, which finish their requests and exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from .protocol import with_header_deadline
from .server import create_app


@dataclass(frozen=True)
class Serving:
    """What `opendata serve` answers from and how (its options)."""

    site: Path
    host: str
    port: int
    header_timeout: float  # seconds a client has to send a request's headers
    root_path: str
    access_log: Path | None


class CannotListen(Exception):
    """The port cannot be bound (taken by another server, or not allowed)."""


def serve(options: Serving, workers: int = 1) -> None:
    if workers == 1:
        _run(options)
        return
    try:
        listening = _listen(options.host, options.port)
    except OSError as exc:
        raise CannotListen(f"{options.host}:{options.port}: {exc.strerror or exc}") from None
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: never returns into the command
            code = 0
            try:
                _run(options, sockets=[listening])
            except BaseException as exc:
                print(f"serve worker {os.getpid()}: {exc!r}", file=sys.stderr)
                code = 1
            os._exit(code)
        children.append(pid)
    listening.close()

    def pass_on(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):  # already ended
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    for child in children:
        os.waitpid(child, 0)


def _listen(host: str, port: int) -> socket.socket:
    """The port, bound as asyncio binds it: with protocol TCP, so that asyncio turns Nagle's
    algorithm off on each connection it accepts (it checks the protocol; without it every
    answer written in two parts waited ~40 ms for a delayed ACK)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    listening = socket.socket(family, kind, proto)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(address)
    listening.listen(2048)
    return listening


def _run(options: Serving, sockets: list[socket.socket] | None = None) -> None:
    app = create_app(options.site, options.access_log)
    config = uvicorn.Config(
        app,
        log_level="warning",
        http=with_header_deadline(options.header_timeout, app.state.help_show_url),
        root_path=options.root_path,
        host=options.host,
        port=options.port,
    )
    uvicorn.Server(config).run(sockets=sockets)
