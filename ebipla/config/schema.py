"""Typed run configuration: frozen dataclasses, one per config section.

Every field has a default; the defaults are the paper's synthetic settings (paper.md section 4.1) where the paper
states them, and a documented choice where it is silent ([NF] in paper.md). Field metadata carries the allowed
range (``gt``, ``ge``, ``lt``, ``le``) that :mod:`ebipla.config.loader` checks. Symbols follow the paper: x is the
latent, y the observation, h the particle step, gamma the prior step, N the particles per data point, J the prior
steps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

MAX_SEED = 2**63 - 1  # torch.manual_seed's range


def num(default: Any, *, gt: float | None = None, ge: float | None = None, lt: float | None = None,
        le: float | None = None) -> Any:
    """A dataclass field with a default and a checked range."""
    meta = {k: v for k, v in (("gt", gt), ("ge", ge), ("lt", lt), ("le", le)) if v is not None}
    return field(default=default, metadata=meta)


def section(cls: type) -> Any:
    return field(default_factory=cls)


# ----------------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class SwissRollConfig:
    """Rotated Swiss roll (paper.md 4.1): x_lat(t) = scale (t cos t, t sin t) + eps, y = T x_lat."""

    t_range_pi: tuple[float, float] = (1.5, 4.5)  # [NF] t in [1.5 pi, 4.5 pi] (scikit-learn's convention)
    scale: float = num(0.125, gt=0)  # the paper's 1/8
    noise_std: float = num(0.1, ge=0)  # eps ~ N(0, 0.01 I)
    angle_deg: float = 60.0  # [NF] rotation T; the half-moons angle pi/3


@dataclass(frozen=True)
class MoonsConfig:
    """Rotated half-moons: sklearn make_moons (no intrinsic noise) + N(0, 0.01 I), rotated by pi/3."""

    noise_std: float = num(0.1, ge=0)
    angle_deg: float = 60.0


@dataclass(frozen=True)
class CircleConfig:
    """Rescaled circle: x = r (cos phi, sin phi) + N(0, sigma^2 I), phi ~ U(0, 2 pi), y = 3 x."""

    radius: float = num(1.0, gt=0)  # [NF] r = 1
    noise_std: float = num(0.05, ge=0)  # the paper's "default setup" sigma
    ambient_scale: float = num(3.0, gt=0)  # T(x) = 3 x


@dataclass(frozen=True)
class ToyConfig:
    """Toy hierarchical model of IPLA/PGD: x_m ~ N(alpha_true 1, I_d), y_m = x_m + N(0, sigma^2 I_d)."""

    dim: int = num(2, ge=1)
    alpha_true: float = 1.0
    sigma: float = num(1.0, gt=0)


@dataclass(frozen=True)
class DigitsConfig:
    """scikit-learn's bundled digits (1,797 real 8 x 8 images, no download), upsampled and made RGB."""

    image_size: int = num(32, ge=8)  # bilinear upsampling of the 8 x 8 images
    n_train: int = num(1500, ge=10, le=1787)  # images 0..n_train-1 train, the rest validate (sklearn's order)


@dataclass(frozen=True)
class FakeConfig:
    """torchvision FakeData: random images of a given size, for tests of the image networks."""

    image_size: int = num(32, ge=8)


@dataclass(frozen=True)
class FolderConfig:
    """Every image under a folder (``data.name: folder``; ebipla/data/files.py): png, jpg, jpeg, webp or bmp, found
    recursively (hidden files and folders skipped). When every image sits in a first-level subfolder, the subfolder
    names (sorted) are the classes and their labels are saved too. Prepared into <data.root>/<name>/ like the
    downloaded data sets, and prepared again when the files or these settings change. Each split keeps its images in
    a fixed pseudo-random order (md5 of split_seed and the relative path), so data.n_points takes the first M of a
    shuffled folder, a sample of every class."""

    path: str | None = None  # the folder (required)
    image_size: int | None = num(None, ge=1)  # resize the shorter side, then centre-crop to a square; null = keep
    # the native size (every image must then have the same size)
    channels: Literal["rgb", "grey"] = "rgb"  # grey: one channel, images (N, 1, H, W)
    val_path: str | None = None  # a separate validation folder; null = split off val_fraction of path's images
    val_fraction: float = num(0.1, ge=0, lt=1)  # a file validates iff md5(split_seed, its relative path) < this
    split_seed: int = num(0, ge=0, le=MAX_SEED)
    name: str | None = None  # the prepared data set's name under data.root; null = the folder's base name


