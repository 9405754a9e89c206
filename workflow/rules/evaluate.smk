# Evaluation of finished runs: synthetic (MMD^2 of short-run and long-run samples, samples and the energy landscape
# in one pass) and images (FID, reconstruction MSE, sample grid, interpolations; FID reference points for Table 1's
# first seeds); the per-step timing of Figure 1 (right) and of Table 4.


rule evaluate_synthetic:
    input:
        "results/runs/synthetic/{dataset}/{method}/N{N}/{variant}/seed{seed}/train_summary.json",
    output:
        metrics="results/runs/synthetic/{dataset}/{method}/N{N}/{variant}/seed{seed}/metrics.json",
        samples="results/runs/synthetic/{dataset}/{method}/N{N}/{variant}/seed{seed}/samples.npz",
        landscape="results/runs/synthetic/{dataset}/{method}/N{N}/{variant}/seed{seed}/landscape.npz",
    log:
        "results/logs/evaluate/{dataset}/{method}/N{N}/{variant}/seed{seed}.log",
    benchmark:
        "results/benchmarks/evaluate/{dataset}/{method}/N{N}/{variant}/seed{seed}.tsv"
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


rule evaluate_images:
    input:
        summary="results/runs/images/{dataset}/{method}/N{N}/{variant}/seed{seed}/train_summary.json",
        reference=fid_reference_file,
        weights=fid_weights,
    output:
        metrics="results/runs/images/{dataset}/{method}/N{N}/{variant}/seed{seed}/metrics.json",
        grid="results/runs/images/{dataset}/{method}/N{N}/{variant}/seed{seed}/samples.npz",
        interpolations="results/runs/images/{dataset}/{method}/N{N}/{variant}/seed{seed}/interpolations.npz",
        previews=multiext(
            "results/runs/images/{dataset}/{method}/N{N}/{variant}/seed{seed}/",
            "samples.png",
            "interpolations.png",
        ),
    log:
        "results/logs/evaluate/images/{dataset}/{method}/N{N}/{variant}/seed{seed}.log",
    benchmark:
        "results/benchmarks/evaluate/images/{dataset}/{method}/N{N}/{variant}/seed{seed}.tsv"
    conda:
        ENV
    threads: SITE["cpus_train"]
    resources:
        **gpu_resources(SITE["runtime_eval_images"]),
    params:
        run_dir=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "OMP_NUM_THREADS={threads} ebipla evaluate --run {params.run_dir} --set eval.fid.weights_path={input.weights}"
        " --set eval.fid.reference={input.reference} > {log} 2>&1"


rule fid_baselines:
    # Reference points for a run's FID: held-out real images and the untrained model with the same sampler.
    input:
        summary="results/runs/images/{dataset}/{method}/N{N}/{variant}/seed{seed}/train_summary.json",
        reference=fid_reference_file,
        weights=fid_weights,
    output:
        "results/runs/images/{dataset}/{method}/N{N}/{variant}/seed{seed}/fid_baselines.json",
    log:
        "results/logs/fid_baselines/{dataset}/{method}/N{N}/{variant}/seed{seed}.log",
    benchmark:
        "results/benchmarks/fid_baselines/{dataset}/{method}/N{N}/{variant}/seed{seed}.tsv"
    conda:
        ENV
    threads: SITE["cpus_train"]
    resources:
        **gpu_resources(SITE["runtime_eval_images"]),
    params:
        run_dir=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "OMP_NUM_THREADS={threads} ebipla fid-baselines --run {params.run_dir} --set eval.fid.weights_path="
        "{input.weights} --set eval.fid.reference={input.reference} --out {output} > {log} 2>&1"


rule timing:
    output:
        "results/timing/synthetic.csv",
    log:
        "results/logs/timing/synthetic.log",
    benchmark:
        "results/benchmarks/timing/synthetic.tsv"
    conda:
        ENV
    threads: SITE["cpus_train"]
    resources:
        **gpu_resources(SITE["runtime_eval"]),
    params:
        particles=" ".join(str(n) for n in config["timing"]["particles"]),
        prior_steps=config["timing"]["prior_steps"],
        batch_size=config["timing"]["batch_size"],
        repeats=config["timing"]["repeats"],
    shell:
        "OMP_NUM_THREADS={threads} ebipla bench --particles {params.particles} --prior-steps {params.prior_steps}"
        " --batch-size {params.batch_size} --repeats {params.repeats} --out {output} > {log} 2>&1"


rule timing_images:
    output:
        "results/timing/images.csv",
    log:
        "results/logs/timing/images.log",
    benchmark:
        "results/benchmarks/timing/images.tsv"
    conda:
        ENV
    threads: SITE["cpus_train"]
    resources:
        **gpu_resources(SITE["runtime_eval"]),
    params:
        datasets=" ".join(PAP["table4"]["datasets"]),
        lebm_steps=" ".join(str(n) for n in PAP["table4"]["lebm_steps"]),
        batch_size=PAP["table4"]["batch_size"],
        particles=PAP["table4"]["particles"],
        prior_steps=PAP["table4"]["prior_steps"],
        runs=PAP["table4"]["runs"],
        steps_per_run=PAP["table4"]["steps_per_run"],
    shell:
        "OMP_NUM_THREADS={threads} ebipla bench-images --datasets {params.datasets} --particles {params.particles}"
        " --lebm-steps {params.lebm_steps} --batch-size {params.batch_size} --prior-steps {params.prior_steps}"
        " --runs {params.runs} --steps-per-run {params.steps_per_run} --out {output} > {log} 2>&1"
