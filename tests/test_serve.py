"""`opendata serve` with real clients: ckanapi, pyarrow over fsspec HTTP, plain HTTP checks.

The server is the real command (uvicorn) started on loopback once for the session (conftest).
"""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, launch_server


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_command_starts_and_answers(built_site: Path) -> None:
    process, base, elapsed = launch_server(built_site)
    try:
        status, _, body = _get(f"{base}/api/3/action/status_show")
        assert status == 200 and json.loads(body)["result"]["locale_default"] == "ja"
    finally:
        process.terminate()
        process.wait(timeout=10)
    print(f"first answer after {elapsed:.2f} s (process start included; timed by bench_serve.py)")


# -- the real ckanapi client -------------------------------------------------------------------
@pytest.fixture(scope="module")
def ckan(server: str):
    from ckanapi import RemoteCKAN

    with RemoteCKAN(server, user_agent="minato-opendata-tests") as client:
        yield client


def test_ckanapi_lists_and_shows_datasets(ckan, built_site: Path) -> None:
    names = ckan.action.package_list()
    assert names == ["facility-counts", "opendata-list", "plan-indicators", "survey-results"]
    package = ckan.action.package_show(id="plan-indicators")
    on_disk = json.loads(
        (built_site / "datasets/plan-indicators/package.json").read_text(encoding="utf-8")
    )
    # The API adds what CKAN's DataStore adds: datastore_active on the tables' CSV and Parquet.
    active = [r.pop("datastore_active") for r in package["resources"]]
    assert package == on_disk and "datastore_active" not in str(on_disk)
    formats = [r["format"] for r in package["resources"]]
    assert active == [f in ("CSV", "Parquet") for f in formats] and any(active)
    assert ckan.action.package_show(id=package["id"])["name"] == "plan-indicators"  # by id too


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Wi-Fi", "facility-counts"),
        ("ＷｉＦｉ", "facility-counts"),
        ("人権", "survey-results"),
        ("オープンデータ", "opendata-list"),
        ("成果指標", "plan-indicators"),
    ],
)
def test_ckanapi_searches_japanese(ckan, q: str, expected: str) -> None:
    result = ckan.action.package_search(q=q)
    assert expected in [p["name"] for p in result["results"]]
    assert result["count"] == len(result["results"])


def test_title_hits_rank_above_description_hits(ckan) -> None:
    names = [p["name"] for p in ckan.action.package_search(q="成果指標")["results"]]
    assert names[0] == "plan-indicators"  # in its title; others only mention it


def test_ckanapi_facets_and_filters(ckan) -> None:
    result = ckan.action.package_search(
        fq="tags:公衆無線LAN", **{"facet.field": '["res_format","groups"]'}
    )
    assert [p["name"] for p in result["results"]] == ["facility-counts"]
    formats = {i["name"]: i["count"] for i in result["search_facets"]["res_format"]["items"]}
    assert formats == {"CSV": 1, "JSON": 1, "Parquet": 1}
    groups = {i["name"]: i["display_name"] for i in result["search_facets"]["groups"]["items"]}
    assert groups == {"ict": "情報通信", "administration": "行政・財政"}
    combined = ckan.action.package_search(
        fq="organization:minatoku groups:human-rights metadata_modified:[2024-01-01T00:00:00Z TO NOW]"
    )
    assert [p["name"] for p in combined["results"]] == ["survey-results"]


def test_ckanapi_sorting_and_paging(ckan) -> None:
    by_name = ckan.action.package_search(sort="name desc", rows=2, start=1)
    assert by_name["count"] == 4 and [p["name"] for p in by_name["results"]] == [
        "plan-indicators",
        "opendata-list",
    ]


def test_ckanapi_organization_and_groups(ckan) -> None:
    assert ckan.action.organization_list() == ["minatoku"]
    organization = ckan.action.organization_show(id="minatoku")
    assert organization["title"] == "港区" and organization["package_count"] == 4
    assert "administration" in ckan.action.group_list()
    assert ckan.action.group_show(id="human-rights")["package_count"] == 1
    assert "公衆無線LAN" in ckan.action.tag_list()
    assert {lic["id"] for lic in ckan.action.license_list()} >= {"CC-BY-4.0"}
    assert ckan.action.status_show()["site_title"] == "港区オープンデータカタログサイト"


def test_ckanapi_resource_show(ckan) -> None:
    resource = ckan.action.package_show(id="facility-counts")["resources"][1]
    assert ckan.action.resource_show(id=resource["id"]) == resource


def test_ckanapi_raises_not_found_and_validation_error_as_against_ckan(ckan) -> None:
    from ckanapi import NotAuthorized, NotFound, SearchQueryError, ValidationError

    with pytest.raises(NotFound):
        ckan.action.package_show(id="no-such-dataset")
    with pytest.raises(ValidationError) as info:
        ckan.action.package_show()
    assert info.value.error_dict["name_or_id"] == ["Missing value"]
    with pytest.raises(ValidationError):
        ckan.action.package_search(rows=1001)  # said, never silently truncated
    with pytest.raises(SearchQueryError):
        ckan.action.package_search(fq="owner:someone")
    with pytest.raises(NotAuthorized):
        ckan.action.package_create(name="x")


