"""The fast prior chain is the same chain as a plain autograd loop; the speed benchmarks run and report their fields.

No timing is asserted here: speed is measured by ``ebipla bench`` (and ``--chain-variants``), not by tests.
"""

from __future__ import annotations

import math

import pytest
import torch

from ebipla.algorithms import ALGORITHMS
from ebipla.algorithms.base import PHASES, collect_phase_times, phase
from ebipla.algorithms.langevin import draw_chain_inputs, prior_chain
from ebipla.bench import iteration as bench
from ebipla.config import load_config
from ebipla.config.schema import EnergyConfig
from ebipla.metrics import mmd2_unbiased
from ebipla.models import EnergyMLP
from ebipla.models import energy as energy_module
from ebipla.run import new_model, training_data


def energy_mlp(activation: str, prior_sigma: float | None = None, scale: float = 1.0) -> EnergyMLP:
    torch.manual_seed(0)
    energy = EnergyMLP(2, EnergyConfig(activation=activation, prior_sigma=prior_sigma))  # the synthetic 3 x 128
    with torch.no_grad():
        energy.out.weight.mul_(scale)  # scale > 1: a rougher landscape, so that the drift matters
    return energy


def chain_inputs(batch: int, steps: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    return draw_chain_inputs((batch, 2), steps, torch.Generator().manual_seed(seed), torch.device("cpu"))


@pytest.mark.parametrize("activation", ["silu", "relu", "gelu", "leaky_relu"])
@pytest.mark.parametrize("prior_sigma", [None, 1.5])
@pytest.mark.parametrize("batch", [7, 300])  # 300 x 128 x 128 puts the hidden products on oneDNN, 7 does not
def test_fast_chain_equals_the_autograd_loop_for_the_same_noise(activation, prior_sigma, batch):
    energy = energy_mlp(activation, prior_sigma, scale=5.0)
    x0, noise = chain_inputs(batch, 40)
    reference = bench._autograd_loop(energy, x0, 0.01, noise)
    fast = prior_chain(energy, x0, 0.01, noise)
    assert fast.shape == x0.shape and not fast.requires_grad
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bench._aten_chain(energy, x0, 0.01, noise), reference, rtol=1e-5, atol=1e-5)
    assert not torch.equal(x0, fast)


