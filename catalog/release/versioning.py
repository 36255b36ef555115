"""The Data Package version recipe: which SemVer part a dataset's change bumps.

MAJOR — a field added, removed, renamed, reordered or retyped, a constraint tightened, a
resource or rows removed (what a consumer's code relies on is gone), a file published as it is
changing its format (a reader of the old one cannot read it). MINOR — rows or a resource added,
a constraint loosened, a file published as it is with new bytes (new content in the same
format: its inside is not compared row by row, so the release does not claim it is only a
correction; `--set-version` may say patch). PATCH — values corrected, metadata changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pipeline.vocabulary import SEMVER

from .diff import DatasetDiff, SchemaChange

LEVELS = ("patch", "minor", "major")

# Per constraint: +1 when a larger value restricts more, -1 when a smaller one does.
_BOUNDS = {"minimum": 1, "exclusiveMinimum": 1, "minLength": 1, "maximum": -1}
_BOUNDS |= {"exclusiveMaximum": -1, "maxLength": -1}


Level = Literal["patch", "minor", "major"]


@dataclass(frozen=True)
class Change:
    level: Level
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"level": self.level, "reason": self.reason}


def parse(version: str) -> tuple[int, int, int]:
    match = SEMVER.fullmatch(str(version))
    if not match:
        raise ValueError(f"{version!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def bump(version: str, level: Level) -> str:
    major, minor, patch = parse(version)
    if level == "major":
        return f"{major + 1}.0.0"
    if level == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def level_of(changes: list[Change]) -> Level | None:
    """The largest part any change bumps; None when nothing changed."""
    return max((c.level for c in changes), key=LEVELS.index, default=None)


def changes(diff: DatasetDiff) -> list[Change]:
    """Every change of one dataset with the part of the version it bumps."""
    found = [Change("patch", f"metadata {m.key}") for m in diff.metadata]
    for resource in diff.resources:
        where = f"[{resource.name}]"
        if resource.status != "changed":
            level: Level = "minor" if resource.status == "added" else "major"
            found.append(Change(level, f"{where} resource {resource.status}"))
            continue
        if resource.file is not None:
            file = resource.file
            if file.old_format != file.new_format:
                found.append(
                    Change("major", f"{where} file format {file.old_format} → {file.new_format}")
                )
            else:
                found.append(
                    Change("minor", f"{where} file changed (sha256 {file.new_sha256[:12]}…)")
                )
            continue
        found += [_schema_change(where, c) for c in resource.schema]
        if resource.removed:
            found.append(Change("major", f"{where} {resource.removed} rows removed"))
        if resource.added:
            found.append(Change("minor", f"{where} {resource.added} rows added"))
        if resource.changed:
            found.append(Change("patch", f"{where} {resource.changed} rows corrected"))
    return found


def _schema_change(where: str, change: SchemaChange) -> Change:
    kind = change.change
    subject = f"{where} field {change.field}".rstrip()
    if kind == "constraints":
        tighter = constraint_tightened(change.old or {}, change.new or {})
        return Change(
            "major" if tighter else "minor",
            f"{subject} constraint {'tightened' if tighter else 'loosened'}",
        )
    if kind == "described":
        return Change("patch", f"{subject} description changed")
    if kind == "primaryKey":
        return Change("major", f"{where} primary key {change.old} → {change.new}")
    return Change("major", f"{subject} {kind}")


def _raised(before: Any, after: Any, direction: int) -> bool:
    """The bound moved towards refusing more (numbers, or dates as ISO text, compare alike)."""
    try:
        return after > before if direction > 0 else after < before
    except TypeError:  # a bound of another type: nothing says it is looser
        return True


def constraint_tightened(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when some value valid before may now be refused (the change is not only looser)."""
    for key in set(old) | set(new):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key in ("required", "unique"):
            if after and not before:
                return True
        elif key in _BOUNDS:
            if before is None or (after is not None and _raised(before, after, _BOUNDS[key])):
                return True
        elif key == "enum":
            if before is None or (after is not None and not set(before) <= set(after)):
                return True
        elif after is not None:  # pattern and anything unknown: a new rule may refuse values
            return True
    return False
