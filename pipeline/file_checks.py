"""Checks of the files a dataset publishes as they are (GTFS feeds, GeoJSON, PDF, images, ZIP),
each with the library that knows the format best: partridge reads a GTFS feed (its reader and
its own column converters), the `geojson` library checks RFC 7946 objects, pypdf opens a PDF,
Pillow verifies an image. Nothing here downloads anything or writes outside a temporary folder.

Every check returns `Findings`: errors and warnings as located `Problem`s (the file, and where
the format has them the inner file, row and column, the value) and the facts the catalog shows
(pages, stops, the area the file covers).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Problem
from .limits import UNPACKED_ZIP
from .presets import LATITUDES, LONGITUDES

Box = tuple[float, float, float, float]
SHOWN = 50  # problems listed per check (all are counted)

# GTFS Schedule: files every feed has, and the service calendar (one of the two, or both).
GTFS_REQUIRED = ("agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
GTFS_CALENDARS = ("calendar.txt", "calendar_dates.txt")
# Columns the GTFS Schedule Reference requires outright (partridge's own lists are the columns
# of its empty tables, stricter than the reference: route_long_name where route_short_name
# does, arrival times that only timepoints need).
GTFS_COLUMNS = {
    "agency.txt": ("agency_name", "agency_url", "agency_timezone"),
    "stops.txt": ("stop_id",),
    "routes.txt": ("route_id", "route_type"),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id", "stop_sequence"),
    "calendar.txt": (
        *("service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"),
        *("sunday", "start_date", "end_date"),
    ),
    "calendar_dates.txt": ("service_id", "date", "exception_type"),
}
# Stops, stations and entrances need a position; generic nodes and boarding areas may lack one.
LOCATED_STOP_TYPES = {"", "0", "1", "2"}
# A `.zip` holding any of these is a GTFS feed, checked as one: a feed missing some of the
# required files is an error, never published as a plain ZIP.
GTFS_MARKERS = {*GTFS_REQUIRED, *GTFS_CALENDARS}
GEOJSON_TYPES = {
    "FeatureCollection",
    "Feature",
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}


@dataclass
class Findings:
    """What a check found: errors, warnings, and facts for the catalog."""

    file: str  # the file as the officer names it: <dataset>/<file>
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    bbox: Box | None = None  # where the file's places lie (GTFS stops, GeoJSON geometries)
    counted: int = 0  # errors beyond those listed

    def error(self, type_: str, message: str, *, inner: str | None = None, **where: Any) -> None:
        if len(self.errors) >= SHOWN:
            self.counted += 1
            return
        file = f"{self.file}/{inner}" if inner else self.file
        self.errors.append(Problem(type_, message, file=file, **where))

    def warn(self, type_: str, message: str, *, inner: str | None = None, **where: Any) -> None:
        if len(self.warnings) < SHOWN:
            file = f"{self.file}/{inner}" if inner else self.file
            self.warnings.append(Problem(type_, message, file=file, **where))


def check(fmt: str, path: Path, display: str, area: Box | None) -> Findings:
    """The check of one format (`path` is the pinned file; `display` how the officer names it)."""
    findings = Findings(display)
    {
        "gtfs": lambda: check_gtfs(path, findings, area),
        "zip": lambda: check_zip(path, findings),
        "geojson": lambda: check_geojson(path, findings),
        "json": lambda: check_json(path, findings),
        "pdf": lambda: check_pdf(path, findings),
        "png": lambda: check_image(path, findings, "PNG"),
        "jpg": lambda: check_image(path, findings, "JPEG"),
    }[fmt]()
    return findings


def sniff(fmt: str, path: Path) -> str:
    """The format a file inferred from its extension really has: a zip holding stops.txt and
    stop_times.txt is a GTFS feed; a .json holding a GeoJSON object is GeoJSON."""
    if fmt == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = {n.rsplit("/", 1)[-1] for n in archive.namelist()}
        except (zipfile.BadZipFile, OSError):
            return fmt  # check_zip says what is wrong
        return "gtfs" if GTFS_MARKERS & names else fmt
    if fmt == "json":
        try:
            with path.open("rb") as fh:
                head = fh.read(1 << 16).decode("utf-8", errors="ignore")
        except OSError:
            return fmt
        if '"type"' in head and any(f'"{t}"' in head for t in GEOJSON_TYPES):
            return "geojson"
    return fmt


# -- ZIP and GTFS -------------------------------------------------------------------------------
def _open_zip(path: Path, findings: Findings) -> zipfile.ZipFile | None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        findings.error(
            "file-error",
            f"ZIP として開けません（{exc}） / cannot open the file as a ZIP: {exc}",
        )
        return None
    inflated = sum(info.file_size for info in archive.infolist())
    if inflated > UNPACKED_ZIP.bytes:
        archive.close()
        findings.error(
            "size-error",
            f"ZIP の中身が展開すると {inflated >> 20:,} MB あり、上限 {UNPACKED_ZIP.megabytes:,} MB"
            f"（{UNPACKED_ZIP.variable}）を超えます / the ZIP unpacks to {inflated >> 20:,} MB,"
            f" over the limit of {UNPACKED_ZIP.megabytes:,} MB ({UNPACKED_ZIP.variable})",
            value=f"{inflated:,} bytes",
        )
        return None
    return archive


def check_zip(path: Path, findings: Findings) -> None:
    """A ZIP published as it is: it opens, and every member's CRC holds."""
    archive = _open_zip(path, findings)
    if archive is None:
        return
    with archive:
        try:
            broken = archive.testzip()
        except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError) as exc:
            findings.error("file-error", f"ZIP を読めません（{exc}） / cannot read the ZIP: {exc}")
            return
        if broken is not None:
            findings.error(
                "file-error",
                f"ZIP の中の {broken} が壊れています（CRC が合いません） / {broken} inside the ZIP is"
                " damaged (CRC mismatch)",
                value=broken,
            )
        findings.facts["files"] = len(archive.infolist())