@dataclass(frozen=True)
class ArrayConfig:
    """Vectors from a file (``data.name: array``; ebipla/data/files.py): .npy (2-D, or 1-D as one column), .npz
    (one named array) or .csv (comma-separated; a first row that is not all numbers is the header). Prepared into
    <data.root>/<name>/ as float32 (N, d) in the data's units, and prepared again when the file or these settings
    change. Scored by MMD^2 against the validation split."""

    path: str | None = None  # the file (required)
    key: str | None = None  # .npz: the array's name; null = the only array in the file
    columns: tuple[str, ...] | None = None  # header names; a headerless csv's (and .npy's) are "0", "1", ... (quote
    # them in YAML); null = every column
    standardize: bool = False  # train on (y - mean) / std (the training split's, per column; recorded in the run)
    val_path: str | None = None  # a separate validation file; null = split off val_fraction of path's rows
    val_fraction: float = num(0.1, ge=0, lt=1)  # row i validates iff md5(split_seed, i) < this
    split_seed: int = num(0, ge=0, le=MAX_SEED)
    name: str | None = None  # the prepared data set's name under data.root; null = the file's name without suffix


SYNTHETIC = ("swissroll", "moons", "circle", "toy")
IMAGES = ("digits", "svhn", "cifar10", "celeba64", "celebahq", "fake", "folder")
FILE_DATA = ("folder", "array")  # read from the user's own files: data.folder, data.array


@dataclass(frozen=True)
class DataConfig:
    name: Literal["swissroll", "moons", "circle", "toy", "digits", "svhn", "cifar10", "celeba64", "celebahq",
                  "fake", "folder", "array"] = "swissroll"
    n_points: int | None = num(10_000, ge=2)  # M; images, folder, array: null = the whole training split, else its
    # first M
    seed: int = num(0, ge=0, le=MAX_SEED)  # training data (synthetic, fake)
    eval_seed: int = num(1, ge=0, le=MAX_SEED)  # held-out data for evaluation (must differ from seed)
    root: str = "results/datasets"  # prepared data sets: <root>/<dataset_name>/{train,val}.pt (ebipla prepare)
    downloads: str = "results/downloads"  # raw downloads and manually placed files: <downloads>/<name>/
    swissroll: SwissRollConfig = section(SwissRollConfig)
    moons: MoonsConfig = section(MoonsConfig)
    circle: CircleConfig = section(CircleConfig)
    toy: ToyConfig = section(ToyConfig)
    digits: DigitsConfig = section(DigitsConfig)
    fake: FakeConfig = section(FakeConfig)
    folder: FolderConfig = section(FolderConfig)
    array: ArrayConfig = section(ArrayConfig)

    @property
    def is_image(self) -> bool:
        return self.name in IMAGES

    @property
    def dataset_name(self) -> str:
        """The prepared data set's name under ``root``: ``name``, or for folder and array data the section's
        ``name``, else the folder's base name or the file's name without its suffix."""
        if self.name not in FILE_DATA:
            return self.name
        own: FolderConfig | ArrayConfig = getattr(self, self.name)
        if own.name is not None or own.path is None:
            return own.name or self.name
        path = Path(os.path.abspath(own.path))
        return path.name if self.name == "folder" else path.stem

    @property
    def prepared_dir(self) -> Path:
        """Where the prepared data set lives: <root>/<dataset_name> (train.pt, val.pt, manifest.json, the FID
        reference statistics)."""
        return Path(self.root) / self.dataset_name


