"""The layout shows the data flow: datasets/ → pipeline/ → dist/ ← catalog/.

pipeline/ turns one dataset folder into one package and knows nothing of the site; catalog/
builds on it. An import the other way would tie the data layer to the site layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT


def _imports(path: Path) -> set[str]:
    """Top-level package names a module imports (relative imports stay inside its package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("module", sorted((ROOT / "pipeline").rglob("*.py")), ids=lambda p: p.name)
def test_pipeline_never_imports_catalog(module: Path) -> None:
    assert "catalog" not in _imports(module)


def test_the_import_check_sees_an_import_of_catalog(tmp_path: Path) -> None:
    """Proves the check above can fail."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from catalog.paths import dataset\n", encoding="utf-8")
    assert "catalog" in _imports(module)
