"""bfloat16 on a CPU without native bfloat16 (issue 13): the energy's products fall back to ATen, and the benchmarks
label the variant instead of crashing.

This machine has oneDNN's bfloat16 kernels, so an AVX2-only host is emulated: ``ONEDNN_BF16`` is set to False (what
the import-time check gives there) and oneDNN's product raises for bfloat16, as oneDNN does on such a CPU ("could
not create a primitive descriptor for the inner product forward propagation primitive").
"""

from __future__ import annotations

import math

import pytest
import torch

from ebipla.algorithms import ALGORITHMS
from ebipla.algorithms.langevin import draw_chain_inputs, prior_chain
from ebipla.bench import gpu_check
from ebipla.bench import iteration as bench
from ebipla.bench.images import bench_images, format_table
from ebipla.config import load_config
from ebipla.config.schema import EnergyConfig
from ebipla.models import EnergyMLP
from ebipla.models import energy as energy_module
from ebipla.run import new_model, training_data

LABEL = "bf16: not native on this CPU (ATen fallback)"
CPU = torch.device("cpu")


@pytest.fixture
def onednn_calls(monkeypatch) -> list[torch.dtype]:
    """Records the dtype of every oneDNN product; a bfloat16 one raises, as on an AVX2-only CPU."""
    calls: list[torch.dtype] = []
    real = energy_module._onednn_linear

    def linear(x, weight, bias):
        calls.append(weight.dtype)
        if weight.dtype == torch.bfloat16:
            raise RuntimeError("could not create a primitive descriptor for the inner product forward propagation "
                               "primitive (emulated AVX2 host)")
        return real(x, weight, bias)

    monkeypatch.setattr(energy_module, "_onednn_linear", linear)
    return calls


@pytest.fixture
def avx2_host(monkeypatch, onednn_calls) -> list[torch.dtype]:
    """An AVX2-only host: the import-time check says no oneDNN bfloat16, and oneDNN would raise if asked."""
    monkeypatch.setattr(energy_module, "ONEDNN_BF16", False)
    return onednn_calls


def synthetic_energy(scale: float = 20.0) -> EnergyMLP:
    torch.manual_seed(0)
    energy = EnergyMLP(2, EnergyConfig())  # the synthetic 3 x 128 SiLU MLP
    with torch.no_grad():
        energy.out.weight.mul_(scale)  # a rougher landscape, so that the drift matters
    return energy


def test_the_emulated_host_would_crash_without_the_check(monkeypatch, onednn_calls):
    """The emulation bites: with ONEDNN_BF16 forced on, a bfloat16 chain of 2000 points goes to oneDNN and raises."""
    monkeypatch.setattr(energy_module, "ONEDNN_BF16", True)
    x0, noise = draw_chain_inputs((2000, 2), 3, torch.Generator().manual_seed(0), CPU)
    with pytest.raises(RuntimeError, match="primitive descriptor"):
        prior_chain(synthetic_energy(), x0, 0.01, noise, dtype=torch.bfloat16)


def test_bf16_chain_and_gradient_fall_back_to_aten_and_match_float32(avx2_host):
    energy = synthetic_energy()
    x0, noise = draw_chain_inputs((500, 2), 40, torch.Generator().manual_seed(0), CPU)  # 500 x 128 x 128: oneDNN's
    exact = prior_chain(energy, x0, 0.01, noise)
    assert torch.float32 in avx2_host  # float32 products still go to oneDNN
    avx2_host.clear()
    low = prior_chain(energy, x0, 0.01, noise, dtype=torch.bfloat16)
    assert avx2_host == []  # no bfloat16 product reached oneDNN (the float32 ones here are too small for it)
    assert low.dtype == torch.float32 and not torch.equal(low, exact)  # computed in bfloat16
    drift = (exact - x0 - math.sqrt(0.02) * noise.sum(0)).abs().mean()
    assert (low - exact).abs().mean() < 0.02 * drift  # bfloat16 rounding (the bound of tests/test_speed.py)
    # the latent gradient alone: bfloat16 has 8 bits of mantissa, so about 1 % of the gradient's scale
    x = torch.randn(500, 2, generator=torch.Generator().manual_seed(1))
    grad, grad_low = energy.grad_x(x), energy.grad_x_fn(torch.bfloat16)(x)
    assert grad_low.dtype == torch.float32
    assert (grad_low - grad).abs().max() < 0.05 * grad.abs().max()
    assert (grad_low - grad).abs().mean() < 0.01 * grad.abs().mean()


