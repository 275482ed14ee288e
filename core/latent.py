"""Latent-space paths and arithmetic, in numpy (shapes: z is (latent,), paths (steps, latent))."""
from __future__ import annotations

import numpy as np


def lerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return ((1 - t) * a + t * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """Spherical interpolation: keeps the norm typical of Gaussian latents, so midpoints stay sharp."""
    t = np.linspace(0.0, 1.0, steps, dtype=np.float64)[:, None]
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    cos = np.dot(a64, b64) / max(np.linalg.norm(a64) * np.linalg.norm(b64), 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:  # (nearly) parallel: slerp degenerates to lerp
        return lerp(a, b, steps)
    path = (np.sin((1 - t) * omega) * a64 + np.sin(t * omega) * b64) / np.sin(omega)
    return path.astype(np.float32)


def loop_walk(points: np.ndarray, steps_per_leg: int) -> np.ndarray:
    """A closed slerp path through the given latent points (returns to the first; no repeated frame)."""
    legs = [slerp(points[i], points[(i + 1) % len(points)], steps_per_leg + 1)[:-1] for i in range(len(points))]
    return np.concatenate(legs)


def arithmetic(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Géron's Fig. 17-18: mean(A) − mean(B) + mean(C), each group (n, latent)."""
    return (a.mean(axis=0) - b.mean(axis=0) + c.mean(axis=0)).astype(np.float32)


def jitter(z: np.ndarray, count: int, scale: float, seed: int) -> np.ndarray:
    """`count` vectors around z: the first is z itself, the rest add Gaussian noise of `scale`."""
    noise = np.random.default_rng(seed).standard_normal((count, z.shape[-1])).astype(np.float32) * scale
    noise[0] = 0
    return z[None, :] + noise
