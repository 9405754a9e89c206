# Training: one run directory per (domain, data set, method, N, variant, seed). The declared output is the marker
# that training finished; the resumable checkpoint.pt beside it is not declared, so Snakemake never deletes it and
# a retried job (profile `retries`) resumes where the failed one stopped. When a run's config changes, the rerun
# starts afresh and keeps the old checkpoint as checkpoint.previous.pt. `exec`: the training process replaces the
# job's shell, so SLURM's SIGTERM before the time limit reaches it (it checkpoints and exits with status 75, and
# the profile's retries resume it) rather than killing the shell under it. The log is appended to (`>>`), so a
# retried job's log keeps the first attempt's lines, the preemption message among them.


rule train:
    input:
        train_inputs,
    output:
        "results/runs/{domain}/{dataset}/{method}/N{N}/{variant}/seed{seed}/train_summary.json",
    log:
        "results/logs/train/{domain}/{dataset}/{method}/N{N}/{variant}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{domain}/{dataset}/{method}/N{N}/{variant}/seed{seed}.tsv"
    conda:
        ENV
    threads: SITE["cpus_train"]
    resources:
        **gpu_resources(
            lambda wc: SITE[
                "runtime_train_images" if wc.domain == "images" else "runtime_train"
            ]
        ),
    params:
        run_dir=lambda wc, output: os.path.dirname(output[0]),
        overrides=run_overrides,
        configs=lambda wc: " ".join(f"--config {f}" for f in run_config_files(wc)),
    shell:
        "OMP_NUM_THREADS={threads} exec ebipla train {params.configs} {params.overrides} --out {params.run_dir}"
        " --restart-on-config-change >> {log} 2>&1"
