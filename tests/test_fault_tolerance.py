"""Fault tolerance: stop signals and SIGKILL, divergence, bad input, config fuzzing, concurrent jobs.

Exit statuses (ebipla.errors): 2 bad input, 3 diverged, 75 stopped by SIGTERM/SIGUSR1 with a checkpoint.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import json
import random
import shutil
import signal
import subprocess
import sys
import time
import typing
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from test_train import assert_same

from ebipla import run as rundir
from ebipla.algorithms import ALGORITHMS
from ebipla.checkpoint import atomic_write, exclusive_lock, load_checkpoint, remove_stale_temp_files, temp_files
from ebipla.cli import main
from ebipla.config import RunConfig, config_from_dict, dump_yaml, load_config, to_dict
from ebipla.config.loader import parse_yaml
from ebipla.data.images import MANIFEST, md5_of
from ebipla.errors import EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_STOPPED, ConfigError, DivergenceError, OutputError
from ebipla.evaluate import evaluate_run
from ebipla.run import load_run, new_model
from ebipla.trainer import LOCK, first_diverged, train
from workflow_helpers import tool_env

TINY = ["data.n_points=300", "train.batch_size=100", "algorithm.n_prior_steps=10", "model.energy.hidden=[16,16]",
        "train.n_epochs=4", "train.checkpoint_every=2", "train.log_every=1", "algorithm.n_particles=4",
        "eval.n_samples=200", "eval.n_eval_points=200", "eval.landscape_grid=10", "device=cpu"]
# The paper's h = 0.9 applied literally to eq. 13 blows the particles up within a few dozen iterations.
DIVERGING = [*TINY, "algorithm.h=0.9", "train.n_epochs=40", "train.checkpoint_every=3", "train.log_every=3",
             "data.n_points=1000", "train.batch_size=1000"]


def sets(overrides: list[str]) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


def ebipla(*args: str, stderr: typing.IO) -> subprocess.Popen:
    """``ebipla ARGS`` as a child process (single-threaded torch), its stderr (the log) to a file."""
    return subprocess.Popen([sys.executable, "-m", "ebipla.cli", *args], env=tool_env(), stdout=subprocess.DEVNULL,
                            stderr=stderr, text=True)


def snapshot(folder: Path) -> dict[str, str]:
    """md5 of every file under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def error_message(err: str, command: str = "train") -> str:
    """The message `ebipla COMMAND` printed for an error, checked to be one paragraph without a traceback."""
    assert "Traceback" not in err
    prefix = f"ebipla {command}: error: "
    assert prefix in err, err
    message = err.split(prefix, 1)[1].strip()
    assert "\n" not in message, message
    return message


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / rundir.TRAIN_METRICS).read_text().splitlines()]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """torch on one thread in this process too, as in the child processes (tiny networks: threads only contend)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def partial_run(tmp_path_factory, one_thread) -> Path:
    """A valid run directory of TINY, trained to iteration 4 of 12 (copy it before changing anything)."""
    run = tmp_path_factory.mktemp("partial") / "run"
    handlers = [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR1)]
    train(load_config([], TINY), run, until_iteration=4)
    assert [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR1)] == handlers  # restored after training
    return run


@pytest.fixture
def run_copy(partial_run, tmp_path) -> Path:
    return Path(shutil.copytree(partial_run, tmp_path / "run"))


# ------------------------------------------------------------------------------------------------ 1. preemption

KILLED = [*TINY, "algorithm.n_prior_steps=20", "data.n_points=200", "train.n_epochs=150", "train.checkpoint_every=7",
          "train.lr_decay=0.99"]  # 300 iterations, a row of train_metrics.jsonl each


def loop_starts(run: Path) -> int:
    log = run / rundir.TRAIN_LOG
    return log.read_text().count("): iterations ") if log.exists() else 0


def last_row(run: Path) -> int:
    lines = (run / rundir.TRAIN_METRICS).read_text().splitlines() if (run / rundir.TRAIN_METRICS).exists() else []
    complete = [line for line in lines if line.endswith("}")]
    return json.loads(complete[-1])["iteration"] if complete else 0


def saved_iteration(run: Path) -> int:
    """The checkpoint's iteration (0 without one); loading it proves it is complete."""
    return load_checkpoint(run / rundir.CHECKPOINT)["iteration"] if (run / rundir.CHECKPOINT).exists() else 0


