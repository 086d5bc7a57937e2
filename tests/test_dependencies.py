"""Every package the code imports is declared in pyproject.toml: the console's in its dependencies (or the
redis extra), the tests' in the test extra. A package that only arrives with another one is still declared."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
OURS = {"console", "tests"}


def declared(requirements: list[str]) -> set[str]:
    """Distribution names, normalised, from requirement strings such as 'flask>=3.0'."""
    return {re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].strip().lower().replace("_", "-") for line in requirements}


def imported(folder: str) -> set[str]:
    """Top-level names of every absolute import in a folder's Python files, standard library left out."""
    names = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name not in OURS}


def distributions(modules: set[str]) -> dict[str, set[str]]:
    found = packages_distributions()
    return {module: {name.lower().replace("_", "-") for name in found.get(module, [module])} for module in modules}


def undeclared(modules: set[str], allowed: set[str]) -> list[str]:
    return sorted(f"{module} ({', '.join(sorted(names))})" for module, names in distributions(modules).items()
                  if not names & allowed)


def test_the_console_declares_every_package_it_imports():
    allowed = declared(PROJECT["dependencies"]) | declared(PROJECT["optional-dependencies"]["redis"])
    assert undeclared(imported("console"), allowed) == []


def test_the_tests_declare_every_package_they_import():
    allowed = (declared(PROJECT["dependencies"]) | declared(PROJECT["optional-dependencies"]["test"])
               | {"pytest-playwright"})  # its plugin module is `pytest_playwright`, loaded by pytest
    assert undeclared(imported("tests"), allowed) == []
