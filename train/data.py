"""`python -m train.data` is now `python -m gan.data`; this name keeps working for scripts that use it."""
from core.errors import run_main
from gan import data as _moved

if __name__ == "__main__":
    run_main(_moved.main)