# -- plain HTTP -------------------------------------------------------------------------------
def test_ckan_envelope_statuses_and_both_route_prefixes(server: str) -> None:
    status, _, body = _get(f"{server}/api/action/package_show?id=survey-results")
    data = json.loads(body)
    assert (
        status == 200
        and data["success"] is True
        and data["help"].endswith("help_show?name=package_show")
    )
    status, _, body = _get(f"{server}/api/3/action/no_such_action")
    assert status == 400 and json.loads(body)["success"] is False
    status, _, body = _get(f"{server}/api/3/action/package_show?id=nothing")
    assert status == 404 and json.loads(body)["error"]["__type"] == "Not Found Error"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"rows": "many"}',
        b'{"q": {"a": 1}}',
        b'{"rows": -1}',
        b"\xff\xfe",
    ],
)
def test_malformed_requests_get_ckan_errors_not_500(server: str, body: bytes) -> None:
    status, data = _post(f"{server}/api/3/action/package_search", body)
    assert status in (400, 409) and data["success"] is False and "__type" in data["error"]


def test_queries_are_bounded(server: str) -> None:
    assert _get(f"{server}/api/3/action/package_search?q={'a' * 600}")[0] == 409
    many = "%20".join(["tags:x"] * 30)
    assert _get(f"{server}/api/3/action/package_search?fq={many}")[0] == 400
    assert _get(f"{server}/api/3/action/package_search?start=99999999")[0] == 409


def test_json_is_gzipped_and_cors_is_open(server: str) -> None:
    status, headers, body = _get(
        f"{server}/api/3/action/package_search", {"Accept-Encoding": "gzip"}
    )
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["result"]["count"] == 4
    assert headers["access-control-allow-origin"] == "*"
    _, file_headers, _ = _get(f"{server}/datasets/survey-results/survey-results.csv")
    assert file_headers["access-control-allow-origin"] == "*"


def test_files_have_types_etags_and_answer_conditional_and_range_requests(
    server: str, built_site: Path
) -> None:
    url = f"{server}/datasets/plan-indicators/indicators.parquet"
    data = (built_site / "datasets/plan-indicators/indicators.parquet").read_bytes()
    status, headers, body = _get(url)
    assert status == 200 and body == data
    assert headers["content-type"] == "application/vnd.apache.parquet"
    assert int(headers["content-length"]) == len(data) and headers["last-modified"]
    assert _get(url, {"If-None-Match": headers["etag"]})[0] == 304
    status, headers, body = _get(url, {"Range": "bytes=4-11"})
    assert (
        status == 206
        and body == data[4:12]
        and headers["content-range"] == f"bytes 4-11/{len(data)}"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/datasets/../pyproject.toml",
        "/datasets/%2e%2e/%2e%2e/pyproject.toml",
        "/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/datasets/..%2f..%2fREADME.md",
        "/datasets/plan-indicators/outside",
    ],
)
def test_file_serving_cannot_leave_the_site(server: str, built_site: Path, path: str) -> None:
    link = built_site / "datasets/plan-indicators/outside"
    if not link.exists():
        link.symlink_to(ROOT / "README.md")
    assert _get(server + path)[0] == 404


def test_dcat_routes(server: str) -> None:
    from rdflib import Graph

    status, headers, body = _get(f"{server}/dataset/plan-indicators.ttl")
    assert status == 200 and headers["content-type"].startswith("text/turtle")
    assert len(Graph().parse(data=body.decode(), format="turtle")) > 50
    status, headers, body = _get(f"{server}/dataset/plan-indicators.jsonld")
    assert status == 200 and headers["content-type"] == "application/ld+json"
    assert _get(f"{server}/dataset/nothing.ttl")[0] == 404
    assert _get(f"{server}/catalog.ttl")[0] == 200 and _get(f"{server}/catalog.jsonld")[0] == 200


def test_the_static_site_is_served_at_the_root(server: str) -> None:
    status, _, body = _get(f"{server}/")
    assert status == 200 and "港区オープンデータカタログサイト" in body.decode()


