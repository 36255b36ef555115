"""package_search's query syntax (issue 12): the parser's tree for each form CKAN clients send,
its errors, and the real server answering q and fq with `requests` and `ckanapi` — result sets
derived from the built catalog's own package.json and datapackage.json files.
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.api.query import (
    FIELDS,
    MAX_CLAUSES,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TERMS,
    All,
    And,
    Exact,
    Exists,
    Not,
    Or,
    Prefix,
    QueryError,
    Range,
    Text,
    _add,
    _date_math,
    parse,
)
from catalog.api.search import SearchIndex
from catalog.text import fold


# -- the parser ------------------------------------------------------------------------------
@given(st.text(max_size=40))
def test_fold_drops_every_space_and_hyphen(text: str) -> None:
    """`fold` deletes by a table of characters: the same as asking each character."""
    import unicodedata

    from catalog.text import IGNORED

    lowered = unicodedata.normalize("NFKC", text).lower()
    expected = "".join(ch for ch in lowered if not ch.isspace() and ch not in IGNORED)
    assert fold(text) == expected


def test_fold_knows_every_space_of_unicode() -> None:
    from catalog.text import _DELETED

    spaces = {c for c in range(0x110000) if chr(c).isspace()}
    assert spaces <= _DELETED.keys()  # the table itself: NFKC makes most spaces U+0020 first


def t(term: str, field: str = "text", phrase: bool = False) -> Text:
    return Text(field, term, phrase)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("", All()),
        ("   ", All()),
        ('""', All()),
        ("*:*", All()),
        ("*", All()),
        ("人権", t("人権")),
        ("ＷｉＦｉ", t("wifi")),  # folded as the index is
        ("Wi-Fi", t("wifi")),  # a hyphen inside a word is the word's
        ("人権 調査", And((t("人権"), t("調査")))),  # bare words: AND, as CKAN's q.op
        ("人権　調査", And((t("人権"), t("調査")))),  # an ideographic space separates too
        ('"基本 計画"', t("基本計画", phrase=True)),
        ('"a \\" b"', t('a"b', phrase=True)),
        ("人権 AND 調査", And((t("人権"), t("調査")))),
        ("人権 && 調査", And((t("人権"), t("調査")))),
        ("人権 OR 調査", Or((t("人権"), t("調査")))),
        ("人権 || 調査", Or((t("人権"), t("調査")))),
        ("a b OR c", Or((And((t("a"), t("b"))), t("c")))),  # AND binds tighter
        ("a OR b c", Or((t("a"), And((t("b"), t("c")))))),
        ("(a OR b) c", And((Or((t("a"), t("b"))), t("c")))),
        ("a OR (b OR c)", Or((t("a"), t("b"), t("c")))),  # flattened
        ("NOT a", Not(t("a"))),
        ("!a", Not(t("a"))),
        ("-a", Not(t("a"))),
        ("+a", t("a")),
        ("a -b", And((t("a"), Not(t("b"))))),
        ("a NOT b", And((t("a"), Not(t("b"))))),
        ("a AND NOT b", And((t("a"), Not(t("b"))))),
        ("NOT NOT a", t("a")),
        ("and or not", And((t("and"), t("or"), t("not")))),  # lower case: words, as in Lucene
        ("tags:人権", Exact("tags", "人権")),
        ('tags:"公衆無線LAN"', Exact("tags", "公衆無線LAN")),
        ("res_format:CSV", Exact("res_format", "CSV")),  # exact: not folded
        ("license_id:CC-BY-4.0", Exact("license_id", "CC-BY-4.0")),
        ("name:survey-results", Exact("name", "survey-results")),
        ("name:a\\:b", Exact("name", "a:b")),  # a backslash escapes
        ("title:計画", t("計画", "title")),
        ('title:"基本 計画"', t("基本計画", "title", phrase=True)),
        ("notes:転記", t("転記", "notes")),
        ("text:人権", t("人権")),
        ("tags:(人権 OR 防災)", Or((Exact("tags", "人権"), Exact("tags", "防災")))),
        ("tags:(人権 title:計画)", And((Exact("tags", "人権"), t("計画", "title")))),
        ("-tags:人権", Not(Exact("tags", "人権"))),
        ("tags:*", Exists("tags")),
        ("name:plan*", Prefix("name", "plan")),
        ("保育*", t("保育")),  # a substring search finds every word starting with it already
        ('"保育*"', t("保育*", phrase=True)),  # inside quotes * is a character
        (
            "metadata_modified:[2024-01-01T00:00:00Z TO NOW]",
            Range("metadata_modified", "2024-01-01T00:00:00Z", "NOW"),
        ),
        (
            "metadata_modified:{* TO 2024-01-01}",
            Range("metadata_modified", "*", "2024-01-01", False, False),
        ),
        (
            "organization:minatoku groups:human-rights -res_format:PDF",
            And(
                (
                    Exact("organization", "minatoku"),
                    Exact("groups", "human-rights"),
                    Not(Exact("res_format", "PDF")),
                )
            ),
        ),
    ],
)
def test_each_form_parses_to_its_tree(query: str, tree: object) -> None:
    assert parse(query) == tree


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("owner:someone", "unknown field 'owner'"),
        ("a OR", "ends too early"),
        ("AND a", "nothing before 'AND'"),
        ("(a", "unclosed parenthesis"),
        ("a)", ") without ("),
        (":a", "colon without a field name"),
        ('"a', "unterminated quote"),
        ("a*b", "only a trailing * wildcard"),
        ("*a", "only a trailing * wildcard"),
        ("a?c", "only a trailing * wildcard"),
        ("name:*x*", "only a trailing * wildcard"),
        ("a~", "fuzzy"),
        ('"a b"~2', "fuzzy and proximity"),
        ("a^2", "boosts"),
        ("/ab+/", "regular expressions"),
        ("title:[a TO b]", "only metadata_modified takes a range"),
        ("[a TO b]", "a range needs a field"),
        ("metadata_modified:[2024 TO", "unterminated range"),
        ("metadata_modified:[2024-01-01]", "a range is [FROM TO TO]"),
        ("metadata_modified:[yesterday TO NOW]", "not a time"),
        ("metadata_modified:[NOW-1FORTNIGHT TO NOW]", "date math"),
        ("metadata_modified:2024-01-01", "takes a range"),
        ("a\\", "trailing \\ escapes nothing"),
        ("*:a", "only *:* may use the field *"),
        ("tags:", "has no value"),
        ("{!lucene}a", "local parameters"),
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), f"at most {MAX_DEPTH} deep"),
        (" ".join(f"tags:t{i}" for i in range(MAX_CLAUSES + 1)), f"{MAX_CLAUSES} clauses"),
        (" OR ".join(f"w{i}" for i in range(MAX_TERMS + 1)), f"{MAX_TERMS} distinct words"),
        ("a" * (MAX_LENGTH + 1), f"{MAX_LENGTH} characters"),
    ],
)
def test_what_cannot_run_is_a_query_error_that_says_why(query: str, says: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    message = str(info.value)
    japanese, english = message.split(" / ", 1)
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", japanese), message  # Japanese first
    assert says in english, message
    assert ": " not in message  # ckanapi keeps only what follows a ": "


def test_an_unknown_field_error_lists_the_known_ones() -> None:
    with pytest.raises(QueryError) as info:
        parse("title:a owner:b")
    assert all(field in str(info.value) for field in FIELDS)


def test_a_repeated_word_is_counted_once() -> None:
    parse(" ".join(f"w{i % MAX_TERMS}" for i in range(MAX_CLAUSES)))  # 20 clauses, 10 words


@pytest.mark.parametrize(
    "hostile",
    [
        "(" * 10_000 + "a" + ")" * 10_000,
        "(" * 10_000,
        ")" * 10_000,
        "NOT " * 5_000 + "a",
        "-" * 10_000 + "a",
        "tags:(" * 5_000,
        '"' * 10_001,
        "a OR " * 5_000 + "a",
        "\\" * 10_001,
    ],
)
def test_hostile_input_is_a_query_error_even_without_the_length_bound(hostile: str) -> None:
    with pytest.raises(QueryError):
        parse(hostile)
    with contextlib.suppress(QueryError):  # depth, clauses and syntax still hold
        parse(hostile, max_length=len(hostile))


PIECES = [*'()"\\:*?~^/[]{}!+-&|', " ", " AND ", " OR ", "NOT ", "人権", "a", "tags", "title"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_any_string_parses_and_runs_or_is_a_query_error(built_site: Path, query: str) -> None:
    index = SearchIndex.load(built_site)
    with contextlib.suppress(QueryError):
        parse(query)
    with contextlib.suppress(QueryError):
        index.search(q=query[:500], fq=query)


def test_date_math_and_rounding() -> None:
    now = datetime(2024, 3, 31, 15, 45, 12, tzinfo=UTC)
    assert _date_math("-1MONTH", now) == datetime(2024, 2, 29, 15, 45, 12, tzinfo=UTC)
    assert _date_math("-1YEAR/DAY", now) == datetime(2023, 3, 31, tzinfo=UTC)
    assert _date_math("/MONTH", now) == datetime(2024, 3, 1, tzinfo=UTC)
    assert _date_math("+2DAYS-3HOURS", now) == datetime(2024, 4, 2, 12, 45, 12, tzinfo=UTC)
    assert _add(now, -14, "MONTH") == datetime(2023, 1, 31, 15, 45, 12, tzinfo=UTC)
    exclusive = Range("metadata_modified", "2024-01-01", "2024-01-02", False, False)
    inclusive = Range("metadata_modified", "2024-01-01", "2024-01-02")
    assert exclusive.seconds() == (inclusive.seconds()[0] + 1, inclusive.seconds()[1] - 1)


# -- the real server, over HTTP ------------------------------------------------------------
@pytest.fixture(scope="module")
def catalog(built_site: Path) -> dict[str, dict[str, Any]]:
    """name → the package dict, with `_text`: what the index folds as the dataset's text."""
    packages = {}
    for path in sorted((built_site / "datasets").glob("*/package.json")):
        package = json.loads(path.read_text(encoding="utf-8"))
        descriptor = json.loads((path.parent / "datapackage.json").read_text(encoding="utf-8"))
        extras = {e["key"]: e["value"] for e in package.get("extras", [])}
        package["_text"] = fold(
            " ".join(
                [
                    package["title"],
                    package.get("notes") or "",
                    extras.get("title_en", ""),
                    *(tag["name"] for tag in package["tags"]),
                    *(r["name"] for r in package["resources"]),
                    *(
                        f.get("title", "")
                        for r in descriptor["resources"]
                        for f in r.get("schema", {}).get("fields", [])
                    ),
                ]
            )
        )
        packages[package["name"]] = package
    assert len(packages) >= 4
    return packages


