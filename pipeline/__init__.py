"""港区オープンデータ: one dataset folder → one validated Frictionless package (CSV + Parquet).

The steps, in the order data flows through them (build.py drives them):

    definition.py  dataset.yaml → a checked definition (vocabulary.py: what it may say)
    sources.py     the officer's CSV or XLSX → raw text batches
    cells.py       the normalisers: 和暦, full-width digits, units, ranges, missing markers
    reshape.py     wide → long (unpivot)
    convert.py     raw batches → typed Arrow batches, bound to the schema's fields
    validate.py    constraints, keys, foreign keys, unsafe cells
    writers.py     CSV and Parquet, hashed while written
    package.py     datapackage.json
    build.py       the steps for each dataset folder; validate runs them writing nothing

Shared by every step: errors.py (problems with file, row, column, value and a fix),
files.py (hashing, JSON by rename, hard links, atomic folder swap), publisher.py (catalog.yaml).
Nothing here knows about the site: catalog/ builds on this package, never the reverse.
"""

import os

# pyarrow's allocator (mimalloc) would commit whole arenas up front and keep freed pages for a
# while; a streaming build peaks ~40 MB lower without either. Set before pyarrow loads; a
# value already in the environment wins.
os.environ.setdefault("MIMALLOC_ARENA_EAGER_COMMIT", "0")
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
