"""The torch-free packages' tests (tests/core, tests/inference, tests/dashboard) pass with torch blocked.

They run once, here, in a subprocess where importing torch (or any package that needs it) fails as it
would where torch is not installed; the main test process leaves their folders to this test
(tests/conftest.py), so nothing runs twice. Their skips are reported in this test's output.
"""
import os
import re
import subprocess
import sys

from tests.conftest import ROOT, TORCH_FREE_TESTS


def test_torch_free_tests_pass_without_torch():
    env = {**os.environ, "GAN_TESTS_WITHOUT_TORCH": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "tests.block_torch",
                             "-p", "no:cacheprovider", *TORCH_FREE_TESTS], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1800)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    print("\n".join(line for line in result.stdout.splitlines() if line.startswith("SKIPPED")))
    print(f"torch-free tests: {summary}")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert int(re.search(r"(\d+) passed", summary).group(1)) > 100
