# Shared Python for the rules: config validation, site settings for SLURM, paths and target lists.
import os
from pathlib import Path

import yaml
from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")

ENV = "../envs/ebipla.yaml"
RUNS = "results/runs/synthetic/{dataset}/{method}/N{N}/{variant}/seed{seed}"
PAPER = "results/paper"


wildcard_constraints:
    dataset="swissroll|moons|circle",
    method="ebipla|lebm",
    N=r"\d+",
    variant=r"paper|J\d+",
    seed=r"\d+",


# ---------------------------------------------------------------------------------------------- site settings
# Cluster-specific values never live in the workflow: they come from a user file (slurm/site.yaml, or the file
# named by $EBIPLA_SITE_FILE; see slurm/site.example.yaml) and from environment variables EBIPLA_<KEY> (upper
# case), which win over the file. Empty strings mean "let SLURM choose" (default partition, default account).
SITE_DEFAULTS = {
    "partition": "",  # CPU jobs (evaluation)
    "gpu_partition": "",  # GPU jobs (training, timing)
    "account": "",
    "gpus": 1,  # GPUs per GPU job; 0 on a cluster without GPUs
    "gpu_model": "",  # e.g. a100; empty = any
    "cpus_train": 4,
    "mem_mb_train": 16000,
    "runtime_train": 240,  # minutes, for one synthetic training run at the paper's settings
    "cpus_eval": 2,
    "mem_mb_eval": 8000,
    "runtime_eval": 60,
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


def run_config_files(wildcards):
    """The run's config file (from the paper grid) and the overlays layered on every synthetic run."""
    base = (
        Path(SYN["run_configs"])
        / f"{wildcards.dataset}_{wildcards.method}_n{wildcards.N}.yaml"
    )
    return [str(base), *SYN["overlays"]]


def run_overrides(wildcards):
    """--set arguments: the seed, the workflow-wide overrides, and J for the J-ablation variant."""
    sets = [f"seed={wildcards.seed}", *SYN["set"]]
    if wildcards.variant != "paper":
        sets.append(f"algorithm.n_prior_steps={wildcards.variant[1:]}")
    return " ".join(f"--set {s}" for s in sets)


def run_dir(dataset, method, N, variant, seed):
    return RUNS.format(dataset=dataset, method=method, N=N, variant=variant, seed=seed)


def grid_runs(seeds):
    return [
        run_dir(d, m, n, "paper", s)
        for d in SYN["datasets"]
        for m in SYN["methods"]
        for n in SYN["particles"]
        for s in seeds
    ]


def ablation_runs():
    """EBIPLA with the ablation's N and seed, one run per J (variant J<J>)."""
    return [
        run_dir(d, "ebipla", ABL["particles"], f"J{j}", ABL["seed"])
        for d in ABL["datasets"]
        for j in ABL["prior_steps"]
    ]


def paper_outputs(stem, suffixes):
    return [f"{PAPER}/{stem}.{s}" for s in suffixes]


def final_targets():
    targets = paper_outputs("synthetic_mmd", ["csv", "md", "tex"])
    targets += paper_outputs("figure1", ["pdf", "png"])
    if ABL["datasets"]:
        targets += paper_outputs("figure_j_ablation", ["pdf", "png"])
    if config["timing"]["particles"]:
        targets += paper_outputs("figure1_runtime", ["pdf", "png"])
    return targets
