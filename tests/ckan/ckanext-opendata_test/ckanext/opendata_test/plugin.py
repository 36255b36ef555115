"""Test-only CKAN plugin for tests/ckan_site.py: CKAN without Solr, and a seeding command.

CKAN indexes every dataset into Solr synchronously on create/update/delete, so without
a Solr server `package_create` fails. `ckan.lib.search.index_for` instantiates
`_INDICES["package"]` on every call, so pointing that entry at CKAN's own
`NoopSearchIndex` turns indexing into a no-op. What still needs Solr is everything that
*queries* it: `package_search`, the dataset counts of `organization_show` and `group_show`
(pass `include_dataset_count=false`), and so `organization_create` and
`organization_update`/`_patch`, which answer with the organization and its datasets.
`package_show` works: its Solr cache lookup fails with a SearchError and it reads the
database instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ckan.plugins as p
import click
from ckan.lib import search
from ckan.lib.search.index import NoopSearchIndex
from ckan.plugins import toolkit

# The world the tests see; tests/ckan_site.py reads it back from the seed's JSON output.
ORGANIZATION = "minatoku"
OTHER_ORGANIZATION = "other-ward"
OTHER_DATASET = "owned-elsewhere"
USER = "publisher"  # editor of ORGANIZATION: the least role that can publish datasets
OTHER_USER = "outsider"  # editor of OTHER_ORGANIZATION only: no rights on ORGANIZATION


@click.command("opendata-test-seed")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
def seed(output: Path) -> None:
    """Create the tests' users, organizations and dataset; write their API tokens as JSON."""
    # In-process with ignore_auth: one CKAN start-up instead of one per `ckan user ...` call.
    act = toolkit.get_action
    site_user = act("get_site_user")({"ignore_auth": True}, {})["name"]

    def ctx() -> dict[str, Any]:  # actions keep state in the context: a fresh one per call
        # return_id_only: organization_create would otherwise return organization_show
        # with its dataset count, which asks Solr.
        return {"user": site_user, "ignore_auth": True, "return_id_only": True}

    tokens = {}
    for name in (USER, OTHER_USER):
        act("user_create")(
            ctx(), {"name": name, "email": f"{name}@example.org", "password": "test-password"}
        )
        tokens[name] = act("api_token_create")(ctx(), {"user": name, "name": "tests"})["token"]
    for org, member in ((ORGANIZATION, USER), (OTHER_ORGANIZATION, OTHER_USER)):
        act("organization_create")(ctx(), {"name": org, "title": org})
        act("organization_member_create")(ctx(), {"id": org, "username": member, "role": "editor"})
    act("package_create")(ctx(), {"name": OTHER_DATASET, "owner_org": OTHER_ORGANIZATION})
    world = {
        "token": tokens[USER],
        "other_token": tokens[OTHER_USER],
        "user": USER,
        "other_user": OTHER_USER,
        "organization": ORGANIZATION,
        "other_organization": OTHER_ORGANIZATION,
        "other_dataset": OTHER_DATASET,
    }
    output.write_text(json.dumps(world))


class OpendataTestPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurable)
    p.implements(p.IClick)

    def configure(self, config: Any) -> None:
        search._INDICES["package"] = NoopSearchIndex

    def get_commands(self) -> list[click.Command]:
        return [seed]
