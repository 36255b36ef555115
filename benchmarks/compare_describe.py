"""`opendata init` beside `frictionless describe` on the seed sources: how many of the
hand-written definitions' field types and primary keys each proposes alike.

Each source is copied to a temporary folder; a field is matched to a column by its `title`
(the Japanese header, NFKC-folded); fields the definitions derive rather than read (labels,
markers, ranges) are not counted. frictionless proposes no primary key.

    .venv/bin/python benchmarks/compare_describe.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SEEDS = [
    ("facility-counts", "facility-counts", "facility-counts.xlsx"),
    ("plan-indicators", "indicators", "indicators.csv"),
    ("plan-indicators", "indicator-values", "indicator-values.csv"),
    ("survey-results", "survey-results", "survey-results.csv"),
]


def header_key(text: str) -> str:
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", text).split())


def ours(work: Path, source: Path, name: str) -> tuple[dict[str, str], list[str]]:
    """Types by folded header, and the key (as headers), that `opendata init` proposes."""
    command = [str(BIN / "opendata"), "init", str(source), "--name", name, "--json"]
    done = subprocess.run(
        [*command, "--datasets", str(work / "datasets")], capture_output=True, text=True
    )
    inferred = json.loads(done.stdout)["inferred"]
    titles = {f["name"]: header_key(f["title"]) for f in inferred["fields"]}
    types = {header_key(f["title"]): f["type"] for f in inferred["fields"]}
    return types, [titles[n] for n in inferred.get("primaryKey") or []]


def theirs(source: Path) -> dict[str, str]:
    """Types by folded header that `frictionless describe` proposes."""
    command = [str(BIN / "frictionless"), "describe", "--json", str(source)]
    described = json.loads(subprocess.run(command, capture_output=True, text=True).stdout)
    return {header_key(f["name"]): f["type"] for f in described["schema"]["fields"]}


def main() -> None:
    rows = []
    totals = {"init": [0, 0], "frictionless": [0, 0]}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for dataset, resource_name, file_name in SEEDS:
            source = work / "src" / file_name
            source.parent.mkdir(exist_ok=True)
            shutil.copyfile(ROOT / "datasets" / dataset / file_name, source)
            hand = yaml.safe_load((ROOT / "datasets" / dataset / "dataset.yaml").read_text())
            resource = next(r for r in hand["resources"] if r["name"] == resource_name)
            init_types, init_key = ours(work, source, resource_name)
            their_types = theirs(source)
            fields = [
                f for f in resource["schema"]["fields"] if header_key(f["title"]) in init_types
            ]
            by_name = {f["name"]: header_key(f["title"]) for f in fields}
            key = [by_name.get(n, n) for n in resource["schema"].get("primaryKey") or []]
            alike = {
                "init": sum(init_types[header_key(f["title"])] == f["type"] for f in fields),
                "frictionless": sum(
                    their_types.get(header_key(f["title"])) == f["type"] for f in fields
                ),
            }
            keys = {"init": sorted(init_key) == sorted(key), "frictionless": False}
            for tool in totals:
                totals[tool][0] += alike[tool] + keys[tool]
                totals[tool][1] += len(fields) + 1
            rows.append((resource_name, len(fields), alike, keys))
    print(f"{'resource':18} {'fields':>6} {'init types':>11} {'frictionless':>13} {'init key':>9}")
    for name, count, alike, keys in rows:
        print(
            f"{name:18} {count:6} {alike['init']:11} {alike['frictionless']:13} {keys['init']!s:>9}"
        )
    for tool, (agree, total) in totals.items():
        print(f"{tool}: {agree}/{total} = {agree / total:.0%} of types and keys alike")


if __name__ == "__main__":
    main()
