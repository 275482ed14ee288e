"""core/images.py: grids, uint8 conversion, enlargement, and decoding that refuses bombs."""
import io
import warnings

import numpy as np
import pytest
from PIL import Image

from core.images import BadImage, decode, gif_bytes, grid, png_bytes, to_uint8, upscale


def test_to_uint8_maps_the_pixel_range_and_clips():
    out = to_uint8(np.array([[[[-1.0, 0.0, 1.0, 7.0]]]]), (-1.0, 1.0))
    assert out.shape == (1, 1, 4, 1) and out.ravel().tolist() == [0, 128, 255, 255]


def test_grid_places_images_row_by_row_with_padding():
    images = np.stack([np.full((2, 3, 1), i, np.uint8) for i in range(5)])
    out = grid(images, ncols=3, padding=1, pad_value=9)
    assert out.shape == (2 * 3 + 1, 3 * 4 + 1, 1)
    assert out[1, 1, 0] == 0 and out[1, 5, 0] == 1 and out[4, 1, 0] == 3 and out[4, 9, 0] == 9  # 6th slot is padding


def test_upscale_enlarges_by_whole_factors():
    assert upscale(np.zeros((28, 28, 1), np.uint8), 640).shape == (224, 224, 1)  # capped at 8x
    assert upscale(np.zeros((300, 300, 3), np.uint8), 640).shape == (600, 600, 3)


def test_png_and_gif_round_trip():
    picture = (np.arange(48, dtype=np.uint8) * 5).reshape(4, 4, 3)
    assert np.array_equal(decode(png_bytes(picture)), picture)
    frames = [np.full((4, 4, 1), v, np.uint8) for v in (0, 255)]
    with Image.open(io.BytesIO(gif_bytes(frames))) as gif:
        assert gif.n_frames == 2


def test_decode_refuses_garbage_and_bombs_before_decoding():
    with pytest.raises(BadImage, match=r"is not an image file of a format that is read here \(PNG, JPEG"):
        decode(b"not an image")
    buffer = io.BytesIO()
    Image.new("L", (5000, 5000)).save(buffer, format="PNG")  # 25 Mpx of zeros: a few KB on disk
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(BadImage, match="over the 1,000,000-pixel limit"):
            decode(buffer.getvalue(), max_pixels=1_000_000)