def start_and_wait(run: Path, more: int, err: typing.IO) -> subprocess.Popen:
    """Resume the run in a child process; return once its loop has logged ``more`` iterations past the checkpoint."""
    starts, target = loop_starts(run), saved_iteration(run) + more
    proc = ebipla("train", *sets(KILLED), "--out", str(run), stderr=err)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if loop_starts(run) > starts and last_row(run) >= target:  # rows of this process, not of a killed one
            return proc
        time.sleep(0.005)
    raise AssertionError(f"iteration {target} was not reached (exit status {proc.poll()}): make KILLED longer")


def kill_early(run: Path, delay: float, log: Path) -> None:
    """SIGKILL a training run ``delay`` seconds after its start (start-up, resume or loop)."""
    with open(log, "w") as err:
        proc = ebipla("train", *sets(KILLED), "--out", str(run), stderr=err)
        time.sleep(delay)
        proc.kill()
        proc.wait()
    saved_iteration(run)  # complete (or absent) despite the kill


def kill_in_loop(run: Path, more: int, log: Path) -> None:
    """SIGKILL a training run once it has done ``more`` iterations: between checkpoints, or while writing one."""
    with open(log, "w") as err:
        proc = start_and_wait(run, more, err)
        proc.kill()
        proc.wait()
    saved_iteration(run)


def stop_with(run: Path, sig: signal.Signals, more: int, log: Path) -> None:
    """Send ``sig`` to a training run inside its loop; it must checkpoint the iteration it is at and exit 75."""
    with open(log, "w") as err:
        proc = start_and_wait(run, more, err)
        proc.send_signal(sig)
        sent = time.monotonic()
        status = proc.wait(timeout=30)
        assert time.monotonic() - sent < 30
    assert status == EXIT_STOPPED, log.read_text()[-2000:]
    stopped = int(log.read_text().split(f"stopped by {sig.name} at iteration ")[1].split(":")[0])
    assert saved_iteration(run) == stopped == last_row(run)  # log_every = 1: the iteration it was at


def finish(run: Path, log: Path) -> subprocess.Popen:
    """Train the run to the end in a child process (a fresh run, or a resume)."""
    with open(log, "w") as err:
        return ebipla("train", *sets(KILLED), "--out", str(run), stderr=err)


def test_kill_and_stop_signals_at_random_moments_resume_to_the_uninterrupted_checkpoint(tmp_path):
    whole, pieces = tmp_path / "whole", tmp_path / "pieces"
    uninterrupted = finish(whole, tmp_path / "whole.txt")  # alongside the interrupted one
    rng = random.Random(0)  # moments: seconds after the start, or iterations past the checkpoint resumed from
    schedule = [(kill_early, rng.uniform(0.3, 3.0)), (stop_with, signal.SIGTERM, rng.randint(1, 40)),
                (kill_in_loop, rng.randint(1, 40)), (stop_with, signal.SIGUSR1, rng.randint(1, 40)),
                (kill_in_loop, rng.randint(1, 40))]
    for i, (interrupt, *args) in enumerate(schedule):
        interrupt(pieces, *args, tmp_path / f"stderr{i}.txt")
    assert 0 < saved_iteration(pieces) < 300
    assert finish(pieces, tmp_path / "last.txt").wait(timeout=900) == 0, (tmp_path / "last.txt").read_text()[-2000:]
    assert uninterrupted.wait(timeout=900) == 0, (tmp_path / "whole.txt").read_text()[-2000:]
    assert (pieces / rundir.TRAIN_SUMMARY).exists()
    assert_same(load_checkpoint(whole / rundir.CHECKPOINT), load_checkpoint(pieces / rundir.CHECKPOINT))
    assert (whole / rundir.TRAIN_METRICS).read_text() == (pieces / rundir.TRAIN_METRICS).read_text()
    left = [p.name for p in pieces.iterdir() if p.name.endswith(".tmp") or p.name == LOCK]
    assert not left, left


# ------------------------------------------------------------------------------------------------ 2. divergence