# ---------------------------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class EnergyConfig:
    """Prior energy U_alpha(x)."""

    kind: Literal["mlp", "gaussian"] = "mlp"  # gaussian: U(x) = |x - alpha|^2 / 2 (the toy model)
    hidden: tuple[int, ...] = (128, 128, 128)  # paper: 3 hidden layers x 128 units
    activation: Literal["silu", "relu", "gelu", "leaky_relu"] = "silu"  # paper: SiLU (EBIPLA), ReLU (LEBM)
    leaky_slope: float = num(0.2, ge=0)
    prior_sigma: float | None = num(None, gt=0)  # Pang's tilt N(0, sigma_p^2 I); null = none (synthetic)
    # Your own network instead of `kind` (docs/own-data.md): "package.module:Name", a torch.nn.Module class or
    # factory mapping latents (B, d_x) to energies (B,); called with `kwargs` (and latent_dim when it takes one).
    # Its latent gradient comes from autograd (the built-in MLP's is hand-written); prior_sigma's tilt is added.
    target: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratorConfig:
    """Generator g_beta(x)."""

    kind: Literal["linear", "identity", "dcgan"] = "linear"  # identity: no parameters (the toy model)
    bias: bool = True
    ngf: int = num(64, ge=1)  # dcgan: width; hidden channels 8 ngf, 4 ngf, ... (Pang et al.: 64 SVHN, 128 CelebA)
    # dcgan: weights and activations in channels-last (NHWC) memory order. The same function up to float rounding;
    # oneDNN's and cuDNN's convolutions run faster in it (ebipla bench-images --compare
    # model.generator.channels_last=false measures it: README, Benchmark).
    channels_last: bool = True
    # Your own network instead of `kind` (docs/own-data.md): "package.module:Name", a torch.nn.Module class or
    # factory mapping latents (B, d_x) to observations (B, *obs_shape); called with `kwargs` (and latent_dim and
    # obs_shape when it takes parameters of those names).
    target: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EncoderConfig:
    """Encoder of the autoencoder baselines (``vae``, ``rae``; unused by the others): observations -> latents.

    ``auto`` mirrors the generator: an MLP for vector observations, for images the DCGAN generator run backwards
    (stride-2 convolutions with ndf, 2 ndf, 4 ndf, ... channels, LeakyReLU(0.2), a last 4 x 4 convolution to the
    output)."""

    kind: Literal["auto", "mlp", "conv"] = "auto"
    hidden: tuple[int, ...] = (128, 128)  # mlp: hidden widths
    ndf: int | None = num(None, ge=1)  # conv: width; null = the generator's ngf


@dataclass(frozen=True)
class ModelConfig:
    latent_dim: int = num(2, ge=1)  # d_x
    sigma: float = num(0.05, gt=0)  # decoder noise: p_beta(y | x) = N(g_beta(x), sigma^2 I)
    energy: EnergyConfig = section(EnergyConfig)  # the learned prior (ebipla, ebipla_full, lebm)
    generator: GeneratorConfig = section(GeneratorConfig)
    encoder: EncoderConfig = section(EncoderConfig)  # vae and rae only


# ------------------------------------------------------------------------------------------------------ algorithms


@dataclass(frozen=True)
class EbiplaConfig:
    """Practical EBIPLA, Algorithms 2 and 3 (paper.md 2.6-2.7)."""

    name: Literal["ebipla"] = "ebipla"
    n_particles: int = num(16, ge=1)  # N, particles per data point
    h: float = num(0.0045, gt=0)  # particle step used (drift h, all-particle noise sqrt(2h/L))
    h_paper: float | None = None  # the paper's table value, for the record only (see config/README.md)
    gamma: float = num(0.007, gt=0)  # prior ULA step
    n_prior_steps: int = num(500, ge=1)  # J
    loss_particles: Literal["pre_update", "post_update"] = "pre_update"  # X_k (Alg. 2) or X_{k+1} (Alg. 3)
    warmup_iters: int = num(0, ge=0)  # S_warm (Algorithm 3); 0 = no warm-up
    warmup_h: float = num(0.005, gt=0)  # h_warm used
    warmup_h_paper: float | None = None  # the paper's h_warm, for the record only
    warmup_inner_steps: int = num(10, ge=1)
    warmup_particles: int = num(1, ge=1)  # N', replicated to N when the warm-up ends


