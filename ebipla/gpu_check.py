"""``ebipla gpu-check``: EBIPLA and LEBM iterations at the CIFAR-10 settings on random images, on a GPU.

One prepared check for a machine with an accelerator (paper.md 4.2, Table 4):

1. correctness: the latent gradient and the loss gradients of one batch computed on the device equal the CPU's
   (same parameters, same inputs), a few training iterations stay finite, and a pinned_cpu particle bank equals
   the device bank of the same seed while holding at most one chunk of it on the device;
2. no host-device synchronisation inside an iteration: the timed iterations run under
   ``torch.cuda.set_sync_debug_mode("error")``, which raises on any synchronising call;
3. seconds per iteration, measured with CUDA events after warm-up, for EBIPLA (N = 10 particles, J = 60, batch 128,
   after the warm-up phase) and LEBM at the matched budget (N = 10 posterior steps, J = 60, batch 128) and at
   Pang's K1 = 20, next to the paper's Table 4 (one RTX 3090: 0.99 s EBIPLA, 2.06 s LEBM); each under the shipped
   configs and under each of ``VARIANTS`` (the generator in NCHW order, bfloat16 autocast), so that the means of
   issue 6 are measured on the device too.

The settings are ``ebipla bench-images``'s (:func:`ebipla.bench_images._setting`). On a CPU the same code runs
(without the sync check), which is what the tests exercise.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

from .algorithms.bank import new_bank
from .algorithms.base import backward_losses
from .bench_images import _setting, paper_table4, variant_overrides
from .checkpoint import atomic_write_text
from .run import describe_device, new_model, resolve_device

SETTINGS = (("ebipla", 10), ("lebm", 10), ("lebm", 20))  # (method, N)
VARIANTS = ("default", "model.generator.channels_last=false", "train.precision=bfloat16")


def check_gradients(device: torch.device, overrides: list[str]) -> dict[str, float]:
    """Max relative difference between device and CPU for the drift and the parameter gradients."""
    s = _setting("cifar10", "ebipla", 10, 64, 60, device, overrides)
    model = s.state.model
    cpu_model = new_model(s.cfg, model.obs_shape, torch.device("cpu"))
    cpu_model.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    cpu_model.compute_dtype = model.compute_dtype
    gen = torch.Generator().manual_seed(1)
    y = s.batches[0][1]  # (64, 3, 32, 32)
    x_pos = torch.randn(64, 10, model.d_x, generator=gen)
    x_neg = torch.randn(64, model.d_x, generator=gen)
    _, _, drift = backward_losses(model, x_pos.to(device), y, x_neg.to(device), want_x_grad=True)
    _, _, drift_cpu = backward_losses(cpu_model, x_pos, y.cpu(), x_neg, want_x_grad=True)

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a.cpu() - b).abs().max() / b.abs().max().clamp_min(1e-12))

    grads = max(rel(p.grad, q.grad) for p, q in zip(model.parameters(), cpu_model.parameters()))
    return {"drift_rel_diff": rel(drift, drift_cpu), "param_grad_rel_diff": grads}


def check_bank(device: torch.device, shape: tuple[int, int, int] = (50_000, 10, 100)) -> dict:
    """The particle bank's storages (CIFAR-10's M, N = 10, d_x = 100: 200 MB, drawn in 3 chunks): a pinned_cpu
    bank equals the device bank of the same seed, is page-locked, and never needs more than a chunk on the device."""
    on_device = new_bank(shape, torch.Generator(device).manual_seed(0), "device")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    pinned = new_bank(shape, torch.Generator(device).manual_seed(0), "pinned_cpu")
    peak = torch.cuda.max_memory_allocated(device) - before if device.type == "cuda" else None
    return {"shape": list(shape), "equal": bool(torch.equal(pinned.to(device), on_device)),
            "pinned": pinned.is_pinned(), "pinned_device_peak_bytes": peak,
            "bank_bytes": on_device.numel() * on_device.element_size()}


def time_method(method: str, n: int, device: torch.device, steps: int, overrides: list[str],
                variant: str = "default") -> dict:
    """Seconds per training step (CUDA events; the sync check on CUDA) after 3 warm-up steps."""
    s = _setting("cifar10", method, n, 128, 60, device, variant_overrides(overrides, variant), variant)
    for _ in range(3):  # warm-up: allocations, cuBLAS handles, autotuning
        s.step()
    cuda = device.type == "cuda"
    times = []
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(steps):
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                s.step()
                end.record()
                times.append((start, end))
            else:
                t0 = time.perf_counter()
                s.step()
                times.append(time.perf_counter() - t0)
    finally:
        if cuda:
            torch.cuda.set_sync_debug_mode(0)
    if cuda:
        torch.cuda.synchronize(device)
        times = [a.elapsed_time(b) / 1000.0 for a, b in times]
    model = s.state.model
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    return {"method": method, "N": n, "variant": variant, "J": s.cfg.algorithm.n_prior_steps,
            "B": s.cfg.train.batch_size, "mean_s": statistics.fmean(times),
            "std_s": statistics.stdev(times) if len(times) > 1 else 0.0, "finite": finite}


def run_gpu_check(out: str | Path, device_name: str = "auto", steps: int = 20, overrides: list[str] = (),
                  variants: tuple[str, ...] = VARIANTS, bank_shape: tuple[int, int, int] = (50_000, 10, 100)) -> dict:
    device = resolve_device(device_name)
    paper_s = {m: paper_table4("cifar10", m)[0] for m, _ in SETTINGS}  # one RTX 3090
    result = {"device": describe_device(device),
              "torch": torch.__version__, "gradients_vs_cpu": check_gradients(device, list(overrides)),
              "bank": check_bank(device, bank_shape),
              "timings": [time_method(m, n, device, steps, list(overrides), v) for v in variants for m, n in SETTINGS],
              "paper_table4_cifar10_s": paper_s, "sync_checked": device.type == "cuda"}
    default = {(r["method"], r["N"]): r["mean_s"] for r in result["timings"] if r["variant"] == "default"}
    for row in result["timings"]:
        row["paper_over_ours"] = paper_s[row["method"]] / row["mean_s"]
        if (row["method"], row["N"]) in default:
            row["default_over_this"] = default[row["method"], row["N"]] / row["mean_s"]
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result
