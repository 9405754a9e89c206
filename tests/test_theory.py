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

from ebipla.theory import (
    SIGMA,
    alpha_trace,
    loglog_slope,
    read_theory_study,
    theory_figure,
    theory_study,
    write_theory_study,
)


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


# ------------------------------------------------------------------ Theorem 1 study (ebipla.theory), scale "quick"
# Each row keeps 200 Langevin time units (about 80 relaxation times of the slowest mode, rate mu = 0.382) pooled
# over 64 independent coordinates, so spread_se is 0.8-1.1 % of the spread. Measured (quick, seed 0), as
# spread / theory_spread: MN sweep at h = 0.02 (MN = 2, 10, 100, 1000): 0.990, 0.999, 0.991, 0.987;
# h sweep at MN = 10 (h = 0.005 ... 0.5): 0.994, 1.006, 0.999, 0.992, 0.998, 1.021, 1.086, against the exact
# Euler-Maruyama ratios 1.001, 1.001, 1.003, 1.006, 1.013, 1.028, 1.095. Log-log slope of the spread against MN:
# -0.501. The tolerances below are about 4 standard errors.


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("theory") / "theory_study.csv"
    rows = write_theory_study(out, "quick")  # 25-33 s on 2 cores
    return rows, out


def test_theory_study_rows(quick_study):
    rows, _ = quick_study
    assert {r["sweep"] for r in rows} == {"MN", "h"}
    mn = sorted(r["MN"] for r in rows if r["sweep"] == "MN")
    h = sorted(r["h"] for r in rows if r["sweep"] == "h")
    assert mn[-1] / mn[0] >= 100 and h[-1] / h[0] >= 10  # two decades of MN, one (here two) of h
    for r in rows:
        assert r["theory_spread"] == pytest.approx(math.sqrt((1 + SIGMA**2) / r["MN"]))
        assert 0 < r["burn_in"] < r["iters"]


def test_theory_study_spread_matches_stationary_law_at_small_h(quick_study):
    rows, _ = quick_study
    h_min = min(r["h"] for r in rows)
    small = [r for r in rows if r["h"] <= 0.02]  # EM inflation <= 0.25 %, below the 1 % noise
    assert any(r["h"] == h_min for r in small) and len(small) >= 5
    for r in small:
        ratio = r["spread"] / r["theory_spread"]
        assert 0.96 < ratio < 1.04, (r["sweep"], r["MN"], r["h"], ratio)  # measured 0.987 ... 1.006
        assert abs(r["spread"] - r["theory_spread"]) < 4 * r["spread_se"] + 0.005 * r["theory_spread"]
        # The EM chain's stationary mean is exactly alpha*, so the RMS error is the spread up to the time
        # average's own error (measured rms_error / spread - 1 within 1.5 %).
        assert r["rms_error"] == pytest.approx(r["spread"], rel=0.03)


def test_theory_study_spread_falls_like_one_over_sqrt_mn(quick_study):
    rows, _ = quick_study
    by_mn = sorted((r for r in rows if r["sweep"] == "MN"), key=lambda r: r["MN"])
    spreads = [r["spread"] for r in by_mn]
    assert spreads == sorted(spreads, reverse=True)
    slope = loglog_slope([r["MN"] for r in by_mn], spreads)
    assert slope == pytest.approx(-0.5, abs=0.03), slope  # measured -0.501 (full scale: -0.50x)


def test_theory_study_error_grows_with_h(quick_study):
    rows, _ = quick_study
    by_h = sorted((r for r in rows if r["sweep"] == "h"), key=lambda r: r["h"])
    assert by_h[-1]["rms_error"] > by_h[0]["rms_error"]
    assert by_h[-1]["spread"] > by_h[0]["spread"] + 3 * (by_h[-1]["spread_se"] + by_h[0]["spread_se"])
    # ... and by what the exact EM chain predicts (measured 1.086 against 1.095 at h = 0.5).
    assert by_h[-1]["spread"] / by_h[-1]["em_spread"] == pytest.approx(1.0, abs=0.04)


def test_theory_study_csv_round_trips(quick_study):
    rows, out = quick_study
    assert read_theory_study(out) == rows


def test_theory_figure_is_written_and_byte_stable(quick_study, tmp_path):
    _, out = quick_study
    contents = []
    for name in ("a", "b"):
        theory_figure(out, tmp_path / name / "theory", "Theorem 1 on the toy model")
        contents.append([(tmp_path / name / f"theory.{ext}").read_bytes() for ext in ("pdf", "png")])
    assert all(len(b) > 1000 for b in contents[0])
    assert contents[0] == contents[1]


def test_alpha_trace_is_deterministic():
    a, star_a = alpha_trace(10, 2, iters=200, dim=8, h=0.1, seed=3)
    b, star_b = alpha_trace(10, 2, iters=200, dim=8, h=0.1, seed=3)
    assert a.equal(b) and star_a.equal(star_b)
    with pytest.raises(ValueError, match="scale"):
        theory_study("medium")
