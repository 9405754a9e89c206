# Shared Python for the rules: config validation, site settings for SLURM, paths and target lists.
import os
from pathlib import Path

import yaml
from snakemake.utils import validate

from ebipla.config import config_files, load_config

validate(config, schema="../schemas/config.schema.yaml")

ENV = "../envs/ebipla.yaml"
RUNS = "results/runs/{domain}/{dataset}/{method}/N{N}/{variant}/seed{seed}"
CUSTOM_RUNS = (
    "results/custom/{name}/{method}/N{N}/seed{seed}"  # your experiments (custom.smk)
)
PAPER = "results/paper"
INCEPTION = "results/datasets/inception/weights-inception-2015-12-05-6726825d.pth"
IMAGE_SETS = "digits|svhn|cifar10|celeba64|celebahq|fake"


wildcard_constraints:
    domain="synthetic|images",
    dataset=f"swissroll|moons|circle|{IMAGE_SETS}",
    method="ebipla|lebm|vae|abp|pgd|rae",
    N=r"\d+",
    variant=r"paper|protocol|J\d+",
    seed=r"\d+",
    name=r"[A-Za-z0-9][A-Za-z0-9_-]*",


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
SB = config["synthetic_baselines"]

# The --set key that N sets per method (particles or posterior steps); the autoencoders have none (N is 1).
N_KEYS = {
    "ebipla": "n_particles",
    "pgd": "n_particles",
    "lebm": "n_posterior_steps",
    "abp": "n_posterior_steps",
}


def n_override(method, n):
    """``algorithm.<key>=N`` for a method with an N, else nothing (vae, rae)."""
    return [f"algorithm.{N_KEYS[method]}={n}"] if method in N_KEYS else []


def image_variants():
    """Image variant -> (run config directory, overlays): ``paper`` is images.run_configs and images.overlays;
    another variant (``protocol``: the one-protocol comparison) takes its experiments' run_configs and overlays,
    which must agree, since one run directory has one config."""
    variants = {"paper": (IMG["run_configs"], IMG["overlays"])}
    for exp in IMG["experiments"]:
        variant = exp.get("variant", "paper")
        files = (
            exp.get("run_configs", IMG["run_configs"]),
            exp.get("overlays", IMG["overlays"]),
        )
        if variants.setdefault(variant, files) != files:
            raise ValueError(
                f"images.experiments[{exp['name']}]: variant {variant!r} is made with "
                f"{variants[variant]} (run_configs, overlays) elsewhere, here with {files}"
            )
    return variants


IMAGE_VARIANTS = image_variants()


def run_config_files(wildcards):
    """The run's config files: the paper file of the cell (a protocol run: its comparison's file), then the
    overlays of its domain or variant."""
    if wildcards.domain == "synthetic" and wildcards.variant == "protocol":
        name = f"{wildcards.dataset}_{wildcards.method}.yaml"
        return [str(Path(SB["run_configs"]) / name)]
    if wildcards.domain == "synthetic":
        name = f"{wildcards.dataset}_{wildcards.method}_n{wildcards.N}.yaml"
        return [str(Path(SYN["run_configs"]) / name), *SYN["overlays"]]
    run_configs, overlays = IMAGE_VARIANTS[wildcards.variant]
    name = f"{wildcards.dataset}_{wildcards.method}.yaml"
    return [str(Path(run_configs) / name), *overlays]


def train_inputs(wildcards):
    """Config files (with their base files), and for images the prepared data set."""
    inputs = config_files(run_config_files(wildcards))
    if wildcards.domain == "images":
        inputs.append(f"results/datasets/{wildcards.dataset}/manifest.json")
    return inputs


def run_overrides(wildcards):
    """--set arguments: the seed, the domain's overrides (synthetic protocol runs:
    synthetic_baselines'), J for a J variant, N for image runs and synthetic protocol
    runs (the synthetic grid's files fix their own N)."""
    synthetic = wildcards.domain == "synthetic"
    protocol = wildcards.variant == "protocol"
    settings = (SB if protocol else SYN) if synthetic else IMG
    sets = [f"seed={wildcards.seed}", *settings["set"]]
    if wildcards.variant.startswith("J"):
        sets.append(f"algorithm.n_prior_steps={wildcards.variant[1:]}")
    if not synthetic or protocol:
        sets += n_override(wildcards.method, wildcards.N)
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
    """Every image run of every experiment (table1, table2a, table2b, baselines), each once, in order."""
    runs = [r for exp in IMG["experiments"] for r in experiment_runs(exp["name"])]
    return list(dict.fromkeys(runs))


# ---------------------------------------------------------------------------------------------- FID
def dataset_config(dataset):
    """The data set's own config file (config/images/<dataset>.yaml), as ebipla reads it."""
    return load_config([str(Path(IMG["run_configs"]) / f"{dataset}.yaml")])


