"""The packages' import direction, checked on the source (every import statement of every module):

    core  <-  inference  <-  dashboard                      torch-free
    core  <-  gan  <-  evaluation  <-  train                torch
              gan, evaluation, inference  <-  export

so one added import anywhere fails here before it can pull torch into the dashboard process.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each package may import from this project (besides itself).
ALLOWED = {
    "core": set(),
    "inference": {"core"},
    "dashboard": {"core", "inference"},
    "gan": {"core"},
    "evaluation": {"core", "gan"},
    "train": {"core", "gan", "evaluation"},
    "export": {"core", "gan", "evaluation", "inference"},
    "benchmarks": {"core", "inference", "gan", "evaluation", "train", "export"},
}
TORCH_FREE = ("core", "inference", "dashboard")
TORCH_PACKAGES = ("torch", "torchvision", "gan", "evaluation", "train", "export")


def imports(path: Path, root: Path = ROOT) -> set[str]:
    """Absolute module names a file imports (relative imports resolved to the package)."""
    package = ".".join(path.relative_to(root).parent.parts)
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


def test_every_package_is_checked():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} | {"dashboard", "benchmarks"}
    assert packages - {"tests"} == set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_is_below_it(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imports(path):
            top = name.split(".")[0]
            if top in ALLOWED and top != package:
                assert top in ALLOWED[package], f"{path.relative_to(ROOT)} imports {name}"


@pytest.mark.parametrize("package", TORCH_FREE)
def test_torch_free_packages_never_import_torch(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imports(path):
            assert name.split(".")[0] not in TORCH_PACKAGES, f"{path.relative_to(ROOT)} imports {name}"


def test_the_checker_sees_relative_and_nested_imports(tmp_path):
    """The rules above could pass vacuously if `imports` missed a form of import: it must not."""
    module = tmp_path / "inference" / "probe.py"
    module.parent.mkdir()
    module.write_text("def f():\n    from ..gan import models\n    import torch.nn\n", encoding="utf-8")
    assert {"gan", "gan.models", "torch.nn"} <= imports(module, tmp_path)
