"""The OpenAPI 3.0 description of every route `opendata serve` answers (served at /openapi.json)."""

from __future__ import annotations

from functools import cache
from typing import Any

from .params import ACTIONS

STRING = {"type": "string"}
INTEGER = {"type": "integer"}

ERROR_STATUSES = {
    "400": "Search Query Error, malformed request or unknown action",
    "403": "Authorization Error (this server is read-only)",
    "404": "Not Found Error",
    "409": "Validation Error",
}


def _envelope(result: dict[str, Any] | None) -> dict[str, Any]:
    if result is None:
        return {
            "type": "object",
            "required": ["help", "success", "error"],
            "properties": {
                "help": STRING,
                "success": {"type": "boolean", "enum": [False]},
                "error": {
                    "type": "object",
                    "required": ["__type"],
                    "properties": {"__type": STRING, "message": STRING},
                },
            },
        }
    return {
        "type": "object",
        "required": ["help", "success", "result"],
        "properties": {
            "help": STRING,
            "success": {"type": "boolean", "enum": [True]},
            "result": result,
        },
    }


PACKAGE = {
    "type": "object",
    "required": ["id", "name", "title", "resources", "tags", "organization", "metadata_modified"],
    "properties": {
        "id": STRING,
        "name": STRING,
        "title": STRING,
        "notes": STRING,
        "license_id": STRING,
        "metadata_modified": STRING,
        "tags": {"type": "array", "items": {"type": "object"}},
        "resources": {"type": "array", "items": {"type": "object"}},
        "organization": {"type": "object"},
    },
}
FIELD = {
    "type": "object",
    "required": ["id", "type"],
    "properties": {
        "id": STRING,
        "type": STRING,
        "info": {"type": "object", "properties": {"label": STRING, "notes": STRING}},
    },
}
RESULTS: dict[str, dict[str, Any]] = {
    "package_list": {"type": "array", "items": STRING},
    "package_show": PACKAGE,
    "package_search": {
        "type": "object",
        "required": ["count", "results", "search_facets"],
        "properties": {
            "count": INTEGER,
            "sort": STRING,
            "results": {"type": "array", "items": PACKAGE},
            "facets": {"type": "object"},
            "search_facets": {"type": "object"},
        },
    },
    "current_package_list_with_resources": {"type": "array", "items": PACKAGE},
    "organization_list": {"type": "array"},
    "organization_show": {"type": "object", "required": ["name", "title"]},
    "group_list": {"type": "array"},
    "group_show": {"type": "object", "required": ["name", "title"]},
    "tag_list": {"type": "array", "items": STRING},
    "resource_show": {"type": "object", "required": ["id", "url", "format", "size", "hash"]},
    "license_list": {
        "type": "array",
        "items": {"type": "object", "required": ["id", "title", "url"]},
    },
    "status_show": {"type": "object", "required": ["site_title", "ckan_version"]},
    "help_show": STRING,
    "datastore_search": {
        "type": "object",
        "required": ["resource_id", "fields", "records", "limit", "_links"],
        "properties": {
            "resource_id": STRING,
            "fields": {"type": "array", "items": FIELD},
            "records": {
                "description": "objects: an array of objects; lists: an array of arrays; "
                "csv, tsv: text without a header; geojson (our extension): a GeoJSON "
                "FeatureCollection of the rows, each row's point its geometry",
                "anyOf": [
                    {"type": "array"},
                    STRING,
                    {
                        "type": "object",
                        "required": ["type", "features"],
                        "properties": {
                            "type": {"type": "string", "enum": ["FeatureCollection"]},
                            "features": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                ],
            },
            "records_format": STRING,
            "total": INTEGER,
            "total_was_estimated": {"type": "boolean"},
            "limit": INTEGER,
            "offset": INTEGER,
            "_links": {"type": "object", "required": ["start", "next"]},
        },
    },
    "datastore_info": {
        "type": "object",
        "required": ["meta", "fields"],
        "properties": {
            "meta": {"type": "object", "required": ["count"], "properties": {"count": INTEGER}},
            "fields": {"type": "array", "items": FIELD},
            "schema": {"type": "object"},
        },
    },
    "datastore_search_sql": {
        "type": "object",
        "required": ["sql", "fields", "records"],
        "properties": {
            "sql": STRING,
            "fields": {"type": "array", "items": FIELD},
            "records": {"type": "array", "items": {"type": "object"}},
            "records_truncated": {"type": "boolean"},
        },
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(action: str, method: str) -> dict[str, Any]:
    params = {param.name: param.schema(body=True) for param in ACTIONS[action]}
    operation: dict[str, Any] = {
        "operationId": f"{action}_{method}",
        "summary": f"CKAN {action}",
        "tags": ["CKAN Action API"],
        "responses": {
            "200": _json(_envelope(RESULTS[action]), "success"),
            **{status: _json(_envelope(None), text) for status, text in ERROR_STATUSES.items()},
        },
    }
    if method == "get":
        operation["parameters"] = [
            {"name": param.name, "in": "query", "required": False, "schema": param.schema()}
            | ({"description": param.description} if param.description else {})
            for param in ACTIONS[action]
        ]
    else:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": {"type": "object", "properties": params}}},
        }
    return operation


@cache
def openapi() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for action in ACTIONS:
        item = {"get": _operation(action, "get"), "post": _operation(action, "post")}
        paths[f"/api/3/action/{action}"] = item
    not_found = _json(_envelope(None), "no such dataset")
    for suffix, media in (("jsonld", "application/ld+json"), ("ttl", "text/turtle")):
        paths[f"/dataset/{{name}}.{suffix}"] = {
            "get": {
                "operationId": f"dataset_{suffix}",
                "summary": f"DCAT-AP 3 of one dataset ({suffix})",
                "tags": ["DCAT"],
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": STRING}],
                "responses": {
                    "200": {"description": "the dataset", "content": {media: {}}},
                    "404": not_found,
                },
            }
        }
    for path, media, text in (
        (
            "/catalog.json",
            "application/json",
            "the CKAN package_search result of the whole catalog",
        ),
        ("/catalog.jsonld", "application/ld+json", "DCAT-AP 3 of the catalog (JSON-LD)"),
        ("/catalog.ttl", "text/turtle", "DCAT-AP 3 of the catalog (Turtle)"),
    ):
        paths[path] = {
            "get": {
                "operationId": path.strip("/").replace(".", "_"),
                "summary": text,
                "tags": ["files"],
                "responses": {"200": {"description": text, "content": {media: {}}}},
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "港区オープンデータ CKAN 互換 API / Minato City open data, CKAN-compatible read API",
            "version": "1.0.0",
            "description": "CKAN Action API v3 (read side) with Japanese substring search; CKAN's DataStore "
            "(datastore_search, datastore_info, datastore_search_sql) over the published "
            "Parquet files, with records_format=geojson as our extension; DCAT-AP 3 feeds; "
            "dataset files under /datasets/<name>/ with ETag, Last-Modified and Range. "
            "/api/action/<action> answers the same as /api/3/action/<action>.",
        },
        "paths": paths,
    }
