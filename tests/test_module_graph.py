"""Who may import whom, read from the source with ``ast`` (every import: module level, inside
functions and under ``TYPE_CHECKING``).

Every module of the package belongs to one part of the pipeline (``PARTS``, longest prefix
first); ``ALLOWED`` states the arrows between parts, and no module graph cycle is allowed.
The layout (README, "Layout"): the driver; front end; IR; passes; shared numerics; circuits and
QSP; resources; studies; backends; the reference; verification; the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qrtc"

# module prefix -> part; the longest matching prefix wins.
PARTS = {
    "qrtc": "package",
    "qrtc.__main__": "main",
    "qrtc.errors": "errors",
    "qrtc.ir": "ir",
    "qrtc.frontend": "frontend",
    "qrtc.reference": "reference",
    "qrtc.qsp": "qsp",
    "qrtc.numerics": "numerics",
    "qrtc.circuits": "circuits",
    "qrtc.passes": "passes",
    "qrtc.resources": "resources",
    "qrtc.resources.estimate": "estimate",
    "qrtc.backends": "backends",
    "qrtc.pipeline": "driver",
    "qrtc.studies": "studies",
    "qrtc.verification": "verification",
    "qrtc.testing": "testing",
    "qrtc.cli": "cli",
}

# part -> the parts it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "ir": {"errors"},
    "frontend": {"errors", "ir"},
    # The exact trainer stays independent of everything it checks.
    "reference": {"errors", "ir"},
    # Numerics only: the polynomial and its phases know nothing of circuits or specs.
    "qsp": {"errors"},
    "numerics": {"errors", "ir"},
    "circuits": {"errors", "ir", "qsp"},
    "resources": {"errors", "ir", "circuits", "numerics", "qsp"},
    # Lowering neither simulates nor exports.
    "passes": {"errors", "ir", "numerics", "circuits", "qsp"},
    "backends": {"errors", "ir", "numerics", "circuits", "qsp", "resources"},
    # The one driver: the only part that calls the passes (and the trainer, and the backends
    # that build stages).
    "driver": {"errors", "ir", "frontend", "reference", "numerics", "passes", "backends", "qsp"},
    "estimate": {"errors", "ir", "numerics", "circuits", "qsp", "passes", "resources", "driver"},
    "studies": {"errors", "ir", "frontend", "reference", "resources", "estimate", "driver"},
    "verification": {
        "errors",
        "ir",
        "frontend",
        "reference",
        "numerics",
        "circuits",
        "qsp",
        "passes",
        "backends",
        "resources",
        "driver",
    },
    "testing": {"errors", "ir", "verification"},
    "cli": {
        "errors",
        "ir",
        "frontend",
        "reference",
        "backends",
        "resources",
        "estimate",
        "driver",
        "studies",
        "verification",
        "package",
    },
    "package": {"errors", "ir", "frontend", "reference", "driver", "verification", "backends"},
    "main": {"cli"},
}

# Passes may only be called from the driver: these parts must not import a pass's function.
PASS_CALLERS = {"driver"}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def part_of(module: str) -> str:
    prefixes = [p for p in PARTS if module == p or module.startswith(p + ".")]
    return PARTS[max(prefixes, key=len)]


def _imports(path: Path, module: str) -> set[str]:
    """Every ``qrtc`` module ``path`` imports (names resolved to modules where they are)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                package = module.split(".")[: -node.level or None]
                base = ".".join([*package, node.module])
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            found.update(submodules)
            # `from package import submodule` imports the submodule (its package's __init__
            # runs first, as for every import, and is not an arrow of its own).
            if not submodules <= set(MODULES):
                found.add(base)
    return {name for name in found if name in MODULES}


GRAPH = {module: _imports(path, module) - {module} for module, path in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports_only_the_parts_its_part_may(module: str) -> None:
    part = part_of(module)
    assert part in ALLOWED, f"{module}: part {part!r} has no rule"
    bad = sorted(
        name
        for name in GRAPH[module]
        if part_of(name) != part and part_of(name) not in ALLOWED[part]
    )
    assert not bad, f"{module} ({part}) imports {bad}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def test_passes_are_called_from_the_driver_alone() -> None:
    passes = {m for m in MODULES if part_of(m) == "passes" and m != "qrtc.passes"}
    callers = {
        module
        for module, imported in GRAPH.items()
        if part_of(module) not in {"passes", *PASS_CALLERS} and imported & passes
    }
    # Verification reads the pass modules' constants and helpers (limits, the error split),
    # never their pass functions: see test below.
    assert callers <= {m for m in MODULES if part_of(m) in {"verification", "estimate"}}


def test_no_module_outside_the_driver_calls_a_pass_function() -> None:
    pass_functions = {f"{m}.{m.rsplit('.', 1)[1]}" for m in MODULES if m.startswith("qrtc.passes.")}
    for module, path in MODULES.items():
        if part_of(module) in {"passes", *PASS_CALLERS}:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                named = {f"{node.module}.{alias.name}" for alias in node.names}
                assert not named & pass_functions, f"{module} imports {named & pass_functions}"


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """A reference module importing the front end, and a two-module cycle, are caught."""
    fake = tmp_path / "fake.py"
    fake.write_text("from qrtc.frontend.check import check\n", encoding="utf-8")
    imported = _imports(fake, "qrtc.reference.fake")
    assert "qrtc.frontend.check" in imported
    assert part_of("qrtc.frontend.check") not in ALLOWED[part_of("qrtc.reference.fake")]
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