def _search(server: str, **params: Any) -> requests.Response:
    return requests.get(f"{server}/api/3/action/package_search", params=params, timeout=10)


def names(server: str, **params: Any) -> set[str]:
    response = _search(server, rows=1000, **params)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    found = {p["name"] for p in result["results"]}
    assert result["count"] == len(found)
    return found


def tags(p: dict[str, Any]) -> set[str]:
    return {tag["name"] for tag in p["tags"]}


def has(p: dict[str, Any], word: str) -> bool:
    return fold(word) in p["_text"]


def test_star_colon_star_and_an_empty_q_are_everything(server: str, catalog: dict) -> None:
    assert names(server, q="*:*") == names(server, q="") == names(server, fq="*:*") == set(catalog)


def test_a_phrase_is_narrower_than_its_words(server: str, catalog: dict) -> None:
    words = {n for n, p in catalog.items() if has(p, "港区") and has(p, "一覧")}
    phrase = {n for n, p in catalog.items() if has(p, "港区一覧")}
    assert words - phrase, "the sample data must tell the two apart"
    assert names(server, q="港区 一覧") == words
    assert names(server, q='"港区 一覧"') == phrase
    assert names(server, q='"基本計画"') == {n for n, p in catalog.items() if has(p, "基本計画")}


def test_field_queries(server: str, catalog: dict) -> None:
    tagged = {n for n, p in catalog.items() if "人権" in tags(p)}
    assert tagged and names(server, q="tags:人権") == tagged
    with_csv = {n for n, p in catalog.items() if any(r["format"] == "CSV" for r in p["resources"])}
    assert with_csv and names(server, q="res_format:CSV") == with_csv
    assert names(server, q="res_format:csv") == {
        n for n, p in catalog.items() if any(r["format"] == "csv" for r in p["resources"])
    }  # a string field, exact as in CKAN's Solr
    in_title = {n for n, p in catalog.items() if fold("計画") in fold(p["title"])}
    assert in_title != set(catalog) and names(server, q="title:計画") == in_title
    in_notes = {n for n, p in catalog.items() if fold("転記") in fold(p["notes"])}
    assert in_notes and names(server, q="notes:転記") == in_notes
    assert names(server, q="name:plan-indicators") == {"plan-indicators"}
    assert names(server, q=f"id:{catalog['survey-results']['id']}") == {"survey-results"}
    assert names(server, q="name:plan*") == {n for n in catalog if n.startswith("plan")}
    assert names(server, q="tags:*") == {n for n, p in catalog.items() if p["tags"]}


