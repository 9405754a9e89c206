# Your own experiments: config["custom"] (docs/own-data.md, config/custom.example.yaml). Each entry's runs live in
# results/custom/<name>/<method>/N<N>/seed<seed>/ and go through the same commands as the paper's runs: prepare
# (a folder of images or an array file), train, evaluate (FID against the training images' reference statistics, or
# MMD^2 against the validation split), then a table and a sample figure per entry.


rule custom_prepare:
    # Local: reads the user's files. ebipla prepares again by itself when those files change (the manifest keeps
    # their checksums); force this job (snakemake -R custom_prepare) to refresh the marker too.
    input:
        # The entry's config after its base files: editing either prepares again.
        lambda wc: config_files([custom_entry(wc.name)["config"]]),
    output:
        "results/custom/{name}/prepared.txt",
    log:
        "results/logs/custom/{name}/prepare.log",
    benchmark:
        "results/benchmarks/custom/{name}/prepare.tsv"
    conda:
        ENV
    threads: 1
    params:
        config=lambda wc: custom_entry(wc.name)["config"],
        prepared=lambda wc: custom_config(wc.name).data.prepared_dir,
        sets=lambda wc: custom_sets(wc.name),
    shell:
        "ebipla prepare --config {params.config} {params.sets} > {log} 2>&1 && echo {params.prepared} > {output}"


rule custom_fid_reference:
    input:
        prepared="results/custom/{name}/prepared.txt",
        weights=lambda wc: custom_fid_weights(wc.name),
    output:
        "results/custom/{name}/fid_ref.npz",
    log:
        "results/logs/custom/{name}/fid_reference.log",
    benchmark:
        "results/benchmarks/custom/{name}/fid_reference.tsv"
    conda:
        ENV
    threads: SITE["cpus_train"]
    resources:
        **gpu_resources(SITE["runtime_eval"]),
    params:
        config=lambda wc: custom_entry(wc.name)["config"],
        sets=lambda wc: custom_sets(wc.name),
    shell:
        "OMP_NUM_THREADS={threads} ebipla fid-ref --config {params.config} {params.sets}"
        " --set eval.fid.weights_path={input.weights} --out {output} > {log} 2>&1"


rule custom_train:
    input:
        custom_train_inputs,
    output:
        f"{CUSTOM_RUNS}/train_summary.json",
    log:
        "results/logs/custom/{name}/train/{method}/N{N}/seed{seed}.log",
    benchmark:
        "results/benchmarks/custom/{name}/train/{method}/N{N}/seed{seed}.tsv"
    conda:
        ENV
    threads: SITE["cpus_train"]
    resources:
        **gpu_resources(SITE["runtime_train"]),
    params:
        run_dir=lambda wc, output: os.path.dirname(output[0]),
        configs=lambda wc: " ".join(f"--config {f}" for f in custom_run_configs(wc)),
        overrides=custom_run_overrides,
    shell:
        "OMP_NUM_THREADS={threads} exec ebipla train {params.configs} {params.overrides} --out {params.run_dir}"
        " --restart-on-config-change > {log} 2>&1"


rule custom_evaluate:
    input:
        custom_evaluate_inputs,
    output:
        f"{CUSTOM_RUNS}/metrics.json",
    log:
        "results/logs/custom/{name}/evaluate/{method}/N{N}/seed{seed}.log",
    benchmark:
        "results/benchmarks/custom/{name}/evaluate/{method}/N{N}/seed{seed}.tsv"
    conda:
        ENV
    threads: SITE["cpus_train"]
    resources:
        **gpu_resources(SITE["runtime_eval_images"]),
    params:
        run_dir=lambda wc, output: os.path.dirname(output[0]),
        fid=custom_fid_sets,
    shell:
        "OMP_NUM_THREADS={threads} ebipla evaluate --run {params.run_dir} {params.fid} > {log} 2>&1"


rule custom_table:
    input:
        lambda wc: metrics_of(custom_runs(wc.name)),
    output:
        report_table(
            "results/custom/{name}/table",
            "../report/custom_table.rst",
            "Your experiments",
            plain=["md"],
        ),
    log:
        "results/logs/custom/{name}/table.log",
    benchmark:
        "results/benchmarks/custom/{name}/table.tsv"
    conda:
        ENV
    threads: 1
    params:
        runs=lambda wc: " ".join(custom_runs(wc.name)),
        metrics=lambda wc: " ".join(custom_metrics(wc.name)),
        prefix="results/custom/{name}/table",
    shell:
        "ebipla report sweep {params.runs} --by algorithm.name N --metrics {params.metrics} --out {params.prefix}"
        " --caption 'Your experiment {wildcards.name}: mean +- s.e. over the seeds' > {log} 2>&1"


rule custom_figure:
    input:
        lambda wc: metrics_of(custom_runs(wc.name, first_seed=True)),
    output:
        report(
            "results/custom/{name}/samples.png",
            caption="../report/custom_samples.rst",
            category="Your experiments",
        ),
        "results/custom/{name}/samples.pdf",
    log:
        "results/logs/custom/{name}/figure.log",
    benchmark:
        "results/benchmarks/custom/{name}/figure.tsv"
    conda:
        ENV
    threads: 1
    params:
        runs=lambda wc: " ".join(custom_runs(wc.name, first_seed=True)),
        prefix="results/custom/{name}/samples",
    shell:
        "ebipla report custom-samples --runs {params.runs} --out {params.prefix}"
        " --caption 'Your experiment {wildcards.name}: samples of the first seed' > {log} 2>&1"


localrules:
    custom_prepare,
    custom_table,
    custom_figure,
