"""The package's layers hold: ``lint-imports`` keeps the layers contract of ``pyproject.toml``
(drawn in docs/architecture.md), and no module of the package or of the scripts imports another
module's private names."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_layers_contract_is_kept():
    command = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run(
        [command, "--config", str(REPO / "pyproject.toml")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def private_imports(path: Path) -> list[str]:
    """``module:name`` of every private name that ``path`` imports from another seedscope
    module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("seedscope"):
            found += [f"{node.module}:{a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_no_module_imports_another_modules_private_names():
    files = sorted((REPO / "seedscope").rglob("*.py")) + sorted((REPO / "scripts").glob("*.py"))
    offenders = {str(f.relative_to(REPO)): private_imports(f) for f in files}
    assert {f: names for f, names in offenders.items() if names} == {}


def test_the_private_import_check_finds_one(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from seedscope.diverse.score import _pooled, mean_interval\n")
    assert private_imports(module) == ["seedscope.diverse.score:_pooled"]
