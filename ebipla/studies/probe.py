"""What the latents are good for: a linear probe on each method's latents (issue 16, item 3).

Question. The paper judges the learned model by its samples (FID) and reconstructions (MSE). Do the latents the
methods infer also carry the class of an image, readable by a linear classifier, and with few labels?

Runs. Trained image runs of the one-protocol comparison (``images.experiments`` ``baselines``, variant
``protocol``: every method trains the same generator; docs/baselines.md). Notation: x is the latent, y the image
(in [-1, 1]), theta = (alpha, beta) the run's final parameters, held fixed throughout.

Features per run, for the probe's training images (a subset of the training split) and held-out images (of the
validation split), each a vector per image:

* ``map`` (every method): the MAP latent of the MSE protocol, argmin_x |y - g_beta(x)|^2 / (2 sigma^2) + U(x) under
  the method's own prior U (:mod:`ebipla.metrics.mse`: restarts x Adam iterations, here at the study's size),
  for training and held-out images alike. The one row that every method has.
* ``particle_mean`` (EBIPLA, PGD): training images: the mean of the N final particles of the bank, (M, N, d_x)
  -> (M, d_x). Held-out images: their particles replayed through the training schedule with theta fixed: the
  Langevin steps a training point's particles took, from N(0, I) (EBIPLA: per warm-up epoch ``warmup_inner_steps``
  ULA steps of h_warm with N' particles, replicated to N; then per epoch one ULA step of h, the drift step plus the
  epoch's all-particle noise of variance 2h, eq. 13), then the mean of the N particles. ``replay_schedule``.
* ``posterior_sample`` (LEBM, ABP): one draw of the method's own posterior chain. LEBM: a fresh chain of K1 ULA
  steps of h from N(0, I) (its training inference), for training and held-out images alike. ABP: training images
  its persistent latent (the bank, N = 1); held-out images its chain replayed (per epoch K steps of h, from
  N(0, I)).
* ``encoder_mean`` (VAE, RAE): the encoder's mean mu(y) (the RAE's code).
* references: ``pixels``, the image itself (C x H x W values in [-1, 1]); and the ``map`` latents of the
  ``random`` generator: the untrained model of the data set's first run (its initial parameters, from its seed, as
  training starts), the same MAP protocol.

Chains draw their noise per image from a generator seeded by (seed, stream, image number), so an image's features
do not depend on the batch it is computed in (the MAP starts are seeded per image number likewise); images are
numbered training images first, then held-out images.

Probe. scikit-learn's LogisticRegression (L2, lbfgs, multinomial) on standardised features (StandardScaler fitted
on the probe's training features). C is chosen from C_GRID by accuracy on a stratified validation split of
VAL_FRACTION of the labelled training features (ties: the smaller C), then the probe is refitted on all of them and
scored by accuracy on the held-out images. Few labels: ``labels_per_class`` L images per class drawn from the
probe's training images (``subsets`` seeded draws per L, the same draws for every feature set), each probed the
same way (the validation split is then 20 % of the L per class); the table gives the mean over the draws.

Output: the long-form CSV (one row per probe fit: data set, method, N, features, labels, subset, accuracy, C,
n_train, n_test, ...) and the .md / .tex table of mean +- s.e. accuracies (``write_probe_table``); a second
invocation with ``--tables`` merges such CSVs (the workflow computes one per data set).
"""

from __future__ import annotations

import argparse
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch

    from ..config import RunConfig
    from ..models import LatentEBM

HELP = "a linear probe on each method's latents (logistic regression; few-label versions)"
log = logging.getLogger("ebipla")

C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # inverse L2 strengths tried on standardised features
VAL_FRACTION = 0.2  # of the labelled training features, stratified, to choose C
MAX_ITER = 2000  # lbfgs iterations per fit
STREAM_CHAIN, STREAM_SUBSET, STREAM_SPLIT = 61, 62, 63  # derive_seed tags (others: trainer 1-2, sampling 11-13, ...)
NOISE_CHUNK = 64  # chain steps of noise drawn at once per image