def test_divergence_stops_with_status_3_names_iteration_and_quantity_and_keeps_the_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", *sets(DIVERGING), "--out", str(run)]
    assert main(args) == EXIT_DIVERGED
    message = error_message(capsys.readouterr().err)
    bad = int(message.split("diverged at iteration ")[1].split(":")[0])
    assert any(culprit in message for culprit in ("the particle bank", "the loss", "the parameter", "the energy"))
    assert "train.divergence.action=recover" in message
    good = (run / rundir.CHECKPOINT).read_bytes()
    assert load_checkpoint(run / rundir.CHECKPOINT)["iteration"] == bad - 3
    assert main(args) == EXIT_DIVERGED  # resumes from the good checkpoint, diverges again, overwrites nothing
    assert f"diverged at iteration {bad}: " in error_message(capsys.readouterr().err)
    assert (run / rundir.CHECKPOINT).read_bytes() == good


def test_divergence_recovery_reloads_the_checkpoint_and_shrinks_the_langevin_steps(tmp_path):
    # The first checkpoint comes after the blow-up: recovery goes back to the one of iteration 0.
    cfg = load_config([], [*DIVERGING, "train.checkpoint_every=20", "train.divergence.action=recover",
                           "train.divergence.step_shrink=0.1"])
    train(cfg, tmp_path)
    log = (tmp_path / rundir.TRAIN_LOG).read_text()
    assert "training diverged at iteration " in log
    gamma = cfg.algorithm.gamma
    assert (f"recovery 1 of 3: back to the checkpoint of iteration 0 with algorithm.h 0.9 -> 0.09, "
            f"algorithm.warmup_h {cfg.algorithm.warmup_h:g} -> {0.1 * cfg.algorithm.warmup_h:g}, "
            f"algorithm.gamma {gamma:g} -> {0.1 * gamma:g} (step scale 0.1)") in log
    final = load_checkpoint(tmp_path / rundir.CHECKPOINT)
    assert final["iteration"] == 40 and final["recoveries"] >= 1
    assert final["step_scale"] == pytest.approx(0.1 ** final["recoveries"])
    trained = load_run(tmp_path).cfg.algorithm  # evaluation samples with the steps training ended with
    assert (trained.h, trained.gamma) == pytest.approx((0.9 * final["step_scale"], gamma * final["step_scale"]))
    metrics = evaluate_run(tmp_path)  # and records the recoveries, which the tables count
    assert metrics["sampler_gamma"] == pytest.approx(gamma * final["step_scale"])
    assert (metrics["divergence_recoveries"], metrics["step_scale"]) == (final["recoveries"], final["step_scale"])
    assert torch.isfinite(final["particles"]).all()
    assert json.loads((tmp_path / rundir.TRAIN_SUMMARY).read_text())["divergence_recoveries"] == final["recoveries"]
    logged = sorted({*range(3, 41, 3), 20, 40})  # log_every and checkpoint_every; no rows of abandoned steps
    assert [r["iteration"] for r in rows(tmp_path)] == logged


def test_divergence_recovery_gives_up_after_max_recoveries(tmp_path):
    cfg = load_config([], [*DIVERGING, "train.divergence.action=recover", "train.divergence.step_shrink=0.99",
                           "train.divergence.max_recoveries=1"])
    with pytest.raises(DivergenceError, match=r"after 1 recoveries .* scaled the Langevin steps by 0.99") as err:
        train(cfg, tmp_path)
    assert "max_recoveries" in str(err.value)
    saved = load_checkpoint(tmp_path / rundir.CHECKPOINT)
    assert saved["recoveries"] == 1 and saved["step_scale"] == 0.99 and torch.isfinite(saved["particles"]).all()


