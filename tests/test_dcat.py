"""DCAT-AP 3 for harvesters: parsed with rdflib, validated with pyshacl against the official
DCAT-AP 3.0.1 shapes in ../shared/reference/dcat-ap-3.0.1/."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, XSD

from conftest import rdf_graph, shacl_violations

SPDX = "http://spdx.org/rdf/terms#"


@pytest.mark.parametrize("file", ["catalog.ttl", "catalog.jsonld"])
def test_catalog_has_no_violation_of_the_mandatory_shapes(built_site: Path, file: str) -> None:
    assert shacl_violations(rdf_graph(built_site / file), "shapes.ttl") == []


def test_catalog_has_no_violation_of_the_range_shapes(built_site: Path) -> None:
    assert shacl_violations(rdf_graph(built_site / "catalog.ttl"), "range.ttl") == []


def test_the_shapes_do_catch_a_dataset_without_title(built_site: Path) -> None:
    """Proves the validation above can fail: remove every dataset title and it must."""
    graph = rdf_graph(built_site / "catalog.ttl")
    for dataset in graph.subjects(RDF.type, DCAT.Dataset):
        graph.remove((dataset, DCTERMS.title, None))
    assert shacl_violations(graph, "shapes.ttl")


@pytest.mark.parametrize(
    "name", ["plan-indicators", "facility-counts", "survey-results", "opendata-list"]
)
def test_each_dataset_file_is_valid_and_complete(built_site: Path, name: str) -> None:
    for suffix in ("ttl", "jsonld"):
        graph = rdf_graph(built_site / "datasets" / name / f"dataset.{suffix}")
        assert shacl_violations(graph, "shapes.ttl") == []
        distributions = list(graph.subjects(RDF.type, DCAT.Distribution))
        assert len(distributions) >= 2
        for dist in distributions:
            media = graph.value(dist, DCAT.mediaType)
            assert str(media).startswith("http://www.iana.org/assignments/media-types/")
            assert graph.value(dist, DCTERMS.license) == URIRef(
                "https://creativecommons.org/licenses/by/4.0/"
            )
            size = graph.value(dist, DCAT.byteSize)
            assert size.datatype == XSD.nonNegativeInteger and int(size) > 0
            checksum = graph.value(dist, URIRef(SPDX + "checksum"))
            assert graph.value(checksum, URIRef(SPDX + "algorithm")) == URIRef(
                SPDX + "checksumAlgorithm_sha256"
            )
            assert len(str(graph.value(checksum, URIRef(SPDX + "checksumValue")))) == 64
        dataset = next(graph.subjects(RDF.type, DCAT.Dataset))
        assert (dataset, DCTERMS.title, Literal(graph.value(dataset, DCTERMS.title))) in graph
        assert graph.value(dataset, DCTERMS.publisher) is not None
        assert graph.value(dataset, DCAT.contactPoint) is not None
        assert graph.value(dataset, DCTERMS.spatial) is not None
        assert graph.value(dataset, DCTERMS.modified).datatype == XSD.dateTime


def test_temporal_coverage_is_a_period_of_fiscal_years(built_site: Path) -> None:
    graph = rdf_graph(built_site / "datasets/plan-indicators/dataset.ttl")
    period = graph.value(next(graph.subjects(RDF.type, DCAT.Dataset)), DCTERMS.temporal)
    assert (period, RDF.type, DCTERMS.PeriodOfTime) in graph
    assert str(graph.value(period, DCAT.startDate)) == "2019-04-01"
    assert str(graph.value(period, DCAT.endDate)) == "2027-03-31"


@pytest.mark.parametrize("file", ["catalog.ttl", "catalog.jsonld"])
def test_the_assembled_catalog_holds_exactly_the_whole_graphs_triples(
    built_site: Path, file: str
) -> None:
    """The catalog files are assembled from the datasets' parts (dcat_parts.py): the same
    triples as serialising the whole catalog graph at once."""
    from rdflib.compare import isomorphic

    from catalog.metadata import dcat
    from catalog.model import Catalog
    from pipeline.publisher import load_publisher

    from conftest import ROOT

    publisher = load_publisher(ROOT / "datasets")
    whole = dcat.catalog_graph(Catalog.load(built_site, publisher.site_url, publisher))
    assert len(whole) > 400  # four datasets with their distributions
    assert isomorphic(rdf_graph(built_site / file), whole)


def test_nodes_two_parts_describe_are_merged_and_every_node_is_sorted_by_id(
    tmp_path: Path,
) -> None:
    """dcat_parts.write_catalog on parts made here: a node two datasets describe differently
    (the publisher with another page in each) is one node with every value; one they describe alike
    stays as it is; the rest keep their bytes, in `@id` order."""
    import json

    from catalog.metadata import dcat_parts

    context = {"dct": "http://purl.org/dc/terms/"}
    publisher = {"@id": "https://city.example/", "dct:title": "港区"}

    def part(name: str, page: str) -> tuple[str, str]:
        nodes = [
            {"@id": f"https://od.example/{name}", "dct:publisher": {"@id": publisher["@id"]}},
            publisher | {"foaf:page": page},
            {"@id": "https://types.example/CSV", "rdfs:label": "CSV"},
        ]
        turtle = f'@prefix dct: <http://purl.org/dc/terms/> .\n\n<https://od.example/{name}> dct:title "{name}" .\n'
        return turtle, json.dumps({"@context": context, "@graph": nodes})

    parts = []
    pages = ("https://city.example/a", "https://city.example/b", "https://city.example/c")
    for name, page in zip("bac", pages, strict=True):
        turtle, jsonld = part(name, page)
        dcat_parts.write_nodes(tmp_path / f"{name}.nodes", jsonld)
        (tmp_path / f"{name}.ttl").write_text(turtle, encoding="utf-8")
        parts.append(dcat_parts.read_part(tmp_path / f"{name}.ttl", tmp_path / f"{name}.nodes"))
    head = ("@prefix dcat: <http://www.w3.org/ns/dcat#> .\n\n<https://od.example/> a dcat:Catalog .\n",
            json.dumps({"@context": context, "@graph": [{"@id": "https://od.example/"}]}))  # fmt: skip
    dcat_parts.write_catalog(head, parts, tmp_path / "catalog.ttl", tmp_path / "catalog.jsonld")

    graph = json.loads((tmp_path / "catalog.jsonld").read_text(encoding="utf-8"))["@graph"]
    assert [n["@id"] for n in graph] == sorted(n["@id"] for n in graph)
    assert len(graph) == 6  # the catalog, 3 datasets, the publisher, the file type: once each
    merged = next(n for n in graph if n["@id"] == publisher["@id"])
    assert merged["foaf:page"] == list(pages)  # three parts, three pages
    assert {"@id": "https://types.example/CSV", "rdfs:label": "CSV"} in graph
    turtle = (tmp_path / "catalog.ttl").read_text(encoding="utf-8")
    assert turtle.startswith("@prefix dcat:") and turtle.count("@prefix") == 2
    assert turtle.count("dct:title") == 3
