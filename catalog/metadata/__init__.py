"""The catalog metadata of built packages: CKAN dicts, DCAT-AP 3, schema.org, quality checks
and the national オープンデータ一覧 (the catalog's own dataset)."""