METHOD_ORDER = ("ebipla", "lebm", "vae", "abp", "pgd", "rae", "random", "pixels")
METHOD_LABELS = {"ebipla": "EBIPLA", "lebm": "LEBM", "vae": "VAE", "abp": "ABP", "pgd": "PGD", "rae": "RAE",
                 "random": "random generator (reference)", "pixels": "raw pixels (reference)"}
FEATURE_ORDER = ("particle_mean", "posterior_sample", "encoder_mean", "map", "pixels")
FEATURES = {  # features -> what they are (the table's notes)
    "particle_mean": "EBIPLA, PGD: training images the mean of the N final particles of the bank; held-out images "
                     "their particles replayed through the training schedule with theta fixed (the warm-up's inner "
                     "steps of h_warm, then one ULA step of h per epoch, from N(0, I)), averaged over N",
    "posterior_sample": "LEBM: one fresh posterior chain per image (K1 ULA steps of h from N(0, I)); ABP: training "
                        "images the persistent latent, held-out images the chain replayed (K steps of h per epoch "
                        "from N(0, I))",
    "encoder_mean": "VAE, RAE: the encoder's mean mu(y)",
    "map": "MAP latent of the MSE protocol under the method's own prior (restarts x Adam iterations); for the "
           "random generator under the untrained model of the data set's first run",
    "pixels": "the image's C x H x W values in [-1, 1]",
}
LABEL_COLUMNS = {"all": "all labels"}  # labels -> the wide table's column; L per class -> "L / class"
FIELDS = ("dataset", "method", "N", "features", "labels", "subset", "accuracy", "C", "n_train", "n_test",
          "feature_dim", "run_seed", "run", "probe_seed", "feature_seconds")


@dataclass(frozen=True)
class ProbeSettings:
    """The study's size and seed (``ebipla study probe`` options)."""

    labels_per_class: tuple[int, ...] = (10, 100)  # few-label versions: L labelled images per class
    subsets: int = 5  # seeded draws of the L per class, per L
    n_train: int | None = None  # training images probed (a seeded subset of the split); None = all
    n_test: int | None = None  # held-out images (a seeded subset of the validation split); None = all
    map_restarts: int = 4  # MAP protocol (ebipla/metrics/mse.py): random starts per image
    map_iterations: int = 50  # ... Adam iterations per start
    batch_size: int = 500  # images per batch of inference
    seed: int = 0  # subsets, validation splits, chains' noise and MAP starts


@dataclass
class LabelledImages:
    """One data set's probe images, training first: uint8 (n_train + n_test, C, H, W) and their labels."""

    name: str
    images: torch.Tensor
    labels: np.ndarray  # (n_train + n_test,) int64
    train_idx: np.ndarray  # indices into the training split, (n_train,)
    n_train: int

    @property
    def n_test(self) -> int:
        return len(self.labels) - self.n_train


@dataclass
class FeatureSet:
    """One feature set of one run (or reference): training (n_train, d) and held-out (n_test, d) features."""

    method: str
    n: int
    features: str
    train: np.ndarray
    test: np.ndarray
    run: str
    run_seed: int | None
    seconds: float


# ------------------------------------------------------------------------------------------------ data


def subset_indices(n_total: int, n_keep: int | None, seed: int, split: int) -> np.ndarray:
    """A seeded subset of range(n_total) of size n_keep, sorted (all of them for None or n_keep >= n_total)."""
    if n_keep is None or n_keep >= n_total:
        return np.arange(n_total)
    rng = np.random.default_rng([seed, STREAM_SUBSET, split])
    return np.sort(rng.choice(n_total, n_keep, replace=False))


def labelled_images(cfg: RunConfig, settings: ProbeSettings) -> LabelledImages:
    """The probe's images of a run's data set: a seeded subset of each split, training images first."""
    import torch

    from ..data.images import load_split, split_labels
    from ..errors import DataError

    parts, labels, kept = [], [], []
    for split, n_keep in (("train", settings.n_train), ("val", settings.n_test)):
        images, y = load_split(cfg.data, split), split_labels(cfg.data, split)
        if len(images) != len(y):
            raise DataError(f"the {cfg.data.name} {split} split has {len(images)} images but {len(y)} labels: the "
                            "prepared data and its source differ; prepare the data set again (ebipla prepare).")
        idx = subset_indices(len(images), n_keep, settings.seed, len(parts))
        parts.append(images[torch.from_numpy(idx)])
        labels.append(y.numpy()[idx])
        kept.append(idx)
    if len(labels[1]) == 0:
        raise DataError(f"the {cfg.data.name} data set has no validation images to score the probe on.")
    return LabelledImages(cfg.data.name, torch.cat(parts), np.concatenate(labels), kept[0], len(kept[0]))


