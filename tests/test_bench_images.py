"""ebipla.bench.images on the CPU with tiny networks: timings, FLOP counts, CSV, paper columns, argument checks."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from ebipla.bench.images import _gflops, _peak_tflops, _setting, bench_images, write_bench_images
from ebipla.errors import ConfigError
from ebipla.report.paper_tables import table4

TINY = ["model.generator.ngf=8", "model.latent_dim=8", "model.energy.hidden=[16,16]"]
METHODS = [("ebipla", 2), ("ebipla", 4), ("lebm", 1), ("lebm", 3)]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench_images.csv"
    rows = write_bench_images(out, datasets=["svhn", "celeba64"], methods=METHODS, batch_size=4, n_prior_steps=2,
                              runs=2, steps_per_run=1, warmup_steps=1, device_name="cpu", overrides=TINY)
    return out, rows


def test_rows_have_positive_times_and_flops(bench):
    _, rows = bench
    assert [(r["dataset"], r["method"], r["N"]) for r in rows] == [(d, m, n) for d in ("svhn", "celeba64")
                                                                    for m, n in METHODS]
    for r in rows:
        assert (r["J"], r["B"], r["M"], r["runs"], r["steps_per_run"]) == (2, 4, 16, 2, 1)
        assert math.isfinite(r["mean_s"]) and r["mean_s"] > 0 and r["std_s"] >= 0 and r["sem_s"] >= 0
        assert r["gflops_per_step"] > 0 and r["bare_fwd_bwd_s"] > 0 and r["bare_gflops_per_s"] > 0
        assert r["achieved_gflops_per_s"] == pytest.approx(r["gflops_per_step"] / r["mean_s"])
        assert r["step_over_bare"] == pytest.approx(r["mean_s"] / r["bare_fwd_bwd_s"])
        assert r["peak_tflops"] is None and r["fraction_of_peak"] is None  # a CPU
        assert r["paper_s"] is None and r["paper_gflops"] is None and r["paper_over_ours"] is None  # not N=10, B=128
        assert r["device"].startswith("cpu") and r["threads"] == torch.get_num_threads()


def test_flops_grow_with_posterior_work(bench):
    _, rows = bench
    flops = {(r["dataset"], r["method"], r["N"]): r["gflops_per_step"] for r in rows}
    for d in ("svhn", "celeba64"):
        assert flops[(d, "lebm", 3)] > flops[(d, "lebm", 1)]
        assert flops[(d, "ebipla", 4)] > flops[(d, "ebipla", 2)]
    # celeba64's images are 64 x 64: the same networks (ngf fixed by TINY) do more work than on 32 x 32
    assert flops[("celeba64", "lebm", 1)] > flops[("svhn", "lebm", 1)]


def test_flop_counter_sees_the_backward_pass():
    s = _setting("svhn", "ebipla", 3, 4, 2, torch.device("cpu"), TINY)
    x_pos = s.bare_inputs[0]
    forward = _gflops(lambda: s.state.model.decode(x_pos))
    assert _gflops(s.bare) > 2 * forward  # forward + input and weight gradients of the generator


def test_csv_written_and_parses(bench):
    out, rows = bench
    with open(out, newline="") as f:
        read = list(csv.DictReader(f))
    assert len(read) == len(rows) and list(read[0]) == list(rows[0])
    for r, back in zip(rows, read):
        assert (back["dataset"], back["method"], int(back["N"])) == (r["dataset"], r["method"], r["N"])
        assert float(back["mean_s"]) == r["mean_s"] and float(back["gflops_per_step"]) == r["gflops_per_step"]


def test_paper_columns_at_the_paper_setting(tmp_path, capsys):
    rows = write_bench_images(tmp_path / "b.csv", datasets=["svhn"], methods=[("ebipla", 10), ("lebm", 10)],
                              runs=2, steps_per_run=1, warmup_steps=0, device_name="cpu",
                              overrides=[*TINY, "model.generator.ngf=2"])
    ebipla, lebm = rows
    assert (ebipla["N"], ebipla["J"], ebipla["B"]) == (10, 60, 128)
    assert (ebipla["paper_s"], ebipla["paper_gflops"], lebm["paper_s"], lebm["paper_gflops"]) == (0.33, 0.74, 0.49,
                                                                                                  0.75)
    assert lebm["paper_over_ours"] == pytest.approx(0.49 / lebm["mean_s"])
    out = capsys.readouterr().out
    assert "svhn: LEBM(N=10) / EBIPLA(N=10) =" in out and "(paper 1.5x" in out


def test_compare_times_a_second_copy_of_each_setting(tmp_path, capsys):
    out = tmp_path / "b.csv"
    rows = write_bench_images(out, datasets=["svhn"], methods=[("ebipla", 2), ("lebm", 2)], batch_size=4,
                              n_prior_steps=2, runs=2, steps_per_run=1, warmup_steps=0, device_name="cpu",
                              overrides=TINY, compare="model.generator.channels_last=false")
    assert [(r["method"], r["variant"]) for r in rows] == [
        ("ebipla", "default"), ("ebipla", "model.generator.channels_last=false"),
        ("lebm", "default"), ("lebm", "model.generator.channels_last=false")]
    assert all(r["mean_s"] > 0 for r in rows)
    assert rows[0]["gflops_per_step"] == rows[1]["gflops_per_step"]  # the same work in another memory order
    printed = capsys.readouterr().out
    assert "svhn ebipla(N=2): with model.generator.channels_last=false / default = " in printed
    assert printed.count("LEBM(N=2) / EBIPLA(N=2)") == 1  # the methods' ratio from the default rows only
    long = table4(out, tmp_path / "t4", "caption")
    ours = long[long["source"].str.startswith("ours")]
    assert len(ours) == 4  # seconds and GFLOPs of the two default rows; the compared copies are left out


def test_peak_table(monkeypatch):
    assert _peak_tflops(torch.device("cpu"), torch.float32) == (None, None)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    for name, expected in [("NVIDIA H100 PCIe", ("fp32", 51.2)), ("NVIDIA H100 80GB HBM3", ("fp32", 66.9)),
                           ("NVIDIA GeForce RTX 3090", ("fp32", 35.6)), ("Tesla T4", (None, None))]:
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device, name=name: name)
        assert _peak_tflops(torch.device("cuda"), torch.float32) == expected
    assert _peak_tflops(torch.device("cuda"), torch.bfloat16) == (None, None)  # still the T4
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "NVIDIA A100-SXM4-80GB")
    assert _peak_tflops(torch.device("cuda"), torch.bfloat16) == ("bf16", 312.0)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    assert _peak_tflops(torch.device("cuda"), torch.float32) == ("tf32", 156.0)


@pytest.mark.parametrize("kwargs", [
    {"runs": 1},
    {"datasets": ["mnist"]},
    {"datasets": []},
    {"methods": [("ebipla_full", 10)]},
    {"methods": [("lebm", 0)]},
    {"methods": []},
    {"steps_per_run": 0},
    {"batch_size": 0},
    {"compare": "channels_last"},
])
def test_bad_arguments_raise(kwargs):
    args = {"datasets": ["svhn"], "methods": [("ebipla", 2)], "batch_size": 4, "n_prior_steps": 2, "runs": 2,
            "steps_per_run": 1, "device_name": "cpu", "overrides": TINY, **kwargs}
    with pytest.raises(ConfigError):
        bench_images(**args)


def test_flops_count_the_fused_pre_update_pass_and_match_flop_counter_mode():
    from torch.utils.flop_counter import FlopCounterMode

    post = _setting("svhn", "ebipla", 3, 4, 2, torch.device("cpu"), [*TINY, "algorithm.loss_particles=post_update"])
    pre = _setting("svhn", "ebipla", 3, 4, 2, torch.device("cpu"), [*TINY, "algorithm.loss_particles=pre_update"])
    with FlopCounterMode(display=False) as counter:
        post.step()
    assert _gflops(post.step) == pytest.approx(counter.get_total_flops() / 1e9)  # the same formulas
    # Drift and losses from one backward (Algorithm 2): less generator work than the post-update losses' second pass.
    assert 0 < _gflops(pre.step) < _gflops(post.step)
