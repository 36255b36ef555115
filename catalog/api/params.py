"""The parameters every action takes — types, defaults and bounds — stated once.

The actions read their parameters through this table (actions.py), the OpenAPI description
is generated from it (openapi.py), and a JSON body is type-checked against it (server.py), so
what the API documents is what it enforces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

JsonType = Literal["string", "integer", "boolean", "object", "array"]

# package_search facets, in CKAN's default order; the static catalog.json counts the same.
FACETS = ("tags", "organization", "groups", "res_format", "license_id")
DEFAULT_SORT = "score desc, metadata_modified desc"
MAX_ROWS = 1000  # CKAN's search.rows_max: more is a 409, never a silent cut
MAX_LIMIT = 100_000  # names per package_list


def is_text(value: Any) -> bool:
    """Whether every string in a JSON value, keys included, is text: JSON may escape lone
    surrogates (\\ud800), which no encoding can write — not a URL, not the answer. A walk
    with a stack of its own: JSON nests deeper than Python recurses."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not (item.isascii() or _encodable(item)):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Param:
    name: str
    type: JsonType
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    description: str | None = None
    enum: tuple[str, ...] | None = None
    # What a JSON body may also send (a query string says each as text: JSON for an object).
    body_types: tuple[JsonType, ...] = ()

    def schema(self, body: bool = False) -> dict[str, Any]:
        """The parameter's JSON Schema, as OpenAPI 3.0 states it (in a JSON body, or not)."""
        if body and self.body_types:
            types = (self.type, *self.body_types)
            return {
                "anyOf": [_any(t) for t in types],
                **({"description": self.description} if self.description else {}),
            }
        schema: dict[str, Any] = {"type": self.type}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.description is not None:
            schema["description"] = self.description
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema


def _any(json_type: JsonType) -> dict[str, Any]:
    if json_type == "array":
        return {"type": "array", "items": {}}
    return {"type": json_type}


def _text(name: str, max_length: int | None = None, description: str | None = None) -> Param:
    return Param(name, "string", "", max_length=max_length, description=description)


# What q and fq accept (catalog/api/query.py parses both, catalog/api/search.py runs them).
QUERY_SYNTAX = (
    "Solr standard query syntax as CKAN clients send it: words (Japanese substring search of "
    'the NFKC-folded text), "quoted phrases", field:value and field:"value", field:(a OR b), '
    "AND / OR / NOT (upper case), && || !, a leading - (exclude) or + (required), parentheses, "
    "*:* (everything), field:* (has a value), a trailing * (prefix of an exact field's value), "
    "metadata_modified:[FROM TO TO] with ISO 8601 times, * and NOW date math (NOW-1YEAR, "
    "NOW/DAY). Bare clauses combine with AND; AND binds tighter than OR. Fields: text (default), "
    "title, notes (substring); name, id, tags, groups, organization, res_format, license_id "
    "(the exact value); metadata_modified (range). At most 1000 characters, 20 clauses, "
    "10 distinct words and parentheses 10 deep. Unknown fields, other wildcards, fuzzy (~), "
    "boosts (^), regular expressions and ranges on other fields are a 400 Search Query Error."
)


ID = _text("id")
NAME_OR_ID = _text("name_or_id")  # what older clients send to package_show
NAME = _text("name")
QUERY = _text("query")
Q = _text("q", max_length=500, description="The search (500 characters at most). " + QUERY_SYNTAX)
FQ = _text(
    "fq", description="A filter: the syntax of q; it narrows results and facets, not the score."
)
SORT = Param("sort", "string", DEFAULT_SORT)
FACET_FIELD = _text("facet.field")  # a JSON list of FACETS
ROWS = Param("rows", "integer", 10, 0, MAX_ROWS)
START = Param("start", "integer", 0, 0, 1_000_000)
FACET_LIMIT = Param("facet.limit", "integer", 50, -1, 1000)
FACET_MINCOUNT = Param("facet.mincount", "integer", 1, 0, 100_000)
LIMIT = Param("limit", "integer", -1, -1, MAX_LIMIT)  # -1: no limit
OFFSET = Param("offset", "integer", 0, 0, 1_000_000)
# Whole package dicts: a page of them, never the catalog at once (CKAN's rows_max).
PAGE_LIMIT = Param("limit", "integer", 100, 0, MAX_ROWS)
ALL_FIELDS = Param("all_fields", "boolean", False)
INCLUDE_DATASETS = Param("include_datasets", "boolean", False)