# ------------------------------------------------------------------------------------------------ inference


def batched(images: torch.Tensor, batch_size: int, device: torch.device,
            fn: Callable[[torch.Tensor, int], torch.Tensor]) -> np.ndarray:
    """fn(y, first) over batches of uint8 images (taken to [-1, 1] on ``device``; ``first`` numbers the batch's
    first image) -> the concatenated (n, d) float64 array."""
    from ..data.images import to_unit_range

    out = [fn(to_unit_range(images[s:s + batch_size].to(device)), s).detach().double().cpu()
           for s in range(0, len(images), batch_size)]
    return np.concatenate([o.numpy() for o in out])


def map_features(model: LatentEBM, data: LabelledImages, settings: ProbeSettings, device) -> np.ndarray:
    """MAP latents (n, d_x) of every probe image (ebipla/metrics/mse.py at the study's restarts and iterations)."""
    from ..config.schema import MseConfig
    from ..metrics.mse import map_latents

    cfg = MseConfig(restarts=settings.map_restarts, iterations=settings.map_iterations,
                    batch_size=settings.batch_size, seed=settings.seed)
    return batched(data.images, settings.batch_size, device, lambda y, first: map_latents(model, y, cfg, first))


def encoder_features(model: LatentEBM, data: LabelledImages, settings: ProbeSettings, device) -> np.ndarray:
    """The encoder's mean mu(y), (n, d_x)."""
    import torch

    with torch.no_grad():
        return batched(data.images, settings.batch_size, device, lambda y, first: model.encode_mean(y))


class ImageNoise:
    """Standard normals for a batch of images, image k's from its own generator seeded by (seed, STREAM_CHAIN, k):
    a chain's noise does not depend on the batch. Drawn NOISE_CHUNK steps at a time."""

    def __init__(self, seed: int, first: int, count: int, device):
        import torch

        from ..seeding import derive_seed

        self.gens = [torch.Generator().manual_seed(derive_seed(seed, STREAM_CHAIN, first + i)) for i in range(count)]
        self.device = device

    def draw(self, shape: tuple[int, ...], steps: int = 1):
        """(steps, count, *shape)."""
        import torch

        return torch.stack([torch.randn((steps, *shape), generator=g) for g in self.gens], 1).to(self.device)


Stage = tuple[int, float, int]  # (particles per image, ULA step, number of steps)


def replay_schedule(cfg: RunConfig, payload: dict) -> list[Stage]:
    """The ULA stages a training point's particles went through (module docstring), for ebipla, pgd and abp: an
    epoch visits every point once, so S_warm iterations are S_warm / ceil(M / B) visits (rounded)."""
    algo, m, iters = cfg.algorithm, payload["particles"].shape[0], int(payload["iteration"])
    epochs = iters / math.ceil(m / cfg.train.batch_size)  # visits per training point
    if algo.name == "ebipla":
        warm = min(algo.warmup_iters, iters) / math.ceil(m / cfg.train.batch_size)
        stages = [(algo.warmup_particles, algo.warmup_h, round(warm) * algo.warmup_inner_steps)] if warm else []
        return stages + [(algo.n_particles, algo.h, round(epochs - warm))]
    if algo.name == "pgd":
        return [(algo.n_particles, algo.h, round(epochs))]
    if algo.name == "abp":
        return [(1, algo.h, round(epochs) * algo.n_posterior_steps)]
    raise ValueError(f"no training schedule to replay for {algo.name!r}")


