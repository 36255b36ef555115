"""The counting rules of `opendata stats` (README, "Download statistics"), over Arrow blocks.

A parsed line meets the rules in this order and is tallied by the first that excludes it:
HEAD, other methods, 304, other statuses (anything but 200 and 206), the API's datastore calls
(counted apart), robots.txt and the site's own pages and assets, URLs not in the catalog. What
is left are requests of published files; among those, lines from declared crawlers (by user
agent), from clients that fetched robots.txt, from clients above the daily request limit, and
repeats (the same client, file and Japan day: many Range requests of one reader) are excluded,
and each remaining (client, file, day) is one download.

A client is a keyed hash of IP address and user agent (random weights drawn for each run and
never written; computed column-wise): it lives in this process only.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import paths
from .logs import Block, LogFile, chunks, parse

JST = 9 * 3600
DAY = 86400
MAX_PER_DAY = 1000  # requests of any URL by one client in one Japan day; above it: a robot
LIST = 20  # corrupt lines and unknown URLs listed (all are counted)
# Declared crawlers: their user agents name themselves. Any agent with bot, crawler or spider
# in it, and these that say neither.
CRAWLERS = re.compile(
    r"bot|crawler|spider|slurp|facebookexternalhit|bingpreview|archive\.org_bot|ia_archiver"
    r"|yahoo! slurp|baiduspider|yandex|sogou|exabot|petalsearch|bytespider|headlesschrome",
    re.IGNORECASE,
)
DATASTORE = r"^(/api/3/action/|/api/action/)datastore_"
DATASET_PATH = re.compile(r"^/datasets/(?P<rest>.+)$")
API_PATHS = ("/api/", "/openapi.json", "/dataset/")  # opendata serve's API and DCAT

RULES = [
    ("corrupt", "読めない行 / corrupt or truncated line"),
    ("head", "HEAD 要求 / HEAD request"),
    ("method", "GET 以外 / another method than GET"),
    ("not_modified", "304 Not Modified"),
    ("status", "200・206 以外の応答 / status other than 200 and 206 (errors, redirects)"),
    ("datastore_api", "API の datastore 呼び出し（別に集計） / API datastore call (counted apart)"),
    ("site", "サイトのページ・資産・robots.txt / the site's own pages, assets, robots.txt"),
    ("not_in_catalog", "カタログにない URL / URL not in the catalog"),
    ("robot_user_agent", "クローラーの User-Agent / a declared crawler's user agent"),
    ("robots_txt", "robots.txt を取得したクライアント / a client that fetched robots.txt"),
    ("rate", f"1日 {MAX_PER_DAY:,} 要求超のクライアント / above the daily limit"),
    ("repeat", "同じクライアント・ファイル・日の2回目以降 / a repeat (same client, file, day)"),
]


@dataclass(frozen=True)
class Published:
    """A file of the catalog: dataset, resource, format; versioned or the stable URL."""

    dataset: str
    resource: str
    format: str


def catalog_files(site: Path) -> dict[str, Published]:
    """`<name>/<file>` and `<name>/<version>/<file>` (as URLs write them) → the file, from the
    datapackage.json of every dataset and every released version in the site."""
    files: dict[str, Published] = {}
    folders = [paths.dataset(site, n) for n in paths.built_names(site)]
    for folder in [*folders, *paths.version_folders(site)]:
        descriptor = json.loads(paths.descriptor(folder).read_text(encoding="utf-8"))
        name = descriptor["name"]
        prefix = folder.relative_to(paths.datasets(site)).as_posix()
        for resource in descriptor.get("resources", []):
            where = resource.get("path")
            if not isinstance(where, str):
                continue
            fmt = str(resource.get("format") or Path(where).suffix.lstrip(".")).lower()
            published = Published(name, resource.get("name", where), fmt)
            for spelled in {where, quote(where), _lower_escapes(quote(where))}:
                files[f"{prefix}/{spelled}"] = published
    return files


def _lower_escapes(url: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), url)


@dataclass
class Tally:
    """What the logs of one file add up to (merged across files at the end)."""

    excluded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    corrupt: list[tuple[str, int]] = field(default_factory=list)
    unknown: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    parts: list[pa.Table] = field(default_factory=list)  # client, day, key, lines
    per_day: list[pa.Table] = field(default_factory=list)  # client, day, requests
    datastore: list[pa.Table] = field(default_factory=list)  # client, day, calls
    robots_txt: set[int] = field(default_factory=set)
    lines: int = 0
    first: int | None = None
    last: int | None = None


class Counter:
    def __init__(self, site: Path, max_per_day: int = MAX_PER_DAY, list_limit: int = LIST):
        self.files = catalog_files(site)
        self.keys = pa.array(list(self.files), pa.string())
        self.site = site
        self.max_per_day = max_per_day
        self.list_limit = list_limit
        # The hash's key: odd 64-bit weights drawn for this run, in memory only.
        seed = np.random.default_rng(secrets.randbits(128))
        self._weights = seed.integers(0, 2**63, size=4096, dtype=np.uint64) * 2 + 1
        self._exists: dict[str, bool] = {}

    def client_ids(self, ip: pa.Array, ua: pa.Array) -> tuple[pa.Array, pa.Array]:
        """A keyed 64-bit hash of IP and user agent for each line, column-wise (NumPy); and
        whether each line's agent is a declared crawler (RE2 over the column)."""
        joined = pc.binary_join_element_wise(ip, ua, "\x00")
        crawler = pc.match_substring_regex(ua, CRAWLERS.pattern, ignore_case=True)
        return pa.array(self._hash(joined), pa.int64()), crawler

    def _hash(self, strings: pa.Array) -> np.ndarray[Any, Any]:
        """Σ (byte + 1) × w[position] + length × w0 mod 2⁶⁴, the weights w drawn at random for
        this run: two different clients collide with probability about 2⁻⁵⁶."""
        offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[
            strings.offset : strings.offset + len(strings) + 1
        ]
        data = np.frombuffer(strings.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        starts = offsets[:-1] - offsets[0]
        lengths = np.diff(offsets)
        position = np.arange(len(data), dtype=np.int64) - np.repeat(starts, lengths)
        terms = (data.astype(np.uint64) + np.uint64(1)) * self._weights[
            position % len(self._weights)
        ]
        sums = np.add.reduceat(terms, starts) if len(strings) else terms
        hashed = sums + lengths.astype(np.uint64) * self._weights[0]
        return hashed.view(np.int64)

    def _site_file(self, path: str) -> bool:
        known = self._exists.get(path)
        if known is None and path.startswith(API_PATHS):  # the API's other answers
            known = self._exists[path] = True
        if known is None:
            relative = path.lstrip("/")
            target = self.site / relative
            known = ".." not in relative.split("/") and (
                target.is_file() or (target / paths.INDEX_PAGE).is_file()
            )
            self._exists[path] = known
        return known

    def add(self, tally: Tally, log: LogFile, block: Block) -> None:
        tally.excluded["corrupt"] += block.bad_count
        room = self.list_limit - len(tally.corrupt)
        tally.corrupt.extend((str(log.path), n) for n in block.bad_lines[: max(room, 0)])
        table = block.table
        if table.num_rows == 0:
            return
        tally.lines += table.num_rows
        low, high = pc.min_max(table["time"]).values()
        tally.first = min(x for x in (tally.first, low.as_py()) if x is not None)
        tally.last = max(x for x in (tally.last, high.as_py()) if x is not None)
        client, crawler = self.client_ids(table["ip"], table["ua"])
        day = pc.cast(pc.divide(pc.add(table["time"], JST), DAY), pa.int32())
        base = pa.table({"client": client, "day": day, "n": pa.repeat(1, len(day))})
        tally.per_day.append(base.group_by(["client", "day"]).aggregate([("n", "sum")]))
        method, status, path = table["method"], table["status"], table["path"]
        robots = pc.equal(path, "/robots.txt")
        tally.robots_txt.update(pc.unique(pc.filter(client, robots)).to_pylist())

        left = pa.repeat(True, table.num_rows)

        def take(rule: str, mask: Any) -> Any:
            nonlocal left
            hit = pc.and_(left, mask)
            tally.excluded[rule] += pc.sum(hit).as_py() or 0
            left = pc.and_not(left, hit)
            return hit

        take("head", pc.equal(method, "HEAD"))
        take("method", pc.not_equal(method, "GET"))
        take("not_modified", pc.equal(status, 304))
        take("status", pc.invert(pc.is_in(status, pa.array([200, 206], pa.int16()))))
        api = take("datastore_api", pc.match_substring_regex(path, DATASTORE))
        if pc.any(api).as_py():
            calls = pa.table({"client": client, "day": day, "n": base["n"]}).filter(api)
            tally.datastore.append(calls.group_by(["client", "day"]).aggregate([("n", "sum")]))
        # Files of the catalog: /datasets/<key>, the key looked up among the published ones.
        key = pc.replace_substring_regex(path, r"^/datasets/", "")
        under = pc.starts_with(path, "/datasets/")
        index = pc.index_in(key, value_set=self.keys)
        published = pc.and_(under, pc.is_valid(index))
        # What is left is the site's own or unknown: decided once per distinct path.
        rest = pc.and_not(left, pc.fill_null(published, False))
        if pc.any(rest).as_py():
            others = pc.filter(path, rest)
            distinct = pc.unique(others).to_pylist()
            own = pa.array([p for p in distinct if self._site_file(p)], pa.string())
            is_own = pc.is_in(path, value_set=own)
            take("site", pc.and_(rest, is_own))
            unknown = take("not_in_catalog", pc.and_not(rest, is_own))
            if pc.any(unknown).as_py():
                counts = pc.value_counts(pc.filter(path, unknown))
                for item in counts.to_pylist():
                    tally.unknown[item["values"]] += item["counts"]
        candidates = pa.table(
            {"client": client, "day": day, "key": index, "crawler": crawler, "n": base["n"]}
        ).filter(left)
        if candidates.num_rows:
            tally.parts.append(
                candidates.group_by(["client", "day", "key", "crawler"]).aggregate([("n", "sum")])
            )
        if len(tally.parts) > 64:  # keep memory flat: fold the partial sums together
            tally.parts = [_fold(tally.parts, ["client", "day", "key", "crawler"])]
            tally.per_day = [_fold(tally.per_day, ["client", "day"])]

    def result(self, tallies: list[Tally]) -> dict[str, Any]:
        excluded: dict[str, int] = defaultdict(int)
        for tally in tallies:
            for rule, n in tally.excluded.items():
                excluded[rule] += n
        robots_txt = set().union(*(t.robots_txt for t in tallies))
        per_day = _fold([p for t in tallies for p in t.per_day], ["client", "day"])
        busy = per_day.filter(pc.greater(per_day["n_sum"], self.max_per_day))
        busy_keys = pc.binary_join_element_wise(
            pc.cast(busy["client"], pa.string()), pc.cast(busy["day"], pa.string()), ":"
        )
        parts = _fold([p for t in tallies for p in t.parts], ["client", "day", "key", "crawler"])
        counted: dict[tuple[str, str, str], int] = defaultdict(int)
        months: dict[str, int] = defaultdict(int)
        if parts.num_rows:
            crawler = parts["crawler"]
            fetched = pc.and_not(
                pc.is_in(parts["client"], pa.array(list(robots_txt), pa.int64())), crawler
            )
            day_key = pc.binary_join_element_wise(
                pc.cast(parts["client"], pa.string()), pc.cast(parts["day"], pa.string()), ":"
            )
            over = pc.and_not(pc.and_not(pc.is_in(day_key, busy_keys), crawler), fetched)
            lines = parts["n_sum"]
            excluded["robot_user_agent"] += pc.sum(pc.if_else(crawler, lines, 0)).as_py() or 0
            excluded["robots_txt"] += pc.sum(pc.if_else(fetched, lines, 0)).as_py() or 0
            excluded["rate"] += pc.sum(pc.if_else(over, lines, 0)).as_py() or 0
            kept = parts.filter(pc.invert(pc.or_(pc.or_(crawler, fetched), over)))
            excluded["repeat"] += (pc.sum(kept["n_sum"]).as_py() or 0) - kept.num_rows
            grouped = (
                kept.append_column("one", pa.repeat(1, kept.num_rows))
                .group_by(["day", "key"])
                .aggregate([("one", "sum")])
            )
            keys = self.keys.to_pylist()
            for day, key, n in zip(
                grouped["day"].to_pylist(),
                grouped["key"].to_pylist(),
                grouped["one_sum"].to_pylist(),
                strict=True,
            ):
                file = self.files[keys[key]]
                month = _month(day)
                counted[(month, file.dataset, file.format)] += n
                months[month] += n
        datastore = _fold([p for t in tallies for p in t.datastore], ["client", "day"])
        api: dict[str, int] = defaultdict(int)
        for day, n in zip(
            datastore["day"].to_pylist(), datastore["n_sum"].to_pylist(), strict=True
        ):
            api[_month(day)] += n
        unknown: dict[str, int] = defaultdict(int)
        for tally in tallies:
            for path, n in tally.unknown.items():
                unknown[path] += n
        total_lines = sum(t.lines for t in tallies) + excluded["corrupt"]
        downloads = sum(months.values())
        covered = sorted({_month(d) for d in pc.unique(per_day["day"]).to_pylist()})
        return {
            "lines": total_lines,
            "downloads": downloads,
            "months_covered": covered,
            "months": [
                {"month": m, "downloads": months.get(m, 0), "datastore_api_calls": api.get(m, 0)}
                for m in covered
            ],
            "by_dataset": [
                {"month": m, "dataset": d, "format": f, "downloads": n}
                for (m, d, f), n in sorted(counted.items())
            ],
            "excluded": {rule: excluded.get(rule, 0) for rule, _ in RULES},
            "rules": dict(RULES)
            | {"rate": f"1日 {self.max_per_day:,} 要求超のクライアント / above the daily limit"},
            "corrupt_lines": [{"file": f, "line": n} for t in tallies for f, n in t.corrupt][
                : self.list_limit
            ],
            "not_in_catalog": {
                "count": sum(unknown.values()),
                "paths": [p for p, _ in sorted(unknown.items(), key=lambda x: -x[1])][
                    : self.list_limit
                ],
            },
        }


def _fold(tables: list[pa.Table], keys: list[str]) -> pa.Table:
    """Partial sums (`n_sum`) of the same keys added together."""
    if not tables:
        fields = [(k, pa.int32() if k == "day" else pa.int64()) for k in keys]
        return pa.table(
            {k: pa.array([], t) for k, t in fields} | {"n_sum": pa.array([], pa.int64())}
        )
    table = pa.concat_tables(tables)
    return table.group_by(keys).aggregate([("n_sum", "sum")]).rename_columns([*keys, "n_sum"])


def _month(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).strftime("%Y-%m")


def count(
    logs: list[Path],
    site: Path,
    fmt: str = "combined",
    max_per_day: int = MAX_PER_DAY,
    list_limit: int = LIST,
) -> dict[str, Any]:
    """Every log, read once; a file whose text equals one read before is reported and not
    counted again (rotated copies: `access.log.1` and `access.log.1.gz`)."""
    counter = Counter(site, max_per_day, list_limit)
    tallies: list[Tally] = []
    files: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for path in logs:
        log, tally = LogFile(path), Tally()
        # Blocks parsed on two threads (Arrow's kernels release the GIL), added in order.
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending: deque[Future[Block]] = deque()
            for body, first in chunks(log):
                pending.append(pool.submit(parse, body, first, fmt, list_limit))
                if len(pending) > 2:
                    counter.add(tally, log, pending.popleft().result())
            while pending:
                counter.add(tally, log, pending.popleft().result())
        entry: dict[str, Any] = {"file": str(path), "lines": log.lines}
        if log.truncated:
            entry["truncated"] = log.error
        if log.digest in seen:
            entry["duplicate_of"] = seen[log.digest]
        else:
            seen[log.digest] = str(path)
            tallies.append(tally)
        files.append(entry)
    result = counter.result(tallies)
    result["files"] = files
    excluded = result["excluded"]
    published = result["downloads"] + sum(
        excluded[r] for r in ("robot_user_agent", "robots_txt", "rate", "repeat")
    )
    unknown = result["not_in_catalog"]["count"]
    # More successful requests for files the catalog never published than for its own files:
    # not this site's log (or --site is not the site that was served).
    result["different_site"] = unknown > 0 and unknown >= published
    result["max_requests_per_day"] = max_per_day
    return result