def fid_weights(wildcards):
    """The FID feature extractor's weights: the data set's own (digits classifier) or Inception's."""
    return dataset_config(wildcards.dataset).eval.fid.weights_path or INCEPTION


def fid_reference_file(wildcards):
    """The data set's FID reference statistics, under the name `ebipla evaluate` uses by default."""
    extractor = dataset_config(wildcards.dataset).eval.fid.feature_extractor
    return f"results/datasets/{wildcards.dataset}/fid_ref_{extractor}.npz"


def paper_outputs(stem, suffixes):
    return [f"{PAPER}/{stem}.{s}" for s in suffixes]


# ---------------------------------------------------------------------------------------------- paper artifacts
PAP = config["paper"]
TABLES = ["csv", "md", "tex", "html"]


def report_table(prefix, caption, category, plain=("md", "tex")):
    """A table's outputs: `snakemake --report` shows the paper layout (.html) and offers the long form (.csv); the
    other formats are plain outputs."""
    shown = {"html": "paper layout", "csv": "long form (CSV)"}
    files = [
        mark_for_report(f"{prefix}.{s}", caption, category, sub)
        for s, sub in shown.items()
    ]
    return files + [f"{prefix}.{suffix}" for suffix in plain]


def mark_for_report(path, caption, category, subcategory):
    # `report` opening a line reads as Snakemake's global `report:` directive, hence this one-line wrapper.
    return report(path, caption=caption, category=category, subcategory=subcategory)


FIGURES = ["pdf", "png"]


def experiment(name):
    """The image experiment filling table ``name`` (table1, table2a, table2b; baselines: table_one_protocol), or
    None."""
    return next((e for e in IMG["experiments"] if e["name"] == name), None)


def experiment_runs(name, dataset=None, method=None, first_seed=False):
    """Run directories of an experiment, optionally of one data set / method, optionally its first seed only."""
    exp = experiment(name)
    if exp is None:
        return []
    return [
        run_dir("images", d, m, n, exp.get("variant", "paper"), s)
        for d in exp["datasets"]
        if dataset in (None, d)
        for m, particles in exp["methods"].items()
        if method in (None, m)
        for n in particles
        for s in (exp["seeds"][:1] if first_seed else exp["seeds"])
    ]


def metrics_of(runs):
    return [f"{run}/metrics.json" for run in runs]


def fid_baseline_runs():
    """Runs whose FID gets reference points (ebipla fid-baselines): Table 1's first seed of each data set, method
    and N."""
    return experiment_runs("table1", first_seed=True)


def figure2_runs():
    """Figure 2: one run per data set of Tables 1 and 2(a): the figure's method, first N, first seed."""
    runs = {}
    for name in ("table1", "table2a"):
        exp = experiment(name) or {"datasets": []}
        for d in exp["datasets"]:
            found = experiment_runs(name, d, PAP["figure2_method"], first_seed=True)
            if found and d not in runs:
                runs[d] = found[0]
    return list(runs.values())


def figure4_run():
    """Figure 4: the first run (EBIPLA first, first N, first seed) of figure4_dataset in any experiment."""
    for name in ("table1", "table2a", "table2b"):
        for method in ("ebipla", "lebm"):
            found = experiment_runs(
                name, PAP["figure4_dataset"], method, first_seed=True
            )
            if found:
                return found[0]
    return None


def synthetic_baseline_runs():
    """The synthetic baselines figure's runs, per data set of synthetic_baselines: the
    synthetic grid's methods (EBIPLA, LEBM) at N = grid_particles, then each baseline
    (variant protocol), all with its seed."""
    seed = SB["seed"]
    return [
        run
        for d in SB["datasets"]
        for run in [
            *(
                run_dir("synthetic", d, m, SB["grid_particles"], "paper", seed)
                for m in SYN["methods"]
            ),
            *(
                run_dir("synthetic", d, m, n, "protocol", seed)
                for m, particles in SB["methods"].items()
                for n in particles
            ),
        ]
    ]


def literature_tables():
    """Tables 5-7, for those whose data set has runs in Table 1."""
    return [t for t, d in PAP["literature"].items() if experiment_runs("table1", d)]


# ---------------------------------------------------------------------------------------------- your experiments
CUSTOM = config.get("custom", [])
FILE_DATA = ("folder", "array")


def custom_entry(name):
    for entry in CUSTOM:
        if entry["name"] == name:
            return entry
    raise ValueError(f"no custom experiment named {name!r} in config['custom']")


def custom_data_sets(name):
    """The entry's --set overrides that concern its data and evaluation (what prepare and fid-ref read)."""
    return [
        s for s in custom_entry(name).get("set", []) if s.startswith(("data.", "eval."))
    ]


def custom_sets(name):
    return " ".join(f"--set {s}" for s in custom_data_sets(name))


_CUSTOM_CONFIGS = {}