def chain_features(model: LatentEBM, images: torch.Tensor, first: int, stages: list[Stage],
                   settings: ProbeSettings, device) -> np.ndarray:
    """Particles from N(0, I) through ULA ``stages`` on phi_y = U + V(., y) with theta fixed (eq. 13), then their
    mean over particles: (n, d_x). ``first`` numbers the first image (the noise's seed)."""
    import torch

    from ..algorithms.langevin import ula_step
    from ..data.images import to_unit_range

    out = []
    for s in range(0, len(images), settings.batch_size):
        y = to_unit_range(images[s:s + settings.batch_size].to(device))  # (B, C, H, W)
        noise = ImageNoise(settings.seed, first + s, len(y), device)
        x = noise.draw((stages[0][0], model.d_x))[0]  # X_0 ~ N(0, I), (B, N', d_x)
        grad = model.grad_x_posterior_fn(y)
        for n, step, steps in stages:
            if x.shape[1] != n:  # N' -> N copies of each cloud, as at the end of the warm-up
                x = x.repeat_interleave(n // x.shape[1], dim=1)
            for done in range(0, steps, NOISE_CHUNK):
                for w in noise.draw(x.shape[1:], min(NOISE_CHUNK, steps - done)):  # (B, N, d_x) each
                    x = ula_step(x, grad(x), step, w)
        with torch.no_grad():
            out.append(x.mean(1).double().cpu().numpy())
    return np.concatenate(out)


def timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def run_features(run_dir: str, data: LabelledImages, settings: ProbeSettings, device) -> list[FeatureSet]:
    """The feature sets of one trained run (module docstring): MAP, and its own latents."""
    from ..run import load_run, particles_or_steps

    trained = load_run(run_dir, device)
    cfg, model, name = trained.cfg, trained.model, trained.cfg.algorithm.name
    n, nt = particles_or_steps(cfg), data.n_train

    def feature_set(kind: str, both: np.ndarray, seconds: float) -> FeatureSet:
        return FeatureSet(name, n, kind, both[:nt], both[nt:], str(run_dir), cfg.seed, seconds)

    sets = [feature_set("map", *timed(lambda: map_features(model, data, settings, device)))]
    if name in ("ebipla", "pgd", "abp"):
        bank = trained.payload["particles"].float()  # (M, N, d_x)
        train = bank[data.train_idx].mean(1).double().numpy()
        stages = replay_schedule(cfg, trained.payload)
        test, seconds = timed(lambda: chain_features(model, data.images[nt:], nt, stages, settings, device))
        kind = "posterior_sample" if name == "abp" else "particle_mean"
        sets.append(feature_set(kind, np.concatenate([train, test]), seconds))
    elif name == "lebm":
        stages = [(1, cfg.algorithm.h, cfg.algorithm.n_posterior_steps)]
        sets.append(feature_set("posterior_sample",
                                *timed(lambda: chain_features(model, data.images, 0, stages, settings, device))))
    elif name in ("vae", "rae"):
        sets.append(feature_set("encoder_mean", *timed(lambda: encoder_features(model, data, settings, device))))
    return sets


def reference_features(first_run: str, data: LabelledImages, settings: ProbeSettings, device) -> list[FeatureSet]:
    """Raw pixels, and the MAP latents under the untrained model of ``first_run`` (its initial parameters, from its
    seed, as training starts)."""
    from ..data.images import to_unit_range
    from ..run import new_model

    pixels, seconds = timed(lambda: to_unit_range(data.images).flatten(1).double().numpy())
    cfg = run_config(first_run)
    untrained = new_model(cfg, tuple(data.images.shape[1:]), device).eval()
    random_map, map_seconds = timed(lambda: map_features(untrained, data, settings, device))
    nt = data.n_train
    return [FeatureSet("pixels", 0, "pixels", pixels[:nt], pixels[nt:], "", None, seconds),
            FeatureSet("random", 0, "map", random_map[:nt], random_map[nt:], str(first_run), cfg.seed, map_seconds)]


def run_config(run_dir: str) -> RunConfig:
    """A run's resolved config (its config.yaml), without loading the checkpoint."""
    from ..config import load_config
    from ..errors import ConfigError
    from ..run import CONFIG

    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a trained run: it has no {CONFIG} (train it with ebipla train).")
    return load_config([str(path)])


# ------------------------------------------------------------------------------------------------ probe


def fit_probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
              seed: int) -> tuple[float, float]:
    """(held-out accuracy, chosen C) of a logistic-regression probe on standardised features, C chosen on a
    stratified validation split of VAL_FRACTION of the training features, then refitted on all of them."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    def probe(c: float):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=MAX_ITER))

    fit_x, val_x, fit_y, val_y = train_test_split(x_train, y_train, test_size=VAL_FRACTION, stratify=y_train,
                                                  random_state=seed)
    # One BLAS thread: these fits are small, and on a shared machine more threads spin and cost 5-10x the CPU time
    # (measured: pixel features of the digits, 7.6 s on one thread against 61 s on two, beside other jobs).
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("always", ConvergenceWarning)
        scores = [probe(c).fit(fit_x, fit_y).score(val_x, val_y) for c in C_GRID]
        best = C_GRID[int(np.argmax(scores))]  # the first maximum: the smallest C among the best
        accuracy = float(probe(best).fit(x_train, y_train).score(x_test, y_test))
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        log.warning("probe: lbfgs stopped at %d iterations in some fits (features of dimension %d)", MAX_ITER,
                    x_train.shape[1])
    return accuracy, best


def class_subset(labels: np.ndarray, per_class: int, seed: int, draw: int) -> np.ndarray | None:
    """Indices of ``per_class`` labelled images of each class (seeded draw ``draw``), sorted; None when a class has
    fewer."""
    rng = np.random.default_rng([seed, STREAM_SUBSET, per_class, draw])
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            return None
        picked.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(picked))


def split_seed(seed: int, *parts: int) -> int:
    """A seed for scikit-learn's random_state (below 2^32), from the probe seed and tags."""
    return int(np.random.SeedSequence([seed, STREAM_SPLIT, *parts]).generate_state(1)[0])


