# The paper's tables and figures and report.md (results/paper), built from the runs' saved files only. Local rules
# (light, no GPU) except the Theorem 1 study, which simulates. Captions come from config["captions"]; the
# `snakemake --report` captions are workflow/report/<name>.rst.


rule synthetic_mmd_table:
    input:
        lambda wc: metrics_of(grid_runs(SYN["seeds"])),
    output:
        report_table(f"{PAPER}/synthetic_mmd", "../report/synthetic_mmd.rst", "Tables"),
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


rule image_table:
    input:
        lambda wc: metrics_of(experiment_runs(wc.table)),
    output:
        report_table(f"{PAPER}/{{table}}", "../report/image_table.rst", "Tables"),
    log:
        "results/logs/report/{table}.log",
    benchmark:
        "results/benchmarks/report/{table}.tsv"
    wildcard_constraints:
        table="table1|table2a|table2b",
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        datasets=lambda wc: (
            ""
            if wc.table == "table2b"
            else "--datasets " + " ".join(experiment(wc.table)["datasets"])
        ),
        caption=lambda wc: config["captions"][wc.table],
    shell:
        "ebipla report {wildcards.table} {input} {params.datasets} --out {params.prefix}"
        " --caption {params.caption:q} > {log} 2>&1"


rule table_one_protocol:
    input:
        lambda wc: metrics_of(experiment_runs("baselines")),
    output:
        report_table(
            f"{PAPER}/table_one_protocol", "../report/table_one_protocol.rst", "Tables"
        ),
    log:
        "results/logs/report/table_one_protocol.log",
    benchmark:
        "results/benchmarks/report/table_one_protocol.tsv"
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        caption=config["captions"]["table_one_protocol"],
    shell:
        "ebipla report table-one-protocol {input} --out {params.prefix} --caption {params.caption:q} > {log} 2>&1"


rule literature_table:
    input:
        lambda wc: metrics_of(experiment_runs("table1", PAP["literature"][wc.table])),
    output:
        report_table(f"{PAPER}/{{table}}", "../report/literature_table.rst", "Tables"),
    log:
        "results/logs/report/{table}.log",
    benchmark:
        "results/benchmarks/report/{table}.tsv"
    wildcard_constraints:
        table="table5|table6|table7",
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        dataset=lambda wc: PAP["literature"][wc.table],
        caption=lambda wc: config["captions"][wc.table],
    shell:
        "ebipla report literature {input} --table {wildcards.table} --dataset {params.dataset}"
        " --out {params.prefix} --caption {params.caption:q} > {log} 2>&1"


rule table4:
    input:
        "results/timing/images.csv",
    output:
        report_table(f"{PAPER}/table4", "../report/table4.rst", "Tables"),
    log:
        "results/logs/report/table4.log",
    benchmark:
        "results/benchmarks/report/table4.tsv"
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        caption=config["captions"]["table4"],
    shell:
        "ebipla report table4 {input} --out {params.prefix} --caption {params.caption:q} > {log} 2>&1"


rule figure1:
    input:
        samples=lambda wc: [f"{d}/samples.npz" for d in grid_runs([SYN["figure_seed"]])],
        landscapes=lambda wc: [
            f"{d}/landscape.npz" for d in grid_runs([SYN["figure_seed"]])
        ],
        metrics=lambda wc: metrics_of(grid_runs([SYN["figure_seed"]])),
        data=expand("results/data/synthetic/{dataset}.npz", dataset=SYN["datasets"]),
        timing="results/timing/synthetic.csv",
    output:
        f"{PAPER}/figure1.pdf",
        report(
            f"{PAPER}/figure1.png", caption="../report/figure1.rst", category="Figures"
        ),
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
        "ebipla report samples-landscapes --runs {params.runs} --data {input.data} --timing {input.timing}"
        " --out {params.prefix} --caption {params.caption:q} > {log} 2>&1"


rule figure_baselines_synthetic:
    input:
        samples=lambda wc: [f"{d}/samples.npz" for d in synthetic_baseline_runs()],
        landscapes=lambda wc: [f"{d}/landscape.npz" for d in synthetic_baseline_runs()],
        metrics=lambda wc: metrics_of(synthetic_baseline_runs()),
        data=expand("results/data/synthetic/{dataset}.npz", dataset=SB["datasets"]),
    output:
        f"{PAPER}/figure_baselines_synthetic.pdf",
        report(
            f"{PAPER}/figure_baselines_synthetic.png",
            caption="../report/figure_baselines_synthetic.rst",
            category="Figures",
        ),
    log:
        "results/logs/report/figure_baselines_synthetic.log",
    benchmark:
        "results/benchmarks/report/figure_baselines_synthetic.tsv"
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        runs=lambda wc: " ".join(synthetic_baseline_runs()),
        caption=config["captions"]["figure_baselines_synthetic"],
    shell:
        "ebipla report baselines-synthetic --runs {params.runs} --data {input.data} --out {params.prefix}"
        " --caption {params.caption:q} > {log} 2>&1"


rule figure_j_ablation:
    input:
        samples=lambda wc: [f"{d}/samples.npz" for d in ablation_runs()],
        landscapes=lambda wc: [f"{d}/landscape.npz" for d in ablation_runs()],
    output:
        f"{PAPER}/figure_j_ablation.pdf",
        report(
            f"{PAPER}/figure_j_ablation.png",
            caption="../report/figure_j_ablation.rst",
            category="Figures",
        ),
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


