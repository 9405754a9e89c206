"""A run directory and everything that builds a run from a config: device, data, model.

Layout of ``results/<run>/``::

    config.yaml          resolved config (every field)
    checkpoint.pt        full training state: parameters, optimisers, particle bank, RNG state, iteration
    checkpoint.previous.pt  the last checkpoint of an earlier config, when a changed config restarted the run
    train.log            log lines
    train_metrics.jsonl  one JSON line per logged iteration (the training curve)
    train_curve.png      that curve drawn, written when training finishes
    train_summary.json   written once training has finished (the workflow's marker of a finished run)
    train_time.json      wall seconds spent training up to the checkpoint (kept out of the bitwise checkpoint)
    samples.npz          model samples (ebipla sample)
    metrics.json         evaluation metrics (ebipla evaluate)
    landscape.npz        normalised exp(-U) on a latent grid (ebipla landscape)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .config import AlgorithmConfig, RunConfig, TrainConfig, config_from_layers
from .config.loader import parse_override
from .data import DataTransform, TrainingSet, training_set
from .errors import ConfigError
from .models import LatentEBM, build_model

CONFIG = "config.yaml"
CHECKPOINT = "checkpoint.pt"
PREVIOUS_CHECKPOINT = "checkpoint.previous.pt"  # kept when a changed config restarts the run
TRAIN_LOG = "train.log"
TRAIN_METRICS = "train_metrics.jsonl"
TRAIN_SUMMARY = "train_summary.json"
TRAIN_CURVE = "train_curve.png"  # the training curve, drawn once training has finished
TRAIN_TIME = "train_time.json"
SAMPLES = "samples.npz"
EVAL_METRICS = "metrics.json"
LANDSCAPE = "landscape.npz"
INTERPOLATIONS = "interpolations.npz"  # image runs: Figure 4's latent interpolations
FID_BASELINES = "fid_baselines.json"  # image runs: FID reference points


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU; otherwise the named device, which must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r} is not a torch device name (use auto, cpu, cuda or cuda:N).") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was asked for but CUDA is not available here. Use --device cpu.")
    return device


def describe_device(device: torch.device) -> str:
    """A device's name for reports: the GPU model, or the CPU's processor name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({_cpu_model()}, {torch.get_num_threads()} threads)"


def _cpu_model() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


CUBLAS_WORKSPACE = ":4096:8"  # CUBLAS_WORKSPACE_CONFIG for deterministic cuBLAS (CUDA >= 10.2)


@contextlib.contextmanager
def training_numerics(train: TrainConfig) -> Iterator[None]:
    """torch's global numerics for a training run (``train.deterministic``, ``train.precision``), restored on exit.

    float32: TF32 off for cuBLAS products and cuDNN convolutions (torch lets cuDNN use TF32 by default), so that
    float32 means float32. deterministic: ``torch.use_deterministic_algorithms(True, warn_only=True)`` (an operation
    without a deterministic kernel warns instead of failing), cuDNN deterministic and without autotuning, and
    CUBLAS_WORKSPACE_CONFIG set unless it is. cuBLAS reads that variable once, when it first runs in a process, so
    it is left set: the first CUDA work of the process must come after it (``ebipla train`` and ``gpu-check`` do).
    """
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32)
    try:
        if train.precision == "float32":
            cudnn.allow_tf32 = matmul.allow_tf32 = False
        if train.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
            torch.use_deterministic_algorithms(True, warn_only=True)
            cudnn.deterministic, cudnn.benchmark = True, False
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = saved[2:]


def training_data(cfg: RunConfig, device: torch.device) -> TrainingSet:
    """The M training observations, where ``train.data_storage`` says (device, or pinned CPU memory); a DataError
    when there are fewer than one minibatch (train.batch_size; Algorithm 1 takes them all at once)."""
    batch_size = None if cfg.algorithm.name == "ebipla_full" else cfg.train.batch_size
    return training_set(cfg.data, device, cfg.train.data_storage, batch_size)


