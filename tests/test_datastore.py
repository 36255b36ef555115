"""datastore_search and datastore_info (CKAN's DataStore API, read side) with the real ckanapi
client and plain HTTP, over the real server (conftest); geojson over a site with points."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import (
    PUBLISHABLE,
    WIFI_ROWS,
    call_action,
    errors_of,
    report,
    serving,
    wifi_case,
    write_dataset,
)


def _ids(site: Path, name: str) -> dict[str, str]:
    package = json.loads((site / f"datasets/{name}/package.json").read_text(encoding="utf-8"))
    return {r["format"]: r["id"] for r in package["resources"]}


@pytest.fixture(scope="module")
def ckan(server: str):
    from ckanapi import RemoteCKAN

    with RemoteCKAN(server, user_agent="minato-opendata-tests") as client:
        yield client


@pytest.fixture(scope="module")
def ids(built_site: Path) -> dict[str, str]:
    return _ids(built_site, "facility-counts")


def test_ckanapi_datastore_search_answers_as_ckan(ckan, ids: dict[str, str], server: str) -> None:
    result = ckan.action.datastore_search(resource_id=ids["CSV"], limit=2)
    assert result["resource_id"] == ids["CSV"] and result["total"] == 5
    assert [f["id"] for f in result["fields"]][:3] == ["_id", "facility", "unit"]
    fiscal_year = next(f for f in result["fields"] if f["id"] == "fiscal_year")
    assert fiscal_year["type"] == "int8" and fiscal_year["info"]["label"] == "年度"
    assert [r["_id"] for r in result["records"]] == [1, 2]
    assert isinstance(result["records"][0]["estimated"], bool)
    assert result["limit"] == 2 and "offset=2" in result["_links"]["next"]
    # the next page by the link CKAN clients follow
    with urllib.request.urlopen(server + result["_links"]["next"]) as response:
        following = json.loads(response.read())["result"]
    assert [r["_id"] for r in following["records"]] == [3, 4]
    # the Parquet twin's id reads the same rows
    twin = ckan.action.datastore_search(resource_id=ids["Parquet"], limit=2)
    assert twin["records"] == result["records"]


def test_filters_sort_fields_distinct(ckan, ids: dict[str, str]) -> None:
    result = ckan.action.datastore_search(
        resource_id=ids["CSV"],
        filters={"kind": "actual", "fiscal_year": [2020, "2023"]},
        sort="count desc, facility",
        fields=["facility", "count"],
    )
    counts = [r["count"] for r in result["records"]]
    assert counts == sorted(counts, reverse=True) and result["total"] == len(counts) > 0
    assert set(result["records"][0]) == {"facility", "count"}
    distinct = ckan.action.datastore_search(resource_id=ids["CSV"], fields="unit", distinct=True)
    units = [r["unit"] for r in distinct["records"]]
    assert len(units) == len(set(units)) and distinct["total"] == len(units)
    estimated = ckan.action.datastore_search(resource_id=ids["CSV"], filters={"estimated": True})
    assert estimated["total"] >= 1 and all(r["estimated"] for r in estimated["records"])


@pytest.mark.parametrize("q", ["Wi-Fi", "ＷｉＦｉ", "wifi 設置数", {"facility": "ｗｉｆｉ"}])
def test_q_finds_japanese_substrings_nfkc_folded(ckan, ids: dict[str, str], q) -> None:
    result = ckan.action.datastore_search(resource_id=ids["CSV"], q=q)
    assert result["total"] >= 1
    assert all("Wi-Fi" in r["facility"] for r in result["records"])
    none = ckan.action.datastore_search(resource_id=ids["CSV"], q="存在しない語")
    assert none["total"] == 0 and none["records"] == []


def test_records_formats(ids: dict[str, str], server: str) -> None:
    for fmt, check in (
        ("lists", lambda r: isinstance(r, list) and r[0][0] == 1),
        ("csv", lambda r: isinstance(r, str) and r.startswith("1,")),
        ("tsv", lambda r: isinstance(r, str) and r.startswith("1\t")),
    ):
        status, data = call_action(
            server, "datastore_search", resource_id=ids["CSV"], records_format=fmt
        )
        assert status == 200 and check(data["result"]["records"]), data
    status, data = call_action(
        server, "datastore_search", resource_id=ids["CSV"], records_format="geojson"
    )
    assert status == 409 and "records_format" in data["error"]  # no location in this resource


def test_plain_http_get_and_errors(server: str, ids: dict[str, str]) -> None:
    query = urllib.parse.urlencode(
        {"resource_id": ids["CSV"], "filters": '{"kind":"actual"}', "limit": 1, "offset": 1}
    )
    with urllib.request.urlopen(f"{server}/api/3/action/datastore_search?{query}") as response:
        result = json.loads(response.read())["result"]
    assert result["offset"] == 1 and len(result["records"]) == 1 and "prev" in result["_links"]
    cases = [
        ({"resource_id": ids["CSV"], "limit": 32001}, 409, "limit"),  # never a silent cut
        ({"resource_id": ids["CSV"], "filters": {"nope": 1}}, 409, "filters"),
        ({"resource_id": ids["CSV"], "fields": ['facility" FROM x; --']}, 409, "fields"),
        ({"resource_id": ids["CSV"], "sort": "facility; DROP TABLE x"}, 409, "sort"),
        ({"resource_id": ids["CSV"], "filters": "{not json"}, 409, "filters"),
        ({"resource_id": ids["CSV"], "records_format": "xml"}, 409, "records_format"),
        ({"resource_id": ids["JSON"]}, 404, "message"),  # the descriptor is not a table
        ({"resource_id": "no-such-id"}, 404, "message"),
        ({}, 409, "resource_id"),
    ]
    for params, status, key in cases:
        got, data = call_action(server, "datastore_search", **params)
        assert got == status and key in data["error"], (params, data)
    # filters on a value of another type are no match, not an error
    got, data = call_action(
        server, "datastore_search", resource_id=ids["CSV"], filters={"fiscal_year": "令和"}
    )
    assert got == 200 and data["result"]["total"] == 0


def test_datastore_info_and_active(ckan, ids: dict[str, str]) -> None:
    info = ckan.action.datastore_info(id=ids["Parquet"])
    assert info["meta"]["count"] == 5
    assert info["fields"][0]["id"] == "facility"
    assert info["schema"]["count"] == "int8"
    for resource in (
        ckan.action.resource_show(id=ids["CSV"]),
        ckan.action.package_search(q="Wi-Fi")["results"][0]["resources"][0],
    ):
        assert resource["datastore_active"] is True


# -- geojson: a resource with a location ----------------------------------------------------
@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("places")
    case = wifi_case([*WIFI_ROWS, "131032,3,東京都,港区,点のない所,テンノナイトコロ,港区,,,,,A-3"])
    write_dataset(root, case["definition"], case["files"])
    code, result = report(
        "build", "--datasets", str(root / "datasets"), "--out", str(root / "dist")
    )
    assert code == 0, errors_of(result)
    with serving(root / "dist") as base:
        yield root / "dist", base


def test_geojson_is_a_feature_collection_of_the_matching_rows(places) -> None:
    site, base = places
    ids = _ids(site, "wifi-spots")
    status, data = call_action(
        base, "datastore_search", resource_id=ids["CSV"], records_format="geojson", sort="_id"
    )
    assert status == 200, data
    collection = data["result"]["records"]
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 3
    first = collection["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [139.7515, 35.658]}
    assert "港区役所" in first["properties"].values()
    assert collection["features"][2]["geometry"] is None  # a row without a point
    status, data = call_action(
        base,
        "datastore_search",
        resource_id=ids["Parquet"],
        records_format="geojson",
        q="赤坂",
    )
    assert status == 200 and len(data["result"]["records"]["features"]) == 1


def test_the_data_and_the_query_fold_alike() -> None:
    """The DataStore folds columns with Arrow's kernels; the catalog's search with Python's
    unicodedata: both must turn the ward's text into the same search text."""
    import pyarrow as pa

    from catalog.text import fold, fold_column

    texts = [
        "港区立 芝公園", "ＷｉＦｉ　スポット", "Wi-Fi・スポット", "ﾐﾅﾄｸ", "令和６年４月",
        "赤坂\u3000地区", "No.１２３－４", "Café ÉCOLE", "\t改行\nあり", "",
    ]  # fmt: skip
    assert fold_column(pa.array(texts)).to_pylist() == [fold(t) for t in texts]


