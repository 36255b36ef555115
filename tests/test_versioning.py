"""The version recipe as a pure function: a typed diff in, the SemVer part it bumps out.

tests/test_release.py checks the same rules end to end (build, release --dry-run); these pin
the recipe itself, one rule per case, without building anything.
"""

from __future__ import annotations

import pytest

from catalog.release import versioning
from catalog.release.diff import DatasetDiff, MetadataChange, ResourceDiff, SchemaChange


def _diff(*resources: ResourceDiff, metadata: list[MetadataChange] | None = None) -> DatasetDiff:
    return DatasetDiff("sample", "changed", metadata or [], list(resources))


CASES = {
    "metadata changed": (_diff(metadata=[MetadataChange("title", "a", "b")]), "patch"),
    "rows corrected": (_diff(ResourceDiff("items", changed=3)), "patch"),
    "field described": (_diff(ResourceDiff("items", schema=[SchemaChange("described", "x")])), "patch"),
    "rows added": (_diff(ResourceDiff("items", added=1)), "minor"),
    "resource added": (_diff(ResourceDiff("more", "added")), "minor"),
    "constraint loosened": (
        _diff(ResourceDiff("items", schema=[
            SchemaChange("constraints", "x", old={"maximum": 10}, new={"maximum": 20})])),
        "minor"),
    "rows removed": (_diff(ResourceDiff("items", removed=1)), "major"),
    "resource removed": (_diff(ResourceDiff("items", "removed")), "major"),
    "field added": (_diff(ResourceDiff("items", schema=[SchemaChange("added", "x")])), "major"),
    "field removed": (_diff(ResourceDiff("items", schema=[SchemaChange("removed", "x")])), "major"),
    "field renamed": (
        _diff(ResourceDiff("items", schema=[SchemaChange("renamed", "x", new_name="y")])), "major"),
    "fields reordered": (
        _diff(ResourceDiff("items", schema=[SchemaChange("reordered", old=["a", "b"])])), "major"),
    "field retyped": (
        _diff(ResourceDiff("items", schema=[
            SchemaChange("retyped", "x", old="integer", new="string")])), "major"),
    "constraint tightened": (
        _diff(ResourceDiff("items", schema=[
            SchemaChange("constraints", "x", old=None, new={"required": True})])), "major"),
    "primary key changed": (
        _diff(ResourceDiff("items", schema=[
            SchemaChange("primaryKey", old=["id"], new=["label"])])), "major"),
}  # fmt: skip


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_of_the_recipe_bumps_its_part(rule: str) -> None:
    diff, level = CASES[rule]
    changes = versioning.changes(diff)
    assert versioning.level_of(changes) == level
    assert all(c.reason for c in changes)


def test_the_largest_part_wins_and_nothing_changed_is_no_level() -> None:
    both = _diff(ResourceDiff("items", added=1, removed=1, changed=1))
    assert versioning.level_of(versioning.changes(both)) == "major"
    assert versioning.level_of(versioning.changes(_diff())) is None


@pytest.mark.parametrize(
    ("level", "version"), [("patch", "1.2.4"), ("minor", "1.3.0"), ("major", "2.0.0")]
)
def test_bump_resets_the_lower_parts(level: versioning.Level, version: str) -> None:
    assert versioning.bump("1.2.3", level) == version


@pytest.mark.parametrize("text", ["1.2", "01.2.3", "v1.2.3", "1.2.3-beta"])
def test_a_version_that_is_not_semver_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        versioning.parse(text)


@pytest.mark.parametrize(
    ("old", "new", "tighter"),
    [
        ({}, {"required": True}, True),
        ({"required": True}, {}, False),
        ({"minimum": 0}, {"minimum": 1}, True),
        ({"minimum": 1}, {"minimum": 0}, False),
        ({"maximum": 10}, {"maximum": 5}, True),
        ({"maximum": "2026-03-31"}, {"maximum": "2025-03-31"}, True),  # dates compare as ISO text
        ({"enum": ["a", "b"]}, {"enum": ["a"]}, True),
        ({"enum": ["a"]}, {"enum": ["a", "b"]}, False),
        ({}, {"pattern": "[0-9]+"}, True),
        ({"pattern": "[0-9]+"}, {}, False),
    ],
)
def test_which_constraint_changes_tighten(old: dict, new: dict, tighter: bool) -> None:
    assert versioning.constraint_tightened(old, new) is tighter