@pytest.mark.parametrize("rows", [3, 5000])
def test_linear_fn_is_f_linear_on_either_path(rows):
    torch.manual_seed(1)
    weight, bias = torch.randn(128, 96), torch.randn(128)
    x = torch.randn(rows, 2, 96)[:, 1]  # not contiguous
    expected = torch.nn.functional.linear(x, weight, bias)
    torch.testing.assert_close(energy_module.linear_fn(weight, bias)(x), expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(energy_module.linear_fn(weight.t(), None)(expected),
                               expected @ weight, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("prior_sigma", [None, 1.5])
def test_energy_autograd_through_onednn_equals_stock_pytorch(prior_sigma):
    energy = energy_mlp("silu", prior_sigma)
    x = torch.randn(300, 4, 2)  # (B, N, d_x): 1200 rows, so the 128 x 128 products go to oneDNN

    def energy_and_grads():
        energy.zero_grad()
        xg = x.clone().requires_grad_(True)
        u = energy(xg)
        (u.square().sum() + u.sum()).backward()  # a loss that is not linear in u
        return u.detach(), xg.grad, [p.grad.clone() for p in energy.parameters()]

    fast = energy_and_grads()
    with bench._onednn(False):  # stock PyTorch: F.linear alone, as before issue 6
        stock = energy_and_grads()
    for a, b in zip([fast[0], fast[1], *fast[2]], [stock[0], stock[1], *stock[2]]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert fast[0].shape == (300, 4)


def test_flop_counter_counts_onednn_products():
    from torch.utils.flop_counter import FlopCounterMode

    energy = energy_mlp("silu")
    x = torch.randn(1000, 2)

    def flops():
        with FlopCounterMode(display=False) as counter:
            energy.grad_x(x)
            energy(x.clone().requires_grad_(True)).sum().backward()
        return counter.get_total_flops()

    with bench._onednn(False):  # stock PyTorch: F.linear alone, as before issue 6
        expected = flops()
    assert flops() == expected > 0


def test_latent_gradient_keeps_leading_dims_and_matches_autograd():
    energy = energy_mlp("silu", 2.0)
    x = torch.randn(4, 300, 2)  # leading dims (B, N)
    xg = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(energy(xg).sum(), xg)
    torch.testing.assert_close(energy.grad_x(x), expected, rtol=1e-5, atol=1e-6)


def test_bf16_chain_stays_on_the_float32_path_and_keeps_the_sample_law():
    energy = energy_mlp("silu", scale=20.0)
    x0, noise = chain_inputs(2000, 100)
    exact = prior_chain(energy, x0, 0.01, noise)
    bf16 = prior_chain(energy, x0, 0.01, noise, dtype=torch.bfloat16)
    assert bf16.dtype == torch.float32
    drift = (exact - x0 - math.sqrt(0.02) * noise.sum(0)).abs().mean()  # how far the drift moved the chains
    assert (bf16 - exact).abs().mean() < 0.02 * drift
    # Metric check: MMD^2 of bf16 samples to an independent float32 set is that of float32 to the same set.
    x1, noise1 = chain_inputs(2000, 100, seed=1)
    other = prior_chain(energy, x1, 0.01, noise1)
    mmd_exact, bandwidth = mmd2_unbiased(exact, other)
    mmd_bf16, _ = mmd2_unbiased(bf16, other, bandwidth=bandwidth)
    assert abs(mmd_bf16 - mmd_exact) < 2e-4, (mmd_bf16, mmd_exact)


def test_chain_bench_rows_at_tiny_sizes():
    rows = bench.chain_bench(n_prior_steps=3, batch_size=20, repeats=1, device="cpu", activations=("silu", "relu"))
    assert [r["activation"] for r in rows] == ["silu", "relu"]
    for row in rows:
        assert row["J"] == 3 and row["B"] == 20 and row["bare_fwd_bwd_s"] > 0
        for v in bench.CHAIN_VARIANTS:
            assert row[f"{v}_s"] > 0 and row[f"{v}_over_J_bare"] > 0
            assert row[f"{v}_max_abs_diff"] < (1e-2 if v == "bf16" else 1e-5)
            if v != "autograd_loop":
                assert row[f"autograd_loop_over_{v}"] > 0 and row[f"autograd_loop_over_{v}_paired"] > 0
        assert {"device", "torch", "threads", "repeats", "load_avg"} <= set(row)
    assert "autograd_loop" in bench.format_chain_table(rows)
    with pytest.raises(Exception, match="autograd_loop"):
        bench.chain_bench(3, 20, 1, "cpu", variants=("default",))


def test_run_chain_bench_writes_a_csv(tmp_path, capsys):
    out = tmp_path / "chain.csv"
    rows = bench.run_chain_bench(out, 2, 10, 1, "cpu", activations=("relu",))
    header = out.read_text().splitlines()[0].split(",")
    assert header == list(rows[0]) and "autograd_loop_over_default" in header
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("overrides", [
    ["algorithm.name=ebipla", "algorithm.n_particles=3"],
    ["algorithm.name=ebipla", "algorithm.n_particles=3", "algorithm.loss_particles=post_update"],
    ["algorithm.name=lebm", "algorithm.n_posterior_steps=3"],
])
def test_steps_report_their_phases_only_when_collected(overrides):
    cfg = load_config([], ["data.n_points=100", "train.batch_size=20", "algorithm.n_prior_steps=3",
                           "model.energy.hidden=[16,16]", *overrides])
    y = training_data(cfg, torch.device("cpu")).values
    model = new_model(cfg, (2,), torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    algo = ALGORITHMS[cfg.algorithm.name]
    state = algo.init_state(cfg, model, len(y), gen)
    idx = torch.arange(20)
    with collect_phase_times() as times:
        algo.step(state, (idx, y[idx]), gen)
    assert set(times) == set(PHASES) and all(t >= 0 for t in times.values())
    collected = dict(times)
    algo.step(state, (idx, y[idx]), gen)  # outside a collection: nothing recorded, nothing fails
    with phase("losses", torch.device("cpu")):
        pass
    assert times == collected


def test_bench_setting_reports_phase_shares():
    (row,) = bench.bench_setting(2, 2, 20, 2, torch.device("cpu"))[:1]
    for method in ("ebipla", "lebm"):
        shares = [row[f"{method}_{p}_share"] for p in PHASES]
        assert all(0 <= s for s in shares) and sum(shares) < 1.5  # medians of phases: about 1, not exactly
    for column in ("N", "J", "B", "activations", "ebipla_mean_s", "ebipla_std_s", "lebm_mean_s", "lebm_std_s",
                   "device"):
        assert column in row


def dcgan_model(channels_last: bool):
    """A small transposed-convolution generator model for (3, 16, 16) images, seed 0."""
    cfg = load_config([], ["model.latent_dim=8", "model.generator.kind=dcgan", "model.generator.ngf=4",
                           f"model.generator.channels_last={str(channels_last).lower()}"])
    return new_model(cfg, (3, 16, 16), torch.device("cpu"))


def test_channels_last_generator_is_the_same_function_and_gradient():
    plain, nhwc = dcgan_model(False), dcgan_model(True)
    convs = [m for m in nhwc.generator.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    assert not plain.generator.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(3, 5, 8, generator=gen), torch.randn(3, 3, 16, 16, generator=gen)  # (B, N, d_x), (B, C, H, W)
    out = nhwc.decode(x)
    assert out.shape == (3, 5, 3, 16, 16)
    assert nhwc.generator(x[0]).is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, plain.decode(x), rtol=1e-5, atol=1e-6)
    param_grads = [torch.autograd.grad(m.V(x, y).sum(), list(m.generator.parameters())) for m in (plain, nhwc)]
    pairs = [*zip(*param_grads), (plain.grad_x_V(x, y), nhwc.grad_x_V(x, y))]
    # float32 sums in another order: rounding relative to each gradient's scale (measured at most 1e-6 over 60 draws)
    for a, b in pairs:
        assert (b - a).abs().max() <= 1e-5 * a.abs().max()


@pytest.mark.parametrize("method", ["ebipla", "lebm"])
def test_bfloat16_precision_computes_in_bf16_and_keeps_float32_state(method):
    exact = dcgan_model(True).decode(torch.ones(2, 8))  # float32, the same initial weights
    cfg = load_config([], [f"algorithm.name={method}", "model.latent_dim=8", "model.generator.kind=dcgan",
                           "model.generator.ngf=4", "train.precision=bfloat16", "train.batch_size=3",
                           "algorithm.n_prior_steps=2", *(["algorithm.warmup_iters=0"] if method == "ebipla" else [])])
    model = new_model(cfg, (3, 16, 16), torch.device("cpu"))
    assert model.compute_dtype is None  # evaluation builds models this way: float32
    state = ALGORITHMS[method].init_state(cfg, model, 6, torch.Generator().manual_seed(0))
    assert model.compute_dtype == torch.bfloat16
    low = model.decode(torch.ones(2, 8))
    assert low.dtype == torch.float32 and not torch.equal(low, exact)
    assert (low - exact).abs().max() < 0.05 * exact.abs().max()  # bfloat16 rounding, not another function
    y = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    state, metrics = ALGORITHMS[method].step(state, (torch.arange(3), y), torch.Generator().manual_seed(1))
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(math.isfinite(float(v)) for v in metrics.values())
    if method == "ebipla":
        assert state.particles.dtype == torch.float32
