"""`opendata publish --to s3://bucket/prefix` against a real S3-compatible server (SeaweedFS,
tests/s3_site.py): every file round-trips with its headers, a second run uploads nothing, a
publish killed midway leaves the old release readable and the rerun completes it."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from catalog import paths
from catalog.publish import s3
from catalog.publish.webroot import latest_release

from conftest import Ran, latest_snapshot, opendata
from s3_site import S3Site, client

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=60"
_numbers = itertools.count()


class Killed(BaseException):
    """The publish stops here, as a killed process would (no handler of ours catches it)."""


def _bucket(s3_site: S3Site) -> str:
    name = f"opendata-{next(_numbers)}"
    client(s3_site).mkdir(name)
    return name


def _publish(s3_site: S3Site, site: Path, url: str, *args: str, **env: str | None) -> Ran:
    """The command with the store's settings (a variable given None is unset); never a
    traceback, never a key in its output."""
    done = opendata("publish", "--site", str(site), "--to", url, *args, env=s3_site.env(**env))
    assert "Traceback" not in done.stderr
    for secret in (s3_site.access_key, s3_site.secret_key, *env.values()):
        assert not secret or secret not in done.stdout + done.stderr
    return done


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _objects(s3_site: S3Site, url: str) -> dict[str, bytes]:
    fs = client(s3_site)
    root = url.removeprefix("s3://").rstrip("/") + "/"
    return {key.removeprefix(root): fs.cat_file(key) for key in fs.find(root)}


def _head(s3_site: S3Site, url: str, path: str) -> dict[str, Any]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    key = f"{prefix.strip('/')}/{path}"
    head: dict[str, Any] = client(s3_site).call_s3("head_object", Bucket=bucket, Key=key)
    return head


def _recording_puts(monkeypatch: pytest.MonkeyPatch, before: Callable[[int], None]) -> list[str]:
    """Bucket.put as it is, each path recorded; `before(uploads done)` runs before each."""
    put = s3.Bucket.put
    done: list[str] = []

    def recorded(self: s3.Bucket, upload: s3.Upload) -> None:
        before(len(done))
        put(self, upload)
        done.append(upload.path)

    monkeypatch.setattr(s3.Bucket, "put", recorded)
    return done


def test_every_file_round_trips_with_its_headers_in_order_and_again_uploads_nothing(
    two_releases: tuple[Path, Path], s3_site: S3Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, site = two_releases
    url = f"s3://{_bucket(s3_site)}/opendata"
    order = _recording_puts(monkeypatch, lambda _count: None)
    done = _publish(s3_site, site, url)
    assert done.returncode == 0, done.stderr
    release = latest_snapshot(site)
    files = _files(release)
    assert _objects(s3_site, url) == files  # every file, byte for byte, and nothing else
    for path, data in files.items():
        head = _head(s3_site, url, path)
        assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
        versioned = paths.never_changes(tuple(path.split("/")))
        assert head["CacheControl"] == (IMMUTABLE if versioned else SHORT), path
    types = {
        "datasets/survey-results/1.0.1/survey-results.parquet": "application/vnd.apache.parquet",
        "datasets/survey-results/survey-results.csv": "text/csv; charset=utf-8",
        "catalog.jsonld": "application/ld+json",
        "catalog.ttl": "text/turtle; charset=utf-8",
        "catalog.json": "application/json",
        "index.html": "text/html; charset=utf-8",
        "feeds/dataset.atom": "application/atom+xml",
    }
    for path, media_type in types.items():
        assert _head(s3_site, url, path)["ContentType"] == media_type
    assert _head(s3_site, url, paths.LATEST)["CacheControl"] == SHORT
    # Immutable files first, each dataset's files before the catalog, the pointer last.
    ranks = [s3.upload_rank(path) for path in order]
    assert ranks == sorted(ranks) and order[-1] == paths.LATEST
    assert order.index("catalog.json") > order.index("datasets/survey-results/survey-results.csv")
    assert ranks.count(s3.IMMUTABLE_FIRST) == sum("/1.0." in p or "releases/2" in p for p in files)

    order.clear()
    again = _publish(s3_site, site, url)
    assert again.returncode == 0 and "公開済み" in again.stdout and order == []


@pytest.mark.parametrize("kill_after", ["none", "some immutable", "all immutable", "all but one"])
def test_a_publish_killed_midway_leaves_the_old_release_readable_and_a_rerun_completes_it(
    two_releases: tuple[Path, Path],
    s3_site: S3Site,
    monkeypatch: pytest.MonkeyPatch,
    kill_after: str,
) -> None:
    site_a, site_b = two_releases
    url = f"s3://{_bucket(s3_site)}/site"
    assert _publish(s3_site, site_a, url).returncode == 0
    old, new = _files(latest_snapshot(site_a)), _files(latest_snapshot(site_b))
    changed = [p for p in new if old.get(p) != new[p]]
    immutable = sum(s3.upload_rank(p) == s3.IMMUTABLE_FIRST for p in changed)
    assert 0 < immutable < len(changed) - 1  # the points below are distinct
    kill_at = {
        "none": 0,
        "some immutable": 1,
        "all immutable": immutable,
        "all but one": len(changed) - 1,
    }[kill_after]

    def kill(count: int) -> None:
        if count >= kill_at:
            raise Killed

    uploaded = _recording_puts(monkeypatch, kill)
    with pytest.raises(Killed):
        _publish(s3_site, site_b, url)
    assert len(uploaded) == kill_at
    seen = _objects(s3_site, url)
    # The pointer still names the old release, whose every versioned file is intact.
    assert seen[paths.LATEST] == old[paths.LATEST]
    for path, data in old.items():
        if s3.upload_rank(path) == s3.IMMUTABLE_FIRST or kill_at <= immutable:
            assert seen[path] == data, path  # before any stable URL changed: all of it
    # No object is torn: each is the old file or the new one, whole.
    assert all(data in (old.get(path), new.get(path)) for path, data in seen.items())

    monkeypatch.undo()
    rerun = _publish(s3_site, site_b, url)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(changed) - kill_at} uploads" in rerun.stdout
    assert _objects(s3_site, url) == new
    assert "公開済み" in _publish(s3_site, site_b, url).stdout


def test_stale_objects_go_old_versions_stay_and_what_is_not_ours_is_refused(
    two_releases: tuple[Path, Path], s3_site: S3Site
) -> None:
    site_a, site_b = two_releases
    bucket = _bucket(s3_site)
    url = f"s3://{bucket}/p"
    assert _publish(s3_site, site_b, url).returncode == 0
    fs = client(s3_site)
    ours = {"Metadata": {"sha256": "0" * 64}}  # as an earlier release of ours left them
    fs.pipe_file(f"{bucket}/p/datasets/gone/gone.csv", b"a\n", **ours)
    fs.pipe_file(f"{bucket}/p/datasets/gone/1.0.0/gone.csv", b"a\n", **ours)
    dry = _publish(s3_site, site_b, url, "--dry-run")
    assert dry.returncode == 0 and "(dry-run) remove datasets/gone/gone.csv" in dry.stdout
    assert "1.0.0/gone.csv" not in dry.stdout
    done = _publish(s3_site, site_b, url)
    assert done.returncode == 0 and "1 removed" in done.stdout
    left = _objects(s3_site, url)
    assert "datasets/gone/gone.csv" not in left and "datasets/gone/1.0.0/gone.csv" in left

    older = _publish(s3_site, site_a, url)
    assert older.returncode == 1 and "newer than or unknown" in older.stderr
    nested = _publish(s3_site, site_b, f"s3://{bucket}")  # would remove p/…
    assert nested.returncode == 1 and "別の公開" in nested.stderr
    assert "another publish (p/releases/latest.json)" in nested.stderr
    fs.pipe_file(f"{bucket}/p/notes.txt", b"by hand")
    foreign = _publish(s3_site, site_b, url)
    assert foreign.returncode == 1 and "did not publish (notes.txt" in foreign.stderr
    assert "opendata が公開したものでない" in foreign.stderr
    assert _objects(s3_site, url).keys() == left.keys() | {"notes.txt"}


def test_a_dry_run_lists_the_uploads_and_changes_nothing(
    two_releases: tuple[Path, Path], s3_site: S3Site
) -> None:
    _, site = two_releases
    url = f"s3://{_bucket(s3_site)}/x/"
    done = _publish(s3_site, site, url, "--dry-run")
    assert done.returncode == 0, done.stderr
    listed = [line for line in done.stdout.splitlines() if line.startswith("(dry-run) upload")]
    assert len(listed) == len(_files(latest_snapshot(site)))
    assert "(dry-run) upload releases/latest.json  (new; public, max-age=60)" in listed[-1]
    assert _objects(s3_site, url) == {}


def test_wrong_credentials_and_a_missing_bucket_are_clear_errors(
    two_releases: tuple[Path, Path], s3_site: S3Site
) -> None:
    _, site = two_releases
    url = f"s3://{_bucket(s3_site)}/site"
    wrong = _publish(s3_site, site, url, AWS_SECRET_ACCESS_KEY="not-the-secret-0123456789")
    assert wrong.returncode == 1
    assert "認証情報が誤っている" in wrong.stderr and "wrong credentials" in wrong.stderr
    unknown = _publish(s3_site, site, url, AWS_ACCESS_KEY_ID="AKUNKNOWN0000000")
    assert unknown.returncode == 1 and "wrong credentials" in unknown.stderr
    none = _publish(s3_site, site, url, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    assert none.returncode == 1 and "S3 の認証情報がありません" in none.stderr
    assert "no S3 credentials: set AWS_ACCESS_KEY_ID" in none.stderr
    missing = _publish(s3_site, site, "s3://no-such-bucket/site")
    assert missing.returncode == 1
    assert "バケット no-such-bucket がありません" in missing.stderr
    assert "the bucket no-such-bucket does not exist" in missing.stderr
    assert _objects(s3_site, url) == {}
    assert client(s3_site).ls("", refresh=True).count("no-such-bucket") == 0


def test_a_target_that_is_not_a_bucket_is_refused(two_releases: tuple[Path, Path]) -> None:
    _, site = two_releases
    done = opendata("publish", "--site", str(site), "--to", "s3:///prefix")
    assert done.returncode == 1 and "s3://bucket/prefix" in done.stderr
    assert latest_release(site).id  # the site is untouched
