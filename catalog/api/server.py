"""`opendata serve`: the CKAN Action API, the DCAT feeds and the files of a built site.

Starlette on uvicorn. Read-only by construction: no route writes, files are served only from
inside the site folder (no symlinks out), and every bad request gets CKAN's error envelope.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import paths
from . import params as p
from .actions import ActionError
from .generations import Generation, LiveSite
from .openapi import openapi
from .params import ACTIONS
from .protocol import accepts_gzip

# Every method reaches the action route, which answers 405 with `Allow: GET, POST` itself.
ACTION_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
MAX_BODY = 64 * 1024
MAX_QUERY = 8 * 1024
GZIP_MIN = 1024


class CkanJSON(JSONResponse):
    """JSON as CKAN writes it, gzipped when the client accepts it and it is worth it."""

    def __init__(self, content: Any, status_code: int = 200, request: Request | None = None):
        super().__init__(content, status_code=status_code)
        accepts = request is not None and accepts_gzip(request.headers.get("accept-encoding", ""))
        if accepts and len(self.body) >= GZIP_MIN:
            self.body = gzip.compress(self.body, compresslevel=5, mtime=0)
            self.headers["content-encoding"] = "gzip"
            self.headers["content-length"] = str(len(self.body))
            self.headers["vary"] = "Accept-Encoding"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


PREFLIGHT_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD, POST, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type, Range, If-None-Match, If-Modified-Since"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


class PublicHeaders:
    """`Access-Control-Allow-Origin: *` on every answer (the API and files are public), and
    CORS preflights answered, so a browser app on another origin can POST JSON to the API and
    read a file in `Range` requests."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await send({"type": "http.response.start", "status": 204, "headers": PREFLIGHT_HEADERS})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"access-control-allow-origin", b"*"))
                headers.append(
                    (b"access-control-expose-headers", b"Content-Length, Content-Range, ETag")
                )
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cors)


def create_app(site: Path, access_log: Path | None = None) -> Starlette:
    live = LiveSite(site.resolve())

    def envelope(
        request: Request, action: str, result: Any = None, error: ActionError | None = None
    ) -> Response:
        help_url = f"{help_show_url(live)}?name={action}"
        if error is None:
            return CkanJSON({"help": help_url, "success": True, "result": result}, request=request)
        return CkanJSON(
            {"help": help_url, "success": False, "error": error.body()}, error.status, request
        )

    async def action(request: Request) -> Response:
        name = request.path_params["action"]
        if request.method not in ("GET", "POST"):
            error = ActionError(
                "Bad Request", f"{request.method} は使えません（GET / POST） / method not allowed"
            )
            response = envelope(request, name, error=error)
            response.status_code = 405
            response.headers["allow"] = "GET, POST"
            return response
        try:
            params = await _params(request)
            # A worker thread: Arrow and NumPy release the GIL, so two queries share two cores.
            result = await run_in_threadpool(_answer, live, name, params)
            return envelope(request, name, result)
        except ActionError as error:
            return envelope(request, name, error=error)

    async def dcat_file(request: Request) -> Response:
        name, suffix = request.path_params["name"], request.path_params["suffix"]
        generation = await run_in_threadpool(live.generation)
        if suffix not in ("jsonld", "ttl") or generation.actions.index.resolve(name) != name:
            return envelope(
                request, "package_show", error=ActionError("Not Found Error", f"{name} not found")
            )
        path = paths.dcat_dataset(generation.root, name, suffix)
        media = "application/ld+json" if suffix == "jsonld" else "text/turtle; charset=utf-8"
        return Response(await run_in_threadpool(path.read_bytes), media_type=media)

    async def spec(request: Request) -> Response:
        return CkanJSON(openapi(), request=request)

    routes = [
        Route("/openapi.json", spec, methods=["GET"]),
        Route("/api/3/action/{action}", action, methods=ACTION_METHODS, name="action"),
        Route("/api/action/{action}", action, methods=ACTION_METHODS),
        Route("/dataset/{name}.{suffix:str}", dcat_file, methods=["GET"]),
        Mount("/", app=LiveFiles(live)),
    ]
    middleware = [Middleware(PublicHeaders)]
    if access_log is not None:
        from .accesslog import AccessLog

        middleware.insert(0, Middleware(AccessLog, path=access_log))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.help_show_url = lambda: help_show_url(live)
    return app


