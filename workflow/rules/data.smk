# Data sets. Downloads and preparation are local rules (compute nodes often have no internet); their outputs under
# results/datasets are versioned by DVC. The synthetic data sets are generated from a seed: their files serve the
# figures, while training regenerates the same points from the run's config.


rule synthetic_data:
    output:
        "results/data/synthetic/{dataset}.npz",
    log:
        "results/logs/synthetic_data/{dataset}.log",
    benchmark:
        "results/benchmarks/synthetic_data/{dataset}.tsv"
    conda:
        ENV
    threads: 1
    params:
        n_eval=SYN["n_eval"],
    shell:
        "ebipla data --set data.name={wildcards.dataset} --n-eval {params.n_eval} --out {output} > {log} 2>&1"


rule prepare_images:
    output:
        "results/datasets/{dataset}/manifest.json",
    log:
        "results/logs/prepare_images/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_images/{dataset}.tsv"
    wildcard_constraints:
        dataset=IMAGE_SETS,
    conda:
        ENV
    threads: 1
    shell:
        "ebipla prepare --set data.name={wildcards.dataset} --set data.n_points=null > {log} 2>&1"


rule inception_weights:
    output:
        INCEPTION,
    log:
        "results/logs/inception_weights.log",
    benchmark:
        "results/benchmarks/inception_weights.tsv"
    conda:
        ENV
    threads: 1
    shell:
        "ebipla fetch-inception --out {output} > {log} 2>&1"


rule digits_classifier:
    input:
        "results/datasets/digits/manifest.json",
    output:
        "results/datasets/digits/classifier.pt",
    log:
        "results/logs/digits_classifier.log",
    benchmark:
        "results/benchmarks/digits_classifier.tsv"
    conda:
        ENV
    threads: 1
    shell:
        "ebipla digits-classifier --set data.name=digits --set data.n_points=null --out {output} > {log} 2>&1"


rule fid_reference:
    input:
        data="results/datasets/{dataset}/manifest.json",
        weights=fid_weights,
    output:
        # The name `ebipla evaluate` looks for by default: a run evaluated by hand finds it without --set.
        "results/datasets/{dataset}/fid_ref_{extractor}.npz",
    log:
        "results/logs/fid_reference/{dataset}_{extractor}.log",
    benchmark:
        "results/benchmarks/fid_reference/{dataset}_{extractor}.tsv"
    wildcard_constraints:
        dataset=IMAGE_SETS,
        extractor=r"[A-Za-z0-9-]+",
    conda:
        ENV
    threads: SITE["cpus_train"]
    resources:
        **gpu_resources(SITE["runtime_eval"]),
    params:
        config=lambda wc: f"{IMG['run_configs']}/{wc.dataset}.yaml",
    shell:
        "OMP_NUM_THREADS={threads} ebipla fid-ref --config {params.config} --set eval.fid.feature_extractor="
        "{wildcards.extractor} --set eval.fid.weights_path={input.weights} --out {output} > {log} 2>&1"


localrules:
    synthetic_data,
    prepare_images,
    inception_weights,
    digits_classifier,
