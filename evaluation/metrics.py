"""Sample-quality metrics on feature vectors (torch, float64 where it matters).

- Fréchet distance: ||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1^½ S2 S1^½)^½), via symmetric eigendecompositions
- KID: unbiased MMD² with the cubic polynomial kernel (Binkowski et al. 2018), averaged over subsets
- precision / recall: k-NN manifold estimate (Kynkäänniemi et al. 2019)
- class histogram of generated images: KL from uniform and classes covered (mode collapse)
- nearest neighbours in feature space (the memorisation check)
"""
from __future__ import annotations

import math

import torch


def _sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a (N, D) and b (M, D)."""
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_a = _sqrtm_psd(cov_a)
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    value = (mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross
    return max(float(value), 0.0)


def kernel_distance(a: torch.Tensor, b: torch.Tensor, subsets: int = 10, subset_size: int = 1000,
                    seed: int = 0) -> float:
    """KID: mean over random subsets of the unbiased MMD² with k(x, y) = (x·y / D + 1)³."""
    a, b = a.double(), b.double()
    n = min(subset_size, len(a), len(b))
    gen = torch.Generator().manual_seed(seed)
    dim = a.shape[1]
    total = 0.0
    for _ in range(subsets):
        x = a[torch.randperm(len(a), generator=gen)[:n]]
        y = b[torch.randperm(len(b), generator=gen)[:n]]
        kxx, kyy, kxy = ((x @ x.T) / dim + 1) ** 3, ((y @ y.T) / dim + 1) ** 3, ((x @ y.T) / dim + 1) ** 3
        off = n * (n - 1)
        total += float((kxx.sum() - kxx.diag().sum()) / off + (kyy.sum() - kyy.diag().sum()) / off - 2 * kxy.mean())
    return total / subsets


def _knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour within the set (itself excluded)."""
    radii = []
    for chunk in x.split(1024):
        d = torch.cdist(chunk, x)
        radii.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def _inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    hits = []
    for chunk in points.split(1024):
        hits.append((torch.cdist(chunk, centres) <= radii[None, :]).any(dim=1))
    return torch.cat(hits)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Precision: share of fakes inside the real manifold; recall: share of reals inside the fake one."""
    real, fake = real.float(), fake.float()
    precision = _inside(fake, real, _knn_radii(real, k)).float().mean().item()
    recall = _inside(real, fake, _knn_radii(fake, k)).float().mean().item()
    return precision, recall


def class_coverage(predicted: torch.Tensor, num_classes: int, min_share: float = 0.01,
                   among: list[int] | None = None) -> dict:
    """Histogram of predicted classes over all `num_classes`; over the run's own classes (`among`, default
    all): the share of samples that fall in them, its KL divergence from uniform (0 = balanced, log K = one
    class) and the number of them that get at least `min_share` of the samples (mode collapse)."""
    among = list(range(num_classes)) if among is None else among
    counts = torch.bincount(predicted, minlength=num_classes).double()
    share = counts / counts.sum()
    inside = share[among]
    in_classes = float(inside.sum())
    within = inside / in_classes if in_classes > 0 else torch.full_like(inside, 1 / len(among))
    nonzero = within[within > 0]
    kl = float((nonzero * (nonzero * len(among)).log()).sum())
    return {"histogram": share.tolist(), "kl_uniform": kl, "classes_covered": int((inside >= min_share).sum()),
            "kl_max": math.log(len(among)), "in_classes": in_classes}


def nearest(queries: torch.Tensor, references: torch.Tensor, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query (N, D), the Euclidean distance to its nearest reference (M, D) and that reference's index."""
    distances, indices = [], []
    references = references.float()
    for part in queries.float().split(chunk):
        d, i = torch.cdist(part, references).min(dim=1)
        distances.append(d)
        indices.append(i)
    return torch.cat(distances), torch.cat(indices)
