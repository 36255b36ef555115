"""A resource read from several files (`path: [a.csv, b.csv]`): a monthly series kept as one
file per year, published as one table; each problem located in its own file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from conftest import PUBLISHABLE, errors_of, opendata, report, write_dataset

HEADER = "月,地域,人口\n"
FY2024 = HEADER + "令和6年4月1日,芝地区,62000\n令和6年5月1日,芝地区,62100\n"
FY2025 = HEADER + "2025/4/1,芝地区,62500\n"
MAY_2025 = "2025/5/1,芝地区,62600\n"

POPULATION = PUBLISHABLE | {
    "name": "monthly-population",
    "title": "地区別人口（月次）",
    "resources": [
        {
            "name": "population",
            "path": ["2024.csv", "2025.csv"],
            "schema": {
                "fields": [
                    {"name": "month", "title": "月", "type": "date"},
                    {"name": "area", "title": "地域", "type": "string"},
                    {"name": "population", "title": "人口", "type": "integer"},
                ],
                "primaryKey": ["month", "area"],
            },
        }
    ],
}


def _write(root: Path, files: dict[str, str]) -> Path:
    write_dataset(root, POPULATION, files)
    return root / "datasets"


def _build(root: Path) -> tuple[int, dict]:
    return report("build", "--datasets", str(root / "datasets"), "--out", str(root / "dist"))


def test_the_files_of_a_series_are_published_as_one_table(tmp_path: Path) -> None:
    _write(tmp_path, {"2024.csv": FY2024, "2025.csv": FY2025})
    code, result = _build(tmp_path)
    assert code == 0, errors_of(result)
    folder = tmp_path / "dist/datasets/monthly-population"
    with (folder / "population.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows] == ["month", "2024-04-01", "2024-05-01", "2025-04-01"]
    package = json.loads((folder / "datapackage.json").read_text("utf-8"))
    provenance = package["x-opendata"]["provenance"]
    assert [p["file"] for p in provenance] == ["2024.csv", "2025.csv"]
    assert all(p["resource"] == "population" for p in provenance)


def test_a_problem_is_located_in_its_own_file(tmp_path: Path) -> None:
    _write(tmp_path, {"2024.csv": FY2024, "2025.csv": FY2025 + "2025/2/30,芝地区,1\n"})
    code, result = _build(tmp_path)
    (error,) = errors_of(result)
    assert code == 1 and error["type"] == "type-error"
    assert (error["file"], error["row"], error["value"]) == (
        "monthly-population/2025.csv",
        3,
        "2025/2/30",
    )


def test_a_key_repeated_across_files_is_caught(tmp_path: Path) -> None:
    _write(tmp_path, {"2024.csv": FY2024, "2025.csv": HEADER + "令和6年5月1日,芝地区,1\n"})
    code, result = _build(tmp_path)
    assert code == 1 and any(e["type"] == "primary-key" for e in errors_of(result))


def test_a_file_with_other_columns_is_refused_by_name(tmp_path: Path) -> None:
    _write(tmp_path, {"2024.csv": FY2024, "2025.csv": "月,地域,人口,備考\n2025/4/1,芝地区,1,\n"})
    code, result = _build(tmp_path)
    problems = errors_of(result)
    assert code == 1 and {p["file"] for p in problems} == {"monthly-population/2025.csv"}
    assert any("備考" in (p.get("column") or "") for p in problems), problems


def test_appending_a_month_to_the_newest_file_is_a_minor_release(tmp_path: Path) -> None:
    datasets = _write(tmp_path, {"2024.csv": FY2024, "2025.csv": FY2025})
    site = str(tmp_path / "dist")

    def release(epoch: int) -> dict:
        assert _build(tmp_path)[0] == 0
        done = opendata(
            "release", "--site", site, "--datasets", str(datasets), "--json",
            env={"SOURCE_DATE_EPOCH": str(epoch)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        return json.loads(done.stdout)["release"]["datasets"]["monthly-population"]

    assert release(1764400000)["version"] == "1.0.0"
    newest = datasets / "monthly-population/2025.csv"
    newest.write_text(FY2025 + MAY_2025, encoding="utf-8")
    assert release(1764403600)["version"] == "1.1.0"


def test_a_build_leaves_no_source_file_open(tmp_path: Path) -> None:
    """Each source file is closed once read: the ward's catalog reads ~20,000 of them in one
    build, and a leaked descriptor each ran out of the process's limit after 838 datasets."""
    import os

    many = {f"{year}.csv": HEADER + f"{year}/4/1,芝地区,{year}\n" for year in range(2000, 2040)}
    population = POPULATION | {"resources": [{**POPULATION["resources"][0], "path": sorted(many)}]}
    write_dataset(tmp_path, population, many)
    before = len(os.listdir("/proc/self/fd"))
    done = opendata(
        "build", "--datasets", str(tmp_path / "datasets"), "--out", str(tmp_path / "dist")
    )
    assert done.returncode == 0, done.stderr
    assert len(os.listdir("/proc/self/fd")) == before
