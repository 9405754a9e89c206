# Study: posterior accuracy with a known, non-log-concave posterior (ebipla/studies/posterior.py; config key
# studies.posterior; docs/posterior-accuracy.md). One job simulates both parts (theta fixed at the truth: EBIPLA's,
# ABP's and LEBM's samples against the grid posterior; learning theta: each sampler's Adam ascent against the exact
# MMLE) and writes results/paper/table_posterior_accuracy.{csv,md,tex,html} and figure_posterior_accuracy.{pdf,png,npz}.
POSTERIOR = config["studies"]["posterior"]

if POSTERIOR["enabled"]:

    rule study_posterior:
        output:
            report_table(
                f"{PAPER}/table_posterior_accuracy",
                "../report/table_posterior_accuracy.rst",
                "Studies",
            ),
            f"{PAPER}/figure_posterior_accuracy.pdf",
            report(
                f"{PAPER}/figure_posterior_accuracy.png",
                caption="../report/figure_posterior_accuracy.rst",
                category="Studies",
            ),
            f"{PAPER}/figure_posterior_accuracy.npz",
        log:
            "results/logs/studies/posterior.log",
        benchmark:
            "results/benchmarks/studies/posterior.tsv"
        conda:
            ENV
        threads: 1
        resources:
            slurm_partition=SITE["partition"],
            slurm_account=SITE["account"],
            mem_mb=SITE["mem_mb_eval"],
            runtime=SITE["runtime_eval"],
        params:
            prefix=f"{PAPER}/posterior_accuracy",
            scale=POSTERIOR["scale"],
            seed=POSTERIOR["seed"],
            table_caption=POSTERIOR["captions"]["table"],
            figure_caption=POSTERIOR["captions"]["figure"],
        shell:
            "OMP_NUM_THREADS={threads} ebipla study posterior --scale {params.scale} --seed {params.seed}"
            " --out {params.prefix} --table-caption {params.table_caption:q}"
            " --figure-caption {params.figure_caption:q} > {log} 2>&1"

    STUDY_TARGETS += [
        *paper_outputs("table_posterior_accuracy", TABLES),
        *paper_outputs("figure_posterior_accuracy", FIGURES),
    ]
    STUDY_REPORT["posterior"] = [f"{PAPER}/table_posterior_accuracy.csv"]
