"""A pytest plugin (`-p tests.block_torch`) that makes `import torch` fail as it would where torch is not
installed, so the torch-free packages' tests prove they need none of it (tests/test_torch_free.py)."""
import sys
from importlib.abc import MetaPathFinder

BLOCKED = ("torch", "torchvision", "gan", "evaluation", "train", "export")


class _NoTorch(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: this test must run without torch)",
                                      name=name)
        return None


sys.meta_path.insert(0, _NoTorch())
