# Study: a linear probe on the learned latents (ebipla/studies/probe.py; config key studies.probe; docs/probe.md).
# For each data set with class labels, one job infers every probed run's latents (MAP latents, the particle bank or
# the method's own posterior chain, the encoder's mean) and the references (raw pixels, a random generator's MAP
# latents), fits the logistic-regression probes with all labels and with a few per class, and writes
# results/studies/probe/<dataset>.{csv,md,tex,html}; a local rule merges them into results/paper/table_probe.*.
PROBE = config["studies"]["probe"]

if PROBE["enabled"]:
    PROBE_EXPERIMENT = experiment(PROBE["experiment"]) or {"datasets": [], "seeds": []}
    # The probed runs per data set: the experiment's runs (every method and N) with the study's seeds.
    PROBE_RUNS = {
        d: [
            run_dir("images", d, m, n, PROBE_EXPERIMENT.get("variant", "paper"), s)
            for s in PROBE["seeds"]
            for m, particles in PROBE_EXPERIMENT["methods"].items()
            for n in particles
        ]
        for d in PROBE["datasets"]
        if d in PROBE_EXPERIMENT["datasets"]
    }
    PROBE_MISSING = sorted(set(PROBE["datasets"]) - set(PROBE_RUNS)) + sorted(
        set(PROBE["seeds"]) - set(PROBE_EXPERIMENT["seeds"])
    )
    if PROBE_MISSING:
        raise ValueError(
            f"studies.probe: {PROBE_MISSING} are not data sets or seeds of images.experiments "
            f"{PROBE['experiment']!r} (data sets {PROBE_EXPERIMENT['datasets']}, seeds "
            f"{PROBE_EXPERIMENT['seeds']}): the study probes that experiment's runs"
        )
    # The study's size and seed as `ebipla study probe` options.
    PROBE_OPTIONS = " ".join(
        [
            f"--subsets {PROBE['subsets']} --seed {PROBE['seed']}",
            f"--map-restarts {PROBE['map']['restarts']} --map-iterations {PROBE['map']['iterations']}",
            "--labels-per-class " + " ".join(str(v) for v in PROBE["labels_per_class"]),
            *(
                f"--{key.replace('_', '-')} {PROBE[key]}"
                for key in ("n_train", "n_test")
                if PROBE[key] is not None
            ),
        ]
    )

    rule study_probe_dataset:
        input:
            summaries=lambda wc: [
                f"{r}/train_summary.json" for r in PROBE_RUNS[wc.dataset]
            ],
            data="results/datasets/{dataset}/manifest.json",
        output:
            "results/studies/probe/{dataset}.csv",
            "results/studies/probe/{dataset}.md",
            "results/studies/probe/{dataset}.tex",
            "results/studies/probe/{dataset}.html",
        log:
            "results/logs/studies/probe/{dataset}.log",
        benchmark:
            "results/benchmarks/studies/probe/{dataset}.tsv"
        conda:
            ENV
        threads: SITE["cpus_eval"]
        resources:
            **gpu_resources(SITE["runtime_eval_images"]),
        params:
            prefix=lambda wc, output: os.path.splitext(output[0])[0],
            runs=lambda wc, input: " ".join(os.path.dirname(s) for s in input.summaries),
            options=PROBE_OPTIONS,
            caption=PROBE["captions"]["table_probe"],
        shell:
            "OMP_NUM_THREADS={threads} ebipla study probe --runs {params.runs} {params.options}"
            " --out {params.prefix} --caption {params.caption:q} > {log} 2>&1"

    rule study_probe_table:
        input:
            expand("results/studies/probe/{dataset}.csv", dataset=PROBE["datasets"]),
        output:
            report_table(f"{PAPER}/table_probe", "../report/table_probe.rst", "Studies"),
        log:
            "results/logs/studies/probe/table.log",
        benchmark:
            "results/benchmarks/studies/probe/table.tsv"
        conda:
            ENV
        threads: 1
        params:
            prefix=lambda wc, output: os.path.splitext(output[0])[0],
            caption=PROBE["captions"]["table_probe"],
        shell:
            "ebipla study probe --tables {input} --out {params.prefix} --caption {params.caption:q} > {log} 2>&1"

    localrules:
        study_probe_table,

    STUDY_TARGETS += paper_outputs("table_probe", TABLES)
    STUDY_REPORT["probe"] = [f"{PAPER}/table_probe.csv"]
