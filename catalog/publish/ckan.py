"""`opendata publish --ckan URL`: the latest release into a CKAN site through its Action API.

Plan first, then act: each dataset is created or patched only where it differs, each file
uploaded (streamed, never read whole into memory) only when its sha256 differs from the
`hash` CKAN keeps for it, and files no longer released are deleted. Datasets this tool did not
create — those without the `opendata_managed` extra, or of another organization — are never
touched. Running it again after a failure completes what was left; running it twice changes
nothing the second time. The API token comes from the environment and is never shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.build import Progress, telling
from pipeline.files import read_json

from .. import paths
from ..ckanclient import RETRIES, Ckan, CkanError, describe, expected_answers, token_warning
from .webroot import PublishError, latest_release

MARKER = "opendata_managed"  # the extra that says: this tool created and keeps this dataset
MARKER_VALUE = "minato-opendata"
PACKAGE_FIELDS = (
    "title",
    "notes",
    "url",
    "version",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "license_id",
)
RESOURCE_FIELDS = ("name", "description", "format", "mimetype", "hash", "opendata_path")


@dataclass(frozen=True)
class Step:
    action: str  # create, update, upload, delete, reorder
    dataset: str
    resource: str | None = None  # our file's path in the dataset folder
    detail: str = ""
    resource_id: str | None = None  # CKAN's, for a delete

    def render(self) -> str:
        where = f"{self.dataset}/{self.resource}" if self.resource else self.dataset
        return f"{self.action:8} {where}" + (f"  ({self.detail})" if self.detail else "")


@dataclass
class Outcome:
    planned: list[Step] = field(default_factory=list)
    done: list[Step] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (dataset, message)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "planned": [s.render() for s in self.planned],
            "done": [s.render() for s in self.done],
            "not_done": [s.render() for s in self.planned if s not in self.done],
            "unchanged": self.unchanged,
            "failed": [{"dataset": d, "message": m} for d, m in self.failed],
            "warnings": self.warnings,
        }


# What we send: our package.json (CKAN's package_show shape) cut to what CKAN lets us set.
def package_payload(ours: dict[str, Any], organization: str) -> dict[str, Any]:
    payload = {key: ours.get(key) for key in PACKAGE_FIELDS}
    payload["name"] = ours["name"]
    payload["owner_org"] = organization
    payload["private"] = False
    payload["tags"] = [{"name": t["name"]} for t in ours["tags"]]
    extras = {e["key"]: e["value"] for e in ours["extras"]}
    extras[MARKER] = MARKER_VALUE
    payload["extras"] = [{"key": k, "value": v} for k, v in sorted(extras.items())]
    return payload


def resource_payload(ours: dict[str, Any]) -> dict[str, Any]:
    path = ours["url"].rsplit("/", 1)[-1]
    return {
        "name": ours["name"],
        "description": ours["description"],
        "format": ours["format"],
        "mimetype": ours["mimetype"],
        "hash": ours["hash"],
        "opendata_path": path,
    }


def _same_package(payload: dict[str, Any], theirs: dict[str, Any]) -> bool:
    def blank(value: Any) -> Any:
        return value or None

    if any(blank(payload[k]) != blank(theirs.get(k)) for k in PACKAGE_FIELDS):
        return False
    if sorted(t["name"] for t in payload["tags"]) != sorted(t["name"] for t in theirs["tags"]):
        return False
    extras = {e["key"]: e["value"] for e in theirs.get("extras") or []}
    return extras == {e["key"]: e["value"] for e in payload["extras"]}


def _same_resource(payload: dict[str, Any], theirs: dict[str, Any]) -> bool:
    return all((payload[k] or None) == (theirs.get(k) or None) for k in RESOURCE_FIELDS)


class CkanSync:
    """One publish of one release into one CKAN organization."""

    def __init__(self, site: Path, ckan: Ckan, organization: str):
        self.release = latest_release(site)
        self.ckan = ckan
        self.organization = organization
        self.organization_id: str | None = None

    def names(self) -> list[str]:
        return sorted(self.release.datasets)

    def ours(self, name: str) -> dict[str, Any]:
        path = paths.ckan_package(self.release.site, name)
        package: dict[str, Any] = read_json(path)
        return package

    def check_access(self, writing: bool) -> None:
        """It is a CKAN, the organization exists and the token may add datasets to it."""
        try:
            self.ckan.call("status_show")
        except CkanError as exc:
            if exc.status is None:
                raise
            raise CkanError(
                f"{self.ckan.base} は CKAN の Action API ではありません（status_show が答えません）"
                f" / not a CKAN Action API: status_show failed ({exc})",
                None,
            ) from None
        self.organization_id = self.ckan.organization_id(self.organization)
        if not writing:
            return
        allowed = self.ckan.call("organization_list_for_user", permission="create_dataset")
        if self.organization_id not in {o["id"] for o in allowed}:
            raise CkanError(
                f"API トークンが無効か、組織 {self.organization!r} にデータセットを作る権限が"
                " ありません（CKAN_API_TOKEN を確認してください） / the API token is invalid or"
                " may not add datasets to this organization (check CKAN_API_TOKEN)",
                403,
            )

    def plan(self, name: str) -> list[Step]:
        """What publishing one dataset takes; no steps when CKAN has it as we do."""
        ours = self.ours(name)
        theirs = self._show(name)
        resources = [resource_payload(r) for r in ours["resources"]]
        if theirs is None:
            steps = [Step("create", name, detail=f"version {ours['version']}")]
            steps += [Step("upload", name, r["opendata_path"], "new") for r in resources]
            return steps
        self._check_managed(name, theirs)
        steps = []
        if not _same_package(package_payload(ours, self.organization), theirs):
            steps.append(Step("update", name, detail=f"version {ours['version']}"))
        current = _managed_resources(theirs)
        for resource in resources:
            existing = current.get(resource["opendata_path"])
            path = resource["opendata_path"]
            if existing is None:
                steps.append(Step("upload", name, path, "new"))
            elif existing.get("hash") != resource["hash"]:
                steps.append(Step("upload", name, path, "sha256 changed"))
            elif not _same_resource(resource, existing):
                steps.append(Step("update", name, path, "resource metadata"))
        wanted = {r["opendata_path"] for r in resources}
        steps += [
            Step("delete", name, path, resource_id=current[path]["id"])
            for path in sorted(set(current) - wanted)
        ]
        steps += [
            Step("delete", name, r["opendata_path"], "duplicate", r["id"])
            for r in _duplicates(theirs)
        ]
        order = [r["opendata_path"] for r in resources]
        # CKAN appends a new resource after the others: where would ours end up?
        after = [p for p in current if p in wanted] + [p for p in order if p not in current]
        if after != order:
            steps.append(Step("reorder", name))
        return steps

    def _show(self, name: str) -> dict[str, Any] | None:
        try:
            found = self.ckan.call("package_show", id=name)
        except CkanError as exc:
            if exc.status == 404:
                return None
            if exc.status == 403:
                raise CkanError(
                    f"データセット名 {name!r} は CKAN で別の組織が使っています（非公開） / the"
                    " name is taken by a dataset this token cannot see (another organization)",
                    409,
                ) from None
            raise
        return None if found.get("state") == "deleted" else found

    def _check_managed(self, name: str, theirs: dict[str, Any]) -> None:
        if theirs.get("owner_org") != self.organization_id:
            owner = (theirs.get("organization") or {}).get("name") or theirs.get("owner_org")
            raise CkanError(
                f"データセット名 {name!r} は CKAN で別の組織 {owner!r} が使っています。触りません"
                f" / the name belongs to organization {owner!r} in CKAN; left untouched",
                409,
            )
        extras = {e["key"]: e["value"] for e in theirs.get("extras") or []}
        if extras.get(MARKER) != MARKER_VALUE:
            raise CkanError(
                f"データセット {name!r} は CKAN で手作業で作られたもので、このツールの管理外です。"
                f"触りません / {name!r} exists in CKAN but was not created by opendata; left"
                " untouched (rename ours, or remove theirs)",
                409,
            )

    def apply(
        self,
        name: str,
        steps: list[Step],
        done: list[Step],
        tell: Callable[[str], None] = lambda _what: None,
    ) -> None:
        """Carry out one dataset's steps in order, recording each as it completes
        (`tell` hears of each before it starts: an upload may take a while)."""
        ours = self.ours(name)
        payloads = {r["opendata_path"]: r for r in map(resource_payload, ours["resources"])}
        theirs: dict[str, Any] | None = None
        for step in steps:
            tell(step.render())
            if step.action == "create":
                theirs = self._create(name, package_payload(ours, self.organization))
            elif step.action == "update" and step.resource is None:
                self.ckan.call("package_patch", id=name, **package_payload(ours, self.organization))
            else:
                theirs = theirs or self.ckan.call("package_show", id=name)
                self._resource_step(step, theirs, payloads)
            done.append(step)

    def _create(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.ckan.call("package_create", **payload)
        except CkanError as exc:
            if "name" in exc.error:  # the URL is taken: by an earlier attempt, or by others
                theirs = self._show(name)
                if theirs is not None:
                    self._check_managed(name, theirs)
                    return theirs
            raise

    def _resource_step(
        self,
        step: Step,
        theirs: dict[str, Any],
        payloads: dict[str, dict[str, Any]],
    ) -> None:
        current = _managed_resources(theirs)
        if step.action == "reorder":
            fresh = self.ckan.call("package_show", id=step.dataset)
            by_path = _managed_resources(fresh)
            ours = [by_path[p]["id"] for p in payloads if p in by_path]
            others = [r["id"] for r in fresh["resources"] if r["id"] not in ours]
            self.ckan.call("package_resource_reorder", id=fresh["id"], order=ours + others)
            return
        if step.action == "delete":
            self.ckan.call("resource_delete", id=step.resource_id)
            return
        path = step.resource
        assert path is not None  # every other step names our file
        if step.action == "update":
            self.ckan.call("resource_patch", id=current[path]["id"], **payloads[path])
        else:  # upload
            file = paths.dataset(self.release.site, step.dataset) / path
            fields = dict(payloads[path])
            if path in current:
                fields["id"] = current[path]["id"]
                self._upload("resource_patch", fields, file, fields["mimetype"])
            else:
                fields["package_id"] = theirs["id"]
                self._create_resource(step.dataset, fields, file, fields["mimetype"])

    def _create_resource(
        self, dataset: str, fields: dict[str, Any], file: Path, mimetype: str
    ) -> None:
        """resource_create is not repeatable: after a lost answer, look before trying again."""
        for number in range(RETRIES + 1):
            try:
                self._upload("resource_create", fields, file, mimetype, retry=False)
                return
            except CkanError as exc:
                if (exc.status is not None and exc.status < 500) or number == RETRIES:
                    raise
            time.sleep(self.ckan.pause * 2**number)
            made = _managed_resources(self.ckan.call("package_show", id=dataset))
            existing = made.get(fields["opendata_path"])
            if existing is not None:  # the lost attempt did create it
                if existing.get("hash") != fields["hash"]:
                    patch = {k: v for k, v in fields.items() if k != "package_id"}
                    self._upload("resource_patch", patch | {"id": existing["id"]}, file, mimetype)
                return

    def _upload(
        self, action: str, fields: dict[str, Any], file: Path, mimetype: str, retry: bool = True
    ) -> None:
        try:
            self.ckan.upload(action, fields, file, mimetype, retry)
        except CkanError as exc:
            if "upload" in exc.error:
                size = file.stat().st_size
                raise CkanError(
                    f"CKAN がファイル {file.name}（{size:,} バイト）の受け取りを拒否しました:"
                    f" {describe(exc.error)}。CKAN の ckan.max_resource_size を確認してください"
                    f" / CKAN refused the upload of {file.name} ({size:,} bytes); its"
                    " ckan.max_resource_size may be too small",
                    exc.status,
                    exc.error,
                ) from None
            raise


def site_organization(site: Path) -> str:
    """The organization the site was built for (its api/site.json)."""
    status = latest_release(site).site / paths.SITE_JSON
    name: str = read_json(status)["organization"]["name"]
    return name


def _managed_resources(theirs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """CKAN's resources that this tool uploaded, by our file path, in CKAN's order (the first
    of any duplicates)."""
    found: dict[str, dict[str, Any]] = {}
    for resource in theirs["resources"]:
        if resource.get("opendata_path"):
            found.setdefault(resource["opendata_path"], resource)
    return found


def _duplicates(theirs: dict[str, Any]) -> list[dict[str, Any]]:
    """Second copies of one of our files (a create whose answer was lost, before this tool
    looked before retrying): deleted."""
    first = _managed_resources(theirs)
    return [
        r
        for r in theirs["resources"]
        if r.get("opendata_path") and first[r["opendata_path"]]["id"] != r["id"]
    ]


__all__ = ["CkanError", "PublishError", "publish", "site_organization"]
FATAL = {401, 403, None}  # no point trying the other datasets


def publish(
    site: Path,
    url: str,
    token: str | None,
    organization: str,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
    pause: float = 0.5,
    progress: Progress | None = None,
) -> Outcome:
    """Plan every dataset, then (unless a dry run) carry the plan out dataset by dataset;
    `progress` hears of each dataset and each of its steps."""
    if not token and not dry_run:
        raise CkanError(
            "環境変数 CKAN_API_TOKEN に API トークンを設定してください"
            " / set the API token in the CKAN_API_TOKEN environment variable"
        )
    client = Ckan(url, token, pause)  # a URL it cannot use is refused here
    outcome = Outcome()
    if warning := token_warning(url, token):
        outcome.warnings.append(warning)
        say(warning)
    sync = CkanSync(site, client, organization)
    with expected_answers():
        sync.check_access(writing=not dry_run)
    say(f"CKAN {url}: リリース {sync.release.id} / release {sync.release.id}")
    names = sync.names()
    for number, name in enumerate(names):
        tell = telling(progress, number, len(names))
        tell(name)
        try:
            with expected_answers():
                steps = sync.plan(name)
                outcome.planned += steps
                if not steps:
                    outcome.unchanged.append(name)
                    continue
                for step in steps:
                    say(("(dry-run) " if dry_run else "") + step.render())
                if not dry_run:
                    sync.apply(name, steps, outcome.done, tell)
        except CkanError as exc:
            outcome.failed.append((name, str(exc)))
            say(f"✗ {name}: {exc}")
            if exc.status in FATAL:  # unreachable, or the token refused: stop here
                break
    return outcome
