# Functions of the particles study (workflow/rules/study_particles.smk, which includes this file): its settings,
# run directories, epochs and --set arguments.
PS = config["studies"]["particles"]
PARTICLE_RUNS = "results/studies/particles/{dataset}/{method}/N{N}/M{M}/seed{seed}"


def particles_files(dataset, method):
    """The cell's run config files: the base N's paper file, then the study's overlays."""
    name = f"{dataset}_{method}_n{PS['base_particles']}.yaml"
    return [str(Path(PS["run_configs"]) / name), *PS["overlays"]]


def particles_epochs(dataset, method, m):
    """n_epochs = K / ceil(M / B): K iterations for every M (B from the run's files and the study's sets)."""
    b = load_config(particles_files(dataset, method), PS["set"]).train.batch_size
    per_epoch = -(-int(m) // b)
    if PS["iterations"] % per_epoch:
        raise ValueError(
            f"studies.particles.iterations = {PS['iterations']} is not a multiple of ceil(M / B) = {per_epoch} "
            f"(M = {m}, B = {b}); choose K so that every M in data_sizes gets a whole number of epochs"
        )
    return PS["iterations"] // per_epoch


def particles_overrides(wildcards):
    """--set arguments: seed, M, N (the method's key), the epochs for K iterations, then the study's sets."""
    sets = [
        f"seed={wildcards.seed}",
        f"data.n_points={wildcards.M}",
        *n_override(wildcards.method, wildcards.N),
        f"train.n_epochs={particles_epochs(wildcards.dataset, wildcards.method, wildcards.M)}",
        *PS["set"],
    ]
    return " ".join(f"--set {s}" for s in sets)


def particles_runs():
    return [
        PARTICLE_RUNS.format(dataset=d, method=m, N=n, M=size, seed=s)
        for d in PS["datasets"]
        for m in PS["methods"]
        for n in PS["particles"]
        for size in PS["data_sizes"]
        for s in PS["seeds"]
    ]


def particles_table2b():
    """Table 2(b)'s metrics (FID against N) when the study draws them and the experiment exists."""
    return metrics_of(experiment_runs("table2b")) if PS["table2b"] else []
