"""The house rules of the tree, checked on the code itself (docs/architecture.md).

Dependencies point inward, the domain imports no store, no test or load server ships in a product package,
no ImportError fallback hides a broken part, and modules and functions stay a readable size.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("twin", "adapters", "viz")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80

#: Pure domain modules: importing them must not load Redis, OPC UA, pyvista or the API.
DOMAIN = (
    "twin.model",
    "twin.config",
    "twin.changes",
    "twin.calendar",
    "twin.graph",
    "twin.kpi",
    "twin.generate",
    "twin.sim",
    "twin.schedule.jobshop",
    "twin.schedule.plant",
    "twin.archive",
)
FORBIDDEN_IN_DOMAIN = (
    "redis",
    "twin.store",
    "twin.api",
    "twin.cli",
    "asyncua",
    "opcua",
    "pyvista",
    "vtk",
    "adapters",
    "viz",
    "benchmarks",
)


def _modules(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def test_domain_imports_no_store_io_or_ui() -> None:
    code = (
        f"import json, sys\nfor m in {list(DOMAIN)!r}: __import__(m)\nprint(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = json.loads(out.stdout)
    bad = sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_IN_DOMAIN))
    assert bad == [], f"domain modules pulled in {bad}"


@pytest.mark.parametrize("package", ["twin", "viz"])
def test_inner_packages_do_not_import_outer_ones(package: str) -> None:
    outer = {"twin": ("adapters", "viz", "benchmarks"), "viz": ("adapters", "benchmarks")}[package]
    hits = []
    for path in _modules(package):
        if package == "twin" and path.parts[len(ROOT.parts) + 1] == "cli":
            continue  # the CLI is the composition root
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            hits += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in outer]
    assert hits == []


def test_no_import_error_fallbacks_in_the_product() -> None:
    hits = []
    for path in _modules(*PRODUCT):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                caught = ast.unparse(node.type)
                if "ImportError" in caught or "ModuleNotFoundError" in caught:
                    hits.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert hits == []


def test_modules_and_functions_stay_readable() -> None:
    big, long = [], []
    for path in _modules(*PRODUCT):
        src = path.read_text()
        if src.count("\n") > MAX_MODULE_LINES:
            big.append(f"{path.relative_to(ROOT)} ({src.count(chr(10))} lines)")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert big == [] and long == [], f"modules: {big}; functions: {long}"


def test_no_test_or_load_server_in_a_product_package() -> None:
    names = {p.stem for p in _modules(*PRODUCT)}
    assert not names & {"testing", "loadserver", "tagserver", "interop", "plc_server", "bench"}
