"""`opendata serve`: the CKAN Action API, the DCAT feeds and the files of a built site.

Starlette on uvicorn. Read-only by construction: no route writes, files are served only from
inside the site folder (no symlinks out), and every bad request gets CKAN's error envelope.
"""

from __future__ import annotations

import gzip
import json
import mimetypes
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.files import sha256_file

from .. import paths
from .actions import ActionError, Actions
from .openapi import openapi
from .params import ACTIONS

for media_type, suffix in (
    ("application/vnd.apache.parquet", ".parquet"),
    ("application/ld+json", ".jsonld"),
    ("text/turtle", ".ttl"),
    ("text/csv", ".csv"),
):
    mimetypes.add_type(media_type, suffix)

# Every method reaches the action route, which answers 405 with `Allow: GET, POST` itself.
ACTION_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
MAX_BODY = 64 * 1024
MAX_QUERY = 8 * 1024
GZIP_MIN = 1024


class CkanJSON(JSONResponse):
    """JSON as CKAN writes it, gzipped when the client accepts it and it is worth it."""

    def __init__(self, content: Any, status_code: int = 200, request: Request | None = None):
        super().__init__(content, status_code=status_code)
        accepts = request is not None and "gzip" in request.headers.get("accept-encoding", "")
        if accepts and len(self.body) >= GZIP_MIN:
            self.body = gzip.compress(self.body, compresslevel=5, mtime=0)
            self.headers["content-encoding"] = "gzip"
            self.headers["content-length"] = str(len(self.body))
            self.headers["vary"] = "Accept-Encoding"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class SiteFiles(StaticFiles):
    """The site's files with their published media types and a content-derived ETag, so an
    unchanged file keeps its ETag across rebuilds (Range and 304 come from Starlette)."""

    def __init__(self, directory: Path):
        super().__init__(directory=directory, html=True, follow_symlink=False)
        self._etags: dict[tuple[str, int, int], str] = {}

    def file_response(self, full_path, stat_result, scope, status_code=200):  # type: ignore[no-untyped-def]
        response = super().file_response(full_path, stat_result, scope, status_code)
        key = (str(full_path), stat_result.st_mtime_ns, stat_result.st_size)
        if key not in self._etags:
            self._etags[key] = '"' + sha256_file(Path(full_path))[:32] + '"'
        etag = self._etags[key]
        response.headers["etag"] = etag
        if status_code == 200 and _matches(scope, etag):
            return NotModifiedResponse(response.headers)
        return response


def _matches(scope: Scope, etag: str) -> bool:
    headers = dict(scope["headers"])
    wanted = headers.get(b"if-none-match", b"").decode("latin-1")
    return etag in [tag.strip() for tag in wanted.split(",")]


class PublicHeaders:
    """`Access-Control-Allow-Origin: *` on every answer (the API and files are public), and the
    `Allow` header that a 405 owes the client."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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


def create_app(site: Path) -> Starlette:
    site = site.resolve()
    actions = Actions(site)

    def envelope(
        request: Request, action: str, result: Any = None, error: ActionError | None = None
    ) -> Response:
        help_url = str(request.url_for("action", action="help_show")) + f"?name={action}"
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
            result = await run_in_threadpool(actions.call, name, params)
            return envelope(request, name, result)
        except ActionError as error:
            return envelope(request, name, error=error)

    async def dcat_file(request: Request) -> Response:
        name, suffix = request.path_params["name"], request.path_params["suffix"]
        if actions.index.resolve(name) != name:
            return envelope(
                request, "package_show", error=ActionError("Not Found Error", f"{name} not found")
            )
        path = paths.dcat_dataset(site, name, suffix)
        media = "application/ld+json" if suffix == "jsonld" else "text/turtle; charset=utf-8"
        return Response(path.read_bytes(), media_type=media)

    async def spec(request: Request) -> Response:
        return CkanJSON(openapi(), request=request)

    routes = [
        Route("/openapi.json", spec, methods=["GET"]),
        Route("/api/3/action/{action}", action, methods=ACTION_METHODS, name="action"),
        Route("/api/action/{action}", action, methods=ACTION_METHODS),
        Route("/dataset/{name}.{suffix:str}", dcat_file, methods=["GET"]),
        Mount("/", app=SiteFiles(site)),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(PublicHeaders)])
    return app


async def _params(request: Request) -> dict[str, Any]:
    """CKAN's parameters: the query string (a repeated key becomes a list), then a JSON body."""
    if len(request.url.query) > MAX_QUERY:
        raise ActionError(
            "Validation Error", {"query": [f"Query string longer than {MAX_QUERY} bytes"]}
        )
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in params:
            previous = params[key]
            params[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            params[key] = value
    if request.method == "POST":
        body = await request.body()
        if len(body) > MAX_BODY:
            raise ActionError("Validation Error", {"body": [f"Body longer than {MAX_BODY} bytes"]})
        if body.strip():
            try:
                data = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ActionError(
                    "Bad Request", "JSON として読めない本文です / malformed JSON body"
                ) from None
            if not isinstance(data, dict):
                raise ActionError(
                    "Bad Request",
                    "本文は JSON オブジェクトにしてください / body must be a JSON object",
                )
            _check_types(request.path_params["action"], data)
            _check_text(data)
            params.update(data)
    return params


JSON_TYPES = {"integer": int, "boolean": bool, "string": str}


def _check_text(value: Any) -> None:
    """JSON may escape lone surrogates (\\ud800) that are not text in any encoding."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ActionError(
                "Bad Request", "本文に不正な文字があります / invalid characters in the body"
            ) from None
    elif isinstance(value, dict):
        for item in value.values():
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


def _check_types(action: str, body: dict[str, Any]) -> None:
    """A JSON body says its types: a wrong one is a Validation Error, as the OpenAPI says."""
    errors = {}
    for param in ACTIONS.get(action, ()):
        if param.name not in body:
            continue
        expected = JSON_TYPES[param.type]
        value = body[param.name]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            errors[param.name] = [f"Must be a JSON {param.type}"]
    if errors:
        raise ActionError("Validation Error", errors)