def help_show_url(live: LiveSite) -> str:
    """CKAN's `help` of every answer: from the site's own URL, never the request's Host."""
    return f"{live.current.actions.status['site_url']}api/3/action/help_show"


def _answer(live: LiveSite, action: str, params: dict[str, Any]) -> Any:
    """An action answered from one build; if that build was swapped out and removed while
    the action read it, answered again from the build that replaced it."""
    generation = live.generation()
    try:
        return generation.actions.call(action, params)
    except FileNotFoundError:
        if not live.stale(generation):
            raise
        return live.generation(wait=True).actions.call(action, params)


class LiveFiles:
    """The files of the current build; a request whose build was removed under it (a 404 or
    a vanished file) is answered from the build that replaced it."""

    def __init__(self, live: LiveSite):
        self.live = live

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        generation: Generation = await run_in_threadpool(self.live.generation)
        try:
            response = await generation.files.get_response(generation.files.get_path(scope), scope)
        except (HTTPException, FileNotFoundError) as exc:
            if not await run_in_threadpool(self.live.stale, generation):
                if isinstance(exc, HTTPException):
                    raise
                raise HTTPException(status_code=404) from None
            current = await run_in_threadpool(self.live.generation, True)
            response = await current.files.get_response(current.files.get_path(scope), scope)
        await response(scope, receive, send)


async def _params(request: Request) -> dict[str, Any]:
    """CKAN's parameters: the query string (a repeated key becomes a list), then the body — JSON,
    or a form (application/x-www-form-urlencoded) as CKAN also takes it."""
    if len(request.url.query) > MAX_QUERY:
        raise ActionError(
            "Validation Error", {"query": [f"Query string longer than {MAX_QUERY} bytes"]}
        )
    params = _multi(request.query_params.multi_items())
    if request.method == "POST":
        body = await _bounded_body(request)
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            try:
                form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                raise ActionError(
                    "Bad Request", "本文が UTF-8 ではありません / the form is not UTF-8"
                ) from None
            params.update(_multi(form))
        elif body.strip():
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):  # malformed, nested too deep, a huge number
                raise ActionError(
                    "Bad Request", "JSON として読めない本文です / malformed JSON body"
                ) from None
            if not isinstance(data, dict):
                raise ActionError(
                    "Bad Request",
                    "本文は JSON オブジェクトにしてください / body must be a JSON object",
                )
            _check_types(request.path_params["action"], data)
            if not p.is_text(data):
                raise ActionError(
                    "Bad Request", "本文に不正な文字があります / invalid characters in the body"
                )
            params.update(data)
    return params


def _multi(items: Any) -> dict[str, Any]:
    """Key–value pairs as CKAN reads them: a repeated key becomes a list (appended to, not
    copied at each repeat: 32,767 `a&` in a form took 2.4 s)."""
    lists: dict[str, list[Any]] = {}
    for key, value in items:
        lists.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in lists.items()}


async def _bounded_body(request: Request) -> bytes:
    """The body, read no further than the limit (a declared length over it is refused unread)."""
    too_long = ActionError("Validation Error", {"body": [f"Body longer than {MAX_BODY} bytes"]})
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_long
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise too_long
    except ClientDisconnect:  # gone, or cut off by the request's deadline (protocol.py)
        raise ActionError(
            "Bad Request", "本文の途中で切断されました / the body was cut off"
        ) from None
    return bytes(body)


JSON_TYPES: dict[str, type] = {
    "integer": int,
    "boolean": bool,
    "string": str,
    "object": dict,
    "array": list,
}


def _check_types(action: str, body: dict[str, Any]) -> None:
    """A JSON body says its types: a wrong one is a Validation Error, as the OpenAPI says."""
    errors = {}
    for param in ACTIONS.get(action, ()):
        if param.name not in body:
            continue
        value = body[param.name]
        if param.name == "total_estimation_threshold" and value is None:
            continue  # CKAN's default, sent by clients as null
        if not any(
            isinstance(value, JSON_TYPES[kind])
            and not (kind == "integer" and isinstance(value, bool))
            for kind in (param.type, *param.body_types)
        ):
            errors[param.name] = [f"Must be a JSON {' or '.join((param.type, *param.body_types))}"]
    if errors:
        raise ActionError("Validation Error", errors)
