"""How large a source may be: each limit has a default and an environment variable that
changes it (a whole number of megabytes; anything else leaves the default)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    variable: str
    default_mb: int

    @property
    def megabytes(self) -> int:
        value = os.environ.get(self.variable, "")
        return int(value) if value.isdigit() and int(value) > 0 else self.default_mb

    @property
    def bytes(self) -> int:
        return self.megabytes << 20


RECORD = Limit("OPENDATA_MAX_RECORD_MB", 256)  # one CSV record: a row with all its cells
UNPACKED_XLSX = Limit("OPENDATA_MAX_XLSX_MB", 1024)  # an XLSX's parts, unpacked
FILE = Limit("OPENDATA_MAX_FILE_MB", 512)  # a file published as it is (GTFS, PDF, GeoJSON, image)
DOWNLOAD = Limit("OPENDATA_MAX_DOWNLOAD_MB", 2048)  # one file `import --ckan` downloads
UNPACKED_ZIP = Limit(
    "OPENDATA_MAX_ZIP_MB", 2048
)  # a published ZIP's (or GTFS feed's) files, unpacked
