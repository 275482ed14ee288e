"""`python -m train.classifier` is now `python -m evaluation.classifier`; this name keeps working for scripts that use it."""
from core.errors import run_main
from evaluation import classifier as _moved

if __name__ == "__main__":
    run_main(_moved.main)
