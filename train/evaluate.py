"""`python -m train.evaluate` is now `python -m evaluation.evaluate`; this name keeps working for scripts that use it."""
from core.errors import run_main
from evaluation import evaluate as _moved

if __name__ == "__main__":
    run_main(_moved.main)