def test_an_energy_running_away_while_finite_counts_as_divergence(tmp_path, capsys):
    # A real run whose |L_e| exceeds the bound (set far below its real values here, on resumption: the key may
    # change then) stops like a non-finite one, naming the quantity, the bound and the key, and keeps its last
    # good checkpoint; at the default bound the same run resumes and trains to its end.
    run = tmp_path / "run"
    assert main(["train", *sets(TINY), "--out", str(run), "--until-iteration", "2"]) == 0
    good = (run / rundir.CHECKPOINT).read_bytes()
    args = ["train", *sets([*TINY, "train.divergence.max_energy_loss=1e-12"]), "--out", str(run)]
    assert main(args) == EXIT_DIVERGED
    message = error_message(capsys.readouterr().err)
    assert "diverged at iteration 3: the energy ran away: |loss_energy| = " in message
    assert "exceeds train.divergence.max_energy_loss = 1e-12" in message
    assert (run / rundir.CHECKPOINT).read_bytes() == good
    assert main(["train", *sets(TINY), "--out", str(run)]) == 0
    assert load_checkpoint(run / rundir.CHECKPOINT)["iteration"] == 12


def test_first_diverged_names_non_finite_values_before_a_runaway_energy():
    cfg = load_config([], TINY)
    model = new_model(cfg, (2,), torch.device("cpu"))
    state = ALGORITHMS["ebipla"].init_state(cfg, model, 300, torch.Generator().manual_seed(0))
    loss = {"loss_energy": torch.tensor(-5e6), "loss_decoder": torch.tensor(2.0)}
    assert first_diverged(state, {**loss, "loss_energy": torch.tensor(-5.0)}, 1e6) is None
    assert "|loss_energy| = 5e+06 exceeds train.divergence.max_energy_loss = 1e+06" in first_diverged(state, loss, 1e6)
    assert first_diverged(state, loss, 1e7) is None
    state.particles[3, 1, 0] = float("inf")
    assert first_diverged(state, loss, 1e6) == "the particle bank is not finite"
    nan_loss = {**loss, "loss_decoder": torch.tensor(float("nan"))}
    assert first_diverged(state, nan_loss, 1e6) == "the loss 'loss_decoder' (nan) is not finite"


# ------------------------------------------------------------------------------------------------ 3. bad input


@pytest.mark.parametrize("text,override,needles", [
    ("train: {n_epoch: 3}\n", None, ["unknown key 'train.n_epoch'", "Did you mean 'n_epochs'"]),
    ("train: {lr_energy: fast}\n", None, ["'train.lr_energy' must be a number", "Fix it where it is set"]),
    ("algorithm: {h: -0.01}\n", None, ["'algorithm.h' must be > 0", "Fix it where it is set"]),
    ("{}\n", "train.divergence.step_shrink=1.5", ["command line", "'train.divergence.step_shrink' must be < 1"]),
])
def test_bad_config_is_one_paragraph_and_overwrites_nothing(run_copy, tmp_path, capsys, text, override, needles):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    before = snapshot(run_copy)
    extra = ["--set", override] if override else []
    assert main(["train", "--config", str(path), *sets(TINY), *extra, "--out", str(run_copy)]) == EXIT_BAD_INPUT
    message = error_message(capsys.readouterr().err)
    assert all(n in message for n in needles), message
    assert override or str(path) in message
    assert snapshot(run_copy) == before


def write_prepared(root: Path, name: str = "svhn", n: int = 20) -> Path:
    """A prepared image data set as ``ebipla prepare`` lays it out (<root>/<name>/{train,val}.pt + manifest)."""
    folder = root / name
    folder.mkdir(parents=True)
    manifest = {"name": name, "format": "uint8 N x 3 x H x W", "files": {}}
    for split in ("train", "val"):
        images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        torch.save(images, folder / f"{split}.pt")
        manifest["files"][f"{split}.pt"] = {"md5": md5_of(folder / f"{split}.pt"), "shape": list(images.shape)}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize("damage", ["missing", "manifest", "md5"])
def test_bad_data_set_is_one_paragraph_and_overwrites_nothing(run_copy, tmp_path, capsys, damage):
    # digits never reads prepared files (they are built in memory), so this uses an svhn-layout data set.
    folder = write_prepared(tmp_path / "datasets")
    train_file = folder / "train.pt"
    if damage == "missing":
        train_file.unlink()
    elif damage == "manifest":
        (folder / MANIFEST).write_text("{not json")
    else:
        data = bytearray(train_file.read_bytes())
        data[-1] ^= 0xFF
        train_file.write_bytes(bytes(data))
    before, data_before = snapshot(run_copy), snapshot(folder)
    args = sets([*TINY, "data.name=svhn", f"data.root={tmp_path / 'datasets'}", "data.n_points=20",
                 "train.batch_size=10"])
    assert main(["train", *args, "--out", str(run_copy)]) == EXIT_BAD_INPUT
    message = error_message(capsys.readouterr().err)
    assert str(folder / MANIFEST if damage == "manifest" else train_file) in message
    expected = {"missing": ("is missing", "ebipla prepare"), "manifest": ("is damaged", "prepare it again"),
                "md5": ("does not match the md5", "prepare it again")}[damage]
    assert all(part in message for part in expected), message
    assert snapshot(run_copy) == before and snapshot(folder) == data_before


