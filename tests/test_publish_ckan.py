"""`opendata publish --ckan`: the latest release into a real CKAN 2.12 (tests/ckan_site.py),
read back with ckanapi; every failure mode the issue names, and the token kept secret."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import requests
from ckanapi import RemoteCKAN

from ckan_site import CkanSite
from conftest import (
    MINIMAL_CSV,
    PUBLISHABLE,
    ROOT,
    WIFI_ROWS,
    Ran,
    opendata,
    wifi_case,
    write_dataset,
)

EPOCH = 1764400000
SECOND_RESOURCE = {
    "name": "more",
    "title": "追加の表",
    "path": "items.csv",
    "schema": PUBLISHABLE["resources"][0]["schema"],
}


def run(*args: str, token: str | None = None, epoch: int = EPOCH) -> Ran:
    """The CLI at a fixed release time, with the token in the environment or none at all."""
    return opendata(*args, env={"SOURCE_DATE_EPOCH": str(epoch), "CKAN_API_TOKEN": token})


def release_of(root: Path, datasets: Path, epoch: int = EPOCH) -> Path:
    """Build `datasets` into root/dist and release it; the site folder."""
    site = root / "dist"
    done = run("build", "--datasets", str(datasets), "--out", str(site))
    assert done.returncode == 0, done.stderr
    done = run("release", "--site", str(site), "--datasets", str(datasets), epoch=epoch)
    assert done.returncode == 0, done.stderr + done.stdout
    return site


def publish(site: Path, ckan: CkanSite, *extra: str, token: str | None = None):  # type: ignore[no-untyped-def]
    return run(
        "publish", "--site", str(site), "--ckan", ckan.url, "--json", *extra,
        token=ckan.token if token is None else token,
    )  # fmt: skip


def outcome(done: Ran) -> dict[str, Any]:
    return json.loads(done.stdout)


def sample(root: Path, name: str, csv_text: str = MINIMAL_CSV) -> Path:
    """A publishable one-dataset datasets/ folder named `name`."""
    shutil.rmtree(root / "datasets", ignore_errors=True)
    write_dataset(root, PUBLISHABLE | {"name": name}, {"items.csv": csv_text})
    return root / "datasets"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def published(ckan_site: CkanSite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's datasets, released and published once."""
    site = release_of(tmp_path_factory.mktemp("real"), ROOT / "datasets")
    done = publish(site, ckan_site)
    assert done.returncode == 0, done.stderr + done.stdout
    assert outcome(done)["ok"] and outcome(done)["done"]
    return site


def _released_names(site: Path) -> list[str]:
    manifest = next(site.glob("releases/*/release.json"))
    return sorted(json.loads(manifest.read_text())["datasets"])


def test_round_trip_metadata_and_every_file(published: Path, ckan_site: CkanSite) -> None:
    ckan = RemoteCKAN(ckan_site.url)
    # The ward's CKAN runs ckanext-spatial, which validates every `spatial` extra as GeoJSON.
    assert "spatial_metadata" in ckan.action.status_show()["extensions"]
    snapshot = next(published.glob("releases/*/site"))
    for name in _released_names(published):
        ours = json.loads((snapshot / "datasets" / name / "package.json").read_text())
        theirs = ckan.action.package_show(id=name)
        assert theirs["title"] == ours["title"] and theirs["notes"] == ours["notes"]
        assert theirs["version"] == ours["version"] and theirs["license_id"] == ours["license_id"]
        assert sorted(t["name"] for t in theirs["tags"]) == sorted(t["name"] for t in ours["tags"])
        extras = {e["key"]: e["value"] for e in theirs["extras"]}
        assert {e["key"]: e["value"] for e in ours["extras"]}.items() <= extras.items()
        assert theirs["organization"]["name"] == ckan_site.organization
        assert [r["name"] for r in theirs["resources"]] == [r["name"] for r in ours["resources"]]
        for mine, resource in zip(ours["resources"], theirs["resources"], strict=True):
            local = snapshot / "datasets" / name / mine["url"].rsplit("/", 1)[-1]
            body = requests.get(resource["url"], timeout=30).content
            assert _sha256(body) == _sha256(local.read_bytes()) == resource["hash"]
            assert resource["url_type"] == "upload" and resource["size"] == len(body)


