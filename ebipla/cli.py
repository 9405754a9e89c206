"""The ``ebipla`` command line: thin wrappers around the library (every workflow rule calls one of these).

    ebipla train --config FILE [--config FILE ...] [--set key=value ...] --out DIR
    ebipla sample --run DIR          ebipla evaluate --run DIR          ebipla landscape --run DIR
    ebipla fid-baselines --run DIR   (FID reference points of an image run)
    ebipla config --config FILE      (print the resolved config and exit)
    ebipla data --config FILE --out FILE      ebipla prepare --config FILE      ebipla fid-ref --config FILE
    ebipla digits-classifier --config FILE --out FILE
    ebipla report synthetic-mmd|table1|table2a|table2b|literature|table4|table-one-protocol|samples-landscapes|
                  baselines-synthetic|j-ablation|figure2|figure4|figure5|theory|paper-report ... --out PREFIX
    ebipla bench                     ebipla bench-images              ebipla gpu-check
    ebipla trace --run DIR --iterations K [--set key=value ...] [--particles N] --out FILE.csv
    ebipla quickstart                ebipla presets --write DIR
    ebipla study posterior|particles|probe ...   (the questions the paper leaves open; ebipla/studies/)
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__
from .errors import EXIT_BAD_INPUT, EbiplaError, TrainingStopped

log = logging.getLogger("ebipla")


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", action="append", default=[], metavar="FILE",
                   help="YAML config; repeat to layer files (later ones win)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override one key, e.g. --set algorithm.h=0.01; repeatable")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ebipla", description=__doc__.split("\n")[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a run (resumes when DIR holds a checkpoint)",
                       description="Train a run into DIR, resuming from DIR/checkpoint.pt when it exists. Exit "
                                   "status: 0 done; 2 bad input; 3 diverged (see train.divergence for automatic "
                                   "recovery); 75 stopped by SIGTERM or SIGUSR1 after writing a checkpoint: run the "
                                   "same command again to resume; 130 interrupted by Ctrl-C.")
    _add_config_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="run directory")
    p.add_argument("--device", help="override the config's device (auto, cpu, cuda, cuda:N)")
    p.add_argument("--until-iteration", type=int, metavar="K",
                   help="stop after iteration K with a checkpoint (resume later with the same command)")
    p.add_argument("--restart-on-config-change", action="store_true",
                   help="if DIR's checkpoint has another config, keep it as checkpoint.previous.pt and start afresh")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: only on a terminal; plain log lines otherwise)")

    p = sub.add_parser("config", help="print the resolved config and exit (a dry run)")
    _add_config_args(p)

    p = sub.add_parser("data", help="write a synthetic data set (training and held-out points) as .npz")
    _add_config_args(p)
    p.add_argument("--out", required=True, metavar="FILE", help="the .npz to write")
    p.add_argument("--n-eval", type=int, default=5000, help="held-out points (default 5000)")

    p = sub.add_parser("prepare", help="download and prepare an image data set, or your own folder of images or "
                       "array file (<data.root>/<name>/{train,val}.pt)")
    _add_config_args(p)

    p = sub.add_parser("fid-ref", help="FID statistics of the training images (computed once per data set)")
    _add_config_args(p)
    p.add_argument("--out", metavar="FILE", help="default: <data.root>/<name>/fid_ref_<extractor>.npz")
    p.add_argument("--device", help="override the config's device")

    p = sub.add_parser("fetch-inception", help="download torch-fidelity's Inception weights (for offline nodes)")
    p.add_argument("--out", required=True, metavar="FILE", help="where to store the weights (.pth)")

    p = sub.add_parser("digits-classifier", help="train the digits CNN whose features give the digits FID")
    _add_config_args(p)
    p.add_argument("--out", required=True, metavar="FILE", help="where to store the classifier's weights")

    p = sub.add_parser("report", help="the paper's tables and figures and report.md, from finished runs")
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT", help="the table or figure to write")
    q = what.add_parser("synthetic-mmd", help="MMD^2 table, mean +- s.e. over seeds (.csv, .md, .tex, .html)")
    q.add_argument("metrics", nargs="+", help="metrics.json files")
    for table, helptext in (("table1", "Table 1: MSE and FID, ours next to the paper's and the cited rows"),
                            ("table2a", "Table 2(a): CelebA-HQ FID"), ("table2b", "Table 2(b): FID against N")):
        q = what.add_parser(table, help=f"{helptext} (.csv, .md, .tex, .html)")
        q.add_argument("metrics", nargs="*", help="metrics.json files of the experiment's image runs")
        if table != "table2b":
            q.add_argument("--datasets", nargs="+", required=True, help="the experiment's data sets (columns)")
    q = what.add_parser("literature", help="Tables 5-7: FID against the literature (.csv, .md, .tex, .html)")
    q.add_argument("metrics", nargs="*", help="metrics.json files of Table 1's image runs")
    q.add_argument("--table", required=True, choices=["table5", "table6", "table7"],
                   help="the appendix table (E.2) to write")
    q.add_argument("--dataset", required=True, help="the data set whose runs give our rows")
    q = what.add_parser("table4", help="Table 4: seconds and GFLOPs per step (.csv, .md, .tex, .html)")
    q.add_argument("timing", help="ebipla bench-images CSV")
    q = what.add_parser("table-one-protocol", help="every method under one protocol: MSE, FID, seconds and GFLOPs "
                        "per iteration, next to the paper's values (.csv, .md, .tex, .html)")
    q.add_argument("metrics", nargs="+", help="metrics.json files of the baselines experiment's image runs")
    q = what.add_parser("samples-landscapes", help="Figure 1: samples, exp(-U) and runtime against N (.pdf, .png)")
    q.add_argument("--runs", nargs="+", required=True, metavar="DIR", help="evaluated run directories")
    q.add_argument("--data", nargs="+", required=True, metavar="FILE", help="ebipla data outputs")
    q.add_argument("--timing", metavar="FILE", help="ebipla bench CSV for the runtime panel")
    q = what.add_parser("baselines-synthetic", help="the synthetic baselines against EBIPLA and LEBM: samples with "
                        "MMD^2 and exp(-U) (.pdf, .png)")
    q.add_argument("--runs", nargs="+", required=True, metavar="DIR", help="evaluated run directories")
    q.add_argument("--data", nargs="+", required=True, metavar="FILE", help="ebipla data outputs")
    q = what.add_parser("j-ablation", help="Appendix E.1: samples and exp(-U) against J (.pdf, .png)")
    q.add_argument("--runs", nargs="+", required=True, metavar="DIR", help="evaluated run directories")
    q = what.add_parser("figure2", help="Figure 2: sample grids of image runs (.pdf, .png)")
    q.add_argument("--runs", nargs="+", required=True, metavar="DIR", help="evaluated run directories")
    q = what.add_parser("figure4", help="Figure 4: interpolations of one image run (.pdf, .png)")
    q.add_argument("--run", required=True, metavar="DIR", help="an evaluated image run directory")
    q = what.add_parser("figure5", help="Figure 5: synthetic data in latent and ambient space (.pdf, .png)")
    q.add_argument("--data", nargs="+", required=True, metavar="FILE", help="ebipla data outputs")
    q = what.add_parser("theory", help="Theorem 1 on the toy model: the study's CSV and figure (.csv, .pdf, .png)")
    q.add_argument("--scale", choices=["full", "quick", "ci"], default="full", help="the study's size (default full)")
    q = what.add_parser("custom-samples", help="your experiment's samples: image grids, or vectors over the "
                        "validation data (.pdf, .png)")
    q.add_argument("--runs", nargs="+", required=True, metavar="DIR", help="evaluated run directories")
    q = what.add_parser("sweep", help="evaluated runs grouped by config keys, mean +- s.e. over seeds (.csv, .md)")
    q.add_argument("runs", nargs="+", metavar="DIR", help="run directories")
    q.add_argument("--by", nargs="+", required=True, metavar="KEY", help="config keys to group by, e.g. algorithm.h")
    q.add_argument("--metrics", nargs="+", required=True, metavar="NAME", help="metrics.json keys, e.g. fid mse")
    q = what.add_parser("paper-report", help="report.md: the paper's numbers against ours")
    for table in ("table1", "table2a", "table2b", "table4"):
        q.add_argument(f"--{table}", metavar="CSV", help=f"long-form CSV of {table}")
    q.add_argument("--synthetic-mmd", metavar="CSV", help="long-form CSV of the synthetic MMD^2 table")
    q.add_argument("--theory", metavar="CSV", help="the Theorem 1 study's CSV (ebipla report theory)")
    q.add_argument("--fid-baselines", nargs="+", default=[], metavar="FILE",
                   help="ebipla fid-baselines outputs: FID reference points")
    q.add_argument("--one-protocol", metavar="CSV", help="long-form CSV of table-one-protocol")
    q.add_argument("--one-protocol-caption", default="", help="that table's caption (its scale)")
    q.add_argument("--study", action="append", default=[], metavar="NAME=FILE",
                   help="a study's output for its report.md section (ebipla study NAME); repeatable")
    for q in what.choices.values():
        q.add_argument("--out", required=True, metavar="PREFIX",
                       help="output path without suffix (paper-report: the .md file)")
        q.add_argument("--caption", default="", help="title line that says what produced the numbers")

    for name, helptext in (("sample", "draw samples from a trained run (samples.npz)"),
                           ("evaluate", "MMD^2 against held-out data, samples, landscape (metrics.json, samples.npz, "
                                        "landscape.npz)"),
                           ("landscape", "normalised exp(-U) on a latent grid (landscape.npz)"),
                           ("fid-baselines", "image runs: FID of held-out real images and of the untrained model "
                                             "(fid_baselines.json)")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--run", required=True, metavar="DIR", help="trained run directory")
        p.add_argument("--out", metavar="FILE", help="output file (default: inside the run directory)")
        p.add_argument("--set", action="append", default=[], metavar="eval.KEY=VALUE", dest="overrides",
                       help="change an evaluation setting of the stored config, e.g. eval.fid.n_samples=10000")
        if name == "sample":
            p.add_argument("--n", type=int, help="number of samples (default: eval.n_samples)")

    p = sub.add_parser("trace", help="continue a run from its checkpoint, recording the energy loss's terms and "
                                     "the Langevin steps' stability per iteration (CSV; the run is not written)")
    p.add_argument("--run", required=True, metavar="DIR", help="EBIPLA run directory with a checkpoint")
    p.add_argument("--iterations", type=int, required=True, metavar="K", help="iterations to retrace")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="change the continuation, e.g. --set algorithm.gamma=0.0045; repeatable")
    p.add_argument("--particles", type=int, metavar="N", help="keep the first N particles of every cloud")
    p.add_argument("--out", required=True, metavar="FILE", help="CSV output")

    p = sub.add_parser("bench", help="seconds per iteration of EBIPLA and LEBM next to bare network cost")
    p.add_argument("--out", metavar="FILE", help="CSV output (default: results/bench/synthetic.csv, chain.csv with "
                   "--chain-variants, scaling.csv with --scaling)")
    p.add_argument("--particles", type=int, nargs="+", default=[4, 16, 64], metavar="N",
                   help="N values to time (default 4 16 64)")
    p.add_argument("--prior-steps", type=int, default=500, metavar="J", help="prior chain length (default 500)")
    p.add_argument("--batch-size", type=int, default=1000, metavar="B", help="batch size (default 1000)")
    p.add_argument("--repeats", type=int, default=5, help="timed iterations per setting (after one warm-up)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default: CUDA when available)")
    p.add_argument("--chain-variants", action="store_true",
                   help="time the J-step prior chain alone: a plain autograd loop against ours (and bf16); "
                        "--out defaults to results/bench/chain.csv")
    p.add_argument("--scaling", action="store_true",
                   help="time per epoch against M and N (the O(B(N + J)) cost model) and the particle bank's memory "
                        "against M x N per storage option; --out defaults to results/bench/scaling.csv")

    p = sub.add_parser("bench-images", help="Table 4: seconds and GFLOPs per step at the image settings")
    p.add_argument("--out", default="results/bench/images.csv", metavar="FILE", help="CSV output")
    p.add_argument("--datasets", nargs="+", default=["svhn", "cifar10", "celeba64"], metavar="NAME",
                   help="image data sets whose networks to time (default svhn cifar10 celeba64)")
    p.add_argument("--particles", type=int, default=10, metavar="N", help="EBIPLA's N (default 10)")
    p.add_argument("--lebm-steps", type=int, nargs="+", default=[10, 20], metavar="N",
                   help="LEBM posterior steps (default: 10, the matched budget, and Pang's 20)")
    p.add_argument("--prior-steps", type=int, default=60, metavar="J", help="prior chain length (default 60)")
    p.add_argument("--batch-size", type=int, default=128, metavar="B", help="batch size (default 128)")
    p.add_argument("--runs", type=int, default=5, help="timed runs (mean +- s.d. over them)")
    p.add_argument("--steps-per-run", type=int, default=10, help="training steps averaged in one run")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default: CUDA when available)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a key of the run configs, e.g. --set train.particle_storage=pinned_cpu")
    p.add_argument("--compare", metavar="KEY=VALUE",
                   help="also time every setting with this override, interleaved (before/after in one process), "
                        "e.g. --compare model.generator.channels_last=false")
    p.add_argument("--baselines", action="store_true",
                   help="also time vae, abp, pgd and rae at their one-protocol settings (docs/baselines.md)")

    p = sub.add_parser("presets", help="write the paper's synthetic grid as config files")
    p.add_argument("--write", required=True, metavar="DIR", help="e.g. config/synthetic")

    p = sub.add_parser("gpu-check", help="CUDA correctness, no-sync check and s/it at CIFAR-10 settings")
    p.add_argument("--out", default="results/bench/gpu_check.json", metavar="FILE", help="JSON output")
    p.add_argument("--device", default="auto", help="the device to check (default: CUDA when available)")
    p.add_argument("--steps", type=int, default=20, help="timed iterations per method")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a key of the checked configs; repeatable")

    p = sub.add_parser("study", help="the questions the paper leaves open: posterior accuracy, particles against "
                       "data size, a linear probe of the latents (ebipla study NAME --help)")
    from .studies import STUDIES

    p.add_argument("study", choices=sorted(STUDIES), help="; ".join(f"{k}: {v}" for k, v in STUDIES.items()))
    p.add_argument("study_args", nargs=argparse.REMAINDER, help="the study's own arguments")

    p = sub.add_parser(
        "quickstart", help="the synthetic experiments at CPU size: train, evaluate, summarise",
        description="Train EBIPLA and LEBM on the three synthetic data sets at the paper's settings shortened to 25 "
        "epochs and J = 100 prior steps (six runs, about 1.5 min each on 2 CPU cores), evaluate MMD^2 against "
        "held-out data, and write the MMD^2 table (synthetic_mmd.md) and Figure 1 (figure1.png) under DIR. Finished "
        "runs are reused and an interrupted one resumes, so the command can simply be rerun.")
    p.add_argument("--out", default="results/quickstart", metavar="DIR", help="output folder (default %(default)s)")
    p.add_argument("--datasets", nargs="+", default=["swissroll", "moons", "circle"], metavar="NAME",
                   help="synthetic data sets (default: %(default)s)")
    p.add_argument("--methods", nargs="+", default=["ebipla", "lebm"], metavar="METHOD",
                   help="methods (default: %(default)s)")
    p.add_argument("--particles", type=int, default=16, metavar="N",
                   help="N: EBIPLA's particles per data point, LEBM's posterior steps (default %(default)s)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (CUDA when available; default)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit status 0, or the error's ``exit_code`` (see :mod:`ebipla.errors`), 130 on Ctrl-C."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    try:
        return _dispatch(args)
    except EbiplaError as exc:
        if args.debug:
            raise
        kind = "" if isinstance(exc, TrainingStopped) else "error: "  # a stop is no error: it says so itself
        print(f"ebipla {args.command}: {kind}{exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a file the command reads or writes outside ebipla's own checks
        if args.debug:
            raise
        print(f"ebipla {args.command}: error: {exc}. Check the path and its permissions (rerun with --debug for "
              "the traceback).", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"ebipla {args.command}: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    # Imports are deferred so that `ebipla --help` and config errors answer quickly.
    if args.command in ("train", "config"):
        from . import api
        from .config import dump_yaml

        cfg = api.load_config(args.config, args.overrides)
        if args.command == "config":
            sys.stdout.write(dump_yaml(cfg))
            return 0
        api.train(cfg, args.out, device=args.device, until_iteration=args.until_iteration, progress=args.progress,
                  restart_on_change=args.restart_on_config_change)
        return 0
    if args.command == "data":
        from .config import load_config
        from .config.schema import SYNTHETIC
        from .data import write_synthetic
        from .errors import ConfigError

        cfg = load_config(args.config, args.overrides)
        if cfg.data.name not in SYNTHETIC:
            raise ConfigError(f"`ebipla data` writes a synthetic data set ({', '.join(SYNTHETIC)}); data.name is "
                              f"{cfg.data.name!r}. Images, folders and arrays are prepared by `ebipla prepare`.")
        log.info("wrote %s", write_synthetic(cfg.data, args.out, args.n_eval))
        return 0
    if args.command in ("prepare", "fid-ref", "digits-classifier"):
        return _images(args)
    if args.command == "fetch-inception":
        from .metrics.fid import download_inception

        log.info("wrote %s", download_inception(args.out))
        return 0
    if args.command == "report":
        return _report(args)
    if args.command == "study":
        from .studies import study_module

        return study_module(args.study).main(args.study_args)
    if args.command == "fid-baselines":
        from .evaluate_images import fid_baselines

        result = fid_baselines(args.run, args.out, args.overrides)
        log.info("FID of held-out real images %.4g, of the untrained model %.4g", result["fid_heldout_real"],
                 result["fid_untrained"])
        return 0
    if args.command in ("sample", "evaluate", "landscape"):
        from . import evaluate

        if args.command == "sample":
            log.info("wrote %s", evaluate.sample_run(args.run, args.n, args.out, args.overrides))
        elif args.command == "evaluate":
            metrics = evaluate.evaluate_run(args.run, args.out, args.overrides)
            shown = ("mmd2", "mmd2_long_run", "long_run_escaped_fraction", "mmd_bandwidth", "fid", "mse", "mse_01")
            log.info("%s", ", ".join(f"{k} = {metrics[k]:.4g}" for k in shown if metrics.get(k) is not None))
        else:
            log.info("wrote %s", evaluate.landscape_run(args.run, args.out, args.overrides))
        return 0
    if args.command == "trace":
        from .stability import trace

        rows = trace(args.run, args.iterations, args.overrides, args.particles, args.out)
        last = rows[-1] if rows else {}
        log.info("wrote %s (%d iterations; last loss_energy %.4g)", args.out, len(rows),
                 last.get("loss_energy", float("nan")))
        return 0
    if args.command == "bench":
        from .bench.iteration import run_bench

        if args.scaling:
            from .bench.scaling import write_scaling

            write_scaling(args.out or "results/bench/scaling.csv", repeats=args.repeats, device_name=args.device)
            return 0
        if args.chain_variants:
            from .bench.iteration import run_chain_bench

            run_chain_bench(args.out or "results/bench/chain.csv", args.prior_steps, args.batch_size, args.repeats,
                            args.device)
            return 0
        run_bench(args.out or "results/bench/synthetic.csv", args.particles, args.prior_steps, args.batch_size,
                  args.repeats, args.device)
        return 0
    if args.command == "bench-images":
        from .bench.images import write_bench_images

        methods = [("ebipla", args.particles)] + [("lebm", n) for n in args.lebm_steps]
        if args.baselines:
            methods += [("vae", 1), ("abp", 20), ("pgd", args.particles), ("rae", 1)]
        write_bench_images(args.out, datasets=args.datasets, methods=methods, batch_size=args.batch_size,
                           n_prior_steps=args.prior_steps, runs=args.runs, steps_per_run=args.steps_per_run,
                           device_name=args.device, overrides=args.overrides, compare=args.compare)
        return 0
    if args.command == "gpu-check":
        from .bench.gpu_check import run_gpu_check

        run_gpu_check(args.out, args.device, args.steps, args.overrides)
        return 0
    if args.command == "presets":
        from .presets import write_presets

        for path in write_presets(args.write):
            log.info("wrote %s", path)
        return 0
    if args.command == "quickstart":
        from .quickstart import quickstart

        quickstart(args.out, args.datasets, args.methods, args.particles, args.device)
        return 0
    raise AssertionError(args.command)


def _images(args: argparse.Namespace) -> int:
    from .config import load_config

    cfg = load_config(args.config, args.overrides)
    if not cfg.data.is_image and not (args.command == "prepare" and cfg.data.name == "array"):
        from .errors import ConfigError

        raise ConfigError(f"`ebipla {args.command}` needs an image data set; data.name is {cfg.data.name!r}.")
    if args.command == "prepare":
        from .data.images import prepare

        log.info("prepared %s", prepare(cfg.data))
    elif args.command == "fid-ref":
        from .evaluate_images import compute_reference
        from .run import resolve_device

        log.info("wrote %s", compute_reference(cfg, resolve_device(args.device or cfg.device), args.out))
    else:
        from .data.images import load_split
        from .metrics.digits_cnn import classifier_labels, train_classifier

        labels, val_labels = classifier_labels(cfg.data)
        accuracy = train_classifier(load_split(cfg.data, "train"), labels, load_split(cfg.data, "val"),
                                    val_labels, args.out, seed=cfg.seed)
        log.info("wrote %s (validation accuracy %.3f)", args.out, accuracy)
    return 0


def _report(args: argparse.Namespace) -> int:
    # Each subcommand imports only what it needs: the tables read JSON and CSV files, and importing torch and
    # matplotlib for them would cost seconds per workflow job.
    what, out, caption = args.what, args.out, args.caption
    if what == "synthetic-mmd":
        from .report import tables

        tables.write_synthetic_mmd(args.metrics, out, caption)
    elif what == "table-one-protocol":
        from .report.one_protocol import table_one_protocol

        table_one_protocol(args.metrics, out, caption)
    elif what in ("table1", "table2a", "table2b", "literature", "table4"):
        from .report import paper_tables

        if what == "table1":
            paper_tables.table1(args.metrics, args.datasets, out, caption)
        elif what == "table2a":
            paper_tables.table2a(args.metrics, args.datasets, out, caption)
        elif what == "table2b":
            paper_tables.table2b(args.metrics, out, caption)
        elif what == "literature":
            paper_tables.literature(args.table, args.metrics, args.dataset, out, caption)
        else:
            paper_tables.table4(args.timing, out, caption)
    elif what in ("samples-landscapes", "baselines-synthetic", "j-ablation", "figure2", "figure4", "figure5",
                  "custom-samples"):
        from .report import figures

        if what == "samples-landscapes":
            figures.samples_and_landscapes(args.runs, args.data, out, caption, args.timing)
        elif what == "baselines-synthetic":
            figures.baselines_synthetic(args.runs, args.data, out, caption)
        elif what == "j-ablation":
            figures.j_ablation(args.runs, out, caption)
        elif what == "figure2":
            figures.sample_grids(args.runs, out, caption)
        elif what == "figure4":
            figures.interpolations(args.run, out, caption)
        elif what == "custom-samples":
            figures.custom_samples(args.runs, out, caption)
        else:
            figures.synthetic_datasets(args.data, out, caption)
    elif what == "sweep":
        from .report.sweep import write_sweep

        write_sweep(args.runs, args.by, args.metrics, out, caption)
    elif what == "theory":
        from . import theory

        theory.write_theory_study(f"{out}.csv", args.scale)
        theory.theory_figure(f"{out}.csv", out, caption)
    else:
        from .report import paper_report

        tabs = {t: getattr(args, t) for t in ("table1", "table2a", "table2b", "table4") if getattr(args, t)}
        paper_report.write_report(tabs, out, caption, args.synthetic_mmd, args.theory, args.fid_baselines,
                                  args.one_protocol, args.one_protocol_caption, paper_report.study_files(args.study))
    log.info("wrote %s%s", out, "" if what == "paper-report" else ".*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
