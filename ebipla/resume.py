"""What a checkpoint holds besides the algorithm's state, and whether a checkpoint may be resumed under a config.

:func:`state_payload` and :func:`restore` write and read everything a bitwise resume needs (parameters, optimisers,
schedulers, the particle bank, the noise generator's state, the iteration, the data transform); :func:`config_changes`
lists the config keys that differ from the checkpoint's, so that :class:`ebipla.trainer.Trainer` refuses (or, on
request, sets aside) a checkpoint written under another config.
"""

from __future__ import annotations

import torch

from .algorithms import TrainState
from .config import RunConfig, config_from_dict, to_dict
from .data import data_transform
from .data.files import training_md5
from .errors import ConfigError

IGNORED_ON_RESUME = ("device", "train.divergence", "eval")  # config keys (and sections) that may change on resume:
# none of them changes what training computes


def state_payload(cfg: RunConfig, state: TrainState, gen: torch.Generator, schedulers: list,
                  obs_shape: tuple[int, ...]) -> dict:
    """The checkpoint's contents: the config, the training state with the optimisers, schedulers and noise
    generator that continue it, and what evaluation needs to map samples back to the data's units."""
    return {
        "config": to_dict(cfg),
        "obs_shape": list(obs_shape),
        "iteration": state.iteration,
        "model": state.model.state_dict(),
        "optimizers": [opt.state_dict() if opt else None for opt in (state.opt_energy, state.opt_generator)],
        "schedulers": [s.state_dict() for s in schedulers],
        "particles": state.particles,
        "generator": gen.get_state(),
        # data units <-> model units ({"mean", "std"} of a standardised array, from its manifest; None = identity),
        # so that ebipla.run.load_run returns samples in the data's units
        "data_transform": data_transform(cfg.data, prepare=False).state(),
        "data_md5": training_md5(cfg.data),  # your own files' prepared training split (None for the others)
    }


def restore(payload: dict, state: TrainState, gen: torch.Generator, schedulers: list) -> None:
    """Load a :func:`state_payload` into a freshly built state, generator and schedulers (in place)."""
    state.model.load_state_dict(payload["model"])
    for opt, saved in zip((state.opt_energy, state.opt_generator), payload["optimizers"]):
        if opt is not None:
            opt.load_state_dict(saved)
    for sched, saved in zip(schedulers, payload["schedulers"]):
        sched.load_state_dict(saved)
    if payload["particles"] is not None:
        saved = payload["particles"].to(state.particles.device)
        state.particles = saved.pin_memory() if state.particles.is_pinned() else saved
    gen.set_state(payload["generator"])
    state.iteration = payload["iteration"]


def config_changes(cfg: RunConfig, payload: dict) -> list[str]:
    """'key: old -> new' for each config key that differs from the checkpoint's (IGNORED_ON_RESUME aside).

    Keys that the schema gained after the checkpoint was written count at their defaults.
    """
    new, old = to_dict(cfg), _saved_config(payload["config"])
    diffs = [key for key in _flat_keys(new) | _flat_keys(old)
             if not _ignored_on_resume(key) and _get(new, key) != _get(old, key)]
    return [f"{k}: {_get(old, k)!r} -> {_get(new, k)!r}" for k in sorted(diffs)]


def _saved_config(saved: dict) -> dict:
    """A checkpoint's config with every current key (defaults for the missing ones); as stored if it fails."""
    try:
        return to_dict(config_from_dict(saved, "the checkpoint's config"))
    except ConfigError:
        return saved


def _ignored_on_resume(key: str) -> bool:
    return any(key == p or key.startswith(f"{p}.") for p in IGNORED_ON_RESUME)


def _flat_keys(d: dict, prefix: str = "") -> set[str]:
    keys = set()
    for k, v in d.items():
        keys |= _flat_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
    return keys


def _get(d: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d
