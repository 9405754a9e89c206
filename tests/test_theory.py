"""Algorithm 1 against the theory, on the toy hierarchical model of IPLA and PGD.

Model: x_m ~ N(alpha, I_d), i.e. U_alpha(x) = |x - alpha|^2 / 2, and y_m | x_m ~ N(x_m, sigma^2 I_d) (identity
generator, no beta). Marginally y_m ~ N(alpha, (1 + sigma^2) I_d), so

    l_M(alpha) = (1/M) sum_m log p_alpha(y_m) = -(1/M) sum_m |y_m - alpha|^2 / (2 (1 + sigma^2)) + const,

which is maximised by the MMLE alpha* = (1/M) sum_m y_m, the data mean.

Stationary law. Algorithm 1 discretises dtheta = -(1/MN) grad_theta Phi dt + sqrt(2/MN) dB,
dX = -grad_X Phi dt + sqrt(2) dB with Phi(theta, X) = sum_{m,n} phi_{y_m}(theta, X^{m,n}) and phi including log Z:
a Langevin diffusion preconditioned by diag(1/MN, I), whose invariant law is proportional to exp(-Phi). Integrating
out the particles gives prod_{m,n} p_alpha(y_m) = exp(MN l_M(alpha)): a Gaussian in alpha with mean alpha* and
variance (1 + sigma^2) / (MN) per coordinate. Both the mean and the spread are checked below for small h; the
spread pins the theta-noise sqrt(2h/MN) and the particle noise sqrt(2h) together (IPLA's sqrt(2h/N) would be off
by sqrt(M), a drift without the 1/MN average by far more).

With the ULA estimate of E_{p_alpha}[grad_alpha U] = E[alpha - x] instead of the exact value 0, a chain of J steps of
size gamma from N(0, I) has mean alpha (1 - c) with c = (1 - gamma)^J, so the estimate is biased by c alpha. For
sigma = 1 the mean dynamics of (alpha, mean particle) then settle at alpha = alpha* / (1 - 2c): the bias
alpha* 2c / (1 - 2c) vanishes geometrically in J (Theorem 2's delta / mu term).
"""

from __future__ import annotations

import math

import pytest
import torch

from ebipla.algorithms import ALGORITHMS
from ebipla.config import config_from_dict
from ebipla.run import new_model, training_data

DIM, ALPHA_TRUE, SIGMA, H = 4, 3.0, 1.0, 0.02


def alpha_trace(m: int, n: int, iters: int, prior: str = "exact", n_prior_steps: int = 1, gamma: float = 0.2,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """alpha_k for k = 1..iters of Algorithm 1 on the toy model, and the MMLE alpha* = mean(y)."""
    cfg = config_from_dict({
        "seed": seed,
        "data": {"name": "toy", "n_points": m, "toy": {"dim": DIM, "alpha_true": ALPHA_TRUE, "sigma": SIGMA}},
        "model": {"latent_dim": DIM, "sigma": SIGMA, "energy": {"kind": "gaussian"},
                  "generator": {"kind": "identity"}},
        "algorithm": {"name": "ebipla_full", "n_particles": n, "h": H, "gamma": gamma,
                      "n_prior_steps": n_prior_steps, "prior_expectation": prior},
    }, "test_theory")
    y = training_data(cfg, torch.device("cpu")).values  # (M, d)
    model = new_model(cfg, (DIM,), torch.device("cpu"))
    algo = ALGORITHMS["ebipla_full"]
    gen = torch.Generator().manual_seed(seed)
    state = algo.init_state(cfg, model, m, gen)
    batch = (torch.arange(m), y)
    trace = torch.empty(iters, DIM)
    for k in range(iters):
        state, _ = algo.step(state, batch, gen)
        trace[k] = model.energy.alpha.detach()
    return trace, y.mean(0)


@pytest.mark.parametrize("m,n", [(10, 1), (10, 10), (100, 10)])  # MN = 10, 100, 1000: two decades
def test_stationary_alpha_matches_mmle_and_spread(m, n):
    # 20,000 steps of h = 0.02 (time 400; the slowest mode relaxes at rate 0.38), the first 1,000 discarded.
    trace, alpha_star = alpha_trace(m, n, iters=20_000)
    after = trace[1000:]
    spread = math.sqrt((1 + SIGMA**2) / (m * n))
    # Time average within half a stationary standard deviation of alpha* (its own standard error is ~0.12 spread).
    assert (after.mean(0) - alpha_star).abs().max() < 0.5 * spread
    # Empirical spread, pooled over the d coordinates, within 15% of sqrt((1 + sigma^2) / MN)
    # (the estimate's own standard error is ~4%; measured ratios 0.96, 0.99, 1.02).
    ratio = after.var(0).mean().sqrt() / spread
    assert 0.85 < ratio < 1.15, f"spread ratio {ratio:.3f} at MN = {m * n}"


def test_ula_prior_expectation_bias_shrinks_with_j():
    biases = {}
    for j in (4, 8, 32):
        trace, alpha_star = alpha_trace(100, 10, iters=3000, prior="ula", n_prior_steps=j, gamma=0.2)
        biases[j] = (trace[1000:].mean(0) - alpha_star).abs().mean().item()
        c = (1 - 0.2) ** j
        if 2 * c < 0.5:  # predicted bias alpha* 2c / (1 - 2c) once the mean dynamics have settled
            predicted = alpha_star.abs().mean().item() * 2 * c / (1 - 2 * c)
            assert biases[j] == pytest.approx(predicted, rel=0.15, abs=0.02), (j, biases[j], predicted)
    assert biases[4] > biases[8] > biases[32]
    assert biases[32] < 0.02