def _shape(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def test_package_json_has_the_keys_and_types_of_ckans_package_show(
    published: Path, ckan_site: CkanSite
) -> None:
    theirs = RemoteCKAN(ckan_site.url).action.package_show(id="plan-indicators")
    ours = json.loads((published / "datasets/plan-indicators/package.json").read_text())
    # CKAN adds who created it; we have no users.
    assert set(theirs) - set(ours) == {"creator_user_id"}
    assert set(ours) - set(theirs) == set()
    kinds = {k: (_shape(ours[k]), _shape(theirs[k])) for k in ours}
    assert {k: v for k, v in kinds.items() if v[0] != v[1]} == {}
    resource_keys = set(theirs["resources"][0]) - {"opendata_path"}
    missing = resource_keys - set(ours["resources"][0])
    assert missing <= {"cache_url", "cache_last_updated", "mimetype_inner"}, missing


def test_publishing_again_changes_nothing(published: Path, ckan_site: CkanSite) -> None:
    ckan = RemoteCKAN(ckan_site.url)
    before = {n: ckan.action.package_show(id=n) for n in _released_names(published)}
    done = publish(published, ckan_site)
    assert done.returncode == 0, done.stderr
    report = outcome(done)
    assert report["planned"] == [] and report["done"] == []
    assert sorted(report["unchanged"]) == _released_names(published)
    after = {n: ckan.action.package_show(id=n) for n in before}
    assert after == before  # metadata_modified included


def test_dry_run_prints_the_plan_and_changes_nothing(ckan_site: CkanSite, tmp_path: Path) -> None:
    site = release_of(tmp_path, sample(tmp_path, "dry-run-budget"))
    done = publish(site, ckan_site, "--dry-run")
    assert done.returncode == 0, done.stderr
    planned = [p for p in outcome(done)["planned"] if "dry-run-budget" in p]  # not the list's
    assert planned[0].startswith("create") and sum(p.startswith("upload") for p in planned) == 3
    assert "dry-run-budget" not in RemoteCKAN(ckan_site.url).action.package_list()


def test_a_new_release_uploads_only_changed_files_and_deletes_removed_ones(
    ckan_site: CkanSite, tmp_path: Path
) -> None:
    ckan = RemoteCKAN(ckan_site.url)
    site = release_of(tmp_path, sample(tmp_path, "changing-budget"))
    assert publish(site, ckan_site).returncode == 0
    first = {
        r["opendata_path"]: r for r in ckan.action.package_show(id="changing-budget")["resources"]
    }
    # A corrected value: the CSV and Parquet change, and datapackage.json with them.
    sample(tmp_path, "changing-budget", MINIMAL_CSV.replace("3200", "3300"))
    release_of(tmp_path, tmp_path / "datasets", epoch=EPOCH + 86400)
    done = publish(site, ckan_site)
    assert done.returncode == 0, done.stderr
    steps = [s for s in outcome(done)["done"] if "changing-budget" in s]  # the list's apart
    uploads = sorted(s.split()[1] for s in steps if s.startswith("upload"))
    assert uploads == [
        "changing-budget/datapackage.json", "changing-budget/items.csv", "changing-budget/items.parquet"
    ]  # fmt: skip
    theirs = ckan.action.package_show(id="changing-budget")
    assert theirs["version"] == "1.0.1"
    assert [r["id"] for r in theirs["resources"]] == [r["id"] for r in first.values()]
    csv = next(r for r in theirs["resources"] if r["opendata_path"] == "items.csv")
    assert "3300" in requests.get(csv["url"], timeout=30).content.decode("utf-8-sig")
    # A resource no longer released is deleted; one added by hand is left alone.
    ckan_write = RemoteCKAN(ckan_site.url, apikey=ckan_site.token)
    ckan_write.action.resource_create(
        package_id="changing-budget", name="手作業", url="https://example.org/x"
    )
    ckan_write.action.resource_create(
        package_id="changing-budget", name="古いファイル", url="https://example.org/old.csv",
        opendata_path="old.csv",
    )  # fmt: skip
    done = publish(site, ckan_site)
    assert [s for s in outcome(done)["done"] if "changing-budget" in s] == [
        "delete   changing-budget/old.csv"
    ]
    names = [r["name"] for r in ckan.action.package_show(id="changing-budget")["resources"]]
    assert "手作業" in names and "古いファイル" not in names


def test_ckan_unreachable(tmp_path: Path, ckan_site: CkanSite) -> None:
    site = release_of(tmp_path, sample(tmp_path, "unreachable-budget"))
    done = run("publish", "--site", str(site), "--ckan", "http://127.0.0.1:9", token="x" * 40)
    assert (
        done.returncode == 1 and "接続できません" in done.stderr and "cannot reach" in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_a_bad_token_is_refused_before_anything_changes(
    ckan_site: CkanSite, tmp_path: Path
) -> None:
    site = release_of(tmp_path, sample(tmp_path, "bad-token-budget"))
    bad = "not-a-token-" + "z" * 30
    done = publish(site, ckan_site, token=bad)
    assert done.returncode == 1 and "CKAN_API_TOKEN" in done.stderr
    assert bad not in done.stdout + done.stderr
    other = publish(site, ckan_site, token=ckan_site.other_token)  # valid, but not our editor
    assert other.returncode == 1 and "権限" in other.stderr
    assert "bad-token-budget" not in RemoteCKAN(ckan_site.url).action.package_list()


def test_a_missing_organization(ckan_site: CkanSite, tmp_path: Path) -> None:
    site = release_of(tmp_path, sample(tmp_path, "no-org-budget"))
    done = publish(site, ckan_site, "--organization", "no-such-ward")
    assert done.returncode == 1 and "no-such-ward" in done.stderr and "組織" in done.stderr


def test_a_name_owned_by_another_organization_is_left_untouched(
    ckan_site: CkanSite, tmp_path: Path
) -> None:
    ckan = RemoteCKAN(ckan_site.url)
    before = ckan.action.package_show(id=ckan_site.other_dataset)
    site = release_of(tmp_path, sample(tmp_path, ckan_site.other_dataset))
    done = publish(site, ckan_site)
    assert done.returncode == 1
    failed = outcome(done)["failed"]
    assert failed[0]["dataset"] == ckan_site.other_dataset and "other-ward" in failed[0]["message"]
    assert ckan.action.package_show(id=ckan_site.other_dataset) == before


def test_an_upload_ckan_refuses_is_reported_and_a_rerun_completes(
    ckan_site: CkanSite, tmp_path: Path
) -> None:
    limit = ckan_site.max_resource_size_mb * 1024 * 1024
    rows = [f"{i},事業{i:07d}の名称をここに長く書きます,{i},2023\n" for i in range(3, 40000)]
    big = MINIMAL_CSV + "".join(rows)
    assert len(big.encode()) > limit
    site = release_of(tmp_path, sample(tmp_path, "too-big-budget", big))
    done = run("publish", "--site", str(site), "--ckan", ckan_site.url, token=ckan_site.token)
    assert done.returncode == 1
    assert "items.csv" in done.stdout and "max_resource_size" in done.stdout
    assert "未実施 not done" in done.stderr and "Traceback" not in done.stderr
    # The officer splits the table; the same command then finishes the job.
    sample(tmp_path, "too-big-budget", MINIMAL_CSV + "".join(rows[:50]))
    release_of(tmp_path, tmp_path / "datasets", epoch=EPOCH + 86400)
    again = publish(site, ckan_site)
    assert again.returncode == 0, again.stdout
    theirs = RemoteCKAN(ckan_site.url).action.package_show(id="too-big-budget")
    assert sorted(r["opendata_path"] for r in theirs["resources"]) == [
        "datapackage.json", "items.csv", "items.parquet"
    ]  # fmt: skip


def test_the_token_never_appears_in_any_output_or_file(ckan_site: CkanSite, tmp_path: Path) -> None:
    site = release_of(tmp_path, sample(tmp_path, "secret-budget"))
    outputs = [
        publish(site, ckan_site),
        publish(site, ckan_site, "--dry-run"),
        run("publish", "--site", str(site), "--ckan", ckan_site.url, token=ckan_site.token),
        run("publish", "--site", str(site), "--ckan", "http://127.0.0.1:9", token=ckan_site.token),
    ]
    for done in outputs:
        assert ckan_site.token not in done.stdout + done.stderr
    secret = ckan_site.token.encode()
    for path in [*tmp_path.rglob("*"), *ROOT.glob("*.log")]:
        if path.is_file():
            assert secret not in path.read_bytes(), path


def test_a_resource_added_lands_in_our_order_and_a_rerun_is_a_no_op(
    ckan_site: CkanSite, tmp_path: Path
) -> None:
    datasets = sample(tmp_path, "growing-budget")
    site = release_of(tmp_path, datasets)
    assert publish(site, ckan_site).returncode == 0
    grown = PUBLISHABLE | {"name": "growing-budget"}
    grown["resources"] = [*PUBLISHABLE["resources"], SECOND_RESOURCE]
    write_dataset(tmp_path, grown, {"items.csv": MINIMAL_CSV})
    release_of(tmp_path, datasets, epoch=EPOCH + 86400)
    assert publish(site, ckan_site).returncode == 0
    ours = json.loads((site / "datasets/growing-budget/package.json").read_text())
    theirs = RemoteCKAN(ckan_site.url).action.package_show(id="growing-budget")
    assert [r["name"] for r in theirs["resources"]] == [r["name"] for r in ours["resources"]]
    assert outcome(publish(site, ckan_site))["planned"] == []


def test_a_url_that_is_not_a_ckan_api_is_a_clear_error(ckan_site: CkanSite, tmp_path: Path) -> None:
    site = release_of(tmp_path, sample(tmp_path, "wrong-url-budget"))
    for url, words in (
        (ckan_site.url + "/wrong-path", "not a CKAN"),
        ("ckan.example.jp", "https://ckan.example.jp"),
        ("http://[::1", "https://ckan.example.jp"),
    ):
        done = run("publish", "--site", str(site), "--ckan", url, token=ckan_site.token)
        assert done.returncode == 1 and words in done.stderr, (url, done.stderr)
        assert "Traceback" not in done.stderr and "内部エラー" not in done.stderr


def test_a_dataset_of_points_is_accepted_by_ckanext_spatial(
    ckan_site: CkanSite, tmp_path: Path
) -> None:
    """The ward's 55 geographic datasets: ckanext-spatial takes the points' extent as
    `spatial`, and the GeoJSON arrives beside the CSV and Parquet."""
    case = wifi_case(WIFI_ROWS)
    write_dataset(tmp_path, case["definition"], case["files"])
    site = release_of(tmp_path, tmp_path / "datasets")
    done = publish(site, ckan_site)
    assert done.returncode == 0, done.stderr + done.stdout
    theirs = RemoteCKAN(ckan_site.url).action.package_show(id="wifi-spots")
    extras = {e["key"]: e["value"] for e in theirs["extras"]}
    assert json.loads(extras["spatial"])["coordinates"][0][0] == [139.7355, 35.658]
    assert [r["format"] for r in theirs["resources"]][:3] == ["CSV", "Parquet", "GeoJSON"]
    geojson = requests.get(theirs["resources"][2]["url"], timeout=30)
    assert geojson.json()["type"] == "FeatureCollection" and len(geojson.json()["features"]) == 2


def test_the_opendata_list_is_published_with_the_standard_header(
    published: Path, ckan_site: CkanSite
) -> None:
    """The catalog's own オープンデータ一覧 is released, so it reaches CKAN like every dataset."""
    theirs = RemoteCKAN(ckan_site.url).action.package_show(id="opendata-list")
    assert {"自治体標準ODS", "オープンデータ一覧"} <= {t["name"] for t in theirs["tags"]}
    csv_url = next(r["url"] for r in theirs["resources"] if r["format"] == "CSV")
    text = requests.get(csv_url, timeout=30).content.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    assert header[:3] == ["全国地方公共団体コード", "地方公共団体名", "データセット_ID"]
