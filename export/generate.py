"""`python -m export.generate` is now `python -m inference.generate`; this name keeps working for scripts that use it."""
from core.errors import run_main
from inference import generate as _moved

if __name__ == "__main__":
    run_main(_moved.main)