def test_not_and_minus_exclude(server: str, catalog: dict) -> None:
    tagged = {n for n, p in catalog.items() if "人権" in tags(p)}
    rest = set(catalog) - tagged
    assert rest and names(server, q="-tags:人権") == rest
    assert names(server, q="NOT tags:人権") == names(server, q="!tags:人権") == rest
    mentions = {n for n, p in catalog.items() if has(p, "基本計画") and not has(p, "人権")}
    assert mentions and names(server, q="基本計画 -人権") == mentions
    assert names(server, q="基本計画 AND NOT 人権") == mentions


def test_or_and_parentheses(server: str, catalog: dict) -> None:
    either = {n for n, p in catalog.items() if has(p, "人権") or has(p, "オープンデータ")}
    assert len(either) >= 2 and names(server, q="人権 OR オープンデータ") == either
    assert names(server, q="人権 || オープンデータ") == either
    both = {n for n in either if has(catalog[n], "調査")}
    assert both != either and names(server, q="(人権 OR オープンデータ) 調査") == both
    assert names(server, q="人権 OR オープンデータ 調査") == {
        n
        for n, p in catalog.items()
        if has(p, "人権") or (has(p, "オープンデータ") and has(p, "調査"))
    }  # AND binds tighter than OR
    group = {n for n, p in catalog.items() if tags(p) & {"人権", "オープンデータ"}}
    assert names(server, q="tags:(人権 OR オープンデータ)") == group


