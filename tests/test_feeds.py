"""Atom feeds of releases, read with feedparser as a feed reader would."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import feedparser
import pytest

from conftest import MINIMAL_CSV, PUBLISHABLE, opendata, write_dataset

EPOCH = 1764400000


def _release(root: Path, epoch: int, notes: str) -> None:
    datasets, site = str(root / "datasets"), str(root / "dist")
    assert opendata("build", "--datasets", datasets, "--out", site).returncode == 0
    done = opendata(
        "release", "--site", site, "--datasets", datasets, "--notes", notes,
        env={"SOURCE_DATE_EPOCH": str(epoch)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def twice_released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("feeds")
    write_dataset(root, PUBLISHABLE, {"items.csv": MINIMAL_CSV})
    _release(root, EPOCH, "初版")
    write_dataset(root, PUBLISHABLE, {"items.csv": MINIMAL_CSV.replace("3200", "3300")})
    _release(root, EPOCH + 86400, "金額の訂正")
    return root / "dist"


def test_a_dataset_feed_has_one_entry_per_released_version(twice_released: Path) -> None:
    feed = feedparser.parse((twice_released / "feeds/dataset/sample-budget.atom").read_bytes())
    assert not feed.bozo, feed.bozo_exception
    assert [e.title for e in feed.entries] == ["予算の例 1.0.1", "予算の例 1.0.0"]  # newest first
    newest, first = feed.entries
    assert "訂正" in newest.summary and "金額の訂正" in newest.summary
    assert newest.tags[0].term == "patch" and first.tags[0].term == "new"
    assert newest.updated.startswith("2025-11-30") and first.updated.startswith("2025-11-29")
    enclosure = next(link for link in newest.links if link.rel == "enclosure")
    assert enclosure.href.endswith("/datasets/sample-budget/1.0.1/datapackage.json")
    assert feed.feed.updated == newest.updated


def test_the_catalog_feed_lists_every_dataset_s_versions(twice_released: Path) -> None:
    feed = feedparser.parse((twice_released / "feeds/dataset.atom").read_bytes())
    assert not feed.bozo, feed.bozo_exception
    titles = {e.title for e in feed.entries}
    assert {"予算の例 1.0.0", "予算の例 1.0.1"} <= titles
    assert any(t.startswith("オープンデータ一覧") for t in titles)  # the list is released too
    released = json.loads((twice_released / "releases/latest.json").read_text())
    assert len(feed.entries) == len({e.id for e in feed.entries}) >= len(released["versions"])


def test_pages_announce_their_feeds(twice_released: Path) -> None:
    index = (twice_released / "index.html").read_text("utf-8")
    page = (twice_released / "datasets/sample-budget/index.html").read_text("utf-8")
    assert 'type="application/atom+xml" href="feeds/dataset.atom"' in index
    assert 'href="../../feeds/dataset/sample-budget.atom"' in page


def test_serve_answers_feeds_as_atom(server: str) -> None:
    with urllib.request.urlopen(f"{server}/feeds/dataset.atom", timeout=10) as response:
        assert response.headers["content-type"].startswith("application/atom+xml")
        feed = feedparser.parse(response.read())
    assert not feed.bozo and feed.entries == []  # a site never released: a feed with no entries
