# Tables and figures, built from the runs' saved files only. Local rules: they are light and need no GPU.


rule synthetic_mmd_table:
    input:
        lambda wc: [f"{d}/metrics.json" for d in grid_runs(SYN["seeds"])],
    output:
        paper_outputs("synthetic_mmd", ["csv", "md", "tex"]),
    log:
        "results/logs/report/synthetic_mmd.log",
    benchmark:
        "results/benchmarks/report/synthetic_mmd.tsv"
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        caption=config["captions"]["synthetic_mmd"],
    shell:
        "ebipla report synthetic-mmd {input} --out {params.prefix} --caption {params.caption:q} > {log} 2>&1"


rule images_metrics_table:
    input:
        lambda wc: [f"{d}/metrics.json" for d in image_runs()],
    output:
        paper_outputs("images_metrics", ["csv", "md", "tex"]),
    log:
        "results/logs/report/images_metrics.log",
    benchmark:
        "results/benchmarks/report/images_metrics.tsv"
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        caption=config["captions"]["images_metrics"],
    shell:
        "ebipla report image-metrics {input} --out {params.prefix} --caption {params.caption:q} > {log} 2>&1"


rule figure1:
    input:
        samples=lambda wc: [f"{d}/samples.npz" for d in grid_runs([SYN["figure_seed"]])],
        landscapes=lambda wc: [
            f"{d}/landscape.npz" for d in grid_runs([SYN["figure_seed"]])
        ],
        data=expand("results/data/synthetic/{dataset}.npz", dataset=SYN["datasets"]),
    output:
        paper_outputs("figure1", ["pdf", "png"]),
    log:
        "results/logs/report/figure1.log",
    benchmark:
        "results/benchmarks/report/figure1.tsv"
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        runs=lambda wc: " ".join(grid_runs([SYN["figure_seed"]])),
        caption=config["captions"]["figure1"],
    shell:
        "ebipla report samples-landscapes --runs {params.runs} --data {input.data} --out {params.prefix}"
        " --caption {params.caption:q} > {log} 2>&1"


rule figure_j_ablation:
    input:
        samples=lambda wc: [f"{d}/samples.npz" for d in ablation_runs()],
        landscapes=lambda wc: [f"{d}/landscape.npz" for d in ablation_runs()],
    output:
        paper_outputs("figure_j_ablation", ["pdf", "png"]),
    log:
        "results/logs/report/figure_j_ablation.log",
    benchmark:
        "results/benchmarks/report/figure_j_ablation.tsv"
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        runs=lambda wc: " ".join(ablation_runs()),
        caption=config["captions"]["figure_j_ablation"],
    shell:
        "ebipla report j-ablation --runs {params.runs} --out {params.prefix} --caption {params.caption:q}"
        " > {log} 2>&1"


rule figure1_runtime:
    input:
        "results/timing/synthetic.csv",
    output:
        paper_outputs("figure1_runtime", ["pdf", "png"]),
    log:
        "results/logs/report/figure1_runtime.log",
    benchmark:
        "results/benchmarks/report/figure1_runtime.tsv"
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        caption=config["captions"]["figure1_runtime"],
    shell:
        "ebipla report runtime {input} --out {params.prefix} --caption {params.caption:q} > {log} 2>&1"


localrules:
    synthetic_mmd_table,
    images_metrics_table,
    figure1,
    figure_j_ablation,
    figure1_runtime,
