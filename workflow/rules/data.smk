# Data sets. The synthetic ones are generated from a seed (training and held-out points); the files serve the
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


localrules:
    synthetic_data,