def probe_rows(dataset: str, sets: list[FeatureSet], data: LabelledImages, settings: ProbeSettings) -> list[dict]:
    """One row per probe fit: every feature set with all labels, then with L per class for each draw."""
    y_train, y_test = data.labels[:data.n_train], data.labels[data.n_train:]
    subsets = {(per_class, draw): class_subset(y_train, per_class, settings.seed, draw)
               for per_class in settings.labels_per_class for draw in range(settings.subsets)}
    for (per_class, _), idx in subsets.items():
        if idx is None:
            log.warning("probe: %s has a class with fewer than %d training images; no %d-label rows", dataset,
                        per_class, per_class)
    rows = []
    for fs in sets:
        fits = [("all", 0, np.arange(data.n_train))]
        fits += [(str(per_class), draw, idx) for (per_class, draw), idx in subsets.items() if idx is not None]
        for labels, draw, idx in fits:
            accuracy, c = fit_probe(fs.train[idx], y_train[idx], fs.test, y_test,
                                    split_seed(settings.seed, len(idx), draw))
            rows.append({"dataset": dataset, "method": fs.method, "N": fs.n, "features": fs.features,
                         "labels": labels, "subset": draw, "accuracy": accuracy, "C": c, "n_train": len(idx),
                         "n_test": len(y_test), "feature_dim": fs.train.shape[1], "run_seed": fs.run_seed,
                         "run": fs.run, "probe_seed": settings.seed, "feature_seconds": round(fs.seconds, 2)})
    return rows


def probe_study(runs: list[str], settings: ProbeSettings, device_name: str = "auto") -> pd.DataFrame:
    """The long-form table of every run's probes (runs grouped by data set; references once per data set, from its
    first run)."""
    from ..errors import ConfigError
    from ..run import resolve_device

    device = resolve_device(device_name)
    by_dataset: dict[str, list[str]] = {}
    for run in runs:
        name = run_config(run).data.name
        by_dataset.setdefault(name, []).append(run)
    rows = []
    for name, dataset_runs in by_dataset.items():
        cfg = run_config(dataset_runs[0])
        other = [r for r in dataset_runs if run_config(r).data != cfg.data]
        if other:
            raise ConfigError(f"runs {other} were trained on other {name} data than {dataset_runs[0]} (their data "
                              "sections differ): probe runs of one data set together only when they agree.")
        data = labelled_images(cfg, settings)
        log.info("probe: %s, %d training and %d held-out images, %d runs", name, data.n_train, data.n_test,
                 len(dataset_runs))
        sets = reference_features(dataset_runs[0], data, settings, device)
        for run in dataset_runs:
            sets += run_features(run, data, settings, device)
            log.info("probe: features of %s", run)
        rows += probe_rows(name, sets, data, settings)
    return pd.DataFrame(rows, columns=list(FIELDS))


