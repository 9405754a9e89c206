"""``ebipla gpu-check``: EBIPLA and LEBM iterations at the CIFAR-10 settings on random images, on a GPU.

One prepared check for a machine with an accelerator (paper.md 4.2, Table 4):

1. correctness: the latent gradient and the loss gradients of one batch computed on the device equal the CPU's
   (same parameters, same inputs), a few training iterations stay finite, a pinned_cpu particle bank equals
   the device bank of the same seed while holding at most one chunk of it on the device, and ``BANK_STEPS`` full
   EBIPLA iterations (gather, drift, scatter, all-particle noise, Adam) with the bank in pinned host memory give
   the device bank's particles and parameters (:func:`check_bank_steps`);
2. determinism (``train.deterministic``, docs/determinism.md): a short run through :func:`ebipla.trainer.train`
   interrupted twice and resumed ends with a checkpoint bitwise equal to the uninterrupted run's
   (:func:`check_resume`), and EBIPLA's seconds per iteration with deterministic kernels against without (their
   cost, ``deterministic_cost``);
3. no host-device synchronisation inside an iteration: the timed iterations run under
   ``torch.cuda.set_sync_debug_mode("error")``, which raises on any synchronising call (a setting that does is
   timed again without the check and reports the call in ``host_sync``);
4. seconds per iteration, measured with CUDA events after warm-up, for EBIPLA (N = 10 particles, J = 60, batch 128,
   after the warm-up phase) and LEBM at the matched budget (N = 10 posterior steps, J = 60, batch 128) and at
   Pang's K1 = 20, next to the paper's Table 4 (one RTX 3090: 0.99 s EBIPLA, 2.06 s LEBM); each under the shipped
   configs and under each of ``VARIANTS`` (the generator in NCHW order, bfloat16 autocast), so that the means of
   issue 6 are measured on the device too. A bfloat16 variant on a device without native bfloat16 (an AVX2-only
   CPU, a pre-Ampere GPU) still runs and is timed, labelled in ``note`` (:func:`ebipla.models.energy.bf16_note`).

Every iteration runs under the global numerics training uses (:func:`ebipla.run.training_numerics`: TF32 off in
float32, deterministic kernels unless the variant turns them off). The settings are ``ebipla bench-images``'s
(:func:`ebipla.bench.images._setting`). On a CPU the same code runs (without the sync check), which is what the
tests exercise; there the pinned bank is ordinary memory, so the bank check only shows the code path runs.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from ..algorithms.bank import new_bank
from ..algorithms.base import backward_losses
from ..checkpoint import atomic_write_text, load_checkpoint
from ..config import load_config
from ..models.energy import bf16_note
from ..run import CHECKPOINT, CUBLAS_WORKSPACE, describe_device, new_model, resolve_device, training_numerics
from ..trainer import train
from .images import CONFIGS, _setting, paper_table4, variant_overrides

SETTINGS = (("ebipla", 10), ("lebm", 10), ("lebm", 20))  # (method, N)
VARIANTS = ("default", "model.generator.channels_last=false", "train.precision=bfloat16")
DETERMINISM = ("train.deterministic=true", "train.deterministic=false")  # EBIPLA (N = 10) timed under each
BANK_STEPS = 3  # full EBIPLA iterations compared between the pinned_cpu and the device bank
# The resume check: a tiny CIFAR-10-shaped EBIPLA run on FakeData (no files), 8 iterations with the warm-up ending
# at 3, interrupted after iterations 3 and 5 (one of them between checkpoints) and resumed.
RESUME = ["data.name=fake", "data.n_points=32", "train.batch_size=8", "train.n_epochs=2",
          "algorithm.n_prior_steps=5", "algorithm.n_particles=4", "algorithm.warmup_iters=3",
          "algorithm.warmup_particles=2", "algorithm.warmup_inner_steps=2", "train.checkpoint_every=2",
          "train.log_every=1"]
RESUME_STOPS = (3, 5)


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
    with training_numerics(s.cfg.train):  # float32: no TF32
        _, _, drift = backward_losses(model, x_pos.to(device), y, x_neg.to(device), want_x_grad=True)
        _, _, drift_cpu = backward_losses(cpu_model, x_pos, y.cpu(), x_neg, want_x_grad=True)

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a.cpu() - b).abs().max() / b.abs().max().clamp_min(1e-12))

    grads = max(rel(p.grad, q.grad) for p, q in zip(model.parameters(), cpu_model.parameters()))
    return {"drift_rel_diff": rel(drift, drift_cpu), "param_grad_rel_diff": grads}


def check_bank(device: torch.device, shape: tuple[int, int, int] = (50_000, 10, 100)) -> dict:
    """The particle bank's storages (CIFAR-10's M, N = 10, d_x = 100: 200 MB, drawn in 3 chunks): a pinned_cpu
    bank equals the device bank of the same seed, is page-locked, and never needs more than a chunk on the device.
    The initial draw only; :func:`check_bank_steps` compares training iterations."""
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


def check_bank_steps(device: torch.device, overrides: list[str], steps: int = BANK_STEPS) -> dict:
    """``steps`` full EBIPLA iterations at the CIFAR-10 setting (:func:`ebipla.algorithms.ebipla.step`: gather,
    drift, scatter, all-particle noise, prior chains, Adam) with ``train.particle_storage=pinned_cpu`` against the
    device bank, same seed and batches: after each iteration, whether the particles and parameters are bitwise
    equal, and their largest difference relative to the largest magnitude. On CUDA the pinned bank draws its noise
    on the device in 3 chunks, as the device bank does."""
    runs: dict[str, list[list[torch.Tensor]]] = {}
    for storage in ("device", "pinned_cpu"):
        s = _setting("cifar10", "ebipla", 10, 128, 60, device, [*overrides, f"train.particle_storage={storage}"])
        runs[storage] = []
        for _ in range(steps):
            s.step()  # under training's numerics, deterministic by default
            # the bank (copied to the device) and every parameter, after this iteration
            runs[storage].append([s.state.particles.to(device, copy=True),
                                  *(p.detach().clone() for p in s.state.model.parameters())])
    bitwise, rel = True, 0.0
    for a, b in zip(runs["device"], runs["pinned_cpu"]):
        for x, y in zip(a, b):
            bitwise &= torch.equal(x, y)
            rel = max(rel, float((x - y).abs().max() / x.abs().max().clamp_min(1e-12)))
    return {"steps": steps, "steps_bitwise": bitwise, "steps_max_rel_diff": rel, "steps_ok": bitwise or rel <= 1e-5}


def check_resume(device: torch.device, overrides: list[str]) -> dict:
    """With ``train.deterministic=true``: a short run (``RESUME``) through :func:`ebipla.trainer.train`, stopped after
    each of ``RESUME_STOPS`` and resumed, ends with the checkpoint of the uninterrupted run, bitwise."""
    cfg = load_config([CONFIGS / "cifar10_ebipla.yaml"], [*RESUME, *overrides, "train.deterministic=true"])
    with tempfile.TemporaryDirectory(prefix="ebipla-gpu-check-") as tmp:
        whole, pieces = Path(tmp, "whole"), Path(tmp, "pieces")
        train(cfg, whole, device=device, progress=False)
        for stop in RESUME_STOPS:
            train(cfg, pieces, device=device, until_iteration=stop, progress=False)
        train(cfg, pieces, device=device, progress=False)
        a, b = (load_checkpoint(d / CHECKPOINT, map_location="cpu") for d in (whole, pieces))
    differs = first_difference(a, b)
    return {"iterations": a["iteration"], "stops": list(RESUME_STOPS), "bitwise_equal": differs is None,
            "first_difference": differs}


def first_difference(a, b, path: str = "checkpoint") -> str | None:
    """The first path at which two nested checkpoint payloads differ (tensors bitwise, with dtype), or None."""
    if isinstance(a, torch.Tensor):
        same = isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
        return None if same else path
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return path
        return next((d for k in a if (d := first_difference(a[k], b[k], f"{path}.{k}")) is not None), None)
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return path
        return next((d for i, (x, y) in enumerate(zip(a, b))
                     if (d := first_difference(x, y, f"{path}[{i}]")) is not None), None)
    return None if a == b else path


def time_method(method: str, n: int, device: torch.device, steps: int, overrides: list[str],
                variant: str = "default") -> dict:
    """Seconds per training step (CUDA events; the sync check on CUDA) after 3 warm-up steps, each step under
    training's numerics (``_Setting.step``: :func:`ebipla.run.training_numerics`)."""
    s = _setting("cifar10", method, n, 128, 60, device, variant_overrides(overrides, variant), variant)
    cuda, host_sync = device.type == "cuda", None
    for _ in range(3):  # warm-up: allocations, cuBLAS handles, autotuning
        s.step()
    try:
        times = _timed_steps(s, steps, device, sync_check=cuda)
    except RuntimeError as exc:  # a synchronising call inside the iteration: record it, time without the check
        if "synchronizing" not in str(exc):
            raise
        host_sync = " ".join(str(exc).split())[:300]
        times = _timed_steps(s, steps, device, sync_check=False)
    model = s.state.model
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    return {"method": method, "N": n, "variant": variant, "J": s.cfg.algorithm.n_prior_steps,
            "B": s.cfg.train.batch_size, "mean_s": statistics.fmean(times),
            "std_s": statistics.stdev(times) if len(times) > 1 else 0.0, "finite": finite,
            "deterministic": s.cfg.train.deterministic, "host_sync": host_sync,
            "note": bf16_note(device) if s.cfg.train.precision == "bfloat16" else ""}