def check_gtfs(path: Path, findings: Findings, area: Box | None) -> None:
    """A GTFS Schedule feed: the required files at the zip's root, each parsed by partridge
    (its CSV reader and its converters for dates, times and numbers), the required columns
    partridge declares, references between the files, and every stop's position: inside Japan,
    not swapped, and (a warning) inside the publisher's area."""
    archive = _open_zip(path, findings)
    if archive is None:
        return
    with archive:
        members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        at_root = {n for n in members if "/" not in n}
        nested = {n.rsplit("/", 1)[-1] for n in members if "/" in n}
        wanted = [n for n in GTFS_REQUIRED if n not in at_root]
        if not set(GTFS_CALENDARS) & at_root:
            wanted.append(" または ".join(GTFS_CALENDARS))
        for name in wanted:
            where = (
                "（フォルダの中にあります。zip の最上位に置いてください） / it is inside a folder;"
                " GTFS files belong at the zip's top level"
                if name in nested
                else f" / the feed has no {name}"
            )
            findings.error(
                "gtfs-error",
                f"GTFS に必須のファイル {name} がありません{where}",
                value=name,
            )
        if wanted:
            return
        with _unpacked(archive, sorted(n for n in at_root if n.endswith(".txt"))) as folder:
            _check_feed(folder, findings, area)


