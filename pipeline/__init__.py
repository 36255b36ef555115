"""港区オープンデータ: dataset folders → validated Frictionless packages (CSV + Parquet)."""

import os

# pyarrow's allocator (mimalloc) would commit whole arenas up front and keep freed pages for a
# while; a streaming build peaks ~40 MB lower without either. Set before pyarrow loads; a
# value already in the environment wins.
os.environ.setdefault("MIMALLOC_ARENA_EAGER_COMMIT", "0")
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
