# Study: particles against data size (ebipla/studies/particles.py; config key studies.particles;
# docs/particles-vs-data.md). A grid of N x M on the synthetic sets, each cell a real run with the project's own
# commands (ebipla train, ebipla evaluate) in results/studies/particles/<dataset>/<method>/N<N>/M<M>/seed<seed>/:
# the paper file <dataset>_<method>_n<base_particles>.yaml for every N (only N changes: EBIPLA's n_particles,
# LEBM's n_posterior_steps at the matched budget), M = data.n_points, and n_epochs = K / ceil(M / B) so that every
# cell runs the same K iterations. Then `ebipla study particles` writes figure_particles_vs_data.{csv,pdf,png} and
# the guideline CSV; report.md gets its section.
include: "study_particles_common.smk"


if PS["enabled"]:

    rule study_particles_train:
        input:
            lambda wc: config_files(particles_files(wc.dataset, wc.method)),
        output:
            f"{PARTICLE_RUNS}/train_summary.json",
        log:
            "results/logs/studies/particles/train/{dataset}/{method}/N{N}/M{M}/seed{seed}.log",
        benchmark:
            "results/benchmarks/studies/particles/train/{dataset}/{method}/N{N}/M{M}/seed{seed}.tsv"
        wildcard_constraints:
            M=r"\d+",
        conda:
            ENV
        threads: SITE["cpus_train"]
        resources:
            **gpu_resources(SITE["runtime_train"]),
        params:
            run_dir=lambda wc, output: os.path.dirname(output[0]),
            configs=lambda wc: " ".join(
                f"--config {f}" for f in particles_files(wc.dataset, wc.method)
            ),
            overrides=particles_overrides,
        shell:
            "OMP_NUM_THREADS={threads} exec ebipla train {params.configs} {params.overrides} --out {params.run_dir}"
            " --restart-on-config-change >> {log} 2>&1"

    rule study_particles_evaluate:
        input:
            f"{PARTICLE_RUNS}/train_summary.json",
        output:
            metrics=f"{PARTICLE_RUNS}/metrics.json",
            samples=f"{PARTICLE_RUNS}/samples.npz",
            landscape=f"{PARTICLE_RUNS}/landscape.npz",
        log:
            "results/logs/studies/particles/evaluate/{dataset}/{method}/N{N}/M{M}/seed{seed}.log",
        benchmark:
            "results/benchmarks/studies/particles/evaluate/{dataset}/{method}/N{N}/M{M}/seed{seed}.tsv"
        wildcard_constraints:
            M=r"\d+",
        conda:
            ENV
        threads: SITE["cpus_eval"]
        resources:
            slurm_partition=SITE["partition"],
            slurm_account=SITE["account"],
            mem_mb=SITE["mem_mb_eval"],
            runtime=SITE["runtime_eval"],
        params:
            run_dir=lambda wc, output: os.path.dirname(output[0]),
        shell:
            "OMP_NUM_THREADS={threads} ebipla evaluate --run {params.run_dir} > {log} 2>&1"

    rule study_particles_figure:
        input:
            metrics=lambda wc: metrics_of(particles_runs()),
            table2b=lambda wc: particles_table2b(),
        output:
            report(
                f"{PAPER}/figure_particles_vs_data.csv",
                caption="../report/figure_particles_vs_data_csv.rst",
                category="Studies",
            ),
            report(
                f"{PAPER}/figure_particles_vs_data_guideline.csv",
                caption="../report/figure_particles_vs_data_guideline.rst",
                category="Studies",
            ),
            f"{PAPER}/figure_particles_vs_data.pdf",
            report(
                f"{PAPER}/figure_particles_vs_data.png",
                caption="../report/figure_particles_vs_data.rst",
                category="Studies",
            ),
        log:
            "results/logs/studies/particles/figure.log",
        benchmark:
            "results/benchmarks/studies/particles/figure.tsv"
        conda:
            ENV
        threads: 1
        params:
            prefix=lambda wc, output: os.path.splitext(output[0])[0],
            table2b=lambda wc, input: (
                f"--table2b {' '.join(input.table2b)}" if input.table2b else ""
            ),
            within=PS["within"],
            caption=PS["captions"]["figure_particles_vs_data"],
        shell:
            "ebipla study particles --metrics {input.metrics} {params.table2b} --within {params.within}"
            " --out {params.prefix} --caption {params.caption:q} > {log} 2>&1"

    localrules:
        study_particles_figure,

    STUDY_TARGETS += [
        *paper_outputs("figure_particles_vs_data", ["csv", *FIGURES]),
        f"{PAPER}/figure_particles_vs_data_guideline.csv",
    ]
    STUDY_REPORT["particles"] = [
        f"{PAPER}/figure_particles_vs_data_guideline.csv",
        f"{PAPER}/figure_particles_vs_data.csv",
    ]
