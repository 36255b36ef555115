"""What a published file is to HTTP, named once for `opendata serve` (catalog/api/files.py)
and `publish --to s3://` (catalog/publish/s3.py): its media type, and how long a cache may
keep a released version's file."""

from __future__ import annotations

import mimetypes

# Types the system's table may lack or name otherwise.
for _type, _suffix in (
    ("application/vnd.apache.parquet", ".parquet"),
    ("application/geo+json", ".geojson"),
    ("application/ld+json", ".jsonld"),
    ("text/turtle", ".ttl"),
    ("text/csv", ".csv"),
    ("application/atom+xml", ".atom"),
):
    mimetypes.add_type(_type, _suffix)

IMMUTABLE = "public, max-age=31536000, immutable"  # a released version's file: never changes


def media_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "text/plain"