@pytest.mark.parametrize("damage", ["truncated", "other_config"])
def test_bad_checkpoint_is_one_paragraph_and_overwrites_nothing(run_copy, capsys, damage):
    ckpt = run_copy / rundir.CHECKPOINT
    overrides = TINY
    if damage == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    else:
        overrides = [*TINY, "algorithm.h=0.002"]
    before = snapshot(run_copy)
    assert main(["train", *sets(overrides), "--out", str(run_copy)]) == EXIT_BAD_INPUT
    message = error_message(capsys.readouterr().err)
    assert str(ckpt) in message
    if damage == "truncated":
        assert "truncated or corrupt" in message and "delete it to retrain" in message
    else:
        assert "different config (algorithm.h: 0.0045 -> 0.002)" in message
        assert "--restart-on-config-change" in message and "new --out" in message
    assert snapshot(run_copy) == before


def test_full_disk_while_checkpointing_keeps_the_previous_checkpoint(run_copy, capsys, monkeypatch):
    real_save = torch.save

    def save_half_then_fail(obj, f, *args, **kwargs):
        buf = io.BytesIO()
        real_save(obj, buf, *args, **kwargs)
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    ckpt = run_copy / rundir.CHECKPOINT
    before = ckpt.read_bytes()
    config_before, curve_before = (run_copy / rundir.CONFIG).read_bytes(), (run_copy / rundir.TRAIN_METRICS).read_text()
    monkeypatch.setattr(torch, "save", save_half_then_fail)
    assert main(["train", *sets(TINY), "--out", str(run_copy)]) == EXIT_BAD_INPUT
    message = error_message(capsys.readouterr().err)
    assert f"cannot write {ckpt}: the disk is full" in message and "Free space" in message
    assert ckpt.read_bytes() == before and not temp_files(ckpt)
    assert (run_copy / rundir.CONFIG).read_bytes() == config_before
    assert (run_copy / rundir.TRAIN_METRICS).read_text().startswith(curve_before)  # rows past it: dropped on resume
    monkeypatch.undo()
    assert main(["train", *sets(TINY), "--out", str(run_copy)]) == 0  # space freed: the same command resumes
    assert load_checkpoint(ckpt)["iteration"] == 12 and [r["iteration"] for r in rows(run_copy)] == list(range(1, 13))


# ------------------------------------------------------------------------------------------------ 4. fuzzing


def nested(dotted: str, value: object) -> dict:
    for key in reversed(dotted.split(".")):
        value = {key: value}
    return value


def merged(dicts: list[dict]) -> dict:
    out: dict = {}
    for d in dicts:
        for key, value in d.items():
            out[key] = merged([out[key], value]) if isinstance(out.get(key), dict) and isinstance(value, dict) \
                else value
    return out


def _leaves(cls: type, prefix: str = "") -> dict[str, object]:
    """Dotted name -> type of every leaf field of the schema (all algorithms' fields)."""
    leaves: dict[str, object] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        options = [a for a in typing.get_args(hints[f.name]) if dataclasses.is_dataclass(a)] or [hints[f.name]]
        for tp in options:
            leaves |= _leaves(tp, f"{prefix}{f.name}.") if dataclasses.is_dataclass(tp) else {f"{prefix}{f.name}": tp}
    return leaves


