"""CKAN Action API v3, read side, answered from a built site folder.

Each action takes CKAN's parameters (already merged from the query string or the JSON body)
and returns CKAN's `result`, or raises an `ActionError` carrying CKAN's `__type` and status.
Nothing here writes: every write action is an Authorization Error.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.files import read_json
from pipeline.vocabulary import LICENSES

from .. import paths
from . import params as p
from .datastore import DataStore, DataStoreError, Search, Table, active, encode_links, tables_of
from .params import FACETS, MAX_ROWS, Param
from .search import QueryError, SearchIndex

CKAN_API_VERSION = "2.11.0"  # the Action API level these answers follow
WRITE_PREFIXES = ("create", "update", "patch", "delete", "purge", "member_", "follow", "revise")


# CKAN's error kinds and their HTTP statuses.
ERROR_STATUS = {
    "Not Found Error": 404,
    "Authorization Error": 403,
    "Validation Error": 409,
    "Search Query Error": 400,
    "Bad Request": 400,
}


class ActionError(Exception):
    def __init__(self, kind: str, message: str | dict[str, list[str]]):
        super().__init__(str(message))
        self.kind = kind
        self.message = message

    @property
    def status(self) -> int:
        return ERROR_STATUS[self.kind]

    def body(self) -> dict[str, Any]:
        if isinstance(self.message, dict):  # CKAN puts field errors beside __type
            return {"__type": self.kind, **self.message}
        return {"__type": self.kind, "message": self.message}


def not_found(what: str) -> ActionError:
    return ActionError("Not Found Error", f"{what} が見つかりません / not found")


def invalid(field: str, message: str) -> ActionError:
    return ActionError("Validation Error", {field: [message]})


class Actions:
    """The read actions over one site folder."""

    def __init__(self, site: Path):
        self.site = site
        self.index = SearchIndex.load(site)
        meta = read_json(site / paths.SITE_JSON)
        self.organization: dict[str, Any] = meta["organization"]
        self.groups: dict[str, dict[str, Any]] = {g["name"]: g for g in meta["groups"]}
        self.status: dict[str, Any] = meta["status"]
        # Package dicts of this build, read once each (a newer build gets its own Actions).
        self.package = lru_cache(maxsize=4096)(self._read_package)
        self.tables = lru_cache(maxsize=4096)(self._read_tables)
        self._datastore: DataStore | None = None  # opened by the first DataStore action
        self._datastore_lock = threading.Lock()
        self.registry: dict[str, Callable[[dict[str, Any]], Any]] = {
            name.removeprefix("action_"): getattr(self, name)
            for name in dir(self)
            if name.startswith("action_")
        }

    def call(self, action: str, params: dict[str, Any]) -> Any:
        if action in self.registry:
            return self.registry[action](params)
        if action.startswith(WRITE_PREFIXES) or any(f"_{p}" in action for p in WRITE_PREFIXES):
            raise ActionError(
                "Authorization Error",
                f"{action}: このサーバーは読み取り専用です / read-only server",
            )
        raise ActionError("Bad Request", f"不明なアクション / unknown action: {action}")

    # -- datasets ---------------------------------------------------------------------------
    def _read_package(self, name: str) -> dict[str, Any]:
        """package.json as the API serves it: with `datastore_active` on each resource."""
        return active(self._package_file(name), self.tables(name))

    def _package_file(self, name: str) -> dict[str, Any]:
        package: dict[str, Any] = read_json(paths.ckan_package(self.site, name))
        return package

    def _read_tables(self, name: str) -> dict[str, Table]:
        return tables_of(self.site, name, self._package_file(name))

    def action_package_list(self, params: dict[str, Any]) -> list[str]:
        """Names of all datasets, sorted (limit, offset)."""
        limit, offset = _paging(params)
        names = self.index.names
        return names[offset : offset + limit] if limit is not None else names[offset:]

    def action_package_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """One dataset by name or id."""
        name_or_id = _text(params, p.ID) or _text(params, p.NAME_OR_ID)
        if not name_or_id:
            raise invalid("name_or_id", "Missing value")
        name = self.index.resolve(name_or_id)
        if name is None:
            raise not_found(f"データセット {name_or_id}")
        return self.package(name)

    def action_current_package_list_with_resources(
        self, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Datasets with their resources, newest first, a page at a time (limit, offset)."""
        found = self.index.search(
            sort="metadata_modified desc",
            rows=_int(params, p.PAGE_LIMIT),
            start=_int(params, p.OFFSET),
        )
        return [self.package(n) for n in found.names]

    def action_package_search(self, params: dict[str, Any]) -> dict[str, Any]:
        """Japanese substring search (q), filters (fq), paging, sorting and facets."""
        q = _text(params, p.Q)
        rows = _int(params, p.ROWS)
        start = _int(params, p.START)
        facet_fields = _facet_fields(params)
        sort = _text(params, p.SORT) or p.DEFAULT_SORT
        try:
            found = self.index.search(
                q=q,
                fq=_text(params, p.FQ),
                sort=sort,
                rows=rows,
                start=start,
                facet_fields=facet_fields,
                facet_limit=_int(params, p.FACET_LIMIT),
                facet_mincount=_int(params, p.FACET_MINCOUNT),
            )
        except QueryError as exc:
            raise ActionError("Search Query Error", str(exc)) from exc
        return {
            "count": found.count,
            "sort": sort,
            "results": [self.package(n) for n in found.names],
            "facets": {f: dict(items) for f, items in found.facets.items()},
            "search_facets": {
                f: {
                    "title": f,
                    "items": [
                        {"name": v, "display_name": self._display(f, v), "count": n}
                        for v, n in items
                    ],
                }
                for f, items in found.facets.items()
            },
        }

    def _display(self, facet: str, value: str) -> str:
        if facet == "groups" and value in self.groups:
            return self.groups[value]["title"]
        if facet == "organization" and value == self.organization["name"]:
            return self.organization["title"]
        return value

    def action_resource_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """One resource by id."""
        resource_id = _text(params, p.ID)
        if not resource_id:
            raise invalid("id", "Missing value")
        name = self.index.dataset_of_resource(resource_id)
        if name is None:
            raise not_found(f"リソース {resource_id}")
        return next(r for r in self.package(name)["resources"] if r["id"] == resource_id)

    def action_tag_list(self, params: dict[str, Any]) -> list[str]:
        """Every tag, sorted (query narrows by substring)."""
        query = _text(params, p.QUERY)
        tags = sorted({t for row in self.index.table.column("tags").to_pylist() for t in row})
        return [t for t in tags if query in t]

    # -- the DataStore (catalog/api/datastore.py) -------------------------------------------------
    @property
    def datastore(self) -> DataStore:
        with self._datastore_lock:
            if self._datastore is None:
                self._datastore = DataStore(self.site)
            return self._datastore

    def _table(self, resource_id: str) -> Table | None:
        name = self.index.dataset_of_resource(resource_id)
        return None if name is None else self.tables(name).get(resource_id)

    def _resource_table(self, params: dict[str, Any], *names: Param) -> Table:
        resource_id = next((v for v in (_text(params, n) for n in names) if v), "")
        if not resource_id:
            raise invalid(names[0].name, "Missing value")
        table = self._table(resource_id)
        if table is None:
            raise not_found(f'Resource "{resource_id}" / リソース')
        return table

    def action_datastore_search(self, params: dict[str, Any]) -> dict[str, Any]:
        """Rows of a tabular resource (CKAN's DataStore): resource_id, filters, q, distinct,
        fields, sort, limit (at most 32000), offset, include_total, records_format (objects,
        lists, csv, tsv; geojson for resources with a location)."""
        table = self._resource_table(params, p.RESOURCE_ID, p.DS_ID)
        limit, offset = _int(params, p.DS_LIMIT), _int(params, p.DS_OFFSET)
        if params.get(p.TOTAL_ESTIMATION_THRESHOLD.name) is not None:
            _int(params, p.TOTAL_ESTIMATION_THRESHOLD)
        _bool(params, p.PLAIN)
        _text(params, p.LANGUAGE)
        records_format = _text(params, p.RECORDS_FORMAT) or "objects"
        if records_format not in p.RECORDS_FORMATS:
            raise invalid("records_format", f"Must be one of {list(p.RECORDS_FORMATS)}")
        given = {k: v for k, v in params.items() if k in ("filters", "sort", "distinct")}
        search = Search(
            filters=_filters(params),
            q=_ds_q(params),
            distinct=_bool(params, p.DISTINCT),
            fields=_names(params, p.DS_FIELDS),
            sort=_sort(params),
            limit=limit,
            offset=offset,
            include_total=_bool(params, p.INCLUDE_TOTAL),
            records_format=records_format,
            links=encode_links({k: v for k, v in params.items() if k in _DS_NAMES}, offset, limit),
            given=given,
        )
        try:
            return self.datastore.search(table, search)
        except DataStoreError as exc:
            raise ActionError(exc.kind, exc.message) from exc

    def action_datastore_info(self, params: dict[str, Any]) -> dict[str, Any]:
        """A tabular resource's fields (with types, titles and descriptions) and row count."""
        table = self._resource_table(params, p.DS_ID, p.RESOURCE_ID)
        try:
            return self.datastore.info(table)
        except DataStoreError as exc:
            raise ActionError(exc.kind, exc.message) from exc

    def action_datastore_search_sql(self, params: dict[str, Any]) -> dict[str, Any]:
        """One read-only SELECT over the tabular resources, each the table named by its id
        (SELECT * FROM "<resource id>"): no file or network access, at most 5 seconds and
        32000 rows (records_truncated)."""
        sql = _text(params, p.SQL)
        if not sql.strip():
            raise invalid("sql", "Missing value")
        try:
            return self.datastore.search_sql(sql, self._table)
        except DataStoreError as exc:
            raise ActionError(exc.kind, exc.message) from exc

    # -- organizations and groups -------------------------------------------------------------
    def action_organization_list(self, params: dict[str, Any]) -> list[Any]:
        """The publishing organization (all_fields for the dict)."""
        return (
            [self._with_count("organization", self.organization)]
            if _bool(params, p.ALL_FIELDS)
            else [self.organization["name"]]
        )

    def action_organization_show(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _text(params, p.ID)
        if not name:
            raise invalid("id", "Missing value")
        if name not in (self.organization["name"], self.organization["id"]):
            raise not_found(f"組織 {name}")
        return self._show("organization", self.organization, params)

    def action_group_list(self, params: dict[str, Any]) -> list[Any]:
        """Themes as CKAN groups (all_fields for the dicts)."""
        groups = sorted(self.groups.values(), key=lambda g: g["name"])
        if _bool(params, p.ALL_FIELDS):
            return [self._with_count("groups", g) for g in groups]
        return [g["name"] for g in groups]

    def action_group_show(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _text(params, p.ID)
        if not name:
            raise invalid("id", "Missing value")
        group = self.groups.get(name) or next(
            (g for g in self.groups.values() if g["id"] == name), None
        )
        if group is None:
            raise not_found(f"グループ {name}")
        return self._show("groups", group, params)

    def _with_count(self, facet: str, entity: dict[str, Any]) -> dict[str, Any]:
        found = self.index.search(fq=f'{facet}:"{entity["name"]}"', rows=0)
        return {**entity, "package_count": found.count}

    def _show(self, facet: str, entity: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        result = self._with_count(facet, entity)
        if _bool(params, p.INCLUDE_DATASETS):
            found = self.index.search(fq=f'{facet}:"{entity["name"]}"', rows=MAX_ROWS)
            result["packages"] = [self.package(n) for n in found.names]
        return result

    # -- the site -----------------------------------------------------------------------------
    def action_license_list(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The licences datasets here may use."""
        return [
            {
                "id": lic_id,
                "title": lic["title"],
                "url": lic["path"],
                "is_okd_compliant": True,
                "is_osi_compliant": False,
                "status": "active",
                "od_conformance": "approved",
                "osd_conformance": "not reviewed",
            }
            for lic_id, lic in LICENSES.items()
        ]

    def action_status_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """Site title, URL, locale and the CKAN API level answered."""
        return {
            **self.status,
            "ckan_version": CKAN_API_VERSION,
            "extensions": [],
            "locale_default": "ja",
        }

    def action_help_show(self, params: dict[str, Any]) -> str:
        """The documentation of an action."""
        name = _text(params, p.NAME)
        if name not in self.registry:
            raise not_found(f"アクション {name}")
        return (self.registry[name].__doc__ or name).strip()


def _text(params: dict[str, Any], param: Param) -> str:
    value = params.get(param.name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    if not isinstance(value, str | int | float):
        raise invalid(param.name, "Must be a string")
    text = str(value)
    if param.max_length is not None and len(text) > param.max_length:
        raise invalid(param.name, f"Must be at most {param.max_length} characters")
    return text


def _int(params: dict[str, Any], param: Param) -> int:
    raw = params.get(param.name)
    if raw is None:
        return int(param.default)
    try:
        value = int(raw if not isinstance(raw, list) else raw[-1])
    except (TypeError, ValueError):
        raise invalid(param.name, "Invalid integer") from None
    low, high = param.minimum, param.maximum
    if (
        isinstance(raw, bool)
        or not (low is None or low <= value)
        or not (high is None or value <= high)
    ):
        raise invalid(param.name, f"Must be between {low} and {high}")
    return value


def _bool(params: dict[str, Any], param: Param) -> bool:
    value = params.get(param.name, param.default)
    if isinstance(value, list):
        value = value[-1] if value else False
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise invalid(param.name, "Must be true or false")
    return text in ("true", "1", "yes")


def _paging(params: dict[str, Any]) -> tuple[int | None, int]:
    limit = _int(params, p.LIMIT)
    return (None if limit < 0 else limit), _int(params, p.OFFSET)


_DS_NAMES = {param.name for param in p.ACTIONS["datastore_search"]}
_SORT_ITEM = re.compile(r'\s*(?:"((?:[^"]|"")+)"|([^\s,"]+))(?:\s+(asc|desc))?\s*', re.IGNORECASE)


def _json_param(params: dict[str, Any], name: str) -> Any:
    """A parameter a JSON body sends as JSON and a query string as JSON text."""
    raw = params.get(name)
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw) and len(raw) == 1:
        raw = raw[0]
    if isinstance(raw, str) and raw.strip()[:1] in ("{", "["):
        return _loads(name, raw)
    return raw


def _loads(name: str, raw: str) -> Any:
    """A parameter's JSON text, read: malformed, nested too deep or not text is invalid."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise invalid(name, "JSON として読めません / Cannot parse JSON") from None
    if not p.is_text(value):
        raise invalid(name, "不正な文字があります / Invalid characters")
    return value


def _filters(params: dict[str, Any]) -> dict[str, Any]:
    raw = _json_param(params, "filters")
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise invalid("filters", "JSON オブジェクトにしてください / Must be a JSON object")
    return raw


def _ds_q(params: dict[str, Any]) -> str | dict[str, str]:
    raw = _json_param(params, "q")
    if isinstance(raw, dict):
        if not all(isinstance(v, str) for v in raw.values()):
            raise invalid("q", "Each field's words must be a string")
        if sum(len(v) for v in raw.values()) > (p.DS_Q.max_length or 500):
            raise invalid("q", f"Must be at most {p.DS_Q.max_length} characters")
        return {str(k): v for k, v in raw.items()}
    return _text(params, p.DS_Q)


def _names(params: dict[str, Any], param: Param) -> list[str] | None:
    raw = _json_param(params, param.name)
    if raw in (None, ""):
        return None
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise invalid(param.name, "Must be a list of field names")
    return [v.strip() for v in raw if v.strip()]


def _sort(params: dict[str, Any]) -> list[tuple[str, bool]]:
    raw = _json_param(params, "sort")
    if raw in (None, ""):
        return []
    items = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(v, str) for v in items):
        raise invalid("sort", "Must be text: field [asc|desc], …")
    result = []
    for item in ",".join(items).split(","):
        if not item.strip():
            continue
        match = _SORT_ITEM.fullmatch(item)
        if match is None:
            raise invalid("sort", f"Cannot read {item.strip()!r}: field [asc|desc], …")
        name = match.group(1).replace('""', '"') if match.group(1) else match.group(2)
        result.append((name, (match.group(3) or "").lower() == "desc"))
    return result


def _facet_fields(params: dict[str, Any]) -> list[str]:
    raw = params.get(p.FACET_FIELD.name)
    if raw in (None, ""):
        return list(FACETS)
    if isinstance(raw, str):
        raw = _loads(p.FACET_FIELD.name, raw) if raw.strip()[:1] == "[" else [raw]
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise invalid("facet.field", "Must be a JSON list of field names")
    unknown = [f for f in raw if f not in FACETS]
    if unknown:
        raise ActionError(
            "Search Query Error", f"facet.field {unknown} is not one of {list(FACETS)}"
        )
    return raw