@pytest.mark.skipif(not energy_module._host_has_onednn_bf16(), reason="this CPU has no oneDNN bfloat16")
def test_bf16_products_use_onednn_where_the_host_has_it(monkeypatch):
    calls: list[torch.dtype] = []
    real = energy_module._onednn_linear
    monkeypatch.setattr(energy_module, "_onednn_linear", lambda x, w, b: calls.append(w.dtype) or real(x, w, b))
    x0, noise = draw_chain_inputs((2000, 2), 2, torch.Generator().manual_seed(0), CPU)
    prior_chain(synthetic_energy(), x0, 0.01, noise, dtype=torch.bfloat16)
    assert torch.bfloat16 in calls


def test_bfloat16_training_step_runs_on_the_fallback(avx2_host):
    """train.precision=bfloat16 at a batch large enough for oneDNN (128 x 128 x 128 products) trains on ATen."""
    cfg = load_config([], ["data.n_points=256", "train.batch_size=128", "algorithm.n_prior_steps=3",
                           "algorithm.n_particles=2", "train.precision=bfloat16"])
    y = training_data(cfg, CPU).values
    model = new_model(cfg, (2,), CPU)
    gen = torch.Generator().manual_seed(0)
    state = ALGORITHMS["ebipla"].init_state(cfg, model, len(y), gen)
    idx = torch.arange(128)
    state, metrics = ALGORITHMS["ebipla"].step(state, (idx, y[idx]), gen)
    assert torch.bfloat16 not in avx2_host
    assert all(math.isfinite(float(v)) for v in metrics.values()) and torch.isfinite(state.particles).all()


def test_chain_variants_bench_labels_bf16_on_a_host_without_it(avx2_host):
    rows = bench.chain_bench(n_prior_steps=2, batch_size=200, repeats=1, device="cpu", activations=("silu",))
    (row,) = rows
    assert row["bf16_note"] == LABEL and row["bf16_s"] > 0
    assert row["bf16_max_abs_diff"] < 1e-2  # the bf16 chain, on ATen
    table = bench.format_chain_table(rows)
    assert "bf16 (ATen)" in table and LABEL in table


def test_chain_variants_bench_has_no_label_where_bf16_is_native(monkeypatch):
    monkeypatch.setattr(energy_module, "ONEDNN_BF16", True)
    (row,) = bench.chain_bench(n_prior_steps=2, batch_size=20, repeats=1, device="cpu", activations=("relu",))
    assert row["bf16_note"] == ""
    assert "(ATen)" not in bench.format_chain_table([row])


def test_bench_images_compare_bf16_is_labelled_on_a_host_without_it(avx2_host):
    rows = bench_images(["svhn"], [("ebipla", 2)], batch_size=4, n_prior_steps=2, runs=2, steps_per_run=1,
                        warmup_steps=1, device_name="cpu", compare="train.precision=bfloat16",
                        overrides=["model.generator.ngf=8", "model.latent_dim=8", "model.energy.hidden=[16,16]"])
    assert [(r["variant"], r["note"]) for r in rows] == [("default", ""), ("train.precision=bfloat16", LABEL)]
    assert f"({LABEL})" in format_table(rows)


def test_gpu_check_timing_labels_bf16_on_a_host_without_it(avx2_host):
    tiny = ["algorithm.n_prior_steps=2", "model.generator.ngf=8", "model.latent_dim=8"]
    row = gpu_check.time_method("ebipla", 1, CPU, 1, tiny, "train.precision=bfloat16")
    assert row["note"] == LABEL and row["finite"] and row["host_sync"] is None
    assert torch.bfloat16 not in avx2_host
