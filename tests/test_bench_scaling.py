"""The scaling benchmarks run at tiny sizes and report their fields; no timing is asserted (issue 6, item 4)."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from ebipla.algorithms.base import PHASES
from ebipla.bench import scaling as bench_scaling
from ebipla.errors import ConfigError

MS, NS, J, B = [40, 80], [2, 4], 2, 20

TIME_FIELDS = ["iter_s", "iter_mean_s", "epoch_s", "noise_s", "noise_epoch_s", "model_s",
               *(f"{p}_s" for p in PHASES)]


@pytest.fixture(scope="module")
def scaling_rows():
    return bench_scaling.scaling_bench(MS, NS, J, B, repeats=2, device_name="cpu")


def test_scaling_rows_have_the_grid_and_positive_finite_times(scaling_rows):
    assert [(r["M"], r["N"]) for r in scaling_rows] == [(m, n) for m in MS for n in NS]
    for r in scaling_rows:
        assert (r["J"], r["B"], r["iters_per_epoch"]) == (J, B, math.ceil(r["M"] / B))
        assert r["bank_elements"] == r["M"] * r["N"] * 2
        for key in TIME_FIELDS:
            assert math.isfinite(r[key]) and r[key] > 0, key
        assert r["epoch_s"] == pytest.approx(r["iter_s"] * r["iters_per_epoch"])
        assert math.isfinite(r["rel_residual"]) and r["rel_residual"] >= 0
        assert r["rel_residual"] == pytest.approx(abs(r["iter_s"] - r["model_s"]) / r["iter_s"])
        for key in ("device", "torch", "threads", "repeats", "load_avg"):
            assert key in r


def test_cost_model_fit_is_finite_and_reproduces_model_s(scaling_rows):
    fit = bench_scaling.fit_cost_model(scaling_rows)
    for key in ("a_s", "b_s", "c_s", "max_rel_residual", "median_rel_residual", "no_noise_a_s", "no_noise_b_s",
                "no_noise_max_rel_residual", "c_direct_s", "chain_predicted_over_measured", "m_spread_without_noise"):
        assert math.isfinite(fit[key]), key
    for r in scaling_rows:
        assert r["fit_b_s"] == pytest.approx(fit["b_s"])
        model = fit["a_s"] + fit["b_s"] * r["B"] * (r["N"] + r["J"]) + fit["c_s"] * r["M"] * r["N"]
        assert r["model_s"] == pytest.approx(model)
    assert fit["max_rel_residual"] == pytest.approx(max(r["rel_residual"] for r in scaling_rows))
    crossover = bench_scaling.crossover_m_measured(scaling_rows)
    assert sorted(crossover) == NS and all(math.isfinite(m) for m in crossover.values())
    assert "Cost model" in bench_scaling.format_fit(scaling_rows)
    assert "s/epoch" in bench_scaling.format_scaling_table(scaling_rows)


def test_fit_recovers_a_synthetic_cost_model():
    a, b, c = 2e-3, 3e-7, 4e-9
    rows = [{"M": m, "N": n, "J": 50, "B": 1000, "iter_s": a + b * 1000 * (n + 50) + c * m * n}
            for m in (1000, 4000, 16000) for n in (4, 16, 64)]
    fit = bench_scaling.fit_cost_model(rows)
    assert fit["a_s"] == pytest.approx(a, rel=1e-6)
    assert fit["b_s"] == pytest.approx(b, rel=1e-6)
    assert fit["c_s"] == pytest.approx(c, rel=1e-6)
    assert fit["max_rel_residual"] < 1e-9
    assert math.isfinite(bench_scaling.crossover_m(fit, 16, 50, 1000))


def test_bank_memory_bytes_are_exact():
    d_x = 3
    rows = bench_scaling.bank_memory([30, 60], [2, 5], d_x, "cpu", n_prior_steps=J, batch_size=B, repeats=1)
    assert {(r["storage"], r["M"], r["N"]) for r in rows} == {
        (s, m, n) for s in bench_scaling.STORAGES for m in (30, 60) for n in (2, 5)}
    for r in rows:
        assert r["storage_bytes"] == r["expected_bytes"] == r["M"] * r["N"] * d_x * 4
        assert isinstance(r["rss_delta_bytes"], int)
        if not torch.cuda.is_available():
            assert r["storage_actual"].startswith("cpu")
        if r["timed"]:
            assert (r["M"], r["N"]) == (60, 5)
            for key in ("iter_s", "gather_scatter_s", "noise_s"):
                assert math.isfinite(r[key]) and r[key] > 0, key
        else:
            assert math.isnan(r["iter_s"])
    assert sum(r["timed"] for r in rows) == len(bench_scaling.STORAGES)
    assert "gather+scatter" in bench_scaling.format_memory_table(rows)


def test_bank_memory_times_a_cell_outside_the_grid():
    rows = bench_scaling.bank_memory([30], [2], 2, "cpu", time_m=40, time_n=3, n_prior_steps=J, batch_size=B,
                                     repeats=1)
    timed = [r for r in rows if r["timed"]]
    assert [(r["M"], r["N"]) for r in timed] == [(40, 3)] * len(bench_scaling.STORAGES)
    assert all(r["storage_bytes"] == 40 * 3 * 2 * 4 and r["iter_s"] > 0 for r in timed)


def test_write_scaling_writes_both_csvs(tmp_path, capsys):
    out = tmp_path / "scaling.csv"
    rows, mem_rows = bench_scaling.write_scaling(out, [40], [2, 3], J, B, 1, "cpu", memory_ms=[30], memory_ns=[2],
                                                 d_x=2)
    with open(out) as f:
        assert len(list(csv.DictReader(f))) == len(rows) == 2
    with open(bench_scaling.memory_csv_path(out)) as f:
        assert len(list(csv.DictReader(f))) == len(mem_rows) == len(bench_scaling.STORAGES)
    printed = capsys.readouterr().out
    assert "Cost model" in printed and "Particle bank" in printed and "wrote" in printed


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError):
        bench_scaling.scaling_bench([40], [2], J, B, repeats=0, device_name="cpu")
    with pytest.raises(ConfigError):
        bench_scaling.bank_memory([], [2], 2, "cpu")