# The DataStore (catalog/api/datastore.py): CKAN's datastore_search parameters.
DS_ROWS_MAX = 32_000  # CKAN's ckan.datastore.search.rows_max: more is a 409, never a cut
RECORDS_FORMATS = ("objects", "lists", "csv", "tsv", "geojson")
RESOURCE_ID = _text("resource_id", description="The CKAN id of a CSV or Parquet resource.")
DS_ID = _text("id", description="The CKAN id of a CSV or Parquet resource.")
FILTERS = Param(
    "filters",
    "string",
    "",
    description='A JSON object: {"field": value} or {"field": [value, …]} (any of them).',
    body_types=("object",),
)
DS_Q = Param(
    "q",
    "string",
    "",
    max_length=500,
    description="Words all found in the row's text fields (Japanese substrings, NFKC-folded "
    'as package_search), or a JSON object {"field": "words"}.',
    body_types=("object",),
)
DISTINCT = Param("distinct", "boolean", False)
PLAIN = Param("plain", "boolean", True, description="Accepted; q is always plain words here.")
LANGUAGE = _text("language", description="Accepted; the folding is the same for every language.")
DS_FIELDS = Param(
    "fields",
    "string",
    "",
    description="Fields to return, comma-separated (or a JSON list).",
    body_types=("array",),
)
DS_SORT = Param(
    "sort",
    "string",
    "",
    description='"field [asc|desc], other …" (or a JSON list of such).',
    body_types=("array",),
)
DS_LIMIT = Param("limit", "integer", 100, 0, DS_ROWS_MAX)
DS_OFFSET = Param("offset", "integer", 0, 0, 2**31 - 1)
INCLUDE_TOTAL = Param("include_total", "boolean", True)
TOTAL_ESTIMATION_THRESHOLD = Param(
    "total_estimation_threshold",
    "integer",
    None,
    0,
    2**31 - 1,
    description="Accepted; the total is always counted exactly (total_was_estimated false).",
)
RECORDS_FORMAT = Param(
    "records_format",
    "string",
    "objects",
    enum=RECORDS_FORMATS,
    description="objects, lists, csv or tsv as CKAN; geojson (our extension, for resources "
    "with a location): records is a GeoJSON FeatureCollection of the rows.",
)
SQL = _text(
    "sql",
    max_length=10_000,
    description="One read-only SELECT; each resource is the table named by its id "
    '(SELECT * FROM "<resource id>").',
)

# action → the parameters it takes (the same for GET's query and POST's JSON body).
ACTIONS: dict[str, tuple[Param, ...]] = {
    "package_list": (LIMIT, OFFSET),
    "package_show": (ID, NAME_OR_ID),
    "package_search": (Q, FQ, ROWS, START, SORT, FACET_FIELD, FACET_LIMIT, FACET_MINCOUNT),
    "current_package_list_with_resources": (PAGE_LIMIT, OFFSET),
    "organization_list": (ALL_FIELDS,),
    "organization_show": (ID, INCLUDE_DATASETS),
    "group_list": (ALL_FIELDS,),
    "group_show": (ID, INCLUDE_DATASETS),
    "tag_list": (QUERY,),
    "resource_show": (ID,),
    "license_list": (),
    "status_show": (),
    "help_show": (NAME,),
    "datastore_search": (
        RESOURCE_ID,
        DS_ID,
        FILTERS,
        DS_Q,
        DISTINCT,
        PLAIN,
        LANGUAGE,
        DS_FIELDS,
        DS_SORT,
        DS_LIMIT,
        DS_OFFSET,
        INCLUDE_TOTAL,
        TOTAL_ESTIMATION_THRESHOLD,
        RECORDS_FORMAT,
    ),
    "datastore_info": (DS_ID, RESOURCE_ID),
    "datastore_search_sql": (SQL,),
}
