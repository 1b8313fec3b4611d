"""The layers of docs/architecture.md, read from the source: a package imports only the packages it
stands on, not even lazily inside a function, and only the ``potcot`` command reaches all of them.
The solving core (``server``) lies below the web server (``server/web``); training and the benchmarks
stand on the core, never on the web server nor on each other. The local fleet (``server/fleet``)
starts servers as processes by their command lines, so it imports nothing of potcot and the
benchmarks that measure servers may use it. A package's performance scripts
(``benchmarks/performance/``, ``training/performance/``) are in its layer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
# What each package stands on directly; what those stand on is allowed too.
STANDS_ON: dict[str, set[str]] = {
    "sandbox": set(),
    "answers": {"sandbox"},
    "server": {"answers"},
    "fleet": set(),
    "web": {"server", "fleet"},
    "shipped": set(),
    "benchmarks": {"server", "fleet", "shipped"},
    "training": {"server", "shipped"},
}
LAYERS = tuple(STANDS_ON)
FOLDERS = {
    "sandbox": ROOT / "sandbox",
    "answers": ROOT / "potcot" / "answers",
    "server": ROOT / "server",
    "fleet": ROOT / "server" / "fleet",
    "web": ROOT / "server" / "web",
    "benchmarks": ROOT / "benchmarks",
    "shipped": ROOT / "potcot" / "shipped.py",
    "training": ROOT / "training",
}
# Nested packages first: ``potcot.server.web.app`` is in ``web``, not ``server``.
PREFIXES = {
    "potcot.server.web": "web",
    "potcot.server.fleet": "fleet",
}


def below(package: str) -> set[str]:
    """Every package ``package`` may import: those it stands on, and theirs."""
    reached = set(STANDS_ON[package])
    for other in STANDS_ON[package]:
        reached |= below(other)
    return reached


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
    """``potcot.server.solver`` is in ``server``; ``potcot.server.web.app`` in ``web``."""
    nested = [layer for prefix, layer in PREFIXES.items() if module == prefix or module.startswith(prefix + ".")]
    return nested[0] if nested else module.split(".")[1]


def modules(package: str) -> list[Path]:
    """The package's own modules, without those of a layer nested in its folder (a one-module
    package is its file)."""
    if FOLDERS[package].is_file():
        return [FOLDERS[package]]
    nested = [
        FOLDERS[other] for other in LAYERS if FOLDERS[other].is_relative_to(FOLDERS[package]) and other != package
    ]
    return sorted(path for path in FOLDERS[package].rglob("*.py") if not any(path.is_relative_to(n) for n in nested))


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_what_it_stands_on(package: str) -> None:
    allowed = below(package) | {package}
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
        "potcot.server.schema",
        "potcot.server.settings",
        "potcot.server.solver",
        "potcot.server.web.protocol",
        "potcot.server.web.protocol_openai",
        "potcot.server.web.protocol_tokenize",
    ],
)
def test_the_lower_layers_load_without_the_web_framework_or_the_engine(module: str) -> None:
    heavy = ("fastapi", "starlette", "uvicorn", "vllm", "torch", "math_verify", "pebble")
    probe = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


@pytest.mark.parametrize("module", ["potcot.server.inprocess", "potcot.server.schema", "potcot.training.records"])
def test_the_solving_core_loads_without_the_web_server(module: str) -> None:
    probe = f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith('potcot.server.web')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
