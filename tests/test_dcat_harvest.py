"""What a CKAN harvester makes of our DCAT: ckanext-dcat 2.4.4 in the real CKAN of
tests/ckan_site.py reads the catalog that the real `opendata serve` serves after two releases.

- `ckan dcat consume` (ckanext-dcat's parser, as the RDF harvester's gather stage runs it) for
  each DCAT-AP profile (`euro_dcat_ap`, `euro_dcat_ap_2`, `euro_dcat_ap_3`), compared field by
  field with the `package.json` we publish.
- ckanext-harvest's gather, fetch and import (`ckan harvester run-test`, the stages in one
  process, without queues) with the `dcat_rdf` harvester; the created packages are read back
  with `package_show`. Nothing of it needs Solr with the test plugin's no-op index; what does
  need Solr is only the harvest source's page and `package_search` of the harvested datasets
  (not used here), so the packages are found by the harvester's own `guid` extra.

The harvesting CKAN is a Japanese one (`ckan.locale_default = ja`): ckanext-dcat keeps one
language of dct:title / dct:description, the site's default (without ckanext-scheming's
multilingual fields); an English CKAN gets the English ones, which we check too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, RDFS

from catalog.metadata import dcat
from catalog.model import Resource

from ckan_site import CKAN, CkanSite, _set_options
from conftest import ROOT, opendata, serving, shacl_violations

EPOCH = 1764400000  # the first release: 2025-11-29T16:06:40+09:00
LATER = EPOCH + 86400
PROFILES = ["euro_dcat_ap", "euro_dcat_ap_2", "euro_dcat_ap_3"]
SHA256 = "http://spdx.org/rdf/terms#checksumAlgorithm_sha256"
DATA_PACKAGE = "https://datapackage.org/profiles/2.0/datapackage.json"
CHANGED = "facility-counts"  # the dataset the second release changes
DCAT3 = Namespace("http://www.w3.org/ns/dcat#")


def _run(*args: str | Path, cwd: Path | None = None) -> None:
    done = opendata(*map(str, args), cwd=cwd, env={"SOURCE_DATE_EPOCH": str(LATER)})
    assert done.returncode == 0, done.stderr + done.stdout


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's datasets built and released twice (the second time one dataset has a
    new keyword), in a temporary copy: dist/ has every dataset at 1.0.0 and CHANGED at 1.0.1."""
    root = tmp_path_factory.mktemp("harvested")
    shutil.copytree(ROOT / "datasets", root / "datasets")
    site, datasets = root / "dist", root / "datasets"
    for epoch in (EPOCH, LATER):
        _run("build", "--datasets", datasets, "--out", site)
        done = opendata(
            "release", "--site", str(site), "--datasets", str(datasets), "--notes", "更新",
            env={"SOURCE_DATE_EPOCH": str(epoch)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        if epoch == LATER:
            break
        definition = datasets / CHANGED / "dataset.yaml"
        recipe = yaml.safe_load(definition.read_text(encoding="utf-8"))
        recipe["keywords"] = [*recipe["keywords"], "統計"]
        definition.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return site


@pytest.fixture(scope="module")
def served(released: Path) -> Iterator[str]:
    with serving(released) as base:
        yield base


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def _packages(site: Path) -> dict[str, dict[str, Any]]:
    """Our CKAN package dicts: what the harvested packages must match."""
    return {
        p.parent.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((site / "datasets").glob("*/package.json"))
    }


def _ini(ckan_site: CkanSite, lang: str) -> Path:
    ini = ckan_site.logs / f"harvester-{lang}.ini"
    if not ini.exists():
        text = (ckan_site.logs / "ckan.ini").read_text()
        ini.write_text(text)
        _set_options(
            ini,
            {
                "ckan.locale_default": lang,
                "ckan.plugins": "opendata_test spatial_metadata dcat harvest dcat_rdf_harvester",
                "ckan.harvest.mq.type": "redis",
            },
        )
    return ini


def _ckan(ini: Path, *args: str, stdin: bytes | None = None, check: bool = True) -> str:
    done = subprocess.run(
        [str(CKAN), "-c", str(ini), *args], input=stdin, capture_output=True, timeout=180
    )
    assert done.returncode == 0 or not check, done.stderr.decode(errors="replace")[-3000:]
    return done.stdout.decode() + ("" if check else done.stderr.decode(errors="replace"))


def _geojson_graph() -> str:
    """One distribution of a GeoJSON file (none of our datasets has one yet), made by the same
    functions as the catalog's."""
    graph = dcat.new_graph()
    node = URIRef("https://example.org/datasets/shelters/#dataset")
    dist = URIRef("https://example.org/datasets/shelters/shelters.geojson")
    graph.add((node, RDF.type, DCAT.Dataset))
    graph.add((node, DCTERMS.title, Literal("避難所", lang="ja")))
    graph.add((node, DCAT.distribution, dist))
    graph.add((dist, RDF.type, DCAT.Distribution))
    graph.add((dist, DCAT.downloadURL, dist))
    resource = Resource(
        "shelters", "shelters.geojson", "geojson", "application/geo+json", 1, "0" * 64, "", "", []
    )
    graph.add((dist, DCAT.mediaType, dcat._media_type(graph, resource.mediatype)))
    graph.add((dist, DCTERMS["format"], dcat._file_type(graph, resource)))
    return dcat.serialize(graph)[0]


Harvests = dict[tuple[str, str, str], list[dict[str, Any]]]


def _api(url: str, action: str, **params: str) -> Any:
    query = "&".join(f"{k}={urllib.parse.quote(v)}" for k, v in params.items())
    return json.loads(_get(f"{url}/api/3/action/{action}?{query}"))["result"]


def _harvest(
    ckan_site: CkanSite, ini: Path, source_url: str, expected: int
) -> list[dict[str, Any]]:
    """ckanext-harvest as in production: a job on the Redis gather queue, and the gather and
    fetch consumers (fetch runs the import stage); the new packages, as the API shows them.
    (`ckan harvester run-test` would do it in one process, but imports factory_boy, a test
    dependency of ckanext-harvest that is not installed.)"""
    before = set(_api(ckan_site.url, "package_list"))
    _ckan(ini, "db", "upgrade", "-p", "harvest")  # ckanext-harvest's tables
    config = json.dumps({"rdf_format": "text/turtle"})
    # The source is made, then the command fails printing it: its package_show finds no
    # harvest source status yet (ckanext-harvest 1.6.3 on CKAN 2.12); the job finds it.
    made = _ckan(ini, "harvester", "source", "create", "minato-dcat", source_url, "dcat_rdf",
                 "港区 DCAT", "true", ckan_site.organization, "MANUAL", config, check=False)  # fmt: skip
    assert "Harvest source created" in made, made[-3000:]
    consumers = [
        subprocess.Popen(
            [str(CKAN), "-c", str(ini), "harvester", stage],
            stdout=subprocess.DEVNULL,
            stderr=open(ckan_site.logs / f"harvest-{stage}.log", "wb"),  # noqa: SIM115
            start_new_session=True,
        )
        for stage in ("gather-consumer", "fetch-consumer")
    ]
    try:
        _ckan(ini, "harvester", "job", "minato-dcat")  # on the gather queue
        deadline, last, steady = time.monotonic() + 90, -1, 0.0
        while time.monotonic() < deadline:
            new = set(_api(ckan_site.url, "package_list")) - before - {"minato-dcat"}
            if len(new) != last:
                last, steady = len(new), time.monotonic()
            elif len(new) >= expected and time.monotonic() - steady > 3:
                break  # and nothing more for 3 s
            time.sleep(0.3)
    finally:
        for consumer in consumers:
            os.killpg(consumer.pid, signal.SIGTERM)
            consumer.wait(timeout=20)
    return [_api(ckan_site.url, "package_show", id=name) for name in sorted(new)]


@pytest.fixture(scope="module")
def consumed(served: str, ckan_site: CkanSite) -> Harvests:
    """`ckan dcat consume` of the served catalog: (profile, serialisation, locale) → datasets,
    and ("harvest", "ttl", "ja") → the packages a harvest made. Separate CKAN processes,
    started side by side (each spends seconds loading CKAN)."""
    turtle, jsonld = _get(f"{served}/catalog.ttl"), _get(f"{served}/catalog.jsonld")
    runs = {(profile, "ttl", "ja"): turtle for profile in PROFILES}
    runs[("euro_dcat_ap_3", "jsonld", "ja")] = jsonld
    # The English run also reads a GeoJSON distribution (none of our datasets has one yet).
    runs[("euro_dcat_ap_3", "ttl", "en")] = turtle + _geojson_graph().encode()
    inis = {lang: _ini(ckan_site, lang) for lang in ("ja", "en")}

    def consume(key: tuple[str, str, str]) -> list[dict[str, Any]]:
        if key[0] == "harvest":
            expected = json.loads(_get(f"{served}/catalog.json"))["count"]
            return _harvest(ckan_site, inis["ja"], f"{served}/catalog.ttl", expected)
        profile, form, lang = key
        out = _ckan(inis[lang], "dcat", "consume", "-", "-f", form, "-p", profile, stdin=runs[key])
        datasets: list[dict[str, Any]] = json.loads(out)
        return datasets

    keys = [("harvest", "ttl", "ja"), *runs]  # the longest first
    with ThreadPoolExecutor(len(keys)) as pool:
        return dict(zip(keys, pool.map(consume, keys), strict=True))


def _extras(package: dict[str, Any]) -> dict[str, str]:
    return {e["key"]: e["value"] for e in package.get("extras", [])}


def _check_like_ours(harvested: dict[str, Any], ours: dict[str, Any]) -> None:
    """A harvested package dict against our package.json, field by field."""
    extras = _extras(harvested)
    assert extras["identifier"] == ours["name"]  # dct:identifier: our name
    assert extras["uri"] == ours["url"] + "#dataset"  # the harvester's guid
    assert harvested["title"] == ours["title"]
    assert harvested["notes"] == ours["notes"]
    assert harvested["version"] == ours["version"]
    assert harvested["url"] == ours["url"]
    assert harvested["license_id"] == ours["license_id"]
    assert sorted(t["name"] for t in harvested["tags"]) == sorted(t["name"] for t in ours["tags"])
    assert extras["issued"] == ours["metadata_created"]
    assert extras["modified"] == ours["metadata_modified"]
    assert extras.get("version_notes") == _extras(ours).get("version_notes")
    assert extras["publisher_name"] == "港区"
    resources = {r["url"]: r for r in harvested["resources"]}
    assert len({r["name"] for r in harvested["resources"]}) == len(harvested["resources"])
    assert sorted(resources) == sorted(r["url"] for r in ours["resources"])
    for mine in ours["resources"]:
        theirs = resources[mine["url"]]
        for key in ("name", "description", "format", "mimetype", "size", "hash"):
            assert theirs.get(key) == mine[key], (key, mine["url"])
        assert theirs["hash_algorithm"] == SHA256
        assert theirs["license"] == ours["license_url"]
        if mine["url"].endswith("/datapackage.json"):
            assert json.loads(theirs["conforms_to"]) == [DATA_PACKAGE]


def test_versions_are_linked_but_are_not_datasets(released: Path) -> None:
    """After two releases the catalog has exactly the current datasets; every version stays
    reachable from its dataset, and the whole stays valid against the DCAT-AP 3.0.1 shapes."""
    graph = Graph().parse(released / "catalog.ttl", format="turtle")
    names = sorted(_packages(released))
    datasets = sorted(
        str(graph.value(d, DCTERMS.identifier)) for d in graph.subjects(RDF.type, DCAT.Dataset)
    )
    assert datasets == names
    changed = URIRef(_packages(released)[CHANGED]["url"] + "#dataset")
    versions = sorted(
        str(graph.value(v, DCAT3.version)) for v in graph.objects(changed, DCAT3.hasVersion)
    )
    assert versions == ["1.0.0", "1.0.1"]
    current = graph.value(changed, DCAT3.hasCurrentVersion)
    assert str(graph.value(current, DCAT3.version)) == "1.0.1"
    older = graph.value(current, DCAT3.previousVersion)
    assert str(graph.value(older, DCAT3.version)) == "1.0.0"
    assert (older, RDF.type, DCAT3.Resource) in graph
    for version in graph.objects(changed, DCAT3.hasVersion):  # its files, with their hashes
        descriptor = graph.value(version, RDFS.seeAlso)
        local = str(descriptor).removeprefix(_packages(released)[CHANGED]["url"])
        assert (released / "datasets" / CHANGED / local).is_file()
    assert shacl_violations(graph, "shapes.ttl") == []
    assert shacl_violations(graph, "range.ttl") == []


@pytest.mark.parametrize("profile", PROFILES)
def test_consume_gives_our_packages(consumed: Harvests, released: Path, profile: str) -> None:
    ours = _packages(released)
    harvested = consumed[(profile, "ttl", "ja")]
    by_name = {_extras(h)["identifier"]: h for h in harvested}
    assert len(harvested) == len(by_name) == len(ours)  # no version became a dataset
    for name, package in ours.items():
        _check_like_ours(by_name[name], package)
    if profile == "euro_dcat_ap_3":
        versions = by_name[CHANGED]["has_version"]
        assert sorted(versions) == [
            f"{ours[CHANGED]['url']}{v}/#dataset" for v in ("1.0.0", "1.0.1")
        ]


def test_json_ld_gives_the_same(consumed: Harvests, released: Path) -> None:
    """catalog.jsonld: the same packages, field by field against ours. (Some extras other than
    those compared differ from the Turtle parse: not yet looked into.)"""
    ours = _packages(released)
    harvested = consumed[("euro_dcat_ap_3", "jsonld", "ja")]
    assert sorted(_extras(h)["identifier"] for h in harvested) == sorted(ours)
    for dataset in harvested:
        _check_like_ours(dataset, ours[_extras(dataset)["identifier"]])


def test_an_english_harvester_gets_the_english_title_and_description(
    consumed: Harvests, released: Path
) -> None:
    ours = _packages(released)
    for harvested in consumed[("euro_dcat_ap_3", "ttl", "en")]:
        if harvested["title"] == "避難所":  # _geojson_graph's
            continue
        extras = _extras(ours[_extras(harvested)["identifier"]])
        assert harvested["title"] == extras["title_en"]
        assert harvested["notes"] == extras["notes_en"]


def test_geojson_reads_as_geojson(consumed: Harvests) -> None:
    [dataset] = [d for d in consumed[("euro_dcat_ap_3", "ttl", "en")] if d["title"] == "避難所"]
    [resource] = dataset["resources"]
    assert (resource["format"], resource["mimetype"]) == ("GeoJSON", "application/geo+json")


def test_a_harvest_makes_exactly_our_current_packages(consumed: Harvests, released: Path) -> None:
    """gather → fetch → import after two releases: one package per current dataset, each like
    ours. Its name is the harvester's own: ckanext-dcat reads no property into `name` (the
    RDF harvester munges the title), so our name arrives as the `identifier` extra (from
    dct:identifier) and the dataset IRI as the `guid` that later harvests update by."""
    ours = _packages(released)
    harvested = consumed[("harvest", "ttl", "ja")]
    by_name = {_extras(h)["identifier"]: h for h in harvested}
    assert len(harvested) == len(by_name) == len(ours)
    for name, package in ours.items():
        made = by_name[name]
        _check_like_ours(made, package)
        assert _extras(made)["guid"] == package["url"] + "#dataset"
        assert made["organization"]["name"] == "minatoku"
    print({h["name"]: _extras(h)["identifier"] for h in harvested})
