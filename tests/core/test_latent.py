"""core/latent.py: interpolation paths and Géron's latent arithmetic."""
import numpy as np

from core import latent


def test_lerp_and_slerp_start_and_end_at_the_points():
    a, b = np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32)
    for path in (latent.lerp(a, b, 7), latent.slerp(a, b, 7)):
        assert path.shape == (7, 16) and path.dtype == np.float32
        assert np.allclose(path[0], a, atol=1e-6) and np.allclose(path[-1], b, atol=1e-6)


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    a = np.array([1.0, 0.0], np.float32)
    b = np.array([0.0, 1.0], np.float32)
    assert np.allclose(np.linalg.norm(latent.slerp(a, b, 5), axis=1), 1.0, atol=1e-6)
    assert np.linalg.norm(latent.lerp(a, b, 3)[1]) < 0.75


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    a = np.ones(4, np.float32)
    assert np.allclose(latent.slerp(a, 2 * a, 3), latent.lerp(a, 2 * a, 3))


def test_loop_walk_is_closed_without_repeating_a_frame():
    points = np.eye(3, dtype=np.float32)
    walk = latent.loop_walk(points, 4)
    assert walk.shape == (12, 3) and np.allclose(walk[0], points[0])
    assert len({tuple(np.round(f, 6)) for f in walk}) == 12


def test_arithmetic_and_jitter():
    a, b, c = (np.full((2, 3), v, np.float32) for v in (1, 2, 5))
    assert np.allclose(latent.arithmetic(a, b, c), 4.0)
    around = latent.jitter(np.zeros(3, np.float32), 4, 0.5, seed=1)
    assert around.shape == (4, 3) and np.allclose(around[0], 0) and not np.allclose(around[1:], 0)
    assert np.array_equal(around, latent.jitter(np.zeros(3, np.float32), 4, 0.5, seed=1))
