"""core/formats/nearest_npz.py: the memorisation file round-trips and refuses mismatched arrays."""
import numpy as np
import pytest

from core.formats import nearest_npz
from core.formats.npz import BadNpz


def found(n=4, channels=1):
    return nearest_npz.Nearest(np.zeros((n, 8, 8, channels), np.uint8), np.ones((n, 8, 8, channels), np.uint8),
                               np.arange(n, dtype=np.float32), 1.5)


def test_round_trip_per_generator():
    raw = nearest_npz.to_bytes({"generator": found(), "generator_ema": found(2, 3)})
    assert nearest_npz.generators(raw) == ["generator", "generator_ema"]
    back = nearest_npz.read(raw, "generator_ema")
    assert back.samples.shape == (2, 8, 8, 3) and back.threshold == 1.5


@pytest.mark.parametrize("bad", [
    nearest_npz.Nearest(np.zeros((4, 8, 8, 1), np.uint8), np.zeros((3, 8, 8, 1), np.uint8), np.zeros(4), 1.0),
    nearest_npz.Nearest(np.zeros((4, 8, 8, 1), np.uint8), np.zeros((4, 8, 8, 1), np.uint8), np.zeros(5), 1.0),
    nearest_npz.Nearest(np.zeros((4, 8, 8, 1), np.uint8), np.zeros((4, 8, 8, 1), np.uint8), np.zeros(4), np.nan),
])
def test_mismatched_arrays_are_refused(bad):
    with pytest.raises(BadNpz):
        nearest_npz.read(nearest_npz.to_bytes({"generator": bad}), "generator")


def test_a_non_scalar_threshold_is_refused():
    raw = nearest_npz.npz.to_bytes({"generator/samples": np.zeros((1, 8, 8, 1), np.uint8),
                                    "generator/neighbours": np.zeros((1, 8, 8, 1), np.uint8),
                                    "generator/distances": np.zeros(1, np.float32),
                                    "generator/threshold": np.zeros(3, np.float32)})
    with pytest.raises(BadNpz, match="dimensions"):
        nearest_npz.read(raw, "generator")
