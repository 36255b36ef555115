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

`package_search` is answered from the database for the one query `opendata import` sends —
an organization's datasets (`fq=owner_org:"<id>"`, `include_private`, `rows`/`start`), in name
order; any other query goes to CKAN's own (and fails without Solr, as before). A stand-in for
Solr, which cannot run here, not a search.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import ckan.plugins as p
import click
from ckan import authz, model
from ckan.lib import search
from ckan.lib.search.index import NoopSearchIndex
from ckan.plugins import toolkit

# The world the tests see; tests/ckan_site.py reads it back from the seed's JSON output.
ORGANIZATION = "minatoku"
OTHER_ORGANIZATION = "other-ward"
OTHER_DATASET = "owned-elsewhere"
USER = "publisher"  # editor of ORGANIZATION: the least role that can publish datasets
OTHER_USER = "outsider"  # editor of OTHER_ORGANIZATION only: no rights on ORGANIZATION
# The ward's existing catalog, which `opendata import` reads (USER is its editor), and the
# group of one of our themes (防災・安全), which USER may put datasets in.
LEGACY_ORGANIZATION = "minato-legacy"
THEME_GROUP = "safety"


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
    act("organization_create")(ctx(), {"name": LEGACY_ORGANIZATION, "title": "港区（既存）"})
    act("organization_member_create")(
        ctx(), {"id": LEGACY_ORGANIZATION, "username": USER, "role": "editor"}
    )
    act("group_create")(ctx(), {"name": THEME_GROUP, "title": "防災・安全"})
    act("group_member_create")(ctx(), {"id": THEME_GROUP, "username": USER, "role": "member"})
    world = {
        "token": tokens[USER],
        "other_token": tokens[OTHER_USER],
        "user": USER,
        "other_user": OTHER_USER,
        "organization": ORGANIZATION,
        "other_organization": OTHER_ORGANIZATION,
        "other_dataset": OTHER_DATASET,
        "legacy_organization": LEGACY_ORGANIZATION,
    }
    output.write_text(json.dumps(world))


OWNER_ORG = re.compile(r'^owner_org:"?([0-9a-f-]{36})"?$')


@toolkit.chained_action
@toolkit.side_effect_free
def package_search(original: Any, context: Any, data_dict: dict[str, Any]) -> Any:
    """An organization's datasets from the database, as package_search answers (see above)."""
    found = OWNER_ORG.match(str(data_dict.get("fq", "")).strip())
    if not found or data_dict.get("q") not in (None, "", "*:*"):
        return original(context, data_dict)
    toolkit.check_access("package_search", context, data_dict)
    organization = found.group(1)
    user = context.get("user")
    private = toolkit.asbool(
        data_dict.get("include_private")
    ) and authz.has_user_permission_for_group_or_org(organization, user, "read")
    query = model.Session.query(model.Package).filter(
        model.Package.owner_org == organization,
        model.Package.state == "active",
        model.Package.type == "dataset",
    )
    if not private:
        query = query.filter(model.Package.private.is_(False))
    rows, start = int(data_dict.get("rows", 10)), int(data_dict.get("start", 0))
    packages = query.order_by(model.Package.name).offset(start).limit(rows).all()
    show = toolkit.get_action("package_show")
    return {
        "count": query.count(),
        "results": [show({"user": user}, {"id": pkg.id}) for pkg in packages],
        "facets": {},
        "search_facets": {},
        "sort": "name asc",
    }


class OpendataTestPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurable)
    p.implements(p.IClick)
    p.implements(p.IActions)

    def get_actions(self) -> dict[str, Any]:
        return {"package_search": package_search}

    def configure(self, config: Any) -> None:
        search._INDICES["package"] = NoopSearchIndex

    def get_commands(self) -> list[click.Command]:
        return [seed]
