"""DCAT-AP 3 for harvesters: the catalog and each dataset as RDF (JSON-LD and Turtle).

Every object is typed (dct:LicenseDocument, dct:MediaType, spdx:Checksum, ...) so that the
DCAT-AP 3.0.1 range shapes hold as well as the mandatory ones. What harvesters make of it
was read off ckanext-dcat 2.4.4 (tests/test_dcat_harvest.py runs it):

- it harvests every subject typed dcat:Dataset in the document, whatever links to it, so
  released versions are dcat:Resource here (reachable by dcat:hasVersion), never dcat:Dataset;
- `format`: the label of a dct:format node whose first rdf:type is dct:IMT; `mimetype`: the
  rdfs:label of the dcat:mediaType node (else the whole IANA URI);
- `version`: dcat:version (DCAT-AP 3 profile), owl:versionInfo (DCAT-AP 1 and 2 profiles).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyoxigraph as oxigraph
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from pipeline.geo import box_wkt
from pipeline.package import PROFILE as DATA_PACKAGE_PROFILE
from pipeline.vocabulary import DESCRIPTOR_FILE, FREQUENCIES, THEMES

from ..model import BuiltPackage, Catalog, Resource
from .ckan import _datapackage_file as datapackage_file

SPDX = Namespace("http://spdx.org/rdf/terms#")
WKT = URIRef("http://www.opengis.net/ont/geosparql#wktLiteral")
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
# Our format → the EU file-type authority's code (dct:format). A GTFS feed is a ZIP file
# (as mobilityDCAT-AP has it) that conforms to the GTFS Schedule Reference (dct:conformsTo).
FILE_TYPES = {
    "csv": "CSV",
    "parquet": "PARQUET",
    "json": "JSON",
    "geojson": "GEOJSON",
    "gtfs": "ZIP",
    "zip": "ZIP",
    "pdf": "PDF",
    "png": "PNG",
    "jpg": "JPEG",
}
# Each file-type IRI's one label (ckanext-dcat reads it as the resource's `format`).
FILE_TYPE_LABELS = {
    "CSV": "CSV",
    "PARQUET": "Parquet",
    "JSON": "JSON",
    "GEOJSON": "GeoJSON",
    "ZIP": "ZIP",
    "PDF": "PDF",
    "PNG": "PNG",
    "JPEG": "JPEG",
}
# Formats that follow a published specification beyond their file type.
STANDARDS = {
    "gtfs": ("https://gtfs.org/documentation/schedule/reference/", "GTFS Schedule Reference"),
}
PREFIXES = {
    "dcat": DCAT,
    "dct": DCTERMS,
    "foaf": FOAF,
    "spdx": SPDX,
    "vcard": VCARD,
    "skos": SKOS,
    "adms": ADMS,
    "owl": OWL,
    "rdfs": RDFS,
    "rdf": RDF,
    "xsd": XSD,
}
CONTEXT = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}


def new_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def catalog_graph(catalog: Catalog) -> Graph:
    """The whole catalog: every dataset with its distributions (the build assembles its
    files from `catalog_head` and each `dataset_graph`'s serialisation: dcat_parts.py)."""
    graph = catalog_head(catalog)
    for name in catalog.packages:
        graph += dataset_graph(catalog, name)
    return graph


def catalog_head(catalog: Catalog) -> Graph:
    """The catalog's own node, its publisher and area, and a link to each dataset."""
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
        graph.add((node, DCAT.dataset, dataset_node(catalog, name)))
    return graph


def dataset_node(catalog: Catalog, name: str) -> URIRef:
    return URIRef(catalog.dataset_url(name) + "#dataset")


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
    if catalog.publisher.extent is not None:
        graph.add((node, DCAT.bbox, Literal(box_wkt(catalog.publisher.extent), datatype=WKT)))
    return node


def _points(graph: Graph, catalog: Catalog, name: str, extent: list[float]) -> URIRef:
    """Where a dataset's points lie (their bounding box), beside the municipality it covers."""
    node = URIRef(catalog.dataset_url(name) + "#extent")
    graph.add((node, RDF.type, DCTERMS.Location))
    graph.add((node, DCAT.bbox, Literal(box_wkt(extent), datatype=WKT)))
    return node


def _dataset(graph: Graph, catalog: Catalog, name: str, publisher: URIRef) -> URIRef:
    package = catalog.packages[name]
    node = dataset_node(catalog, name)
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
    if package.extent:
        graph.add((node, DCTERMS.spatial, _points(graph, catalog, name, package.extent)))
    if package.version:
        graph.add((node, DCAT_VERSION, Literal(package.version)))
        # DCAT-AP 1 and 2 (and their ckanext-dcat profiles) read the version from here.
        graph.add((node, OWL.versionInfo, Literal(package.version)))
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
    descriptor = _distribution(graph, catalog, package, datapackage_file(catalog, name))
    standard = _typed(graph, URIRef(DATA_PACKAGE_PROFILE), DCTERMS.Standard)
    graph.add((standard, RDFS.label, Literal("Data Package 2.0", lang="en")))
    graph.add((descriptor, DCTERMS.conformsTo, standard))
    graph.add((node, DCAT.distribution, descriptor))
    return node


def _dates(graph: Graph, node: URIRef, issued: str | None, modified: str | None) -> None:
    for stamp, predicate in ((issued, DCTERMS.issued), (modified, DCTERMS.modified)):
        if stamp:
            graph.add((node, predicate, Literal(stamp, datatype=XSD.dateTime)))


def _versions(graph: Graph, catalog: Catalog, package: BuiltPackage, node: URIRef) -> None:
    """Each released version, chained by dcat:previousVersion, as a dcat:Resource: a harvester
    takes every dcat:Dataset of the document for a dataset of its own (ckanext-dcat made
    「…（1.0.0版）」 datasets of them), and dct:hasVersion's range shape asks for one, so only
    DCAT 3's dcat:hasVersion links them. Each version's files and their hashes are in its
    folder's datapackage.json (rdfs:seeAlso)."""
    name = package.name
    released = package.versions
    nodes = [URIRef(catalog.version_url(name, v.version) + "#dataset") for v in released]
    for position, (version, here) in enumerate(zip(released, nodes, strict=True)):
        graph.add((here, RDF.type, DCAT.Resource))
        graph.add((here, DCAT_VERSION, Literal(version.version)))
        graph.add((here, DCTERMS.issued, Literal(version.date, datatype=XSD.dateTime)))
        descriptor = catalog.version_url(name, version.version) + DESCRIPTOR_FILE
        graph.add((here, RDFS.seeAlso, URIRef(descriptor)))
        if version.notes:
            graph.add((here, ADMS.versionNotes, Literal(version.notes, lang="ja")))
        if position + 1 < len(nodes):
            graph.add((here, DCAT_PREVIOUS_VERSION, nodes[position + 1]))
        graph.add((node, DCAT_HAS_VERSION, here))
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
    # The format in the title too: the CSV and Parquet twins share resource.title, and a
    # harvester lists them by title (the same names as package.json's resources).
    graph.add((node, DCTERMS.title, Literal(f"{resource.title}（{resource.label}）", lang="ja")))
    if resource.description:
        graph.add((node, DCTERMS.description, Literal(resource.description, lang="ja")))
    graph.add((node, DCAT.mediaType, _media_type(graph, resource.mediatype)))
    graph.add((node, DCTERMS["format"], _file_type(graph, resource)))
    if resource.format in STANDARDS:
        address, label = STANDARDS[resource.format]
        standard = _typed(graph, URIRef(address), DCTERMS.Standard)
        graph.add((standard, RDFS.label, Literal(label, lang="en")))
        graph.add((node, DCTERMS.conformsTo, standard))
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


def _media_type(graph: Graph, media_type: str) -> URIRef:
    """The IANA URI (DCAT-AP), labelled with the plain type that ckanext-dcat then reads as
    `mimetype` (it takes a node's rdfs:label over its URI) and looks up in CKAN's formats."""
    node = URIRef(IANA + media_type)
    graph.add((node, RDF.type, DCTERMS.MediaType))
    graph.add((node, RDFS.label, Literal(media_type)))
    return node


def _file_type(graph: Graph, resource: Resource) -> URIRef:
    """The EU file-type IRI (an IRI of class dct:MediaTypeOrExtent, as the DCAT-AP shapes ask),
    also typed dct:IMT with a label: ckanext-dcat reads `format` from the label of a
    dct:format node whose first type is dct:IMT, and from a bare IRI takes the whole IRI.
    dct:IMT sorts before dct:MediaTypeOrExtent, and `serialize` keeps types sorted."""
    code = FILE_TYPES[resource.format]
    node = URIRef(f"{EU}file-type/{code}")
    graph.add((node, RDF.type, DCTERMS.IMT))
    graph.add((node, RDF.type, DCTERMS.MediaTypeOrExtent))
    graph.add((node, RDFS.label, Literal(FILE_TYPE_LABELS[code])))
    graph.add((node, RDF.value, Literal(resource.mediatype)))
    return node


def serialize(graph: Graph) -> tuple[str, str]:
    """Turtle and JSON-LD with statements, nodes and keys in a stable order, so rebuilds are
    identical. Turtle is written by pyoxigraph and JSON-LD compacted here (the prefixes as
    its context, one node per subject): rdflib's serialisers were a third of a full build."""
    triples = sorted(graph, key=lambda triple: tuple(term.n3() for term in triple))
    statements = [oxigraph.Triple(*map(_oxigraph_term, triple)) for triple in triples]
    turtle = oxigraph.serialize(statements, format=oxigraph.RdfFormat.TURTLE, prefixes=CONTEXT)
    assert turtle is not None  # bytes when no output file is given
    nodes: dict[str, dict[str, list[Any]]] = {}
    for subject, predicate, value in triples:
        node = nodes.setdefault(_node_id(subject), {})
        if predicate == RDF.type:
            node.setdefault("@type", []).append(_compact(str(value)))
        else:
            node.setdefault(_compact(str(predicate)), []).append(_jsonld_value(value))
    document = {
        "@context": CONTEXT,
        "@graph": [
            {"@id": identifier, **{k: v[0] if len(v) == 1 else v for k, v in node.items()}}
            for identifier, node in sorted(nodes.items())
        ],
    }
    jsonld = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return turtle.decode("utf-8"), jsonld


def _oxigraph_term(term: Node) -> Any:
    if isinstance(term, URIRef):
        return oxigraph.NamedNode(str(term))
    if isinstance(term, BNode):
        return oxigraph.BlankNode(str(term))
    assert isinstance(term, Literal)
    if term.language:
        return oxigraph.Literal(str(term), language=term.language)
    if term.datatype:
        return oxigraph.Literal(str(term), datatype=oxigraph.NamedNode(str(term.datatype)))
    return oxigraph.Literal(str(term))


def _compact(iri: str) -> str:
    """`dct:title` for a term of a known namespace (JSON-LD compact IRIs), else the IRI."""
    for prefix, namespace in CONTEXT.items():
        local = iri[len(namespace) :]
        if iri.startswith(namespace) and local and not local.startswith("/"):
            return f"{prefix}:{local}"
    return iri


def _node_id(term: Node) -> str:
    return f"_:{term}" if isinstance(term, BNode) else str(term)


def _jsonld_value(term: Node) -> Any:
    if isinstance(term, URIRef | BNode):
        return {"@id": _node_id(term)}
    assert isinstance(term, Literal)
    if term.language:
        return {"@language": term.language, "@value": str(term)}
    if term.datatype and term.datatype != XSD.string:
        return {"@type": _compact(str(term.datatype)), "@value": str(term)}
    return str(term)
