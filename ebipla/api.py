"""ebipla from Python: configs, training, and what a trained run can do (docs/python-api.md).

    import ebipla
    cfg = ebipla.load_config("config/synthetic/paper/swissroll_ebipla_n16.yaml", ["train.n_epochs=5"])
    run = ebipla.train(cfg, "results/my_run")          # resumable: the CLI's trainer, the same files
    y = run.sample(1000, seed=0)                         # (1000, *obs_shape), in the data's units
    x = run.encode(y[:10])                               # MAP latents (10, d_x)
    run.metrics                                          # metrics.json, once `ebipla evaluate` has run

The command line calls these same functions (``ebipla train`` is :func:`load_config` then :func:`train`), and
:class:`Run` reuses the evaluation's samplers, so a notebook and the workflow give the same numbers for the same
seeds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from . import run as rundir
from .config import RunConfig, config_from_layers
from .config.loader import file_layers, parse_override
from .errors import ConfigError

if TYPE_CHECKING:
    from .models import LatentEBM

ConfigSource = str | Path | Mapping[str, Any] | Sequence[str | Path | Mapping[str, Any]]


def load_config(source: ConfigSource = (), overrides: Iterable[str] = ()) -> RunConfig:
    """A run config from files (a path or a list of paths, each with its ``base`` files) and/or plain dicts
    (layered in order, later keys win), then ``key.path=value`` overrides: the same strict checks as
    ``ebipla train --config ... --set ...``, with errors naming the key and the file (``"dict 0"`` for a dict)."""
    sources = [source] if isinstance(source, (str, Path, Mapping)) else list(source)
    layers: list[tuple[Mapping[str, Any], str]] = []
    for i, item in enumerate(sources):
        if isinstance(item, Mapping):
            layers.append((item, f"dict {i}"))
        elif isinstance(item, (str, Path)):
            layers += file_layers(item)
        else:
            raise ConfigError(f"config source {i} is a {type(item).__name__}; give a file path or a dict.")
    for text in overrides:
        keys, value = parse_override(text)
        for key in reversed(keys):
            value = {key: value}
        layers.append((value, "command line"))
    return config_from_layers(layers)


def train(cfg: RunConfig | ConfigSource, out_dir: str | Path, *, device: str | torch.device | None = None,
          until_iteration: int | None = None, progress: bool | None = None,
          restart_on_change: bool = False) -> Run:
    """Train ``cfg`` into ``out_dir`` (resuming from its checkpoint when there is one) and return the trained run.

    What ``ebipla train`` does: the same checkpoints, logs, divergence guard and stop signals (see
    :func:`ebipla.trainer.train` for ``until_iteration`` and ``restart_on_change``). ``device``: ``cfg.device`` when
    None."""
    from .trainer import train as train_run

    if not isinstance(cfg, RunConfig):
        cfg = load_config(cfg)
    dev = device if isinstance(device, torch.device) else rundir.resolve_device(device or cfg.device)
    train_run(cfg, out_dir, device=dev, until_iteration=until_iteration, progress=progress,
              restart_on_change=restart_on_change)
    return Run(out_dir, dev)


def load_run(run_dir: str | Path, device: str | torch.device | None = None) -> Run:
    """A trained (or partly trained) run directory. Its checkpoint is read when the run is first used (and then
    kept): a missing or damaged checkpoint raises there, with the file named."""
    return Run(run_dir, device)


class Run:
    """A run directory's model and what it can do. Observations go in and come out in the data's units (an array
    data set's standardisation is undone); images are floats in [-1, 1], (n, C, H, W).

    ``cfg`` is the run's :class:`RunConfig` with the step sizes training ended with (after any divergence
    recovery), ``model`` the :class:`ebipla.models.LatentEBM`, ``iteration`` the checkpoint's iteration.
    """

    def __init__(self, run_dir: str | Path, device: str | torch.device | None = None):
        self.run_dir = Path(run_dir)
        self._device = rundir.resolve_device(device) if isinstance(device, str) else device
        self._trained: rundir.TrainedRun | None = None

    @property
    def trained(self) -> rundir.TrainedRun:
        if self._trained is None:
            self._trained = rundir.load_run(self.run_dir, self._device)
        return self._trained

    @property
    def cfg(self) -> RunConfig:
        return self.trained.cfg

    @property
    def model(self) -> LatentEBM:
        return self.trained.model

    @property
    def iteration(self) -> int:
        return self.trained.payload["iteration"]

    def __repr__(self) -> str:
        return (f"Run({str(self.run_dir)!r}: {self.cfg.algorithm.name} on {self.cfg.data.name}, iteration "
                f"{self.iteration}, latents {self.model.d_x}-d, observations {self.model.obs_shape})")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def metrics(self) -> dict | None:
        """The run's metrics.json (written by ``ebipla evaluate``), or None before evaluation."""
        path = self.run_dir / rundir.EVAL_METRICS
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def _to_data(self, y: torch.Tensor) -> torch.Tensor:
        return self.trained.transform.to_data(y)  # the identity unless the run standardised its vectors

    def _to_model(self, y: torch.Tensor) -> torch.Tensor:
        return self.trained.transform.to_model(y)

    def sample_latents(self, n: int, seed: int | None = None) -> torch.Tensor:
        """n prior samples (n, d_x): the evaluation's short-run sampler (J ULA steps of gamma from N(0, I), the
        ``eval`` section's J and gamma when set). Sample k depends only on (seed, k); seed defaults to
        ``eval.sample_seed``."""
        from .run import sampler_settings
        from .sampling import sample_latents

        n_steps, gamma = sampler_settings(self.cfg)
        seed = self.cfg.eval.sample_seed if seed is None else seed
        return sample_latents(self.model, n, n_steps, gamma, seed, self.cfg.eval.sample_batch_size)

    def sample(self, n: int, seed: int | None = None, decoder_noise: bool | None = None) -> torch.Tensor:
        """n samples of the model's p(y) (n, *obs_shape): :meth:`sample_latents`, decoded, plus sigma-scaled noise
        when ``decoder_noise`` (default: ``eval.decoder_noise``). The same samples ``ebipla evaluate`` scores."""
        from .sampling import decode_samples

        seed = self.cfg.eval.sample_seed if seed is None else seed
        noise = self.cfg.eval.decoder_noise if decoder_noise is None else decoder_noise
        x = self.sample_latents(n, seed)
        return self._to_data(decode_samples(self.model, x, seed, noise, self.cfg.eval.sample_batch_size))

    @torch.no_grad()
    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """g_beta(x): latents (..., d_x) -> observations (..., *obs_shape), no decoder noise."""
        return self._to_data(self.model.decode(x.to(self.device)))

    @torch.no_grad()
    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """U_alpha(x): latents (..., d_x) -> energies (...); the prior density is exp(-U) / Z."""
        return self.model.energy(x.to(self.device))

    def encode(self, y: torch.Tensor) -> torch.Tensor:
        """MAP latents argmin_x |y - g(x)|^2 / (2 sigma^2) + U(x) of observations y (B, *obs_shape) -> (B, d_x), by
        the reconstruction-MSE protocol (``eval.mse``: restarts of Adam with a plateau schedule, seeded per row)."""
        from .metrics.mse import map_latents

        y = self._to_model(torch.as_tensor(y, dtype=torch.float32).to(self.device))
        if tuple(y.shape[1:]) != self.model.obs_shape:
            raise ConfigError(f"encode needs observations of shape (B, {', '.join(map(str, self.model.obs_shape))}); "
                              f"got {tuple(y.shape)}.")
        rows = []
        for start in range(0, len(y), self.cfg.eval.mse.batch_size):
            rows.append(map_latents(self.model, y[start:start + self.cfg.eval.mse.batch_size], self.cfg.eval.mse,
                                    start))
        return torch.cat(rows)

    def particles(self) -> torch.Tensor:
        """EBIPLA's persistent posterior particles of the training points, (M, N, d_x), as last checkpointed (the
        n-th training point is row n of the training data after data.n_points)."""
        particles = self.trained.payload.get("particles")
        if particles is None:
            raise ConfigError(f"{self.run_dir}: a {self.cfg.algorithm.name} run keeps no particles (EBIPLA runs do); "
                              "use encode(y) for latents of any observation.")
        return particles