def test_or_inside_fq_filters_results_and_facets(server: str, catalog: dict) -> None:
    kept = {n for n, p in catalog.items() if tags(p) & {"人権", "オープンデータ"}}
    assert len(kept) >= 2
    response = _search(
        server, fq="tags:人権 OR tags:オープンデータ", rows=1000, **{"facet.field": '["groups"]'}
    )
    result = response.json()["result"]
    assert {p["name"] for p in result["results"]} == kept
    counts: dict[str, int] = {}
    for name in kept:
        for group in catalog[name]["groups"]:
            counts[group["name"]] = counts.get(group["name"], 0) + 1
    assert result["facets"]["groups"] == counts
    # fq narrows q's results; a clause of q and one of fq combine with AND
    assert names(server, q="基本計画", fq="tags:人権 OR tags:オープンデータ") == {
        n for n in kept if has(catalog[n], "基本計画")
    }


def test_fq_keeps_its_ranges(server: str, catalog: dict) -> None:
    def modified(p: dict[str, Any]) -> datetime:
        stamp = datetime.fromisoformat(p["metadata_modified"])
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)

    first = min(modified(p) for p in catalog.values())
    stamp = first.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = {n for n, p in catalog.items() if modified(p) <= first}
    assert until and names(server, fq=f"metadata_modified:[* TO {stamp}]") == until
    assert names(server, fq=f"metadata_modified:[* TO {stamp}}}") == set()  # } excludes
    assert names(server, fq=f"metadata_modified:{{{stamp} TO *]") == set(catalog) - until
    assert names(server, fq=f"metadata_modified:[{stamp} TO NOW]") == set(catalog)
    assert names(server, fq="metadata_modified:[NOW-100YEARS/DAY TO NOW+1DAY]") == set(catalog)
    assert names(server, fq="metadata_modified:[NOW/DAY TO *]") == {
        n
        for n, p in catalog.items()
        if modified(p) >= datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    }