@dataclass(frozen=True)
class EbiplaFullConfig:
    """Full EBIPLA, Algorithm 1 (eqs. 11-17): all M x N particles, Euler-Maruyama on theta, no Adam."""

    name: Literal["ebipla_full"] = "ebipla_full"
    n_particles: int = num(16, ge=1)  # N
    h: float = num(0.01, gt=0)  # one step for theta and particles
    gamma: float = num(0.01, gt=0)  # prior ULA step (used when prior_expectation = ula)
    n_prior_steps: int = num(100, ge=1)  # J
    prior_expectation: Literal["exact", "ula"] = "exact"  # exact when the energy provides it (eq. 11 vs 15)


@dataclass(frozen=True)
class LebmConfig:
    """LEBM (Pang et al. 2020): fresh short-run posterior and prior ULA chains every iteration."""

    name: Literal["lebm"] = "lebm"
    n_posterior_steps: int = num(16, ge=1)  # N in the matched-compute grid (K1 in Pang's code)
    h: float = num(0.005, gt=0)  # posterior ULA step; Pang's s maps to h = s^2 / 2
    h_paper: float | None = None
    gamma: float = num(0.006, gt=0)  # prior ULA step (Pang's s0 = 0.4 is gamma = 0.08)
    n_prior_steps: int = num(500, ge=1)  # J (K0 in Pang's code)


# The baselines of the one-protocol comparison (docs/baselines.md). Their prior is fixed, not learned: N(0, I) for
# vae, abp and pgd, a Gaussian mixture fitted after training for rae; model.energy does not apply to them.


@dataclass(frozen=True)
class VaeConfig:
    """VAE (Kingma and Welling 2014): Gaussian encoder, reparameterised ELBO, N(0, I) prior."""

    name: Literal["vae"] = "vae"
    n_samples: int = num(1, ge=1)  # reparameterised draws per data point in the ELBO (Kingma and Welling: 1)


@dataclass(frozen=True)
class AbpConfig:
    """Alternating back-propagation (Han et al. 2017): K posterior ULA steps on warm-started latents, N(0, I)."""

    name: Literal["abp"] = "abp"
    # Our choice (docs/baselines.md): LEBM's posterior chain, K = 20 steps of h = 0.005 (Pang et al.'s s = 0.1,
    # h = s^2 / 2), which descends from ABP's Langevin inference.
    n_posterior_steps: int = num(20, ge=1)  # K ULA steps per iteration on the warm-started latents
    h: float = num(0.005, gt=0)  # ULA step


@dataclass(frozen=True)
class PgdConfig:
    """Particle gradient descent (Kuntz, Lim and Johansen 2023): EBIPLA's particle system with a N(0, I) prior."""

    name: Literal["pgd"] = "pgd"
    n_particles: int = num(16, ge=1)  # N
    h: float = num(0.0045, gt=0)  # particle step (drift h, all-particle noise sqrt(2h/L)), EBIPLA's default


@dataclass(frozen=True)
class RaeConfig:
    """Regularised autoencoder, RAE-L2 (Ghosh et al. 2020), with an ex-post Gaussian mixture for sampling."""

    name: Literal["rae"] = "rae"
    beta: float = num(1.0, ge=0)  # weight of |z|^2 / 2 (1: with V, the N(0, I) MAP objective)
    weight_decay: float = num(1e-4, ge=0)  # lambda of the decoder's L2 penalty lambda |beta|^2 (RAE-L2)
    n_components: int = num(10, ge=1)  # Gaussian mixture fitted on the training latents (Ghosh et al.: 10)


AlgorithmConfig = (EbiplaConfig | EbiplaFullConfig | LebmConfig | VaeConfig | AbpConfig | PgdConfig | RaeConfig)


# ------------------------------------------------------------------------------------------------- train and eval


