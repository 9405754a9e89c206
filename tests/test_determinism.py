"""GPU hazards, CPU half (issue 13): the particle bank's device-to-host copies are synchronous, ``train.deterministic``
sets and restores torch's global numerics, and gpu-check's bank and resume checks run.

There is no GPU here: the tests check the code paths (the copies asked for, the flags set) and that the pinned_cpu
bank, which is ordinary memory without CUDA, gives the device bank's run bitwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch.overrides import TorchFunctionMode

from ebipla import run as rundir
from ebipla.algorithms import ALGORITHMS, bank
from ebipla.algorithms import ebipla as ebipla_algorithm
from ebipla.bench import gpu_check
from ebipla.checkpoint import load_checkpoint
from ebipla.config import load_config
from ebipla.errors import CheckpointError, ConfigError
from ebipla.run import training_data, training_numerics
from ebipla.trainer import train

CPU = torch.device("cpu")
REPO = Path(__file__).resolve().parents[1]
TINY = ["data.n_points=300", "train.batch_size=100", "algorithm.n_prior_steps=5", "model.energy.hidden=[16,16]",
        "train.n_epochs=2", "train.checkpoint_every=2", "train.log_every=1", "device=cpu", "algorithm.n_particles=3"]
TINY_IMAGES = ["algorithm.n_prior_steps=2", "model.generator.ngf=8", "model.latent_dim=8"]  # gpu-check's test sizes


# ------------------------------------------------------------------------------------------------ the bank's copies


class RecordTo(TorchFunctionMode):
    """Records (target device, non_blocking) of every Tensor.to call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[object, bool]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.to:
            target = kwargs.get("device", args[1] if len(args) > 1 else None)
            self.calls.append((target, bool(kwargs.get("non_blocking", False))))
        return func(*args, **kwargs)


def test_copies_the_cpu_reads_next_are_synchronous():
    """scatter and add_noise copy into the bank (device to host for a pinned bank) and the CPU then reads the result:
    no non_blocking there. gather's only asynchronous copy is its last, host to device."""
    particles = torch.zeros(10, 3, 2)
    idx = torch.tensor([1, 4])
    with RecordTo() as scatter_calls:
        bank.scatter(particles, idx, torch.ones(2, 3, 2))
    with RecordTo() as noise_calls:
        bank.add_noise(particles, 0.5, torch.Generator().manual_seed(0))
    with RecordTo() as gather_calls:
        rows = bank.gather(particles, idx, CPU)
    assert scatter_calls.calls and noise_calls.calls
    assert not any(nb for _, nb in scatter_calls.calls + noise_calls.calls)
    assert [nb for _, nb in gather_calls.calls] == [False, True]  # indices to the bank synchronously; rows to device
    assert torch.equal(rows, particles[idx]) and (rows != 0).all()


def ebipla_run(storage: str, steps: int) -> list[list[torch.Tensor]]:
    cfg = load_config([], TINY + [f"train.particle_storage={storage}"])
    y = training_data(cfg, CPU).values
    gen = torch.Generator().manual_seed(0)
    state = ebipla_algorithm.init_state(cfg, rundir.new_model(cfg, (2,), CPU), len(y), gen)
    out = []
    for k in range(steps):
        idx = torch.arange(100) + 100 * (k % 3)
        state, _ = ebipla_algorithm.step(state, (idx, y[idx]), gen)
        out.append([state.particles.clone(), *(p.detach().clone() for p in state.model.parameters())])
    return out


def test_pinned_cpu_bank_gives_the_device_bank_run_bitwise(monkeypatch):
    monkeypatch.setattr(bank, "NOISE_CHUNK_ELEMENTS", 7 * 3 * 2)  # the all-particle noise in chunks of 7 rows
    device, pinned = ebipla_run("device", 4), ebipla_run("pinned_cpu", 4)
    for a, b in zip(device, pinned):
        assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(device[0][0], device[-1][0])  # the particles moved


def test_gpu_check_bank_steps_run_and_agree_on_cpu():
    result = gpu_check.check_bank_steps(CPU, TINY_IMAGES, steps=2)
    assert result == {"steps": 2, "steps_bitwise": True, "steps_max_rel_diff": 0.0, "steps_ok": True}


# ------------------------------------------------------------------------------------------------ train.deterministic


def numerics() -> dict:
    cudnn = torch.backends.cudnn
    return {"deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
            "cudnn_deterministic": cudnn.deterministic, "cudnn_benchmark": cudnn.benchmark,
            "cudnn_tf32": cudnn.allow_tf32, "matmul_tf32": torch.backends.cuda.matmul.allow_tf32}


@pytest.fixture
def odd_numerics(monkeypatch):
    """Global settings unlike what training sets (restored afterwards): TF32 on, autotuning on, no determinism."""
    before = numerics()
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    torch.use_deterministic_algorithms(False)
    yield numerics()
    torch.use_deterministic_algorithms(before["deterministic_algorithms"], warn_only=before["warn_only"])
    torch.backends.cudnn.benchmark = before["cudnn_benchmark"]
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before["cudnn_tf32"], before["matmul_tf32"]


