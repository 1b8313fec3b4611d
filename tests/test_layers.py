"""The layers of docs/architecture.md, read from the source: a package imports only the packages below
it, not even lazily inside a function, and only the ``potcot`` command reaches all of them. A
package's performance scripts (``benchmarks/performance/``, ``training/performance/``) are in its
layer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
# Bottom up: each package may import those before it.
LAYERS = ("sandbox", "answers", "server", "benchmarks", "training")
FOLDERS = {
    "sandbox": ROOT / "sandbox",
    "answers": ROOT / "potcot" / "answers",
    "server": ROOT / "server",
    "benchmarks": ROOT / "benchmarks",
    "training": ROOT / "training",
}


def potcot_imports(path: Path) -> set[str]:
    """The potcot packages a module imports, wherever in the module the import is."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        imported |= {layer_of(name) for name in names if name.startswith("potcot.")}
    return imported


def layer_of(module: str) -> str:
    """``potcot.server.solver`` is in ``server``."""
    return module.split(".")[1]


def modules(package: str) -> list[Path]:
    """The package's modules, its performance scripts included."""
    return sorted(FOLDERS[package].rglob("*.py"))


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_what_lies_below_it(package: str) -> None:
    allowed = set(LAYERS[: LAYERS.index(package) + 1])
    upward = {
        str(path.relative_to(ROOT)): sorted(forbidden)
        for path in modules(package)
        if (forbidden := potcot_imports(path) & set(LAYERS) - allowed)
    }
    assert upward == {}


def test_every_layer_has_its_folder() -> None:
    assert all(modules(package) for package in LAYERS)


def test_nothing_imports_the_command_line() -> None:
    importers = [
        str(path.relative_to(ROOT)) for package in LAYERS for path in modules(package) if "cli" in potcot_imports(path)
    ]
    assert importers == []


@pytest.mark.parametrize(
    "module",
    [
        "potcot.sandbox",
        "potcot.answers",
        "potcot.server.prompts",
        "potcot.server.protocol",
        "potcot.server.protocol_openai",
        "potcot.server.protocol_tokenize",
        "potcot.server.solver",
    ],
)
def test_the_lower_layers_load_without_the_web_framework_or_the_engine(module: str) -> None:
    heavy = ("fastapi", "starlette", "uvicorn", "vllm", "torch", "math_verify", "pebble")
    probe = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