def test_pages_without_a_sort_follow_id_across_row_groups(tmp_path: Path) -> None:
    """No sort: rows in file order, which is `_id` order, whatever row group (and thread) they
    come from — the same pages as sorting by `_id`, without sorting a million rows."""
    rows = 300_000  # three Parquet row groups of 128 Ki rows
    lines = "".join(f"{i},{'公園' if i % 3 else '学校'}\n" for i in range(1, rows + 1))
    definition = PUBLISHABLE | {
        "name": "many-rows",
        "resources": [
            {
                "name": "many-rows",
                "path": "rows.csv",
                "schema": {
                    "fields": [
                        {"name": "n", "title": "番号", "type": "integer"},
                        {"name": "kind", "title": "種類", "type": "string"},
                    ]
                },
            }
        ],
    }
    write_dataset(tmp_path, definition, {"rows.csv": "番号,種類\n" + lines})
    out = tmp_path / "dist"
    code, result = report("build", "--datasets", str(tmp_path / "datasets"), "--out", str(out))
    assert code == 0, errors_of(result)
    resource = _ids(out, "many-rows")["CSV"]
    with serving(out) as base:
        for offset in (0, 100_000, 199_900):
            plain = call_action(base, "datastore_search", resource_id=resource, offset=offset,
                          filters={"kind": "公園"}, limit=100)  # fmt: skip
            sorted_ = call_action(base, "datastore_search", resource_id=resource, offset=offset,
                            filters={"kind": "公園"}, limit=100, sort="_id")  # fmt: skip
            ids = [r["_id"] for r in plain[1]["result"]["records"]]
            assert ids == [r["_id"] for r in sorted_[1]["result"]["records"]] and len(ids) == 100
            assert ids == sorted(ids)