@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_training_sets_the_numerics_and_restores_them(tmp_path, monkeypatch, odd_numerics, deterministic, precision):
    seen = []
    real_step = ebipla_algorithm.step
    monkeypatch.setattr(ebipla_algorithm, "step", lambda *a: seen.append(numerics()) or real_step(*a))
    cfg = load_config([], TINY + [f"train.deterministic={str(deterministic).lower()}", f"train.precision={precision}"])
    state = train(cfg, tmp_path)
    assert state.iteration == 6 and len(seen) == 6
    inside = seen[0]
    if deterministic:
        assert inside["deterministic_algorithms"] and inside["warn_only"] and inside["cudnn_deterministic"]
        assert not inside["cudnn_benchmark"]
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    else:
        assert {k: inside[k] for k in ("deterministic_algorithms", "cudnn_benchmark")} == {
            "deterministic_algorithms": False, "cudnn_benchmark": True}  # left as they were
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    tf32 = precision == "bfloat16"  # float32 means float32: TF32 off; bfloat16 leaves it as it was
    assert (inside["cudnn_tf32"], inside["matmul_tf32"]) == (tf32, tf32)
    assert numerics() == odd_numerics  # restored when train() returns


def test_numerics_are_restored_when_training_fails(odd_numerics):
    cfg = load_config([], TINY)
    with pytest.raises(RuntimeError, match="boom"), training_numerics(cfg.train):
        assert torch.are_deterministic_algorithms_enabled()
        raise RuntimeError("boom")
    assert numerics() == odd_numerics


def test_cublas_workspace_config_already_set_is_kept(monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    with training_numerics(load_config([], TINY).train):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_deterministic_changes_no_result_on_cpu(tmp_path):
    """On CPU the flag selects no other kernel here: both settings train to the same checkpoint, bitwise."""
    payloads = {}
    for flag in ("true", "false"):
        train(load_config([], TINY + [f"train.deterministic={flag}"]), tmp_path / flag)
        payloads[flag] = load_checkpoint(tmp_path / flag / rundir.CHECKPOINT)
    on, off = payloads["true"], payloads["false"]
    assert on["config"]["train"]["deterministic"] is True and off["config"]["train"]["deterministic"] is False
    del on["config"], off["config"]
    assert gpu_check.first_difference(on, off) is None


def test_a_changed_deterministic_is_a_config_change_on_resume(tmp_path):
    train(load_config([], TINY), tmp_path, until_iteration=2)
    with pytest.raises(CheckpointError, match=r"train\.deterministic: True -> False"):
        train(load_config([], TINY + ["train.deterministic=false"]), tmp_path)


def test_a_checkpoint_from_before_the_key_resumes_at_its_default(tmp_path):
    cfg = load_config([], TINY)
    train(cfg, tmp_path, until_iteration=2)
    payload = load_checkpoint(tmp_path / rundir.CHECKPOINT)
    del payload["config"]["train"]["deterministic"]  # as written before train.deterministic existed
    torch.save(payload, tmp_path / rundir.CHECKPOINT)
    assert train(cfg, tmp_path).iteration == 6


@pytest.mark.parametrize("override,message", [
    ("train.deterministic=1", "'train.deterministic' must be true or false"),
    ("train.deterministic=yes please", "'train.deterministic' must be true or false"),
    ("train.determinstic=true", "Did you mean 'deterministic'"),
])
def test_the_key_is_typed_and_strict(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config([], [override])


def test_every_shipped_run_config_is_deterministic():
    configs = sorted(REPO.glob("config/*/**/*.yaml"))  # run configs (config/config.yaml is the workflow's)
    assert len(configs) > 30
    for path in configs:
        assert load_config([path]).train.deterministic, path


# ------------------------------------------------------------------------------------------------ gpu-check's checks


def test_gpu_check_resume_is_bitwise_on_cpu():
    result = gpu_check.check_resume(CPU, TINY_IMAGES)
    assert result == {"iterations": 8, "stops": [3, 5], "bitwise_equal": True, "first_difference": None}


def test_first_difference_names_the_path():
    a = {"model": {"w": torch.zeros(2)}, "optimizers": [None, {"step": 1}], "iteration": 3}
    b = {"model": {"w": torch.tensor([0.0, 1e-30])}, "optimizers": [None, {"step": 1}], "iteration": 3}
    assert gpu_check.first_difference(a, a) is None
    assert gpu_check.first_difference(a, b) == "checkpoint.model.w"
    assert gpu_check.first_difference(a, {**a, "iteration": 4}) == "checkpoint.iteration"
    assert gpu_check.first_difference(a, {**a, "optimizers": [None]}) == "checkpoint.optimizers"


def test_gpu_check_deterministic_cost_times_both_settings():
    cost = gpu_check.deterministic_cost(CPU, 1, TINY_IMAGES)
    assert [r["deterministic"] for r in cost["rows"]] == [True, False]
    assert cost["deterministic_s"] > 0 and cost["nondeterministic_s"] > 0
    assert cost["deterministic_over_not"] == pytest.approx(cost["deterministic_s"] / cost["nondeterministic_s"])
    assert ALGORITHMS["ebipla"] is ebipla_algorithm
