"""What `dataset.yaml` may say: names, licences, types, versions, frequencies and themes.

One home for every vocabulary the definitions are checked against and the catalog maps onward
(to CKAN, DCAT and the site).
"""

from __future__ import annotations

import re

EXTENSION = "x-opendata"
DEFINITION = "dataset.yaml"  # what an officer writes in each dataset folder
DESCRIPTOR_FILE = "datapackage.json"  # the Data Package descriptor in every package folder
NAME_PATTERN = re.compile(r"^[a-z0-9_-]{2,100}$")  # CKAN's rule for dataset and resource names
FIELD_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
SUPPORTED_TYPES = {"string", "integer", "number", "boolean", "date", "time", "datetime", "year"}
SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")

LICENSES: dict[str, dict[str, str]] = {
    "CC-BY-4.0": {
        "path": "https://creativecommons.org/licenses/by/4.0/",
        "title": "クリエイティブ・コモンズ 表示 4.0 国際 (Creative Commons Attribution 4.0 International)",
    },
    "CC-BY-SA-4.0": {
        "path": "https://creativecommons.org/licenses/by-sa/4.0/",
        "title": "クリエイティブ・コモンズ 表示-継承 4.0 国際 (CC BY-SA 4.0)",
    },
    "CC0-1.0": {
        "path": "https://creativecommons.org/publicdomain/zero/1.0/",
        "title": "CC0 1.0 パブリック・ドメイン提供 (CC0 1.0 Universal)",
    },
    "PDL-1.0": {
        "path": "https://www.digital.go.jp/resources/open_data/public_data_license_v1.0",
        "title": "公共データ利用規約 第1.0版 (Public Data License 1.0)",
    },
}

# Charts the site draws for a dataset (`x-opendata: {chart: …}`) → the resources each reads.
CHART_RESOURCES = {"indicators": ("indicators", "indicator-values")}

# Update frequency: our vocabulary → (Japanese label, EU frequency authority code).
FREQUENCIES = {
    "daily": ("毎日", "DAILY"),
    "weekly": ("毎週", "WEEKLY"),
    "monthly": ("毎月", "MONTHLY"),
    "quarterly": ("四半期ごと", "QUARTERLY"),
    "annual": ("毎年", "ANNUAL"),
    "irregular": ("不定期", "IRREG"),
}

# Themes a resident browses by: Japanese title → (CKAN group name, English, EU data theme).
THEMES = {
    "行政・財政": ("administration", "Government and finance", "GOVE"),
    "情報通信": ("ict", "Information and communication", "TECH"),
    "人権・男女平等": ("human-rights", "Human rights and gender equality", "SOCI"),
    "人口・統計": ("population", "Population and statistics", "SOCI"),
    "子育て・教育": ("education", "Childcare and education", "EDUC"),
    "健康・福祉": ("health-welfare", "Health and welfare", "HEAL"),
    "防災・安全": ("safety", "Disaster prevention and safety", "JUST"),
    "環境": ("environment", "Environment", "ENVI"),
    "まちづくり・交通": ("town-transport", "Urban planning and transport", "TRAN"),
    "産業・観光": ("industry-tourism", "Industry and tourism", "ECON"),
}

# Files published as they are (`type: file`): format → (media type, the extensions that imply
# it). A `.zip` holding stops.txt and stop_times.txt is a GTFS feed, a `.json` holding a GeoJSON
# object is GeoJSON (pipeline/file_checks.py: sniff); `format:` may say so outright.
FILE_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "gtfs": ("application/zip", ()),
    "zip": ("application/zip", (".zip",)),
    "geojson": ("application/geo+json", (".geojson",)),
    "json": ("application/json", (".json",)),
    "pdf": ("application/pdf", (".pdf",)),
    "png": ("image/png", (".png",)),
    "jpg": ("image/jpeg", (".jpg", ".jpeg")),
}
FORMAT_ALIASES = {"jpeg": "jpg", "gtfs-zip": "gtfs"}
# Names the package folder already holds (the catalog writes its pages and metadata beside the
# data), which a published file may not take.
RESERVED_FILE_NAMES = {
    DESCRIPTOR_FILE,
    "package.json",
    "index.html",
    "dataset.jsonld",
    "dataset.ttl",
}


def file_format(path: str) -> str | None:
    """The file format a path's extension implies (None: a table's source, or unknown)."""
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return next((f for f, (_, ext) in FILE_FORMATS.items() if suffix in ext), None)