def test_a_dataset_without_its_descriptor_has_no_datastore_and_no_error(
    built_site, tmp_path
) -> None:
    """A folder with package.json but no datapackage.json (not made by a build: a copy cut
    short, a synthetic catalog) serves its package with `datastore_active: false`."""
    import shutil

    from catalog.api.datastore import tables_of

    folder = tmp_path / "datasets/facility-counts"
    shutil.copytree(built_site / "datasets/facility-counts", folder)
    package = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    assert tables_of(tmp_path, "facility-counts", package)
    (folder / "datapackage.json").unlink()
    assert tables_of(tmp_path, "facility-counts", package) == {}
    (folder / "datapackage.json").write_text("{not json", encoding="utf-8")
    assert tables_of(tmp_path, "facility-counts", package) == {}


def test_a_lone_surrogate_anywhere_is_refused_not_a_500(server: str, ids: dict[str, str]) -> None:
    """JSON text in the query string, and keys of a JSON body, may escape a lone surrogate
    (\\ud800): it crashed the links, the search's folding and the error's own echo."""
    for name, text in (("filters", '{"facility":"\\ud800"}'), ("q", '{"facility":"\\ud800"}'),
                       ("fields", '["\\ud800"]'), ("sort", '["\\ud800"]'),
                       ("filters", '{"\\ud800":1}')):  # fmt: skip
        query = urllib.parse.urlencode({"resource_id": ids["CSV"], name: text})
        try:
            urllib.request.urlopen(f"{server}/api/3/action/datastore_search?{query}", timeout=10)
            raise AssertionError(f"{name}={text} was answered")
        except urllib.error.HTTPError as error:
            assert error.code == 409 and json.loads(error.read())["error"][name], (name, text)
    for body in ({"filters": {"\ud800": 1}}, {"q": {"\ud800": "x"}}):
        got, data = call_action(server, "datastore_search", resource_id=ids["CSV"], **body)
        assert got == 400 and data["success"] is False, body


def test_json_nested_deeper_than_python_recurses_is_no_500(
    server: str, ids: dict[str, str]
) -> None:
    deep = "[" * 400 + "]" * 400
    query = urllib.parse.urlencode({"resource_id": ids["CSV"], "filters": f'{{"a": {deep}}}'})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server}/api/3/action/datastore_search?{query}", timeout=10)
    assert refused.value.code == 409  # an unknown field, as without the nesting
    got, _data = call_action(server, "package_search", zz=json.loads("[" * 900 + "]" * 900))
    assert got in (200, 400, 409)
