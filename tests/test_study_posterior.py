"""The posterior study (ebipla/studies/posterior*.py): the grid posterior against a closed form, the distances
against brute force, the model's gradients against autograd, the MMLE, a CI-scale run of the command, the table,
figure and report section from hand-made files, and the workflow's plan."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy.optimize import linear_sum_assignment, linprog

from ebipla.studies import posterior as P
from ebipla.studies import posterior_model as pm
from ebipla.studies.posterior_report import read_study, report_section
from workflow_helpers import REPO, copy_repo, run

F64 = torch.float64


# ---------------------------------------------------------------------------------------------------------------
# The grid posterior
# ---------------------------------------------------------------------------------------------------------------

def test_grid_posterior_matches_the_linear_gaussian_closed_form():
    # x ~ N(m0, I), y | x ~ N(A x, s^2 I): the posterior is N(S (m0 + A^T y / s^2), S), S = (I + A^T A / s^2)^-1,
    # and the marginal of y is N(A m0, A A^T + s^2 I).
    a = torch.tensor([[1.0, 0.5], [-0.3, 0.8]], dtype=F64)
    m0, y, s = torch.tensor([0.3, -0.2], dtype=F64), torch.tensor([0.7, -0.4], dtype=F64), 0.4
    cov = torch.linalg.inv(torch.eye(2, dtype=F64) + a.T @ a / s**2)
    mean = cov @ (m0 + a.T @ y / s**2)
    marginal = torch.distributions.MultivariateNormal(a @ m0, a @ a.T + s**2 * torch.eye(2, dtype=F64))

    def log_density(cells):  # log p(x, y) at the cells (P, 2) -> (P,)
        prior = torch.distributions.MultivariateNormal(m0, torch.eye(2, dtype=F64)).log_prob(cells)
        return prior + torch.distributions.Normal(cells @ a.T, s).log_prob(y).sum(-1)

    grid = pm.Grid(5.0, 400)
    log_masses = pm.grid_log_masses(log_density, grid)
    grid_mean, grid_cov = pm.grid_moments(log_masses, grid)
    assert torch.allclose(grid_mean, mean, atol=1e-6)
    assert torch.allclose(grid_cov, cov, atol=1e-8)
    assert abs(float(pm.grid_log_marginal(log_density, grid)) - float(marginal.log_prob(y))) < 1e-6
    # Exact samples: cell by mass plus a uniform jitter; their mean and covariance within sampling error.
    x = pm.grid_sample(log_masses, 20_000, grid, torch.Generator().manual_seed(0))
    se = (torch.diagonal(cov) / 20_000).sqrt()
    assert ((x.mean(0) - mean).abs() < 4 * se).all()
    assert torch.allclose(torch.cov(x.T), cov, rtol=0.05, atol=0.005)
    assert float(pm.edge_mass(log_masses, grid, 20)) < 1e-12


def test_squaring_model_log_density_and_gradients_match_autograd():
    gen = torch.Generator().manual_seed(1)
    theta = torch.tensor([0.4, -0.7, 0.3], dtype=F64)
    x, y = torch.randn(5, 3, 2, generator=gen, dtype=F64), torch.randn(5, 1, 2, generator=gen, dtype=F64)
    # The matrix-product form of the grid equals log_joint.
    cells = torch.randn(11, 2, generator=gen, dtype=F64)
    direct = pm.log_joint(cells, y[:, 0, None, :], theta, 0.3)
    assert torch.allclose(pm.squaring_log_density(y[:, 0], theta, 0.3)(cells), direct, atol=1e-10)
    # nabla_x and nabla_theta of log p_theta(x, y) against autograd.
    xg, tg = x.clone().requires_grad_(True), theta.clone().requires_grad_(True)
    pm.log_joint(xg, y, tg, 0.3).sum().backward()
    assert torch.allclose(pm.grad_x_log_joint(x, y, theta, 0.3), xg.grad, atol=1e-10)
    assert torch.allclose(pm.grad_theta_log_joint(x, y, theta, 0.3).sum((0, 1)), tg.grad, atol=1e-9)
    # Fisher's identity on the grid against the autograd gradient of the grid likelihood.
    grid = pm.Grid(6.0, 120)
    value, grad = pm.likelihood_and_gradient(y[:, 0], theta, 0.3, grid, chunk=2)
    tg = theta.clone().requires_grad_(True)
    ll = pm.log_likelihood(y[:, 0], tg, 0.3, grid)
    ll.backward()
    assert abs(value - ll.item()) < 1e-10 and torch.allclose(grad, tg.grad, atol=1e-9)


def test_mode_direction_is_the_root_on_the_prior_side_and_distance_is_modulo_sign():
    theta = P.THETA_TRUE
    _, y = pm.sample_model(50, theta, P.SIGMA, torch.Generator().manual_seed(2))
    r = pm.mode_direction(y, theta)
    assert torch.allclose(pm.square_map(r) / P.C_TRUE, y, atol=1e-9)
    assert ((r @ theta[:2]) >= 0).all()
    flipped = torch.tensor([-0.6, -0.3, theta[2]], dtype=F64)
    assert pm.theta_distance(flipped, theta) < 1e-12
    assert abs(pm.theta_distance(torch.tensor([0.6, 0.3, 0.0], dtype=F64), theta) - math.log(2.0)) < 1e-12


def test_mmle_has_zero_gradient_and_is_a_local_maximum():
    _, y = pm.sample_model(40, P.THETA_TRUE, P.SIGMA, torch.Generator().manual_seed(3))
    grid = pm.Grid(P.HALF_WIDTH, 80)
    theta, grad_norm = pm.mmle(y, P.THETA_START, P.SIGMA, grid)
    assert grad_norm < 1e-6
    best = pm.likelihood_and_gradient(y, theta, P.SIGMA, grid)[0]
    for i in range(3):
        for step in (-0.05, 0.05):
            moved = theta.clone()
            moved[i] += step
            assert pm.likelihood_and_gradient(y, moved, P.SIGMA, grid)[0] < best
    # The symmetry: -mu has the same likelihood.
    mirror = torch.cat([-theta[:2], theta[2:]])
    assert abs(pm.likelihood_and_gradient(y, mirror, P.SIGMA, grid)[0] - best) < 1e-10


# ---------------------------------------------------------------------------------------------------------------
# Distances against brute force
# ---------------------------------------------------------------------------------------------------------------

def w2_squared_lp(a: np.ndarray, b: np.ndarray) -> float:
    """W_2^2 between two empirical measures on the line by the transport linear programme."""
    n, m = len(a), len(b)
    cost = (a[:, None] - b[None, :]) ** 2
    rows = np.kron(np.eye(n), np.ones(m))  # sum_j P_ij = 1/n
    cols = np.kron(np.ones(n), np.eye(m))  # sum_i P_ij = 1/m
    res = linprog(cost.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.r_[np.full(n, 1 / n), np.full(m, 1 / m)],
                  bounds=(0, None), method="highs")
    assert res.success
    return float(res.fun)


@pytest.mark.parametrize("n,m", [(7, 7), (5, 8), (1, 4), (6, 9)])
def test_w2_on_the_line_matches_the_transport_programme(n, m):
    rng = np.random.default_rng(n * 10 + m)
    a, b = rng.normal(size=n), rng.normal(1.0, 2.0, size=m)
    got = float(pm.w2_squared_1d(torch.tensor(a), torch.tensor(b)))
    assert got == pytest.approx(w2_squared_lp(a, b), rel=1e-7, abs=1e-10)
    if n == m:  # the exact assignment
        cost = (a[:, None] - b[None, :]) ** 2
        i, j = linear_sum_assignment(cost)
        assert got == pytest.approx(cost[i, j].mean(), rel=1e-10)


def test_sliced_w2_matches_brute_force_per_direction():
    rng = np.random.default_rng(5)
    x, z = rng.normal(size=(4, 2)), rng.normal(0.5, 1.5, size=(6, 2))
    angles = np.arange(8) * np.pi / 8
    brute = np.mean([w2_squared_lp(x @ [np.cos(t), np.sin(t)], z @ [np.cos(t), np.sin(t)]) for t in angles])
    got = float(pm.sliced_w2(torch.tensor(x), torch.tensor(z), n_directions=8))
    assert got == pytest.approx(math.sqrt(brute), rel=1e-7)
    # Batched over leading axes, and from precomputed projections.
    xs, zs = torch.tensor(np.stack([x, x + 1.0])), torch.tensor(np.stack([z, z]))
    both = pm.sliced_w2_sorted(pm.sorted_projections(xs, 8), pm.sorted_projections(zs, 8))
    assert float(both[0]) == pytest.approx(got, rel=1e-12) and float(both[1]) != pytest.approx(got)


def test_cloud_mmd2_matches_the_double_sums():
    rng = np.random.default_rng(6)
    x, z, bw = rng.normal(size=(2, 5, 2)), rng.normal(size=(2, 9, 2)), np.array([0.7, 1.3])
    self_term = pm.reference_self_term(torch.tensor(z), torch.tensor(bw))
    got = pm.cloud_mmd2(torch.tensor(x), torch.tensor(z), torch.tensor(bw), self_term)
    for p in range(2):
        def k(a, b, s=bw[p]):
            return math.exp(-np.sum((a - b) ** 2) / (2 * s * s))

        xx = sum(k(a, b) for a in x[p] for b in x[p]) / 25
        xz = sum(k(a, b) for a in x[p] for b in z[p]) / 45
        zz = sum(k(z[p][r], z[p][t]) for r in range(9) for t in range(9) if r != t) / 72
        assert float(got[p]) == pytest.approx(xx - 2 * xz + zz, rel=1e-10)


def test_cloud_mmd2_of_exact_samples_falls_like_one_over_n():
    # For N exact samples the expected value is (1 - E k(X, X')) / N: the floor of panel (b).
    gen = torch.Generator().manual_seed(7)
    ref = torch.randn(1, 2000, 2, generator=gen, dtype=F64).expand(400, -1, -1)
    bw = torch.ones(400, dtype=F64)
    self_term = pm.reference_self_term(ref[:1], bw[:1]).expand(400)
    means = {n: float(pm.cloud_mmd2(torch.randn(400, n, 2, generator=gen, dtype=F64), ref, bw, self_term).mean())
             for n in (4, 16)}
    expected = (1 - 1 / 3) / 4  # E exp(-|X - X'|^2 / 2) = 1/3 for X, X' ~ N(0, I_2)
    assert means[4] == pytest.approx(expected, rel=0.1)
    assert means[4] / means[16] == pytest.approx(4.0, rel=0.2)


# ---------------------------------------------------------------------------------------------------------------
# The study
# ---------------------------------------------------------------------------------------------------------------

def test_sampler_settings_are_the_configs_values():
    lebm = yaml.safe_load((REPO / "config/images/lebm.yaml").read_text())["algorithm"]
    abp = yaml.safe_load((REPO / "config/images/one_protocol/abp.yaml").read_text())["algorithm"]
    assert (P.H, P.K1_LEBM) == (lebm["h"], lebm["n_posterior_steps"])
    assert (P.H, P.K_ABP) == (abp["h"], abp["n_posterior_steps"])


def test_part_a_is_deterministic_and_its_exact_clouds_match_the_grid():
    scale = P.Scale(m_a=4, particles=(2, 16), iters_a=6, n_reference=256, grid_a=160, m_b=8, iters_b=3, grid_b=64,
                    n_heldout=50, n_checkpoints=3)
    rows, panel = P.part_a(scale, seed=3)
    again, _ = P.part_a(scale, seed=3)
    df, df2 = pd.DataFrame(rows), pd.DataFrame(again)
    values = ~df["metric"].eq("seconds")
    pd.testing.assert_frame_equal(df[values], df2[values])
    exact = df[(df.method == "exact") & (df.metric == "mode_mass_error") & (df.N == 16)]["value"]
    assert (exact < 0.3).all()
    assert set(df.method) == {"grid", "exact", "ebipla", "abp", "lebm"}
    assert panel["density"].shape == (200, 200) and panel["samples_ebipla"].shape == (16, 2)


def test_a_diverged_trajectory_reports_where_and_its_last_finite_theta():
    trace = torch.tensor([[0.0, 0.5, 1.4], [0.1, 0.4, 1.0], [math.nan] * 3], dtype=F64)
    rows = {r["metric"]: r for r in P.tail_rows("lebm", 20, trace, P.THETA_TRUE, lambda th: 0.0)}
    assert rows["diverged_at"]["value"] == 1.0 and "tail_error_mmle" not in rows
    assert (rows["log_c"]["iteration"], rows["log_c"]["value"]) == (1, 1.0)
    finite = P.tail_rows("abp", 20, trace[:2], P.THETA_TRUE, lambda th: 0.5)
    assert {r["metric"] for r in finite} >= {"tail_error_truth", "tail_error_mmle", "mmd2_y"}


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("posterior") / "posterior_accuracy"
    assert P.main(["--scale", "ci", "--seed", "1", "--out", str(out), "--table-caption", "CI run"]) == 0
    return out.parent


def test_ci_run_writes_every_output(ci_run):
    names = [f"table_posterior_accuracy.{s}" for s in ("csv", "md", "tex")]
    names += [f"figure_posterior_accuracy.{s}" for s in ("pdf", "png", "npz")]
    assert all((ci_run / n).stat().st_size > 0 for n in names)
    df = read_study(ci_run / "table_posterior_accuracy.csv")
    a = df[df.part == "A"]
    assert set(a.metric) == {"mmd2", "sw2", "mode_mass", "mode_mass_error", "seconds", "edge_mass_max"}
    assert float(a[a.metric == "edge_mass_max"]["value"].iloc[0]) < 1e-6  # the box holds the mass
    b = df[df.part == "B"]
    assert {"error_truth", "error_mmle", "tail_error_mmle", "mmd2_y", "grad_norm"} <= set(b.metric)
    assert float(b[(b.method == "mmle") & (b.metric == "grad_norm")]["value"].iloc[0]) < 1e-6
    assert (ci_run / "table_posterior_accuracy.md").read_text().startswith("CI run. Part A")
    assert report_section([str(ci_run / "table_posterior_accuracy.csv")])[1].startswith("## Posterior accuracy")


def hand_made(tmp_path, mu_norm: float, lebm_diverged: bool = False):
    """A study CSV and npz written by hand: Part A at N = 4 and 8, iterations 0 and 10; Part B at 0 and 5 (LEBM's
    sampler diverging at iteration 3 when ``lebm_diverged``)."""
    rows = [("setup", "quick", None, None, k, v) for k, v in {
        "seed": 0, "sigma": 0.3, "c_true": 2, "mu1_true": 0.6, "mu2_true": 0.3, "h": 0.005, "k1_lebm": 20,
        "k_abp": 20, "n_learn": 20, "lr": 0.01, "tail": 0.1, "log_c_start": 1.4, "m_a": 10, "iters_a": 10,
        "m_b": 30, "iters_b": 5, "n_heldout": 100}.items()]
    rows += [("setup", "quick", n, None, "particles", n) for n in (4, 8)]
    rows += [("A", "grid", None, None, "mode_mass", 0.8)]
    level = {"ebipla": 0.1, "abp": 0.2, "lebm": 0.3, "exact": 0.02}
    for method, v in level.items():
        for n in (4, 8):
            for k in (0, 10):
                rows += [("A", method, n, k, "mmd2", v * 4 / n), ("A", method, n, k, "sw2", 1.0),
                         ("A", method, n, k, "mode_mass", 0.5 + v + 0.01 * k),
                         ("A", method, n, k, "mode_mass_error", v)]
    rows += [("B", "mmle", None, None, "error_truth", 0.25), ("B", "mmle", None, None, "mmd2_y", 1e-4),
             ("B", "mmle", None, None, "mu1", 0.8), ("B", "mmle", None, None, "mu2", 0.6),
             ("B", "truth", None, None, "mmd2_y", 0.0)]
    rows += [("B", "mmle", None, None, "log_c", 0.7)]
    for method, err in {"ebipla": 0.5, "abp": 0.6, "lebm": 0.7, "exact": 0.0}.items():
        if method == "lebm" and lebm_diverged:
            rows += [("B", "lebm", 20, 0, "error_truth", 1.0), ("B", "lebm", 20, 0, "error_mmle", 0.9),
                     ("B", "lebm", 20, 3, "diverged_at", 3), ("B", "lebm", 20, 3, "log_c", -0.25)]
            continue
        for k in (0, 5):
            rows += [("B", method, 20, k, "error_truth", err + 1 - k / 5), ("B", method, 20, k, "error_mmle", err)]
        rows += [("B", method, 20, 5, "tail_error_truth", err + 0.1), ("B", method, 20, 5, "tail_error_mmle", err),
                 ("B", method, 20, 5, "mmd2_y", 1e-3),
                 ("B", method, 20, 5, "mu1", 0.8 if method == "exact" else mu_norm),
                 ("B", method, 20, 5, "mu2", 0.6 if method == "exact" else 0.0)]
    df = pd.DataFrame(rows, columns=["part", "method", "N", "iteration", "metric", "value"]).assign(se=0.01)
    df.to_csv(tmp_path / "table_s.csv", index=False)
    density = np.exp(-np.add.outer(np.linspace(-2, 2, 20) ** 2, np.linspace(-2, 2, 20) ** 2))
    np.savez(tmp_path / "figure_s.npz", point=0, y=np.array([1.0, 0.5]), direction=np.array([1.0, 0.2]),
             grid_fraction=0.8, half_width=2.0, density=density,
             **{f"samples_{m}": np.zeros((8, 2)) for m in level})
    return tmp_path / "table_s.csv", tmp_path / "figure_s.npz"


def test_table_figure_and_report_section_from_hand_made_files(tmp_path):
    csv, npz = hand_made(tmp_path, mu_norm=0.05)
    # The command's --redraw: the table and the figure from the two files alone.
    assert P.main(["--out", str(tmp_path / "s"), "--redraw", "--table-caption", "Hand-made"]) == 0
    md = (tmp_path / "table_s.md").read_text()
    assert md.startswith("Hand-made. Part A (theta at the truth): M = 10 points, N = 8 samples")
    assert "| EBIPLA" in md and "5.00e-02 ± 1.0e-02" in md  # 0.1 * 4 / 8 at N = 8, k = 10
    assert "0.700" in md  # LEBM's tail error to the MMLE
    assert (tmp_path / "figure_s.png").stat().st_size > 10_000 and (tmp_path / "figure_s.pdf").exists()
    assert read_study(tmp_path / "table_s.csv").equals(read_study(csv))  # the long table is written back as read
    lines = report_section([str(npz), str(csv)])
    assert lines[:2] == ["", "## Posterior accuracy beyond log-concavity (study)"]
    text = "\n".join(lines)
    # Numbers read from the file: EBIPLA is closest (0.05 vs the exact floor 0.01, 5.0 times), mode masses.
    assert "the closest sampler is EBIPLA (10 ULA steps per chain; MMD^2 5.00e-02, 5.0 times" in text
    assert "moved from 0.600 (EBIPLA) and 0.700 (ABP) at k = 0 to 0.700 and 0.800" in text
    assert "the largest mode-mass error is LEBM's 0.300 against 0.020" in text
    assert "EBIPLA 0.500, ABP 0.600, LEBM 0.700, and 0.000 with the exact gradient" in text
    assert "ended near mu = 0" in text  # |mu| 0.05 under a quarter of the MMLE's 1.0
    csv, _ = hand_made(tmp_path, mu_norm=0.9, lebm_diverged=True)
    text = "\n".join(report_section([str(csv)]))
    assert "ended near mu = 0" not in text
    assert "EBIPLA 0.500, ABP 0.600, and 0.000" in text  # LEBM has no tail average
    assert "LEBM's chains diverged at iteration 3: its samples had driven log c from 1.400 to -0.250" in text
    assert "| LEBM | " in text and "diverged (k = 3)" in text


def test_report_section_refuses_a_foreign_csv(tmp_path):
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a posterior-study CSV"):
        report_section([str(tmp_path / "other.csv")])


# ---------------------------------------------------------------------------------------------------------------
# The workflow
# ---------------------------------------------------------------------------------------------------------------

def test_workflow_plans_the_study_in_the_quick_and_full_configs(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    quick = run(["snakemake", "-n", "-p", "--forceall", "all", "--configfile", "config/quick.yaml"], repo)
    assert re.search(r"^study_posterior\s+1$", quick, flags=re.M)
    assert "ebipla study posterior --scale quick --seed 0 --out results/paper/posterior_accuracy" in quick
    assert "--study posterior=results/paper/table_posterior_accuracy.csv" in quick  # report.md's section
    full = run(["snakemake", "-n", "-p", "results/paper/figure_posterior_accuracy.png"], repo)
    assert "ebipla study posterior --scale full --seed 0" in full
