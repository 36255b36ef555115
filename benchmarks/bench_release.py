"""A release of a 1,000,000-row dataset with 1% of the rows changed, then its publish.

.venv/bin/python benchmarks/bench_release.py

Times, each as one run of the real command: the first release, the decision for the second
(`release --dry-run`: the diff against the last release), the second release (diff, version
folder, catalog), and `publish --to` of each release into a fresh web root and then over it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench_build import compiled
from generate import change_one_percent, generate

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
METADATA = {
    "description": "港区の施設台帳を模した合成データです。ベンチマーク用に乱数で作った100万行の表で、"
    "1行が1つの施設、延床面積は平方メートルです。",
    "created": "2024-03-01",
    "keywords": ["施設", "ベンチマーク"],
    "sources": [{"title": "合成データ（benchmarks/generate.py）"}],
    "x-opendata": {
        "title_en": "Facility ledger (synthetic)",
        "description_en": "Synthetic facility ledger for benchmarks.",
        "department": "企画経営部",
        "frequency": "annual",
    },
}


def publishable(datasets: Path) -> Path:
    definition = datasets / "facility-ledger" / "dataset.yaml"
    data = yaml.safe_load(definition.read_text(encoding="utf-8")) | METADATA
    definition.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return datasets


def timed(label: str, *args: str, epoch: int) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    started = time.perf_counter()
    subprocess.run([str(BIN / "opendata"), *args], check=True, capture_output=True, env=env)
    print(f"{label:45} {time.perf_counter() - started:6.2f} s")


def main() -> None:
    compiled()
    work = HERE / "data" / "release"
    shutil.rmtree(work, ignore_errors=True)
    csv_path = generate(work / "v1")
    site, web = work / "dist", work / "www"
    v1 = publishable(work / "v1" / "datasets")
    subprocess.run([str(BIN / "opendata"), "build", "--datasets", str(v1), "--out", str(site)],
                   check=True, capture_output=True)  # fmt: skip
    timed("release 1 (first: 1.0.0)", "release", "--site", str(site), "--datasets", str(v1),
          epoch=1764400000)  # fmt: skip
    timed("publish --to (new web root)", "publish", "--site", str(site), "--to", str(web),
          epoch=1764400000)  # fmt: skip
    change_one_percent(csv_path, work / "v2")
    v2 = publishable(work / "v2" / "datasets")
    subprocess.run([str(BIN / "opendata"), "build", "--datasets", str(v2), "--out", str(site)],
                   check=True, capture_output=True)  # fmt: skip
    timed("release --dry-run (decide: diff vs release 1)", "release", "--dry-run", "--site",
          str(site), "--datasets", str(v2), epoch=1764486400)  # fmt: skip
    timed("release 2 (10,000 rows changed: 1.0.1)", "release", "--site", str(site),
          "--datasets", str(v2), epoch=1764486400)  # fmt: skip
    timed("publish --to (over release 1)", "publish", "--site", str(site), "--to", str(web),
          epoch=1764486400)  # fmt: skip
    timed("publish --to (again: nothing to do)", "publish", "--site", str(site), "--to",
          str(web), epoch=1764486400)  # fmt: skip


if __name__ == "__main__":
    main()
