"""core/formats/npz.py: arrays are checked from their headers before anything is inflated."""
import functools
import io
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from core.formats import npz

IMAGES = {"images": npz.Expect("u", 4, (None, 8, 8, 1)), "distances": npz.Expect("f", 1)}


def test_round_trip_and_identical_bytes_for_identical_arrays():
    arrays = {"images": np.zeros((2, 8, 8, 1), np.uint8), "distances": np.arange(2, dtype=np.float32)}
    raw = npz.to_bytes(arrays)
    assert raw == npz.to_bytes(arrays), "two writes of the same arrays must be byte-identical"
    read = npz.read(raw, IMAGES)
    assert np.array_equal(read["images"], arrays["images"]) and read["distances"].dtype == np.float32
    with np.load(io.BytesIO(raw)) as plain:  # still an ordinary npz for numpy users
        assert plain["distances"].tolist() == [0.0, 1.0]


@functools.cache
def bomb(declared_shape=(3000, 1000, 1000, 1)) -> bytes:
    """3 GB of zeros declared in a few kilobytes: a header claiming a huge uint8 array, then compressed zeros."""
    header = io.BytesIO()
    npz.npy_format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": declared_shape})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("images.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            zeros = bytes(1 << 20)
            for _ in range(64):  # 64 MB written, ~64 kB stored: enough to prove nothing is inflated
                member.write(zeros)
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    raw = bomb()
    tracemalloc.start()
    with pytest.raises(npz.BadNpz, match="declares"):
        npz.read(raw, {"images": npz.Expect("u", 4)})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak:,} bytes: the bomb was inflated"


@pytest.mark.parametrize("arrays, expected", [
    ({"images": np.zeros((2, 8, 8, 1), np.float64), "distances": np.zeros(2, np.float32)}, "dtype"),
    ({"images": np.zeros((2, 8, 8), np.uint8), "distances": np.zeros(2, np.float32)}, "dimensions"),
    ({"images": np.zeros((2, 9, 8, 1), np.uint8), "distances": np.zeros(2, np.float32)}, "shape"),
    ({"images": np.zeros((2, 8, 8, 1), np.uint8), "distances": np.array(["a", "b"])}, "dtype"),
    ({"images": np.zeros((2, 8, 8, 1), np.uint8)}, "lacks distances"),
])
def test_wrong_dtypes_shapes_and_missing_arrays_are_named(arrays, expected):
    with pytest.raises(npz.BadNpz, match=expected):
        npz.read(npz.to_bytes(arrays), IMAGES)


def test_object_arrays_are_never_loaded():
    buffer = io.BytesIO()
    np.savez(buffer, images=np.array([{"a": 1}], dtype=object))
    with pytest.raises(npz.BadNpz):
        npz.read(buffer.getvalue(), {"images": npz.Expect("u", 1)})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096), st.integers(0, 4000))
def test_garbage_and_truncations_are_one_bad_npz(garbage, cut):
    raw = npz.to_bytes({"images": np.ones((2, 8, 8, 1), np.uint8), "distances": np.ones(2, np.float32)})
    for candidate in (garbage, raw[:cut], raw[:cut] + garbage):
        try:
            npz.read(candidate, IMAGES)
        except npz.BadNpz:
            pass