rule figure2:
    input:
        lambda wc: [f"{d}/samples.npz" for d in figure2_runs()],
    output:
        f"{PAPER}/figure2.pdf",
        report(
            f"{PAPER}/figure2.png", caption="../report/figure2.rst", category="Figures"
        ),
    log:
        "results/logs/report/figure2.log",
    benchmark:
        "results/benchmarks/report/figure2.tsv"
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        runs=lambda wc: " ".join(figure2_runs()),
        caption=config["captions"]["figure2"],
    shell:
        "ebipla report figure2 --runs {params.runs} --out {params.prefix} --caption {params.caption:q}"
        " > {log} 2>&1"


rule figure4:
    input:
        lambda wc: f"{figure4_run()}/interpolations.npz",
    output:
        f"{PAPER}/figure4.pdf",
        report(
            f"{PAPER}/figure4.png", caption="../report/figure4.rst", category="Figures"
        ),
    log:
        "results/logs/report/figure4.log",
    benchmark:
        "results/benchmarks/report/figure4.tsv"
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        run=lambda wc: figure4_run(),
        caption=config["captions"]["figure4"],
    shell:
        "ebipla report figure4 --run {params.run} --out {params.prefix} --caption {params.caption:q}"
        " > {log} 2>&1"


rule figure5:
    input:
        expand("results/data/synthetic/{dataset}.npz", dataset=SYN["datasets"]),
    output:
        f"{PAPER}/figure5.pdf",
        report(
            f"{PAPER}/figure5.png", caption="../report/figure5.rst", category="Figures"
        ),
    log:
        "results/logs/report/figure5.log",
    benchmark:
        "results/benchmarks/report/figure5.tsv"
    conda:
        ENV
    threads: 1
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        caption=config["captions"]["figure5"],
    shell:
        "ebipla report figure5 --data {input} --out {params.prefix} --caption {params.caption:q} > {log} 2>&1"


rule figure_theory:
    output:
        f"{PAPER}/figure_theory.csv",
        f"{PAPER}/figure_theory.pdf",
        report(
            f"{PAPER}/figure_theory.png",
            caption="../report/figure_theory.rst",
            category="Figures",
        ),
    log:
        "results/logs/report/figure_theory.log",
    benchmark:
        "results/benchmarks/report/figure_theory.tsv"
    conda:
        ENV
    threads: 1
    resources:
        slurm_partition=SITE["partition"],
        slurm_account=SITE["account"],
        mem_mb=SITE["mem_mb_eval"],
        runtime=SITE["runtime_eval"],
    params:
        prefix=lambda wc, output: os.path.splitext(output[0])[0],
        scale=PAP["theory"],
        caption=config["captions"]["figure_theory"],
    shell:
        "OMP_NUM_THREADS={threads} ebipla report theory --scale {params.scale} --out {params.prefix}"
        " --caption {params.caption:q} > {log} 2>&1"


rule paper_report:
    input:
        tables=lambda wc: [
            f"{PAPER}/{t}.csv"
            for t in ("table1", "table2a", "table2b")
            if experiment(t)
        ]
        + [f"{PAPER}/table4.csv"],
        summaries=lambda wc: [f"{run}/train_summary.json" for run in image_runs()],
        synthetic_mmd=f"{PAPER}/synthetic_mmd.csv",
        theory=f"{PAPER}/figure_theory.csv",
        fid_baselines=lambda wc: [
            f"{run}/fid_baselines.json" for run in fid_baseline_runs()
        ],
        baseline_metrics=lambda wc: metrics_of(fid_baseline_runs()),
        one_protocol=lambda wc: (
            [f"{PAPER}/table_one_protocol.csv"] if experiment("baselines") else []
        ),
        studies=lambda wc: [f for files in STUDY_REPORT.values() for f in files],
    output:
        report(f"{PAPER}/report.md", caption="../report/report.rst", category="Report"),
    log:
        "results/logs/report/paper_report.log",
    benchmark:
        "results/benchmarks/report/paper_report.tsv"
    conda:
        ENV
    threads: 1
    params:
        tables=lambda wc, input: " ".join(
            f"--{os.path.basename(t)[:-4]} {t}" for t in input.tables
        ),
        caption=config["captions"]["report"],
        baselines=lambda wc, input: (
            "--fid-baselines " + " ".join(input.fid_baselines)
            if input.fid_baselines
            else ""
        ),
        one_protocol=lambda wc, input: (
            "--one-protocol " + " ".join(input.one_protocol)
            if input.one_protocol
            else ""
        ),
        one_protocol_caption=config["captions"]["table_one_protocol"],
        studies=lambda wc: " ".join(
            f"--study {name}={f}"
            for name, files in STUDY_REPORT.items()
            for f in files
        ),
    shell:
        "ebipla report paper-report {params.tables} --synthetic-mmd {input.synthetic_mmd} --theory {input.theory}"
        " {params.baselines} {params.one_protocol} --one-protocol-caption {params.one_protocol_caption:q} {params.studies}"
        " --out {output} --caption {params.caption:q} > {log} 2>&1"


localrules:
    synthetic_mmd_table,
    image_table,
    table_one_protocol,
    literature_table,
    table4,
    figure1,
    figure_baselines_synthetic,
    figure_j_ablation,
    figure2,
    figure4,
    figure5,
    paper_report,