# ------------------------------------------------------------------------------------------------ table


def _label_column(labels: str) -> str:
    return LABEL_COLUMNS.get(labels, f"{labels} / class")


def _cell(values: pd.Series) -> str:
    """Accuracy in percent: mean +- s.e. over the fits (seeds x draws), the mean alone for one fit."""
    mean = 100 * values.mean()
    if len(values) < 2:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {100 * values.std(ddof=1) / math.sqrt(len(values)):.1f}"


def wide_table(long: pd.DataFrame) -> pd.DataFrame:
    """One row per (data set, method, features), one column per label count (all, then L / class descending)."""
    long = long.assign(labels=long["labels"].astype(str))
    label_order = ["all"] + sorted({x for x in long["labels"] if x != "all"}, key=int, reverse=True)
    rows = []
    for (dataset, method, features), group in long.groupby(["dataset", "method", "features"], sort=False):
        row = {"data set": dataset, "method": METHOD_LABELS.get(method, method),
               "N": "–" if method in ("random", "pixels") else str(int(group["N"].iloc[0])),
               "features": features, "dim": str(int(group["feature_dim"].iloc[0])),
               "seeds": str(group["run_seed"].nunique()) if method != "pixels" else "–"}
        for labels in label_order:
            values = group.loc[group["labels"] == labels, "accuracy"]
            row[_label_column(labels)] = _cell(values) if len(values) else "–"
        rows.append((_order(dataset, method, features), row))
    return pd.DataFrame([row for _, row in sorted(rows, key=lambda r: r[0])])


def _order(dataset: str, method: str, features: str) -> tuple:
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    return dataset, rank.get(method, len(rank)), FEATURE_ORDER.index(features) if features in FEATURE_ORDER else 99


def table_notes(long: pd.DataFrame) -> list[str]:
    """The .md table's notes: what each feature set is, the probe, the sizes."""
    full = long[long["labels"].astype(str) == "all"]
    sizes = "; ".join(f"{d}: {int(g['n_train'].iloc[0])} training, {int(g['n_test'].iloc[0])} held-out images"
                      for d, g in full.groupby("dataset", sort=False))
    notes = [f"- `{k}`: {v}." for k, v in FEATURES.items() if k in set(long["features"])]
    notes += [f"- Probe: logistic regression on standardised features, C in {list(C_GRID)} chosen on a stratified "
              f"{VAL_FRACTION:.0%} validation split of the labelled training features, refitted on all of them; "
              "accuracy (%) on the held-out images, mean ± s.e. over fits (run seeds x label draws). "
              f"{sizes}."]
    return notes


def write_probe_table(long: pd.DataFrame, prefix: str | Path, caption: str) -> None:
    """``prefix``.csv (long form), .md (with notes), .tex and .html (ebipla/report/tables.py write_table)."""
    from ..checkpoint import atomic_write_text
    from ..report.tables import write_table

    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    write_table(long, wide_table(long), prefix, caption)
    md = prefix.with_suffix(".md")
    atomic_write_text(md, md.read_text() + "\n" + "\n".join(table_notes(long)) + "\n")


def read_tables(paths: list[str | Path]) -> pd.DataFrame:
    """The long-form CSVs written by this study, concatenated (labels kept as text: "all", "10", ...)."""
    from ..errors import ConfigError

    frames = []
    for path in paths:
        frame = pd.read_csv(path, dtype={"labels": str})
        missing = [f for f in FIELDS if f not in frame.columns]
        if missing:
            raise ConfigError(f"{path} is not a probe table (ebipla study probe): it lacks the columns {missing}.")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------------------ report.md


