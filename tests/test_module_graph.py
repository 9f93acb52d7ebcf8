"""Who may import whom (shared/design.md §6), read from the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qrtc"

# module prefix -> prefixes it must never import
FORBIDDEN = {
    "qrtc.ir": (
        "qrtc.run",
        "qrtc.verification",
        "qrtc.circuits",
        "qrtc.frontend",
        "qrtc.passes",
        "qrtc.backends",
        "qrtc.reference",
        "qrtc.cli",
        "qrtc.pipeline",
    ),
    "qrtc.errors": ("qrtc.",),
    "qrtc.circuits": (
        "qrtc.run",
        "qrtc.verification",
        "qrtc.frontend",
        "qrtc.passes",
        "qrtc.backends",
        "qrtc.reference",
        "qrtc.cli",
        "qrtc.pipeline",
    ),
    "qrtc.reference": (
        "qrtc.run",
        "qrtc.verification",
        "qrtc.frontend",
        "qrtc.passes",
        "qrtc.backends",
        "qrtc.cli",
        "qrtc.pipeline",
    ),
    "qrtc.frontend": (
        "qrtc.run",
        "qrtc.verification",
        "qrtc.passes",
        "qrtc.backends",
        "qrtc.reference",
        "qrtc.cli",
        "qrtc.pipeline",
    ),
    # Numerics only: the polynomial and its phases know nothing of circuits or specs.
    "qrtc.qsp": (
        "qrtc.ir",
        "qrtc.circuits",
        "qrtc.frontend",
        "qrtc.passes",
        "qrtc.backends",
        "qrtc.reference",
        "qrtc.cli",
        "qrtc.pipeline",
        "qrtc.run",
        "qrtc.verification",
    ),
    "qrtc.passes": (
        "qrtc.backends",
        "qrtc.reference",
        "qrtc.cli",
        "qrtc.run",
        "qrtc.verification",
    ),
    "qrtc.backends": ("qrtc.cli", "qrtc.run", "qrtc.verification"),
    "qrtc.pipeline": ("qrtc.cli", "qrtc.run", "qrtc.verification"),
    "qrtc.run": ("qrtc.cli", "qrtc.verification"),
    # Top level like run: it checks every layer below it, and nothing below imports it.
    "qrtc.verification": ("qrtc.cli",),
}


def _modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append((".".join(parts), path))
    return modules


def _imports(path: Path, module: str) -> set[str]:
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
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("module,path", _modules(), ids=[m for m, _ in _modules()])
def test_module_imports_respect_the_layers(module: str, path: Path) -> None:
    imports = _imports(path, module)
    for prefix, forbidden in FORBIDDEN.items():
        if module == prefix or module.startswith(prefix + "."):
            bad = sorted(i for i in imports if any(i.startswith(f) for f in forbidden))
            assert not bad, f"{module} imports {bad}"
    if module not in ("qrtc.__main__", "qrtc.cli"):
        assert not any(i.startswith("qrtc.cli") for i in imports), module


def test_the_layer_rules_catch_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself can fail: a reference module importing frontend is caught."""
    fake = tmp_path / "fake.py"
    fake.write_text("from qrtc.frontend import check\n")
    imports = _imports(fake, "qrtc.reference.fake")
    assert any(i.startswith("qrtc.frontend") for i in imports)
