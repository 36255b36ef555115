"""Everything about a built site (`dist/`), over the packages pipeline/ writes.

build.py     opendata build: datasets through the pipeline, then the catalog, swapped in whole
paths.py     every path inside dist/
model.py     the built packages as the catalog reads them, the publisher, the base URL
metadata/    CKAN dicts, DCAT-AP 3, schema.org, metadata quality, the オープンデータ一覧
site/        the static pages, charts, templates and assets
release/     diff, the version recipe, the release archive, opendata release
publish/     a release into a web root or a CKAN site
api/         opendata serve: the CKAN-compatible read API, its search index and OpenAPI
cli.py       the `opendata` command line, at the top of the graph
"""