def report_section(paths: list[str]) -> list[str]:
    """report.md's section: per data set and label count, each method's best feature set against the references,
    and the table."""
    long = read_tables(paths)
    lines = ["", "## What the latents are good for: a linear probe", "",
             "A logistic-regression probe on each method's latents (one-protocol runs) predicts the class of "
             "held-out images; raw pixels and a random generator's MAP latents are the references "
             "(`ebipla study probe`, docs/probe.md). Accuracy in %, best feature set per method:", ""]
    for (dataset, labels), group in long.groupby(["dataset", "labels"], sort=False):
        means = group.groupby(["method", "features"])["accuracy"].mean()
        best = means.groupby(level=0).idxmax()
        parts = [f"{METHOD_LABELS[m].split(' (')[0]} {100 * means[best[m]]:.1f} ({best[m][1]})"
                 for m in METHOD_ORDER if m in best.index]
        lines.append(f"- {dataset}, {_label_column(labels)}: " + "; ".join(parts) + ".")
    wide = wide_table(long)
    lines += ["", wide.to_markdown(index=False, disable_numparse=True), "", *table_notes(long)]
    return lines


# ------------------------------------------------------------------------------------------------ command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ebipla study probe", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--runs", nargs="+", metavar="DIR",
                        help="trained image runs (checkpoint.pt, config.yaml) to probe; the first run of each data "
                             "set also gives the random-generator reference")
    source.add_argument("--tables", nargs="+", metavar="CSV",
                        help="long-form CSVs written by earlier invocations: merge them into one table")
    p.add_argument("--out", required=True, metavar="PREFIX", help="output path without suffix (.csv, .md, .tex, .html)")
    p.add_argument("--labels-per-class", nargs="*", type=int, default=[10, 100], metavar="L",
                   help="few-label versions: L labelled training images per class (default 10 100; none: only "
                        "all labels)")
    p.add_argument("--subsets", type=int, default=5, help="seeded draws of the L labels per class (default 5)")
    p.add_argument("--n-train", type=int, default=None,
                   help="training images probed: a seeded subset of the training split (default all)")
    p.add_argument("--n-test", type=int, default=None,
                   help="held-out images scored: a seeded subset of the validation split (default all)")
    p.add_argument("--map-restarts", type=int, default=4, help="MAP latents: random starts per image (default 4)")
    p.add_argument("--map-iterations", type=int, default=50,
                   help="MAP latents: Adam iterations per start (default 50, the MSE protocol)")
    p.add_argument("--batch-size", type=int, default=500, help="images per inference batch (default 500)")
    p.add_argument("--seed", type=int, default=0, help="the probe's seed: subsets, splits, chains, MAP starts")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda[:N]")
    p.add_argument("--caption", default="Linear probe on the learned latents.", help="the table's caption")
    return p


def settings_from(args: argparse.Namespace) -> ProbeSettings:
    from ..errors import ConfigError

    positive = {"--subsets": args.subsets, "--map-restarts": args.map_restarts,
                "--map-iterations": args.map_iterations, "--batch-size": args.batch_size,
                **{k: v for k, v in (("--n-train", args.n_train), ("--n-test", args.n_test)) if v is not None},
                **{f"--labels-per-class {v}": v for v in args.labels_per_class}}
    bad = [f"{k} = {v}" for k, v in positive.items() if v < 1]
    if bad or args.seed < 0:
        raise ConfigError(f"ebipla study probe: {', '.join(bad) or f'--seed = {args.seed}'}: must be positive "
                          "(the seed non-negative).")
    per_class = tuple(sorted(set(args.labels_per_class), reverse=True))
    if any(v < 5 for v in per_class):
        raise ConfigError(f"ebipla study probe: --labels-per-class {list(per_class)}: at least 5 per class (the "
                          "validation split that chooses C takes a fifth of them).")
    return ProbeSettings(per_class, args.subsets, args.n_train, args.n_test, args.map_restarts, args.map_iterations,
                         args.batch_size, args.seed)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.tables:
        long = read_tables(args.tables)
    else:
        start = time.perf_counter()
        long = probe_study(args.runs, settings_from(args), args.device)
        log.info("probe: %d fits in %.0f s", len(long), time.perf_counter() - start)
    write_probe_table(long, args.out, args.caption)
    log.info("wrote %s.*", args.out)
    return 0