def new_model(cfg: RunConfig, obs_shape: tuple[int, ...], device: torch.device) -> LatentEBM:
    """Initialise the networks from ``cfg.seed`` alone (on the CPU, so every device starts from the same theta)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.model, obs_shape, cfg.algorithm)
    return model.to(device)


@dataclass
class TrainedRun:
    cfg: RunConfig
    model: LatentEBM
    payload: dict  # the checkpoint's contents (particles, iteration, ...)
    # data units <-> model units (a standardised array's mean and std, recorded at training; else the identity):
    # samples y go back to the data's units with transform.to_data(y)
    transform: DataTransform = dataclasses.field(default_factory=DataTransform)


STEP_FIELDS = ("h", "warmup_h", "gamma")  # the Langevin step sizes that a divergence recovery shrinks


def scaled_steps(algo: AlgorithmConfig, scale: float) -> AlgorithmConfig:
    """``algo`` with its Langevin step sizes (the STEP_FIELDS it has) multiplied by ``scale``."""
    if scale == 1.0:
        return algo
    return dataclasses.replace(algo, **{f: getattr(algo, f) * scale for f in STEP_FIELDS if hasattr(algo, f)})


def load_run(run_dir: str | Path, device: torch.device | None = None, eval_overrides: list[str] = ()) -> TrainedRun:
    """The config and trained model of a run directory, from its checkpoint. ``eval_overrides`` (key=value, keys
    under ``eval.``) change how the run is evaluated, never what was trained."""
    path = Path(run_dir) / CHECKPOINT
    payload = load_checkpoint(path, map_location="cpu")
    layers = [(payload["config"], f"the config stored in {path}")]
    for text in eval_overrides:
        keys, value = parse_override(text)
        if keys[0] != "eval":
            raise ConfigError(f"override {text!r}: only eval.* keys can change for a trained run ({path}).")
        nested = value
        for key in reversed(keys):
            nested = {key: nested}
        layers.append((nested, "command line"))
    cfg = config_from_layers(layers)
    # Steps shrunk by divergence recoveries stay in force: the sampler is the one training ended with.
    cfg = dataclasses.replace(cfg, algorithm=scaled_steps(cfg.algorithm, payload.get("step_scale", 1.0)))
    device = device or resolve_device(cfg.device)
    model = new_model(cfg, tuple(payload["obs_shape"]), device)
    model.load_state_dict(payload["model"])
    model.eval()
    return TrainedRun(cfg, model, payload, DataTransform.from_state(payload.get("data_transform")))


# What a run's metrics.json records about the run (shared by the synthetic and the image evaluation).


def sampler_settings(cfg: RunConfig) -> tuple[int, float]:
    """(J, gamma) for sampling: the eval section's values, else the algorithm's training values; (0, 0.0) for the
    baselines, whose fixed priors are sampled exactly."""
    n_steps = cfg.eval.n_prior_steps or getattr(cfg.algorithm, "n_prior_steps", 0)
    gamma = cfg.eval.gamma or getattr(cfg.algorithm, "gamma", 0.0)
    return n_steps, gamma


def particles_or_steps(cfg: RunConfig) -> int:
    """N of the paper's grid: particles per data point (EBIPLA, PGD) or posterior ULA steps (LEBM, ABP); 1 for the
    autoencoders."""
    algo = cfg.algorithm
    return getattr(algo, "n_particles", None) or getattr(algo, "n_posterior_steps", None) or 1


def run_fields(cfg: RunConfig, payload: dict, run_dir: str | Path | None = None) -> dict:
    """What every metrics.json records about the run it evaluates (``payload``: its checkpoint): the sampler, the
    iteration, data set, method, N and seed (the fields the tables group by), the divergence recoveries that
    training went through with the step scale they left (train.divergence; the tables count recovered runs), the
    training batch size and epochs (the report's scale check) and the wall seconds of training (``run_dir``'s
    train_summary.json, else train_time.json; None when neither has them)."""
    n_steps, gamma = sampler_settings(cfg)
    return {"sampler_steps": n_steps, "sampler_gamma": gamma, "iteration": payload["iteration"],
            "dataset": cfg.data.name, "algorithm": cfg.algorithm.name, "n": particles_or_steps(cfg), "seed": cfg.seed,
            "divergence_recoveries": payload.get("recoveries", 0), "step_scale": payload.get("step_scale", 1.0),
            "batch_size": cfg.train.batch_size, "n_epochs": cfg.train.n_epochs,
            "train_seconds": train_seconds(run_dir) if run_dir is not None else None}


def train_seconds(run_dir: str | Path) -> float | None:
    """Wall seconds of training recorded in the run directory: train_summary.json (a finished run), else
    train_time.json (up to the last checkpoint); None when neither records them."""
    for name in (TRAIN_SUMMARY, TRAIN_TIME):
        try:
            return float(json.loads((Path(run_dir) / name).read_text(encoding="utf-8"))["train_seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None