def test_ranking_title_hits_first_holds_for_fielded_queries(server: str) -> None:
    result = _search(server, q="成果指標 res_format:CSV").json()["result"]
    assert result["results"][0]["name"] == "plan-indicators"


def test_post_json_and_form_bodies_take_the_same_syntax(server: str, catalog: dict) -> None:
    url = f"{server}/api/3/action/package_search"
    expected = names(server, q="tags:(人権 OR オープンデータ)")
    by_json = requests.post(
        url, json={"q": "tags:(人権 OR オープンデータ)", "rows": 100}, timeout=10
    )
    by_form = requests.post(
        url, data={"q": "tags:(人権 OR オープンデータ)", "rows": 100}, timeout=10
    )
    for response in (by_json, by_form):
        assert {p["name"] for p in response.json()["result"]["results"]} == expected


def test_ckanapi_gets_the_same_answers_and_errors(server: str, catalog: dict) -> None:
    from ckanapi import RemoteCKAN, SearchQueryError

    with RemoteCKAN(server, user_agent="minato-opendata-tests") as ckan:
        result = ckan.action.package_search(q='tags:人権 OR "港区 一覧"', rows=100)
        assert {p["name"] for p in result["results"]} == {
            n for n, p in catalog.items() if "人権" in tags(p) or has(p, "港区一覧")
        }
        result = ckan.action.package_search(fq="-res_format:CSV OR name:opendata-list")
        assert {p["name"] for p in result["results"]} == {
            n
            for n, p in catalog.items()
            if n == "opendata-list" or all(r["format"] != "CSV" for r in p["resources"])
        }
        with pytest.raises(SearchQueryError) as info:
            ckan.action.package_search(q="owner:someone 人権")
        message = str(info.value)
        assert message.startswith("不明なフィールド") and "unknown field 'owner'" in message
        with pytest.raises(SearchQueryError) as info:
            ckan.action.package_search(q="保育~2")
        assert "fuzzy" in str(info.value)


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"q": "owner:x"}, "unknown field"),
        ({"fq": "title:[a TO b]"}, "only metadata_modified takes a range"),
        ({"q": "a^3"}, "boosts"),
        ({"q": "(" * 200 + "a" + ")" * 200}, "deep"),
        ({"fq": "(" * 10_000 + "a" + ")" * 10_000}, "characters"),
        ({"fq": "-" * 10_000 + "a"}, "characters"),
        ({"fq": " OR ".join(f"tags:t{i}" for i in range(30))}, "clauses"),
    ],
)
def test_bad_queries_are_400_search_query_errors_and_the_server_keeps_answering(
    server: str, params: dict[str, str], says: str
) -> None:
    response = requests.post(f"{server}/api/3/action/package_search", json=params, timeout=10)
    body = response.json()
    assert response.status_code == 400 and body["success"] is False, body
    assert body["error"]["__type"] == "Search Query Error"
    assert says in body["error"]["message"]
    assert names(server, q="人権") == names(server, q="tags:人権 OR 人権")


def test_a_q_longer_than_its_bound_is_still_the_validation_error_it_was(server: str) -> None:
    response = requests.post(
        f"{server}/api/3/action/package_search", json={"q": "(" * 10_000}, timeout=10
    )
    assert response.status_code == 409 and response.json()["error"]["q"]


def test_an_index_built_before_the_description_column_answers_the_rest(built_site: Path) -> None:
    from catalog.api.index import read_index

    table, grams = read_index(built_site)
    old = SearchIndex(table.drop_columns(["notes_key"]), grams)
    assert (
        old.search(q="tags:人権 title:*", rows=100).names
        == SearchIndex.load(built_site).search(q="tags:人権 title:*", rows=100).names
    )
    for query in ("notes:転記", "notes:*"):
        with pytest.raises(QueryError, match="rebuild"):
            old.search(q=query)