@dataclass(frozen=True)
class DivergenceConfig:
    """What training does when it diverges: a loss, the particle bank or a parameter is no longer finite (NaN or
    inf), or the energy runs away, |L_e| > ``max_energy_loss`` (eq. 46). While training works L_e stays O(1) to
    O(100); once the prior chains stop being stable it swings past 1e5 and on to -1e8 within about 20 iterations
    while everything stays finite (measured on the paper's Swiss roll N = 64 setting, seed 0, iterations 425-450).

    The check runs every ``train.log_every`` and ``train.checkpoint_every`` iterations, and before every
    checkpoint, so a checkpoint never holds a diverged state.

    * ``action: stop`` (default): stop with a message that names the iteration and the quantity; the last good
      checkpoint is kept and ``ebipla train`` exits with status 3.
    * ``action: recover``: reload the last good checkpoint, multiply the Langevin step sizes (``algorithm.h``,
      which for ``ebipla_full`` is also the theta step, ``algorithm.warmup_h`` for EBIPLA's warm-up, and the prior
      chains' ``algorithm.gamma``) by ``step_shrink``, save the checkpoint with the new scale and go on; the log
      records each recovery and the new steps. gamma is included because a runaway energy starts in the prior
      chains: as U_alpha sharpens, J ULA steps of a fixed gamma stop being stable (measured: the Swiss roll N = 64
      run that runs away at iteration 450 goes on stably from its iteration-400 checkpoint with gamma halved, and
      runs away again with only h halved, even h / 8). The chains' length J is kept, so a shrunken gamma shortens
      their time J gamma. Evaluation samples with the shrunken steps too (:func:`ebipla.run.load_run`).
      A fresh run writes a checkpoint at iteration 0 first, so there is always one to go back to.
      After ``max_recoveries`` recoveries (counted over the whole run) a further divergence stops as with
      ``stop``. The checkpoint stores the scale in effect (``step_scale``, ``recoveries``), so a resumed run keeps
      the shrunken steps; ``config.yaml`` keeps the configured ones.

    These keys may change when a run is resumed (e.g. ``--set train.divergence.action=recover`` after a stop).
    """

    action: Literal["stop", "recover"] = "stop"
    step_shrink: float = num(0.5, gt=0, lt=1)  # factor applied to the Langevin step sizes per recovery
    max_recoveries: int = num(3, ge=1)
    max_energy_loss: float = num(1e6, gt=0)  # |L_e| above this counts as diverged (the energy running away)


@dataclass(frozen=True)
class TrainConfig:
    n_epochs: int = num(200, ge=1)  # L = M / B iterations each (Algorithm 1: one iteration each)
    batch_size: int = num(1000, ge=1)  # B
    lr_energy: float = num(1e-2, gt=0)  # Adam on alpha
    lr_generator: float = num(1e-2, gt=0)  # Adam on beta
    betas_energy: tuple[float, float] = (0.5, 0.999)
    betas_generator: tuple[float, float] = (0.5, 0.999)
    lr_decay: float = num(1.0, gt=0, le=1)  # multiply both learning rates by this after every epoch
    grad_clip: float | None = num(None, gt=0)  # max gradient norm; null = off (Pang's default)
    particle_storage: Literal["device", "pinned_cpu"] = "device"  # the M x N x d_x bank; pinned_cpu when too large
    # bfloat16: the generator's passes under torch.autocast(bfloat16) and the energy's latent gradient in the
    # Langevin chains in bfloat16; parameters, particles, losses and Adam stay float32. Opt-in: faster (README,
    # Benchmark) at bfloat16's rounding; tests/test_images_eval.py checks the digits metrics do not degrade.
    precision: Literal["float32", "bfloat16"] = "float32"
    # true: deterministic kernels (torch.use_deterministic_algorithms, warn-only; cuDNN deterministic without
    # autotuning; CUBLAS_WORKSPACE_CONFIG), so that on a GPU a resumed run equals the uninterrupted one
    # (docs/determinism.md; ebipla gpu-check measures its cost). false: faster kernels, runs may differ by rounding.
    # Under float32 TF32 is off either way.
    deterministic: bool = True
    data_storage: Literal["device", "pinned_cpu"] = "device"  # the training images (uint8)
    checkpoint_every: int = num(100, ge=1)  # iterations between checkpoints
    log_every: int = num(50, ge=1)  # iterations between log lines and finiteness checks
    divergence: DivergenceConfig = section(DivergenceConfig)  # what a non-finite loss/particle/parameter does


