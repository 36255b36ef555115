"""The parameters every action takes — types, defaults and bounds — stated once.

The actions read their parameters through this table (actions.py), the OpenAPI description
is generated from it (openapi.py), and a JSON body is type-checked against it (server.py), so
what the API documents is what it enforces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

JsonType = Literal["string", "integer", "boolean"]

# package_search facets, in CKAN's default order; the static catalog.json counts the same.
FACETS = ("tags", "organization", "groups", "res_format", "license_id")
DEFAULT_SORT = "score desc, metadata_modified desc"
MAX_ROWS = 1000  # CKAN's search.rows_max: more is a 409, never a silent cut
MAX_LIMIT = 100_000  # names per package_list


@dataclass(frozen=True)
class Param:
    name: str
    type: JsonType
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    description: str | None = None

    def schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema, as OpenAPI 3.0 states it."""
        schema: dict[str, Any] = {"type": self.type}
        if self.description is not None:
            schema["description"] = self.description
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema


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
}
