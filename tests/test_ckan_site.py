"""Smoke test of the `ckan_site` fixture: the CKAN calls `opendata publish --ckan` relies on.

Each test uses its own dataset names: the site is shared by the whole session.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import requests
from ckanapi import NotAuthorized, RemoteCKAN, ValidationError

from ckan_site import CkanSite


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_an_editor_publishes_a_dataset_with_an_uploaded_file(
    ckan_site: CkanSite, tmp_path: Path
) -> None:
    ckan = RemoteCKAN(ckan_site.url, apikey=ckan_site.token)
    created = ckan.action.package_create(
        name="smoke-budget", title="予算", owner_org=ckan_site.organization
    )
    assert created["organization"]["name"] == ckan_site.organization
    upload = tmp_path / "items.csv"
    upload.write_bytes("番号,名称\n1,庁舎管理\n".encode() + os.urandom(2000))
    with upload.open("rb") as f:
        resource = ckan.action.resource_create(
            package_id="smoke-budget", name="items", format="CSV", upload=f
        )
    assert resource["url_type"] == "upload"
    assert resource["url"] == (
        f"{ckan_site.url}/dataset/{created['id']}/resource/{resource['id']}/download/items.csv"
    )
    assert resource["size"] == upload.stat().st_size
    # A public dataset's upload downloads without a token.
    download = requests.get(resource["url"], timeout=10)
    assert download.status_code == 200
    assert _sha256(download.content) == _sha256(upload.read_bytes())

    patched = ckan.action.package_patch(id="smoke-budget", notes="港区の予算")
    assert (patched["title"], patched["notes"]) == ("予算", "港区の予算")
    ckan.action.resource_delete(id=resource["id"])
    shown = ckan.action.package_show(id="smoke-budget")
    assert (shown["notes"], shown["resources"]) == ("港区の予算", [])
    assert {"smoke-budget", ckan_site.other_dataset} <= set(ckan.action.package_list())
    # Without Solr: no dataset count, no groups (see the test plugin's docstring).
    org = ckan.action.organization_show(
        id=ckan_site.organization, include_dataset_count=False, include_groups=False
    )
    assert org["name"] == ckan_site.organization
    assert {"name": ckan_site.user, "capacity": "editor"}.items() <= next(
        u for u in org["users"] if u["name"] == ckan_site.user
    ).items()


def test_a_user_without_rights_on_the_organization_is_refused(ckan_site: CkanSite) -> None:
    outsider = RemoteCKAN(ckan_site.url, apikey=ckan_site.other_token)
    with pytest.raises(NotAuthorized) as refused:
        outsider.action.package_create(name="smoke-refused", owner_org=ckan_site.organization)
    assert refused.value.args[0] == {
        "__type": "Authorization Error",
        "message": f"Access denied: User {ckan_site.other_user} not authorized "
        "to add dataset to this organization",
    }


def test_a_name_owned_by_another_organization_is_taken(ckan_site: CkanSite) -> None:
    ckan = RemoteCKAN(ckan_site.url, apikey=ckan_site.token)
    with pytest.raises(ValidationError) as taken:
        ckan.action.package_create(name=ckan_site.other_dataset, owner_org=ckan_site.organization)
    assert taken.value.args[0] == {
        "__type": "Validation Error",
        "name": ["That URL is already in use."],
    }


def test_an_upload_over_the_size_limit_is_refused(ckan_site: CkanSite, tmp_path: Path) -> None:
    ckan = RemoteCKAN(ckan_site.url, apikey=ckan_site.token)
    ckan.action.package_create(name="smoke-too-large", owner_org=ckan_site.organization)
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (ckan_site.max_resource_size_mb * 2**20 + 1))  # one byte over
    # Plain HTTP here, to pin the status code as well as ckanapi's error dict.
    with big.open("rb") as f:
        answer = requests.post(
            f"{ckan_site.url}/api/3/action/resource_create",
            data={"package_id": "smoke-too-large", "name": "big"},
            files={"upload": f},
            headers={"Authorization": ckan_site.token},
            timeout=30,
        )
    assert answer.status_code == 409
    assert answer.json()["error"] == {
        "__type": "Validation Error",
        "upload": ["File upload too large"],
    }