def custom_config(name):
    """The entry's shared run config as ebipla reads it (its data section decides preparation and the metric)."""
    if name not in _CUSTOM_CONFIGS:
        _CUSTOM_CONFIGS[name] = load_config(
            [custom_entry(name)["config"]], custom_data_sets(name)
        )
    return _CUSTOM_CONFIGS[name]


def custom_is_image(name):
    return custom_config(name).data.is_image


def custom_fid_weights(name):
    """The FID feature extractor's weights: the run config's eval.fid.weights_path, else Inception's."""
    return custom_config(name).eval.fid.weights_path or INCEPTION


def custom_runs(name, first_seed=False):
    entry = custom_entry(name)
    seeds = entry["seeds"][:1] if first_seed else entry["seeds"]
    return [
        CUSTOM_RUNS.format(name=name, method=m, N=n, seed=s)
        for m, particles in entry["methods"].items()
        for n in particles
        for s in seeds
    ]


def custom_run_configs(wildcards):
    """The entry's config, then its method's config when it names one."""
    entry = custom_entry(wildcards.name)
    method_config = entry.get("method_configs", {}).get(wildcards.method)
    return [entry["config"], *([method_config] if method_config else [])]


def custom_train_inputs(wildcards):
    """Config files (with their base files), and the prepared data set for folder, array and image data."""
    inputs = config_files(custom_run_configs(wildcards))
    data = custom_config(wildcards.name).data
    if data.name in FILE_DATA:
        inputs.append(f"results/custom/{wildcards.name}/prepared.txt")
    elif data.is_image:
        inputs.append(f"{data.prepared_dir}/manifest.json")
    return inputs


def custom_run_overrides(wildcards):
    """--set arguments: the method, its N, the seed, then the entry's own overrides."""
    sets = [
        f"algorithm.name={wildcards.method}",
        *n_override(wildcards.method, wildcards.N),
        f"seed={wildcards.seed}",
        *custom_entry(wildcards.name).get("set", []),
    ]
    return " ".join(f"--set {s}" for s in sets)


def custom_evaluate_inputs(wildcards):
    run = CUSTOM_RUNS.format(
        name=wildcards.name, method=wildcards.method, N=wildcards.N, seed=wildcards.seed
    )
    inputs = [f"{run}/train_summary.json"]
    if custom_is_image(wildcards.name):
        inputs += [
            f"results/custom/{wildcards.name}/fid_ref.npz",
            custom_fid_weights(wildcards.name),
        ]
    return inputs


def custom_fid_sets(wildcards):
    """Image runs: FID against the training images' reference, with the entry's extractor weights."""
    if not custom_is_image(wildcards.name):
        return ""
    reference = f"results/custom/{wildcards.name}/fid_ref.npz"
    weights = custom_fid_weights(wildcards.name)
    return f"--set eval.fid.weights_path={weights} --set eval.fid.reference={reference}"


def custom_metrics(name):
    cfg = custom_config(name)
    if cfg.data.is_image:
        return ["fid", "mse", "train_seconds"]
    return [
        "mmd2",
        *(["mmd2_long_run"] if cfg.eval.long_run_steps else []),
        "train_seconds",
    ]


def custom_targets():
    return [
        f"results/custom/{entry['name']}/{stem}"
        for entry in CUSTOM
        for stem in ("table.csv", "table.md", "samples.png", "samples.pdf")
    ]


# The studies of the questions the paper leaves open (workflow/rules/study_*.smk, config key ``studies``): each
# study file appends its artifacts to STUDY_TARGETS and the files its report.md section reads to STUDY_REPORT
# (study name -> files for `ebipla report paper-report --study NAME=FILE`).
STUDY_TARGETS = []
STUDY_REPORT = {}


def final_targets():
    targets = paper_outputs("synthetic_mmd", TABLES)
    targets += paper_outputs("figure1", FIGURES)
    targets += paper_outputs("figure5", FIGURES)
    targets += paper_outputs("figure_theory", ["csv", *FIGURES])
    if ABL["datasets"]:
        targets += paper_outputs("figure_j_ablation", FIGURES)
    for name in ("table1", "table2a", "table2b"):
        if experiment(name):
            targets += paper_outputs(name, TABLES)
    if experiment("baselines"):
        targets += paper_outputs("table_one_protocol", TABLES)
    if SB["datasets"]:
        targets += paper_outputs("figure_baselines_synthetic", FIGURES)
    for name in literature_tables():
        targets += paper_outputs(name, TABLES)
    if figure2_runs():
        targets += paper_outputs("figure2", FIGURES)
    if figure4_run():
        targets += paper_outputs("figure4", FIGURES)
    targets += paper_outputs("table4", TABLES)
    targets += STUDY_TARGETS
    targets.append(f"{PAPER}/report.md")
    targets += [f"{run}/interpolations.png" for run in image_runs()]
    targets += custom_targets()
    return targets
