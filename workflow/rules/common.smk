# Shared Python for the rules: config validation, site settings for SLURM, paths and target lists.
import os
from pathlib import Path

import yaml
from snakemake.utils import validate

from ebipla.config import load_config

validate(config, schema="../schemas/config.schema.yaml")

ENV = "../envs/ebipla.yaml"
RUNS = "results/runs/{domain}/{dataset}/{method}/N{N}/{variant}/seed{seed}"
PAPER = "results/paper"
INCEPTION = "results/datasets/inception/weights-inception-2015-12-05-6726825d.pth"
IMAGE_SETS = "digits|svhn|cifar10|celeba64|celebahq|fake"


wildcard_constraints:
    domain="synthetic|images",
    dataset=f"swissroll|moons|circle|{IMAGE_SETS}",
    method="ebipla|lebm",
    N=r"\d+",
    variant=r"paper|J\d+",
    seed=r"\d+",


# ---------------------------------------------------------------------------------------------- site settings
# Cluster-specific values never live in the workflow: they come from a user file (slurm/site.yaml, or the file
# named by $EBIPLA_SITE_FILE; see slurm/site.example.yaml) and from environment variables EBIPLA_<KEY> (upper
# case), which win over the file. Empty strings mean "let SLURM choose" (default partition, default account).
SITE_DEFAULTS = {
    "partition": "",  # CPU jobs (evaluation of synthetic runs)
    "gpu_partition": "",  # GPU jobs (training, image evaluation, timing)
    "account": "",
    "gpus": 1,  # GPUs per GPU job; 0 on a cluster without GPUs
    "gpu_model": "",  # e.g. a100; empty = any
    "cpus_train": 4,
    "mem_mb_train": 16000,
    "runtime_train": 240,  # minutes, for one synthetic training run at the paper's settings
    "runtime_train_images": 2880,  # minutes, for one image training run (200 epochs)
    "cpus_eval": 2,
    "mem_mb_eval": 8000,
    "runtime_eval": 60,
    "runtime_eval_images": 360,  # FID on 50,000 samples and MAP reconstructions
}


def site_settings():
    path = Path(os.environ.get("EBIPLA_SITE_FILE", "slurm/site.yaml"))
    settings = dict(SITE_DEFAULTS)
    if path.is_file():
        loaded = yaml.safe_load(path.read_text()) or {}
        unknown = sorted(set(loaded) - set(SITE_DEFAULTS))
        if unknown:
            raise ValueError(
                f"{path}: unknown site setting(s) {unknown}; valid: {sorted(SITE_DEFAULTS)}"
            )
        settings.update(loaded)
    for key, default in SITE_DEFAULTS.items():
        value = os.environ.get(f"EBIPLA_{key.upper()}")
        if value is not None:
            settings[key] = type(default)(value)
    return settings


SITE = site_settings()


def gpu_resources(runtime):
    return dict(
        slurm_partition=SITE["gpu_partition"],
        slurm_account=SITE["account"],
        gpu=SITE["gpus"],
        gpu_model=SITE["gpu_model"],
        mem_mb=SITE["mem_mb_train"],
        runtime=runtime,
    )


# ---------------------------------------------------------------------------------------------- runs
SYN = config["synthetic"]
ABL = config["j_ablation"]
IMG = config["images"]


def run_config_files(wildcards):
    """The run's config files: the paper file of the cell, then the overlays of its domain."""
    if wildcards.domain == "synthetic":
        name = f"{wildcards.dataset}_{wildcards.method}_n{wildcards.N}.yaml"
        return [str(Path(SYN["run_configs"]) / name), *SYN["overlays"]]
    name = f"{wildcards.dataset}_{wildcards.method}.yaml"
    return [str(Path(IMG["run_configs"]) / name), *IMG["overlays"]]


def train_inputs(wildcards):
    """Config files, and for images the prepared data set."""
    inputs = run_config_files(wildcards)
    if wildcards.domain == "images":
        inputs.append(f"results/datasets/{wildcards.dataset}/manifest.json")
    return inputs


def run_overrides(wildcards):
    """--set arguments: the seed, the domain's overrides, J for a J variant, N for image runs."""
    domain = SYN if wildcards.domain == "synthetic" else IMG
    sets = [f"seed={wildcards.seed}", *domain["set"]]
    if wildcards.variant != "paper":
        sets.append(f"algorithm.n_prior_steps={wildcards.variant[1:]}")
    if wildcards.domain == "images":
        key = "n_particles" if wildcards.method == "ebipla" else "n_posterior_steps"
        sets.append(f"algorithm.{key}={wildcards.N}")
    return " ".join(f"--set {s}" for s in sets)


def run_dir(domain, dataset, method, N, variant, seed):
    return RUNS.format(
        domain=domain, dataset=dataset, method=method, N=N, variant=variant, seed=seed
    )


def grid_runs(seeds):
    return [
        run_dir("synthetic", d, m, n, "paper", s)
        for d in SYN["datasets"]
        for m in SYN["methods"]
        for n in SYN["particles"]
        for s in seeds
    ]


def ablation_runs():
    """EBIPLA with the ablation's N and seed, one run per J (variant J<J>)."""
    return [
        run_dir("synthetic", d, "ebipla", ABL["particles"], f"J{j}", ABL["seed"])
        for d in ABL["datasets"]
        for j in ABL["prior_steps"]
    ]


def image_runs():
    """Every image run of every experiment (Table 1, Table 2a, Table 2b, or the digits)."""
    runs = []
    for exp in IMG["experiments"]:
        for d in exp["datasets"]:
            for m, particles in exp["methods"].items():
                for n in particles:
                    for s in exp["seeds"]:
                        run = run_dir("images", d, m, n, "paper", s)
                        if run not in runs:
                            runs.append(run)
    return runs


# ---------------------------------------------------------------------------------------------- FID
def dataset_config(dataset):
    """The data set's own config file (config/images/<dataset>.yaml), as ebipla reads it."""
    return load_config([str(Path(IMG["run_configs"]) / f"{dataset}.yaml")])


def fid_weights(wildcards):
    """The FID feature extractor's weights: the data set's own (digits classifier) or Inception's."""
    return dataset_config(wildcards.dataset).eval.fid.weights_path or INCEPTION


def fid_extractor(wildcards):
    return dataset_config(wildcards.dataset).eval.fid.feature_extractor


def paper_outputs(stem, suffixes):
    return [f"{PAPER}/{stem}.{s}" for s in suffixes]


def final_targets():
    targets = paper_outputs("synthetic_mmd", ["csv", "md", "tex"])
    targets += paper_outputs("figure1", ["pdf", "png"])
    if ABL["datasets"]:
        targets += paper_outputs("figure_j_ablation", ["pdf", "png"])
    if config["timing"]["particles"]:
        targets += paper_outputs("figure1_runtime", ["pdf", "png"])
    if IMG["experiments"]:
        targets += paper_outputs("images_metrics", ["csv", "md", "tex"])
        targets += [f"{run}/interpolations.png" for run in image_runs()]
    return targets