def _timed_steps(s, steps: int, device: torch.device, sync_check: bool) -> list[float]:
    """Seconds of each of ``steps`` steps: CUDA events on CUDA (under the sync check if asked), else wall time."""
    cuda = device.type == "cuda"
    times = []
    if cuda:
        torch.cuda.synchronize(device)
    if sync_check:
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
        if sync_check:
            torch.cuda.set_sync_debug_mode(0)
    if cuda:
        torch.cuda.synchronize(device)
        times = [a.elapsed_time(b) / 1000.0 for a, b in times]
    return times


def deterministic_cost(device: torch.device, steps: int, overrides: list[str]) -> dict:
    """EBIPLA (N = 10) at the CIFAR-10 setting with ``train.deterministic`` true and false: seconds per iteration
    and their ratio, the price of deterministic kernels on this device."""
    on, off = (time_method("ebipla", 10, device, steps, overrides, v) for v in DETERMINISM)
    return {"deterministic_s": on["mean_s"], "nondeterministic_s": off["mean_s"],
            "deterministic_over_not": on["mean_s"] / off["mean_s"], "rows": [on, off]}


def run_gpu_check(out: str | Path, device_name: str = "auto", steps: int = 20, overrides: list[str] = (),
                  variants: tuple[str, ...] = VARIANTS, bank_shape: tuple[int, int, int] = (50_000, 10, 100)) -> dict:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)  # before cuBLAS first runs (it reads it once)
    device = resolve_device(device_name)
    overrides = list(overrides)
    paper_s = {m: paper_table4("cifar10", m)[0] for m, _ in SETTINGS}  # one RTX 3090
    result = {"device": describe_device(device),
              "torch": torch.__version__, "gradients_vs_cpu": check_gradients(device, overrides),
              "bank": {**check_bank(device, bank_shape), **check_bank_steps(device, overrides)},
              "resume": check_resume(device, overrides),
              "deterministic_cost": deterministic_cost(device, steps, overrides),
              "timings": [time_method(m, n, device, steps, overrides, v) for v in variants for m, n in SETTINGS],
              "paper_table4_cifar10_s": paper_s, "sync_checked": device.type == "cuda"}
    default = {(r["method"], r["N"]): r["mean_s"] for r in result["timings"] if r["variant"] == "default"}
    for row in result["timings"]:
        row["paper_over_ours"] = paper_s[row["method"]] / row["mean_s"]
        if (row["method"], row["N"]) in default:
            row["default_over_this"] = default[row["method"], row["N"]] / row["mean_s"]
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result
