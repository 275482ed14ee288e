import math

import pytest
import torch

from evaluation import metrics


def test_identical_sets_have_zero_distances():
    x = torch.randn(2000, 8, generator=torch.Generator().manual_seed(0))
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    # the unbiased estimator is ~0 up to O(1/n) noise, far below a real shift
    same = metrics.kernel_distance(x, x.clone(), subsets=5, subset_size=500)
    assert abs(same) < 1e-2 and metrics.kernel_distance(x, x + 0.5, subsets=5, subset_size=500) > 100 * abs(same)
    precision, recall = metrics.precision_recall(x[:500], x[:500])
    assert precision == 1.0 and recall == 1.0


def test_frechet_matches_closed_form_for_shifted_gaussians():
    gen = torch.Generator().manual_seed(1)
    dim, shift, scale = 4, 1.5, 2.0
    a = torch.randn(200_000, dim, generator=gen, dtype=torch.float64)
    b = torch.randn(200_000, dim, generator=gen, dtype=torch.float64) * scale + shift
    # N(0, I) vs N(shift, scale² I): ||Δμ||² + D(1 + s² − 2s)
    expected = dim * shift**2 + dim * (1 + scale**2 - 2 * scale)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=0.02)


def test_kid_grows_with_the_shift():
    gen = torch.Generator().manual_seed(2)
    a = torch.randn(1000, 16, generator=gen)
    near, far = torch.randn(1000, 16, generator=gen) + 0.1, torch.randn(1000, 16, generator=gen) + 1.0
    assert metrics.kernel_distance(a, near, 5, 500) < metrics.kernel_distance(a, far, 5, 500)


def test_precision_recall_detect_a_collapsed_generator():
    gen = torch.Generator().manual_seed(3)
    real = torch.randn(1000, 8, generator=gen)
    collapsed = real[:5].repeat(200, 1) + 0.01 * torch.randn(1000, 8, generator=gen)
    precision, recall = metrics.precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.1


def test_one_class_generator_has_coverage_one_and_high_kl():
    one = metrics.class_coverage(torch.full((500,), 3), 10)
    assert one["classes_covered"] == 1 and one["kl_uniform"] == pytest.approx(math.log(10))
    balanced = metrics.class_coverage(torch.arange(1000) % 10, 10)
    assert balanced["classes_covered"] == 10 and balanced["kl_uniform"] == pytest.approx(0.0, abs=1e-12)
