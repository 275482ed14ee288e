"""core/formats/explore_npz.py: the explore file round-trips, reads version 1 files, and refuses what does not fit."""
import io

import numpy as np
import pytest

from core.formats import explore_npz
from core.formats.npz import BadNpz


def data(k=3, latent=4):
    vectors = np.eye(latent, dtype=np.float32)[:k]
    return explore_npz.ExploreData(vectors, [f"sefa {i}" for i in range(k)], ["sefa"] * k, ["pixels 0.1"] * k,
                                   np.zeros((2, 8, 8, 1), np.uint8))


def test_round_trip_with_identical_bytes():
    raw, digest = explore_npz.to_bytes(data())
    again, digest_again = explore_npz.to_bytes(data())
    assert raw == again and digest == digest_again
    back = explore_npz.parse(raw, 4, (1, 8, 8))
    assert back.names == ["sefa 0", "sefa 1", "sefa 2"] and back.test_images.shape == (2, 8, 8, 1)


def test_version_1_files_still_read():
    buffer = io.BytesIO()  # as the exporter wrote them before format_version: np.savez_compressed, extra arrays
    np.savez_compressed(buffer, vectors=np.eye(4, dtype=np.float32)[:2], names=np.array(["a", "b"]),
                        kinds=np.array(["sefa", "class"]), scores=np.ones(2, np.float32),
                        effects=np.array(["x", "y"]), pixel_change=np.ones(2, np.float32),
                        test_images=np.zeros((0, 8, 8, 1), np.uint8))
    assert explore_npz.parse(buffer.getvalue(), 4, (1, 8, 8)).kinds == ["sefa", "class"]


@pytest.mark.parametrize("change, message", [
    (lambda d: setattr(d, "vectors", np.ones((3, 5), np.float32)), "shape"),
    (lambda d: setattr(d, "names", ["a", "b"]), "names"),
    (lambda d: setattr(d, "names", ["a", "a", "b"]), "twice"),
    (lambda d: setattr(d, "kinds", ["sefa", "magic", "sefa"]), "unknown kind"),
    (lambda d: setattr(d, "test_images", np.zeros((2, 8, 8, 3), np.uint8)), "shape"),
    (lambda d: setattr(d, "vectors", np.full((3, 4), np.nan, np.float32)), "non-finite"),
])
def test_what_does_not_fit_the_model_is_refused(change, message):
    bad = data()
    change(bad)
    with pytest.raises(BadNpz, match=message):
        explore_npz.parse(explore_npz.to_bytes(bad)[0], 4, (1, 8, 8))
