"""`python -m tests.slow_fsync SECONDS MODULE [ARGS …]`: run MODULE as `python -m` would, with every fsync
delayed by SECONDS. The crash tests use it to widen the moment a kill lands between writing a temp file
and renaming it; the product itself has no such hook."""
import os
import runpy
import sys
import time

if __name__ == "__main__":
    delay, module = float(sys.argv[1]), sys.argv[2]
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(delay)
        real_fsync(fd)

    os.fsync = slow_fsync
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
