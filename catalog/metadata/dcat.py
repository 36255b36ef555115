"""DCAT-AP 3 for harvesters: the catalog and each dataset as RDF (JSON-LD and Turtle).

Every object is typed (dct:LicenseDocument, dct:MediaType, spdx:Checksum, ...) so that the
DCAT-AP 3.0.1 range shapes hold as well as the mandatory ones.
"""

from __future__ import annotations

import hashlib
import json

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from pipeline.vocabulary import FREQUENCIES, THEMES

from ..model import BuiltPackage, Catalog, Resource

SPDX = Namespace("http://spdx.org/rdf/terms#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
# DCAT 3 terms; rdflib's DCAT namespace is version 2.
DCAT_VERSION = URIRef("http://www.w3.org/ns/dcat#version")
DCAT_HAS_VERSION = URIRef("http://www.w3.org/ns/dcat#hasVersion")
DCAT_PREVIOUS_VERSION = URIRef("http://www.w3.org/ns/dcat#previousVersion")
DCAT_HAS_CURRENT_VERSION = URIRef("http://www.w3.org/ns/dcat#hasCurrentVersion")
EU = "http://publications.europa.eu/resource/authority/"
IANA = "http://www.iana.org/assignments/media-types/"
JAPANESE = URIRef(f"{EU}language/JPN")
FILE_TYPES = {"csv": "CSV", "parquet": "PARQUET", "json": "JSON"}
PREFIXES = {
    "dcat": DCAT,
    "dct": DCTERMS,
    "foaf": FOAF,
    "spdx": SPDX,
    "vcard": VCARD,
    "skos": SKOS,
    "adms": ADMS,
}


def new_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def catalog_graph(catalog: Catalog) -> Graph:
    """The whole catalog: every dataset with its distributions."""
    graph = new_graph()
    node = URIRef(catalog.catalog_url + "#catalog")
    publisher = _publisher(graph, catalog)
    graph.add((node, RDF.type, DCAT.Catalog))
    graph.add((node, DCTERMS.title, Literal(catalog.publisher.catalog_title, lang="ja")))
    graph.add((node, DCTERMS.title, Literal(catalog.publisher.catalog_title_en, lang="en")))
    graph.add(
        (
            node,
            DCTERMS.description,
            Literal(f"{catalog.publisher.name}が公開するオープンデータの一覧です。", lang="ja"),
        )
    )
    graph.add(
        (
            node,
            DCTERMS.description,
            Literal(f"Open data published by {catalog.publisher.name_en}.", lang="en"),
        )
    )
    graph.add((node, DCTERMS.publisher, publisher))
    graph.add((node, DCTERMS.language, _typed(graph, JAPANESE, DCTERMS.LinguisticSystem)))
    graph.add((node, FOAF.homepage, _typed(graph, URIRef(catalog.catalog_url), FOAF.Document)))
    graph.add((node, DCTERMS.spatial, _place(graph, catalog)))
    stamps = sorted(s for s in (p.modified for p in catalog.packages.values()) if s)
    if stamps:
        graph.add((node, DCTERMS.modified, Literal(stamps[-1], datatype=XSD.dateTime)))
    for name in catalog.packages:
        graph.add((node, DCAT.dataset, _dataset(graph, catalog, name, publisher)))
    return graph


def dataset_graph(catalog: Catalog, name: str) -> Graph:
    graph = new_graph()
    _dataset(graph, catalog, name, _publisher(graph, catalog))
    return graph


def _bnode(*parts: str) -> BNode:
    """A blank node with a stable id, so serialisations are identical across builds."""
    return BNode("b" + hashlib.sha1(":".join(parts).encode()).hexdigest()[:16])


def _typed(graph: Graph, node: URIRef | BNode, kind: URIRef) -> URIRef | BNode:
    graph.add((node, RDF.type, kind))
    return node


def _publisher(graph: Graph, catalog: Catalog) -> URIRef:
    node = URIRef(catalog.catalog_url + "#publisher")
    graph.add((node, RDF.type, FOAF.Agent))
    graph.add((node, RDF.type, FOAF.Organization))
    graph.add((node, FOAF.name, Literal(catalog.publisher.name, lang="ja")))
    graph.add((node, FOAF.name, Literal(catalog.publisher.name_en, lang="en")))
    graph.add((node, DCTERMS.identifier, Literal(catalog.publisher.code)))
    graph.add((node, FOAF.homepage, _typed(graph, URIRef(catalog.publisher.url), FOAF.Document)))
    return node


def _place(graph: Graph, catalog: Catalog) -> URIRef:
    node = URIRef(catalog.catalog_url + "#area")
    graph.add((node, RDF.type, DCTERMS.Location))
    graph.add(
        (
            node,
            SKOS.prefLabel,
            Literal(catalog.publisher.prefecture + catalog.publisher.name, lang="ja"),
        )
    )
    graph.add((node, SKOS.prefLabel, Literal(catalog.publisher.name_en, lang="en")))
    graph.add((node, DCTERMS.identifier, Literal(catalog.publisher.code)))  # 全国地方公共団体コード
    return node


def _dataset(graph: Graph, catalog: Catalog, name: str, publisher: URIRef) -> URIRef:
    package = catalog.packages[name]
    node = URIRef(catalog.dataset_url(name) + "#dataset")
    graph.add((node, RDF.type, DCAT.Dataset))
    graph.add((node, DCTERMS.identifier, Literal(name)))
    graph.add((node, DCTERMS.title, Literal(package.title, lang="ja")))
    if package.title_en:
        graph.add((node, DCTERMS.title, Literal(package.title_en, lang="en")))
    graph.add((node, DCTERMS.description, Literal(package.description, lang="ja")))
    if package.description_en:
        graph.add((node, DCTERMS.description, Literal(package.description_en, lang="en")))
    for keyword in package.keywords:
        graph.add((node, DCAT.keyword, Literal(keyword, lang="ja")))
    graph.add((node, DCTERMS.publisher, publisher))
    graph.add(
        (node, DCAT.landingPage, _typed(graph, URIRef(catalog.dataset_url(name)), FOAF.Document))
    )
    graph.add((node, DCTERMS.language, _typed(graph, JAPANESE, DCTERMS.LinguisticSystem)))
    graph.add((node, DCTERMS.spatial, _place(graph, catalog)))
    if package.version:
        graph.add((node, DCAT_VERSION, Literal(package.version)))
    if notes := package.version_notes:
        graph.add((node, ADMS.versionNotes, Literal(notes, lang="ja")))
    _versions(graph, catalog, package, node)
    _dates(graph, node, package.issued, package.modified)
    _contact(graph, node, catalog, package.department)
    if period := package.fiscal_period:
        span = _typed(graph, _bnode("period", name), DCTERMS.PeriodOfTime)
        graph.add((span, DCAT.startDate, Literal(period[0], datatype=XSD.date)))
        graph.add((span, DCAT.endDate, Literal(period[1], datatype=XSD.date)))
        graph.add((node, DCTERMS.temporal, span))
    if package.frequency:
        code = FREQUENCIES[package.frequency][1]
        graph.add(
            (
                node,
                DCTERMS.accrualPeriodicity,
                _typed(graph, URIRef(f"{EU}frequency/{code}"), DCTERMS.Frequency),
            )
        )
    for theme in package.themes:
        if theme in THEMES:
            concept = _typed(graph, URIRef(f"{EU}data-theme/{THEMES[theme][2]}"), SKOS.Concept)
            graph.add((concept, SKOS.prefLabel, Literal(theme, lang="ja")))
            graph.add((concept, SKOS.prefLabel, Literal(THEMES[theme][1], lang="en")))
            graph.add((node, DCAT.theme, concept))
    for source in package.sources:
        # The upstream is a document, not a dcat:Dataset, so it is lineage (dct:provenance).
        statement = _typed(
            graph, _bnode("provenance", name, source.get("title", "")), DCTERMS.ProvenanceStatement
        )
        graph.add((statement, RDFS.label, Literal(f"出典：{source.get('title', '')}", lang="ja")))
        graph.add((node, DCTERMS.provenance, statement))
    for resource in package.resources:
        graph.add((node, DCAT.distribution, _distribution(graph, catalog, package, resource)))
    return node


def _dates(graph: Graph, node: URIRef, issued: str | None, modified: str | None) -> None:
    for stamp, predicate in ((issued, DCTERMS.issued), (modified, DCTERMS.modified)):
        if stamp:
            graph.add((node, predicate, Literal(stamp, datatype=XSD.dateTime)))


def _versions(graph: Graph, catalog: Catalog, package: BuiltPackage, node: URIRef) -> None:
    """Each released version as a dataset of its own, chained by dcat:previousVersion."""
    name = package.name
    released = package.versions
    nodes = [URIRef(catalog.version_url(name, v.version) + "#dataset") for v in released]
    for position, (version, here) in enumerate(zip(released, nodes, strict=True)):
        graph.add((here, RDF.type, DCAT.Dataset))
        graph.add(
            (
                here,
                DCTERMS.title,
                Literal(f"{package.title}（{version.version}版）", lang="ja"),
            )
        )
        graph.add((here, DCTERMS.description, Literal(package.description, lang="ja")))
        graph.add((here, DCAT_VERSION, Literal(version.version)))
        graph.add((here, DCTERMS.issued, Literal(version.date, datatype=XSD.dateTime)))
        graph.add(
            (
                here,
                DCAT.landingPage,
                _typed(graph, URIRef(catalog.version_url(name, version.version)), FOAF.Document),
            )
        )
        if version.notes:
            graph.add((here, ADMS.versionNotes, Literal(version.notes, lang="ja")))
        if position + 1 < len(nodes):
            graph.add((here, DCAT_PREVIOUS_VERSION, nodes[position + 1]))
        graph.add((node, DCAT_HAS_VERSION, here))
        graph.add((node, DCTERMS.hasVersion, here))  # DCAT-AP 3's term for the same link
    if released and released[0].version == package.version:
        graph.add((node, DCAT_HAS_CURRENT_VERSION, nodes[0]))
        if len(nodes) > 1:
            graph.add((node, DCAT_PREVIOUS_VERSION, nodes[1]))


def _contact(graph: Graph, node: URIRef, catalog: Catalog, department: str | None) -> None:
    contact = _typed(graph, _bnode("contact", str(node)), VCARD.Organization)
    graph.add((contact, RDF.type, VCARD.Kind))
    label = f"{catalog.publisher.name} {department}" if department else catalog.publisher.name
    graph.add((contact, VCARD.fn, Literal(label, lang="ja")))
    graph.add((contact, VCARD.hasURL, URIRef(catalog.publisher.url)))
    if catalog.publisher.email:
        graph.add((contact, VCARD.hasEmail, URIRef(f"mailto:{catalog.publisher.email}")))
    graph.add((node, DCAT.contactPoint, contact))


def _distribution(
    graph: Graph, catalog: Catalog, package: BuiltPackage, resource: Resource
) -> URIRef:
    name = package.name
    url = URIRef(catalog.file_url(name, resource.path))
    node = URIRef(f"{url}#distribution")
    graph.add((node, RDF.type, DCAT.Distribution))
    graph.add((node, DCAT.accessURL, url))
    graph.add((node, DCAT.downloadURL, url))
    graph.add((node, DCTERMS.title, Literal(resource.title, lang="ja")))
    if resource.description:
        graph.add((node, DCTERMS.description, Literal(resource.description, lang="ja")))
    media = _typed(graph, URIRef(IANA + resource.mediatype), DCTERMS.MediaType)
    graph.add((node, DCAT.mediaType, media))
    file_type = URIRef(f"{EU}file-type/{FILE_TYPES[resource.format]}")
    graph.add((node, DCTERMS["format"], _typed(graph, file_type, DCTERMS.MediaTypeOrExtent)))
    licence = URIRef(package.licence["path"])
    graph.add((node, DCTERMS.license, _typed(graph, licence, DCTERMS.LicenseDocument)))
    graph.add((node, DCAT.byteSize, Literal(resource.bytes, datatype=XSD.nonNegativeInteger)))
    checksum = _typed(graph, _bnode("checksum", name, resource.path), SPDX.Checksum)
    graph.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
    graph.add(
        (
            checksum,
            SPDX.checksumValue,
            Literal(resource.sha256, datatype=XSD.hexBinary),
        )
    )
    graph.add((node, SPDX.checksum, checksum))
    _dates(graph, node, package.issued, package.data_modified)
    return node


def serialize(graph: Graph) -> tuple[str, str]:
    """Turtle and JSON-LD with nodes and keys in a stable order, so rebuilds are identical."""
    turtle = graph.serialize(format="turtle")
    document = json.loads(
        graph.serialize(format="json-ld", context={p: str(n) for p, n in PREFIXES.items()})
    )
    document["@graph"] = sorted(document.get("@graph", []), key=lambda node: node["@id"])
    return turtle, json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
