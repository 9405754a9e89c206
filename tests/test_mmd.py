from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch_fidelity.metric_kid import mmd2 as fidelity_mmd2

from ebipla.metrics import median_bandwidth, mmd2_unbiased


def brute_force_mmd2(x, y, s):
    """Lemma 6 of Gretton et al. written with explicit double loops over pairs."""
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * s * s))  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_chunked_estimate_equals_brute_force():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(37, 3, generator=gen), torch.randn(29, 3, generator=gen) + 0.5
    value, s = mmd2_unbiased(x, y, bandwidth=1.3, chunk=8)  # blocks smaller than either sample
    assert s == 1.3
    assert value == pytest.approx(brute_force_mmd2(x.double().numpy(), y.double().numpy(), 1.3), rel=1e-10)


def test_median_heuristic_is_the_median_pairwise_distance():
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(20, 2, generator=gen), torch.randn(15, 2, generator=gen)
    z = torch.cat([x, y]).double().numpy()
    dists = [np.linalg.norm(z[i] - z[j]) for i, j in itertools.combinations(range(len(z)), 2)]
    assert median_bandwidth(x, y) == pytest.approx(np.median(dists), rel=1e-12)
    _, s = mmd2_unbiased(x, y)
    assert s == pytest.approx(np.median(dists), rel=1e-12)


def test_agrees_with_torch_fidelity_unbiased_mmd2():
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(300, 4, generator=gen), 1.2 * torch.randn(300, 4, generator=gen)  # equal sizes, as it needs
    s = 2.0
    value, _ = mmd2_unbiased(x, y, bandwidth=s, chunk=64)
    xd, yd = x.double().numpy(), y.double().numpy()

    def gram(a, b):
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * s * s))

    reference = fidelity_mmd2(gram(xd, xd), gram(xd, yd), gram(yd, yd))
    assert value == pytest.approx(float(reference), rel=1e-9, abs=1e-12)


def test_near_zero_for_one_distribution_and_growing_with_shift():
    gen = torch.Generator().manual_seed(3)
    base = lambda: torch.randn(2000, 2, generator=gen)  # noqa: E731
    same, s = mmd2_unbiased(base(), base())
    assert abs(same) < 2e-3
    values = [mmd2_unbiased(base(), base() + shift, bandwidth=s)[0] for shift in (0.25, 0.5, 1.0, 2.0)]
    assert values[0] > 5 * abs(same)
    assert all(a < b for a, b in zip(values, values[1:]))


def test_large_samples_fit_in_chunks():
    gen = torch.Generator().manual_seed(4)
    x, y = torch.randn(10_000, 2, generator=gen), torch.randn(10_000, 2, generator=gen)
    value, s = mmd2_unbiased(x, y)  # 10k x 10k pairs in 2048 x 2048 blocks
    assert abs(value) < 5e-4 and s > 0
