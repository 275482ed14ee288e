"""The import direction: dashboard -> export.runtime -> core, train -> core; never the other way.

Checked on the source (every import statement of every module), so one added import anywhere
fails here before it can pull torch into the dashboard process.
"""
import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# What each part may import from this project (besides itself).
ALLOWED = {
    "core": set(),
    "train": {"core"},
    "export": {"core", "train"},
    "dashboard": {"core", "export.runtime", "export.latent_space"},
    "benchmarks": {"core", "train", "export"},
}
# Modules that must never import torch (nor anything that does).
TORCH_FREE = ("core", "dashboard", "export/runtime.py", "export/latent_space.py", "export/generate.py")
PROJECT = ("core", "train", "export", "dashboard", "benchmarks", "tests")


def imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved to the package)."""
    package = ".".join(path.relative_to(ROOT).parent.parts)
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names.update([base] + [f"{base}.{alias.name}" for alias in node.names])
    return names


def modules(part: str) -> list[Path]:
    return sorted((ROOT / part).rglob("*.py")) if (ROOT / part).is_dir() else [ROOT / part]


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_part_imports_only_what_is_below_it(part):
    for path in modules(part):
        for name in imports(path):
            top = name.split(".")[0]
            if top not in PROJECT or top == part:
                continue
            assert any(name == allowed or name.startswith(allowed + ".") for allowed in ALLOWED[part]), \
                f"{path.relative_to(ROOT)} imports {name}"


@pytest.mark.parametrize("where", TORCH_FREE)
def test_torch_free_modules_never_import_torch_or_train(where):
    for path in modules(where):
        for name in imports(path):
            assert name.split(".")[0] not in ("torch", "torchvision", "train"), f"{path.relative_to(ROOT)} imports {name}"
        if path.parent.name in ("dashboard", "export"):  # torch-free modules import only torch-free ones
            allowed = ("export.runtime", "export.latent_space")
            assert not any(n.startswith("export.") and not n.startswith(allowed) for n in imports(path)), path