@contextmanager
def _unpacked(archive: zipfile.ZipFile, names: list[str]) -> Iterator[Path]:
    """The feed's text files in a temporary folder (names at the root only: no path leaves it)."""
    with tempfile.TemporaryDirectory(prefix="opendata-gtfs-") as folder:
        for name in names:
            with archive.open(name) as source, (Path(folder) / name).open("wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
        yield Path(folder)


def _check_feed(folder: Path, findings: Findings, area: Box | None) -> None:
    import partridge
    from partridge.config import default_config

    config = default_config()
    try:
        with _quiet():
            feed = partridge.load_raw_feed(str(folder))
            tables = {name: feed.get(name) for name in sorted(p.name for p in folder.glob("*.txt"))}
    except Exception as exc:  # partridge and pandas raise many kinds on a broken file
        findings.error("gtfs-error", f"GTFS を読めません（{exc}） / cannot read the feed: {exc}")
        return
    for name, table in tables.items():
        node = config.nodes.get(name, {})
        missing = [c for c in GTFS_COLUMNS.get(name, ()) if c not in table.columns]
        if name == "routes.txt" and not {"route_short_name", "route_long_name"} & set(
            table.columns
        ):
            missing.append("route_short_name")
        for column in missing:
            findings.error(
                "gtfs-error",
                f"必須の列 {column} がありません / the required column {column} is missing",
                inner=name,
                column=column,
            )
        for column, convert in node.get("converters", {}).items():
            if column in table.columns and column not in missing:
                _convertible(table[column], convert, name, column, findings)
    _references(tables, findings)
    _stops(tables["stops.txt"], findings, area)
    findings.facts["gtfs"] = {
        "agencies": len(tables["agency.txt"]),
        "routes": len(tables["routes.txt"]),
        "stops": len(tables["stops.txt"]),
        "trips": len(tables["trips.txt"]),
    }


def _row(index: Any) -> int:
    """The row as a spreadsheet shows it: the header is row 1."""
    return int(index) + 2


def _convertible(column: Any, convert: Any, name: str, field_name: str, findings: Findings) -> None:
    """partridge's own converter over the column; where it fails, the cells it fails on."""
    try:
        with _quiet():
            convert(column)
        return
    except Exception:
        pass
    import pandas as pd

    for index, value in column.items():
        try:
            with _quiet():
                convert(pd.Series([value], dtype=object))
        except Exception:
            shown = "" if not isinstance(value, str) else value
            findings.error(
                "gtfs-error",
                f"{field_name} の値を読めません（日付は YYYYMMDD、時刻は HH:MM:SS、数値は半角）"
                f" / cannot read the {field_name} value (dates YYYYMMDD, times HH:MM:SS, numbers)",
                inner=name,
                row=_row(index),
                column=field_name,
                value=shown,
            )


# file, column → the file and column it refers to
REFERENCES = [
    ("trips.txt", "route_id", "routes.txt", "route_id"),
    ("stop_times.txt", "trip_id", "trips.txt", "trip_id"),
    ("stop_times.txt", "stop_id", "stops.txt", "stop_id"),
]


def _references(tables: dict[str, Any], findings: Findings) -> None:
    services: set[str] = set()
    for calendar in GTFS_CALENDARS:
        if calendar in tables and "service_id" in tables[calendar].columns:
            services |= set(tables[calendar]["service_id"].dropna())
    checks = [(*r, None) for r in REFERENCES] + [
        ("trips.txt", "service_id", "calendar.txt / calendar_dates.txt", "service_id", services)
    ]
    for name, column, target, target_column, known in checks:
        table = tables[name]
        if column not in table.columns:
            continue
        if known is None:
            if target_column not in tables[target].columns:
                continue
            known = set(tables[target][target_column].dropna())
        for index, value in table[column].items():
            if isinstance(value, str) and value not in known:
                findings.error(
                    "gtfs-error",
                    f"{column} {value!r} が {target} にありません / {column} not found in {target}",
                    inner=name,
                    row=_row(index),
                    column=column,
                    value=value,
                )


def _stops(stops: Any, findings: Findings, area: Box | None) -> None:
    """Every stop with a position inside Japan; one outside the area is a warning."""
    if "stop_lat" not in stops.columns or "stop_lon" not in stops.columns:
        for column in ("stop_lat", "stop_lon"):
            if column not in stops.columns:
                findings.error(
                    "gtfs-error",
                    f"列 {column} がありません / the column {column} is missing",
                    inner="stops.txt",
                    column=column,
                )
        return
    kinds = stops["location_type"] if "location_type" in stops.columns else None
    lats: list[float] = []
    lons: list[float] = []
    for index, (lat_text, lon_text) in enumerate(
        zip(stops["stop_lat"], stops["stop_lon"], strict=True)
    ):
        kind = kinds.iloc[index] if kinds is not None else ""
        kind = kind if isinstance(kind, str) else ""
        row = _row(index)
        values = {}
        for column, text in (("stop_lat", lat_text), ("stop_lon", lon_text)):
            number = _number(text)
            if number is None and (isinstance(text, str) or kind in LOCATED_STOP_TYPES):
                findings.error(
                    "gtfs-error",
                    f"{column} が数値ではありません（停留所・駅・出入口には位置が必要です）"
                    f" / {column} is not a number (stops, stations and entrances need a position)",
                    inner="stops.txt",
                    row=row,
                    column=column,
                    value=text if isinstance(text, str) else "",
                )
            values[column] = number
        lat, lon = values["stop_lat"], values["stop_lon"]
        if lat is None or lon is None:
            continue
        if _inside(lon, LATITUDES) and _inside(lat, LONGITUDES):
            findings.error(
                "gtfs-error",
                "stop_lat と stop_lon が入れ替わっています / stop_lat and stop_lon are swapped",
                inner="stops.txt",
                row=row,
                column="stop_lat",
                value=lat_text,
                fix=f"stop_lat {lon_text}, stop_lon {lat_text}",
            )
            continue
        outside = False
        if not _inside(lat, LATITUDES):
            outside = True
            findings.error(
                "gtfs-error",
                "緯度が日本の範囲（北緯20～46度）の外です / latitude outside Japan (20–46 N)",
                inner="stops.txt",
                row=row,
                column="stop_lat",
                value=lat_text,
            )
        if not _inside(lon, LONGITUDES):
            outside = True
            findings.error(
                "gtfs-error",
                "経度が日本の範囲（東経122～154度）の外です / longitude outside Japan (122–154 E)",
                inner="stops.txt",
                row=row,
                column="stop_lon",
                value=lon_text,
            )
        if outside:
            continue
        lats.append(lat)
        lons.append(lon)
        if area is not None:
            west, south, east, north = area
            if not (_inside(lat, (south, north)) and _inside(lon, (west, east))):
                findings.warn(
                    "source-warning",
                    f"停留所が区域（catalog.yaml の extent: 北緯{south}～{north}度、東経{west}～{east}度）"
                    "の外です / the stop lies outside the publisher's area",
                    inner="stops.txt",
                    row=row,
                    column="stop_lat",
                    value=f"{lat_text}, {lon_text}",
                )
    if lats:
        findings.bbox = (min(lons), min(lats), max(lons), max(lats))


def _number(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _inside(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


@contextmanager
def _quiet() -> Iterator[None]:
    """Libraries' own warnings (pandas' dtype notes, pypdf's repairs) stay out of the output:
    what matters is reported as a Problem."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


# -- JSON and GeoJSON ---------------------------------------------------------------------------
def _json(path: Path, findings: Findings) -> Any:
    """The parsed document, or None after a located error (the line JSON breaks on)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        findings.error(
            "encoding-error",
            "JSON は UTF-8 で保存してください（RFC 8259） / JSON must be UTF-8 (RFC 8259)",
            value=f"byte {exc.start}",
        )
        return None
    try:
        return json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        line = text.splitlines()[exc.lineno - 1] if text.splitlines() else ""
        findings.error(
            "file-error",
            f"JSON として読めません（{exc.msg}、{exc.colno}文字目） / not valid JSON: {exc.msg}"
            f" at column {exc.colno}",
            row=exc.lineno,
            value=line[max(0, exc.colno - 40) : exc.colno + 40],
        )
        return None


def check_json(path: Path, findings: Findings) -> None:
    _json(path, findings)


def check_geojson(path: Path, findings: Findings) -> None:
    """RFC 7946: the object's structure and every geometry (the `geojson` library's checks:
    positions, a LineString of 2+, a Polygon's rings closed with 4+ positions), positions in
    degrees; each problem names the feature (features[3]) and, for a named feature, its id."""
    import geojson

    document = _json(path, findings)
    if document is None:
        return
    if not isinstance(document, dict) or document.get("type") not in GEOJSON_TYPES:
        findings.error(
            "geometry-error",
            "GeoJSON の type（FeatureCollection, Feature, Point, …）がありません"
            " / not a GeoJSON object: no GeoJSON type",
            value=str(document.get("type") if isinstance(document, dict) else type(document))[:80],
        )
        return
    if document["type"] == "FeatureCollection":
        items = document.get("features")
        if not isinstance(items, list):
            findings.error(
                "geometry-error",
                "FeatureCollection に features のリストがありません / features must be a list",
            )
            return
        parts = [(f"features[{i}]", item) for i, item in enumerate(items)]
    else:
        parts = [("", document)]
    boxes: list[Box] = []
    for where, item in parts:
        label = _label(where, item)
        try:
            obj = geojson.GeoJSON.to_instance(item, strict=True)
            problems = obj.errors() if hasattr(obj, "errors") else "not a GeoJSON object"
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            problems = str(exc) or type(exc).__name__
        if problems:
            findings.error(
                "geometry-error",
                f"{label}図形が RFC 7946 に合いません（{_describe(problems)}）"
                f" / {label}invalid geometry: {_describe(problems)}",
                column=where or None,
                value=json.dumps(item, ensure_ascii=False)[:80],
            )
            continue
        positions = list(
            _positions(item.get("geometry") if item.get("type") == "Feature" else item)
        )
        bad = [p for p in positions if not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90)]
        if bad:
            findings.error(
                "geometry-error",
                f"{label}座標が経度・緯度（度）の範囲の外です（RFC 7946 は [経度, 緯度]、WGS 84）"
                f" / {label}a position is not [longitude, latitude] in degrees",
                column=where or None,
                value=json.dumps(bad[0]),
            )
            continue
        if positions:
            xs, ys = [p[0] for p in positions], [p[1] for p in positions]
            boxes.append((min(xs), min(ys), max(xs), max(ys)))
    findings.facts["features"] = len(parts) if document["type"] == "FeatureCollection" else 1
    if boxes and not findings.errors:
        findings.bbox = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )


def _label(where: str, item: Any) -> str:
    if not where:
        return ""
    ident = item.get("id") if isinstance(item, dict) else None
    return f"{where}（id {ident}）: " if ident is not None else f"{where}: "


def _describe(problems: Any) -> str:
    """The `geojson` library's findings (text, or nested dicts/lists of them) as one line."""
    if isinstance(problems, dict):
        return "; ".join(f"{k}: {_describe(v)}" for k, v in problems.items() if v)
    if isinstance(problems, list):
        return "; ".join(_describe(p) for p in problems if p)
    return str(problems)


def _positions(geometry: Any) -> Iterator[tuple[float, float]]:
    if not isinstance(geometry, dict):
        return
    if geometry.get("type") == "GeometryCollection":
        for part in geometry.get("geometries") or []:
            yield from _positions(part)
        return
    yield from _flatten(geometry.get("coordinates"))


def _flatten(value: Any) -> Iterator[tuple[float, float]]:
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        yield float(value[0]), float(value[1])
    elif isinstance(value, list):
        for part in value:
            yield from _flatten(part)


# -- PDF and images -----------------------------------------------------------------------------
def check_pdf(path: Path, findings: Findings) -> None:
    """pypdf opens it (not encrypted: a reader could not open it either) and finds pages."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        with _quiet():
            reader = PdfReader(path, strict=False)
            if reader.is_encrypted:
                findings.error(
                    "file-error",
                    "PDF が暗号化（パスワード保護）されています。保護を外して保存し直してください"
                    " / the PDF is encrypted (password protected); save it without protection",
                )
                return
            pages = len(reader.pages)
            for page in reader.pages:
                page.mediabox  # noqa: B018 — each page's dictionary is read
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        findings.error(
            "file-error",
            f"PDF を開けません（{exc}） / cannot open the PDF: {exc}",
        )
        return
    if pages == 0:
        findings.error("file-error", "PDF にページがありません / the PDF has no pages")
        return
    findings.facts["pages"] = pages


def check_image(path: Path, findings: Findings, expected: str) -> None:
    """Pillow reads the header and verifies the data (CRCs of PNG chunks, JPEG markers)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with _quiet(), Image.open(path) as image:
            kind, size = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        findings.error(
            "file-error", f"画像として開けません（{exc}） / cannot open the image: {exc}"
        )
        return
    except Image.DecompressionBombError as exc:
        findings.error("size-error", f"画像が大きすぎます（{exc}） / the image is too large: {exc}")
        return
    if kind != expected:
        findings.error(
            "file-error",
            f"中身は {kind} の画像です。拡張子か format を合わせてください / the image is"
            f" {kind}, not {expected}: match the extension or `format`",
            value=str(kind),
        )
        return
    findings.facts["width"], findings.facts["height"] = size
