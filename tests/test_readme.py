"""The README's promises: its Quick start is what CI runs, its minimal example is what we test."""

from __future__ import annotations

import re

import yaml

from conftest import MINIMAL, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _quick_start() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "Quick start has no sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    commands = _quick_start()
    assert len(commands) == 2
    assert commands == ["make build", "make test"]
    assert commands[1] in (ROOT / ".ci/run").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "opendata build" in makefile and "pytest" in makefile


def test_the_minimal_example_in_the_readme_is_the_one_the_tests_build() -> None:
    block = re.search(r"```yaml\n(name: sample-budget.*?)```", README, re.S)
    assert block and yaml.safe_load(block.group(1)) == MINIMAL