def plausible(tp: object) -> st.SearchStrategy:
    """Values of the leaf type ``tp`` near its valid range, so that fuzzed configs often load."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is typing.Literal:
        return st.sampled_from(args)
    if typing.get_origin(tp) is tuple:
        return st.lists(plausible(args[0]), min_size=1, max_size=3)
    if args:  # X | None
        return st.none() | plausible(args[0])
    return {int: st.integers(0, 12), float: st.floats(0.001, 0.99), bool: st.booleans(),
            str: st.sampled_from(["cpu", "auto", "x"])}.get(tp, st.nothing())


LEAVES = _leaves(RunConfig)
NAMES = sorted({part for name in LEAVES for part in name.split(".")} | {"base", "name"})
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-2**80, max_value=2**80)
           | st.floats() | st.text(max_size=12) | st.sampled_from(["ebipla", "lebm", "ebipla_full", "mlp", "stop",
                                                                   "recover", "digits", "1e-3"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=6) | st.integers(), inner,
                                        max_size=4), max_leaves=12)
LEAF_SETTINGS = st.sampled_from(sorted(LEAVES)).flatmap(
    lambda name: st.builds(nested, st.just(name), plausible(LEAVES[name]) | VALUES))


CONFIG_DICTS = st.lists(LEAF_SETTINGS | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=6), VALUES,
                                                         max_size=2), max_size=8).map(merged)
YAML_TOKENS = ["train:", "algorithm:", "data:", "model:", "energy:", "divergence:", "eval:", "base:", "name:",
               "h:", "n_epochs:", "hidden:", "betas_energy:", "seed:", "n_points:", "\n", "\n  ", "\n    ", " ", "{",
               "}", "[", "]", ",", "- ", "1", "-1", "0", "1e-3", "1e400", "0.5", ".inf", ".nan", "0b_", "0x_",
               "2001-13-45", "2001-02-03", "null", "true", "lebm", "ebipla", "'x'", '"\\0"', "&a ", "*a", "!!float ",
               "!!int ", "!!timestamp ", "!!set ", "!!binary ", "? ", "<<: ", "#", ":", "exp.yaml", "other.yaml"]
YAML_TEXTS = st.text(max_size=80) | st.lists(st.sampled_from(YAML_TOKENS), max_size=30).map("".join) \
    | (CONFIG_DICTS | VALUES).map(lambda v: yaml.safe_dump(v, allow_unicode=True))
OVERRIDES = st.text(max_size=40) | st.builds(
    lambda key, value: f"{key}={value}", st.sampled_from(sorted(LEAVES)) | st.text(max_size=10),
    st.lists(st.sampled_from(YAML_TOKENS), max_size=6).map("".join) | st.text(max_size=10))
# Derandomised: the same 200 examples every run, so a failure comes back; no .hypothesis/ in the working tree.
FUZZ = settings(max_examples=200, deadline=None, database=None, derandomize=True)


def loads_or_config_error(load: typing.Callable[[], RunConfig]) -> None:
    """``load()`` returns a config that survives a round trip through YAML, or raises ConfigError: nothing else."""
    try:
        cfg = load()
    except ConfigError:
        return
    assert isinstance(cfg, RunConfig)
    assert config_from_dict(parse_yaml(dump_yaml(cfg), "dump"), "dump") == cfg
    assert config_from_dict(to_dict(cfg), "dict") == cfg


@FUZZ
@given(raw=CONFIG_DICTS | VALUES)
def test_fuzzed_dicts_raise_only_config_errors(raw):
    loads_or_config_error(lambda: config_from_dict(raw, "fuzz"))


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "other.yaml").write_text("train: {n_epochs: 3}\nbase: exp.yaml\n")
    return folder


@FUZZ
@given(text=YAML_TEXTS, overrides=st.lists(OVERRIDES, max_size=3))
def test_fuzzed_yaml_files_and_overrides_raise_only_config_errors(fuzz_dir, text, overrides):
    path = fuzz_dir / "exp.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    loads_or_config_error(lambda: load_config([path], overrides))
    loads_or_config_error(lambda: load_config([fuzz_dir / "other.yaml"]))


def test_self_referential_and_odd_yaml_is_a_config_error(tmp_path):
    for text in ("train: &a {x: *a}\n", "seed: 2001-13-45\n", "seed: 0b_\n", "seed: !!timestamp x\n",
                 "algorithm: {name: [ebipla]}\n", "train: {lr_energy: 1" + "0" * 400 + "}\n", "data: {1: 2}\n",
                 'base: "a\\0b"\n', "[" * 2000 + "]" * 2000):
        path = tmp_path / "odd.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError):
            load_config([path])


# ------------------------------------------------------------------------------------------------ 5. concurrency


def file_states(root: Path) -> dict[Path, tuple[int, int, int]]:
    return {p: (p.stat().st_ino, p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_two_trainings_and_two_evaluations_at_once_share_no_writable_file(partial_run, tmp_path):
    runs = {name: tmp_path / name for name in ("train_a", "train_b", "eval_a", "eval_b")}
    for name in ("eval_a", "eval_b"):
        shutil.copytree(partial_run, runs[name])
    common = tmp_path / "common"  # home, temp and cache directories of all four jobs, and their working directory
    common.mkdir()
    env = tool_env({key: str(common) for key in ("HOME", "TMPDIR", "XDG_CACHE_HOME", "MPLCONFIGDIR", "TORCH_HOME")})
    before = file_states(tmp_path)
    commands = {name: ["train", *sets([*TINY, f"seed={i}"]), "--out", str(runs[name])]
                for i, name in enumerate(("train_a", "train_b"))}
    commands |= {name: ["evaluate", "--run", str(runs[name])] for name in ("eval_a", "eval_b")}
    procs = {name: subprocess.Popen([sys.executable, "-m", "ebipla.cli", *cmd], cwd=common, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for name, cmd in commands.items()}
    for name, proc in procs.items():
        assert proc.wait(timeout=900) == 0, f"{name}: {proc.stderr.read()[-2000:]}"
    changed = {p for p, state in file_states(tmp_path).items() if before.get(p) != state}
    # matplotlib's font cache (training draws its curve) is written once under matplotlib's own file lock
    changed = {p for p in changed if not (p.parent == common and p.name.startswith("fontlist-"))}
    for path in changed:  # every other file a job wrote lies in that job's own run directory
        owners = [name for name, run in runs.items() if run in path.parents]
        assert len(owners) == 1, f"{path} was written outside the jobs' run directories"
    for name in ("train_a", "train_b"):
        assert load_checkpoint(runs[name] / rundir.CHECKPOINT)["iteration"] == 12
        assert json.loads((runs[name] / rundir.TRAIN_SUMMARY).read_text())["iteration"] == 12
    for name in ("eval_a", "eval_b"):
        assert json.loads((runs[name] / rundir.EVAL_METRICS).read_text())["iteration"] == 4
        assert np.load(runs[name] / rundir.SAMPLES)["y"].shape == (200, 2)
        assert np.load(runs[name] / rundir.LANDSCAPE)["density"].shape == (10, 10)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or p.name == LOCK]


def test_a_second_training_of_the_same_run_directory_is_refused(run_copy, capsys):
    before = snapshot(run_copy)
    with exclusive_lock(run_copy / LOCK, "test"):  # as if another `ebipla train --out run_copy` were running
        assert main(["train", *sets(TINY), "--out", str(run_copy)]) == EXIT_BAD_INPUT
        assert "another process is writing to the run directory" in error_message(capsys.readouterr().err)
    assert snapshot(run_copy) == before


KILLED_WRITER = """
import sys, time
from ebipla.checkpoint import atomic_write
def write(f):
    f.write(b"partial")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
atomic_write(sys.argv[1], write)
"""


def test_an_interrupted_write_leaves_the_output_complete_or_absent(tmp_path):
    target = tmp_path / "metrics.json"

    def fail(exc: BaseException):
        def write(f):
            f.write(b"{partial")
            raise exc
        return write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, fail(KeyboardInterrupt()))
    assert not target.exists() and not temp_files(target)  # absent
    target.write_text("{}")
    with pytest.raises(OutputError, match="Permission denied"):
        atomic_write(target, fail(PermissionError(errno.EACCES, "Permission denied")))
    assert target.read_text() == "{}" and not temp_files(target)  # complete (the old one)

    new = tmp_path / "samples.npz"  # SIGKILL mid-write: the target is absent, only a temporary file remains
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(new)], env=tool_env(), stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.kill()
    proc.wait()
    assert not new.exists() and len(temp_files(new)) == 1
    remove_stale_temp_files([new])  # what `ebipla train` does for its outputs when it starts
    assert not temp_files(new)