def test_pyarrow_reads_one_column_of_remote_parquet_by_ranges(
    server: str, built_site: Path
) -> None:
    """fsspec's HTTP file (no cache) fetches exactly what pyarrow reads, by Range requests."""
    import io

    import fsspec
    import pyarrow.parquet as pq

    class Counting(io.RawIOBase):
        def __init__(self, handle):
            self.handle, self.transferred = handle, 0

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return True

        def seek(self, offset: int, whence: int = 0) -> int:
            return self.handle.seek(offset, whence)

        def tell(self) -> int:
            return self.handle.tell()

        def read(self, size: int = -1) -> bytes:
            data = self.handle.read(size)
            self.transferred += len(data)
            return data

        def readinto(self, buffer) -> int:
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)

    import numpy as np
    import pyarrow as pa

    # Our datasets are a few KB, read whole by pyarrow's coalescing; a 200,000-row file is not.
    path = built_site / "range-test.parquet"
    rows = 200_000
    pq.write_table(
        pa.table(
            {
                "id": np.arange(rows),
                "value": np.random.default_rng(1).random(rows),
                "label": ["港区"] * rows,
            }
        ),
        path,
    )
    size = path.stat().st_size
    try:
        fs = fsspec.filesystem("http", cache_type="none")
        with fs.open(f"{server}/range-test.parquet", "rb", cache_type="none") as handle:
            counting = Counting(handle)
            table = pq.read_table(counting, columns=["id"])
    finally:
        path.unlink()
    assert table.column("id").to_pylist()[-1] == rows - 1
    assert 0 < counting.transferred < size / 2, (counting.transferred, size)


def test_nothing_reachable_changes_the_site(server: str, built_site: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in built_site.rglob("*") if p.is_file()}
    for method in ("PUT", "DELETE", "PATCH"):
        request = urllib.request.Request(
            f"{server}/datasets/survey-results/survey-results.csv", method=method, data=b"x"
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code == 405
    _post(f"{server}/api/3/action/package_delete", b'{"id": "survey-results"}')
    after = {p: p.stat().st_mtime_ns for p in built_site.rglob("*") if p.is_file()}
    assert {k: v for k, v in after.items() if k.name != "outside"} == {
        k: v for k, v in before.items() if k.name != "outside"
    }


def test_openapi_describes_every_action(server: str) -> None:
    from catalog.api.actions import Actions

    spec = json.loads(_get(f"{server}/openapi.json")[2])
    described = {p.rsplit("/", 1)[1] for p in spec["paths"] if p.startswith("/api/3/action/")}
    implemented = {n.removeprefix("action_") for n in dir(Actions) if n.startswith("action_")}
    assert described == implemented


def test_a_lone_surrogate_in_a_json_body_is_a_400_not_a_500(server: str) -> None:
    for action, body in (
        ("package_search", b'{"q": "a\\ud800b"}'),
        ("package_show", b'{"id": "\\ud800"}'),
    ):
        status, data = _post(f"{server}/api/3/action/{action}", body)
        assert status == 400 and data["success"] is False


def test_facet_fields_nested_too_deep_are_invalid_not_a_500(server: str) -> None:
    status, _headers, body = _get(f"{server}/api/3/action/package_search?facet.field={'[' * 4000}")
    assert status == 409 and "facet.field" in json.loads(body)["error"]


def test_facet_mincount_zero_lists_values_no_result_has(ckan) -> None:
    result = ckan.action.package_search(
        fq="tags:公衆無線LAN", **{"facet.field": '["res_format"]', "facet.mincount": 0}
    )
    formats = {i["name"]: i["count"] for i in result["search_facets"]["res_format"]["items"]}
    assert formats["CSV"] == 1
    result = ckan.action.package_search(
        fq="name:survey-results", **{"facet.field": '["groups"]', "facet.mincount": 0}
    )
    groups = {i["name"]: i["count"] for i in result["search_facets"]["groups"]["items"]}
    assert groups["human-rights"] == 1 and groups["ict"] == 0


@pytest.mark.parametrize(
    ("header", "gzip"),
    [("gzip, deflate, br", True), ("gzip;q=0, identity", False), ("GZIP; q=0.0", False),
     ("br;q=1, gzip;q=0.5", True), ("*", True), ("*;q=0", False), ("identity", False),
     ("gzip;q=nonsense", False), ("", False), ("gzip;level=1;q=0", False),
     ("gzip;q=0.5;level=1", True)],
)  # fmt: skip
def test_gzip_is_sent_only_to_a_client_that_takes_it(header: str, gzip: bool) -> None:
    """`gzip;q=0` refuses gzip: it was sent gzip all the same (a substring test)."""
    from catalog.api.protocol import accepts_gzip

    assert accepts_gzip(header) is gzip


def test_a_refused_gzip_gets_plain_json(server: str) -> None:
    url = f"{server}/api/3/action/package_search?rows=100"
    _status, headers, body = _get(url, {"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in headers and json.loads(body)["success"]


def test_repeated_keys_become_lists_in_their_order() -> None:
    from catalog.api.server import _multi

    pairs = [("a", "1"), ("b", "x"), ("a", "2"), ("a", "3")]
    assert _multi(pairs) == {"a": ["1", "2", "3"], "b": "x"}
    assert _multi([("k", str(n)) for n in range(32_767)])["k"][-1] == "32766"