@dataclass(frozen=True)
class FidConfig:
    """FID through torch-fidelity: prior samples (J ULA steps from N(0, I), decoded) against the training set."""

    n_samples: int = num(50_000, ge=2)
    batch_size: int = num(250, ge=1)
    feature_extractor: str = "inception-v3-compat"  # any torch-fidelity extractor; digits-cnn for the digits
    weights_path: str | None = None  # extractor weights; null = torch-fidelity downloads them (Inception)
    reference: str | None = None  # reference statistics; null = <data.root>/<name>/fid_ref_<extractor>.npz


@dataclass(frozen=True)
class MseConfig:
    """MAP reconstruction of validation images (paper.md 4.2): restarts x Adam iterations, ReduceLROnPlateau."""

    n_images: int | None = num(None, ge=1)  # validation images used; null = all
    restarts: int = num(4, ge=1)
    iterations: int = num(50, ge=1)
    lr: float = num(1.0, gt=0)
    batch_size: int = num(500, ge=1)
    seed: int = num(0, ge=0, le=MAX_SEED)  # restart k of image i starts from its own generator, seeded by (seed, i, k)


@dataclass(frozen=True)
class FiguresConfig:
    """Figure data: a sample grid (Figure 2) and latent interpolations (Figure 4)."""

    grid: int = num(64, ge=1)  # samples in the grid (the first ones of the FID sample stream)
    pairs: int = num(8, ge=1)  # interpolations, validation (MAP latents) and training (a particle each)
    points: int = num(8, ge=2)  # points per interpolation, t = 0..1
    seed: int = num(0, ge=0, le=MAX_SEED)  # picks the image pairs and the training particles


@dataclass(frozen=True)
class EvalConfig:
    n_samples: int = num(5000, ge=2)  # model samples for MMD
    n_eval_points: int = num(5000, ge=2)  # held-out points (data.eval_seed) for MMD
    sample_batch_size: int = num(1000, ge=1)
    sample_seed: int = num(0, ge=0, le=MAX_SEED)  # sample k is drawn from its own generator, seeded by (sample_seed, k)
    n_prior_steps: int | None = num(None, ge=1)  # J for sampling; null = the algorithm's J
    gamma: float | None = num(None, gt=0)  # gamma for sampling; null = the algorithm's gamma
    decoder_noise: bool = True  # samples are g(x) + sigma eps (the model's p(y)); false: g(x)
    mmd_bandwidth: float | None = num(None, gt=0)  # Gaussian kernel sigma; null = median heuristic
    landscape_grid: int = num(200, ge=2)  # exp(-U) on a grid x grid lattice in latent space
    landscape_margin: float = num(0.1, ge=0)  # grid spans the latent samples' range plus this fraction
    # Long-run samples of exp(-U) itself (synthetic runs): MALA chains from N(0, I), decoded like the short-run ones
    long_run_steps: int = num(5000, ge=0)  # MALA steps per chain; 0 = no long run
    long_run_burnin: int = num(1000, ge=0)  # the first steps adapt the step size towards acceptance 0.574, then fix it
    long_run_step_init: float = num(0.01, gt=0)  # initial MALA step size eps
    long_run_chains: int | None = num(1000, ge=4)  # chains (chain k seeded by (sample_seed, k)); null = n_samples
    # |x| past which a long-run chain has escaped (exp(-U) not normalisable); null = 10 x the short-run latents' max |x|
    long_run_escape_radius: float | None = num(None, gt=0)
    fid: FidConfig = section(FidConfig)
    mse: MseConfig = section(MseConfig)
    figures: FiguresConfig = section(FiguresConfig)


@dataclass(frozen=True)
class RunConfig:
    seed: int = num(0, ge=0, le=MAX_SEED)  # seeds initialisation, particles, noise and batch order
    device: str = "auto"  # auto (CUDA when available), cpu, cuda, cuda:1, ...
    data: DataConfig = section(DataConfig)
    model: ModelConfig = section(ModelConfig)
    algorithm: AlgorithmConfig = section(EbiplaConfig)
    train: TrainConfig = section(TrainConfig)
    eval: EvalConfig = section(EvalConfig)
