from __future__ import annotations

from pathlib import Path

import pytest

from ebipla.config import RunConfig, config_files, config_from_dict, dump_yaml, load_config, to_dict
from ebipla.config.loader import parse_yaml
from ebipla.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_are_the_paper_synthetic_settings():
    cfg = load_config()
    assert cfg == RunConfig()
    assert cfg.model.energy.hidden == (128, 128, 128)
    assert cfg.model.sigma == 0.05
    assert (cfg.train.batch_size, cfg.train.n_epochs, cfg.train.lr_energy) == (1000, 200, 1e-2)
    assert cfg.train.betas_energy == (0.5, 0.999)
    assert cfg.algorithm.n_prior_steps == 500


def test_layering_later_files_and_overrides_win(tmp_path):
    base = write(tmp_path, "base.yaml", "algorithm: {name: lebm, h: 0.01}\ntrain: {n_epochs: 3}\n")
    top = write(tmp_path, "top.yaml", "algorithm: {h: 0.02}\n")
    cfg = load_config([base, top], ["train.n_epochs=5", "algorithm.gamma=1e-3"])
    assert cfg.algorithm.name == "lebm"
    assert cfg.algorithm.h == 0.02  # top.yaml over base.yaml
    assert cfg.train.n_epochs == 5  # command line over files
    assert cfg.algorithm.gamma == 1e-3  # '1e-3' is a float, not YAML 1.1's string


def test_unknown_key_names_key_file_and_suggestion(tmp_path):
    path = write(tmp_path, "exp.yaml", "algorithm:\n  name: ebipla\n  n_particle: 4\n")
    with pytest.raises(ConfigError) as err:
        load_config([path])
    msg = str(err.value)
    assert str(path) in msg and "algorithm.n_particle" in msg and "n_particles" in msg


def test_key_of_another_algorithm_is_unknown(tmp_path):
    path = write(tmp_path, "exp.yaml", "algorithm: {name: lebm, n_particles: 4}\n")
    with pytest.raises(ConfigError, match=r"unknown key 'algorithm.n_particles'"):
        load_config([path])


@pytest.mark.parametrize("text,key,what", [
    ("train: {batch_size: 10.5}", "train.batch_size", "integer"),
    ("train: {batch_size: '100'}", "train.batch_size", "integer"),
    ("algorithm: {h: fast}", "algorithm.h", "number"),
    ("eval: {decoder_noise: 1}", "eval.decoder_noise", "true or false"),
    ("algorithm: {h: -0.1}", "algorithm.h", "> 0"),
    ("algorithm: {h: 0}", "algorithm.h", "> 0"),
    ("train: {lr_decay: 1.5}", "train.lr_decay", "<= 1"),
    ("model: {energy: {activation: tanh}}", "model.energy.activation", "one of"),
    ("model: {energy: {hidden: 128}}", "model.energy.hidden", "list"),
    ("train: {betas_energy: [0.5, 1.5]}", "train.betas_energy", "[0, 1)"),
    ("data: {seed: 3, eval_seed: 3}", "data.eval_seed", "differ"),
    ("algorithm: {n_particles: 10, warmup_particles: 3}", "algorithm.warmup_particles", "divide"),
    ("model: .nan", "model", "mapping"),
    ("algorithm: {h: .inf}", "algorithm.h", "finite"),
])
def test_bad_values_name_key_and_file(tmp_path, text, key, what):
    path = write(tmp_path, "bad.yaml", text + "\n")
    with pytest.raises(ConfigError) as err:
        load_config([path])
    msg = str(err.value)
    assert str(path) in msg and f"'{key}'" in msg and what in msg


def test_bad_override_names_command_line():
    with pytest.raises(ConfigError, match=r"command line.*'algorithm.gamma' must be > 0"):
        load_config([], ["algorithm.gamma=-1"])
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config([], ["algorithm.gamma"])


def test_file_problems(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config([tmp_path / "missing.yaml"])
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config([write(tmp_path, "broken.yaml", "train: {n_epochs: 3\n")])
    with pytest.raises(ConfigError, match="mapping"):
        load_config([write(tmp_path, "list.yaml", "- 1\n- 2\n")])


def test_dump_and_reload_round_trip(tmp_path):
    cfg = load_config([], ["algorithm.name=lebm", "model.energy.prior_sigma=1.0", "data.name=circle"])
    path = write(tmp_path, "resolved.yaml", dump_yaml(cfg))
    assert load_config([path]) == cfg
    assert config_from_dict(to_dict(cfg), "dict") == cfg


def test_scientific_notation_parses_as_float():
    assert parse_yaml("a: 1e-2\nb: -3E+4\nc: 2.5e-3\nd: '1e-2'", "x") == {"a": 0.01, "b": -30000.0, "c": 0.0025,
                                                                         "d": "1e-2"}


def test_every_shipped_image_config_loads():
    files = sorted((REPO / "config" / "images").glob("*.yaml"))
    assert len(files) >= 16
    runs = {p.stem: load_config([p]) for p in files if "_" in p.stem}
    assert runs["svhn_ebipla"].train.batch_size == 128 and runs["svhn_ebipla"].algorithm.n_prior_steps == 60
    assert runs["celebahq_ebipla"].algorithm.n_particles == 5 and runs["celebahq_ebipla"].model.latent_dim == 128
    assert runs["cifar10_ebipla"].model.generator.ngf == 64  # the SVHN generator
    assert runs["svhn_lebm"].algorithm.gamma == 0.08  # Pang's s0 = 0.4
    for path in files:
        load_config([path])


def test_base_files_layer_before_the_file(tmp_path):
    write(tmp_path, "a.yaml", "train: {n_epochs: 3, batch_size: 7}\n")
    write(tmp_path, "b.yaml", "base: a.yaml\ntrain: {n_epochs: 4}\n")
    cfg = load_config([write(tmp_path, "c.yaml", "base: [b.yaml]\nalgorithm: {h: 0.2}\n")])
    assert (cfg.train.n_epochs, cfg.train.batch_size, cfg.algorithm.h) == (4, 7, 0.2)
    write(tmp_path, "loop.yaml", "base: loop.yaml\n")
    with pytest.raises(ConfigError, match="include each other"):
        load_config([tmp_path / "loop.yaml"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config([write(tmp_path, "d.yaml", "base: nowhere.yaml\n")])


def test_config_files_lists_every_base_once_before_its_file(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    write(tmp_path, "a.yaml", "train: {n_epochs: 3}\n")
    write(tmp_path, "sub/b.yaml", "base: ../a.yaml\n")
    write(tmp_path, "c.yaml", "base: [a.yaml, sub/b.yaml]\n")  # a diamond: a.yaml reached twice
    files = config_files([tmp_path / "c.yaml", tmp_path / "sub" / "b.yaml"])
    assert files == [str(tmp_path / "a.yaml"), str(tmp_path / "sub" / "b.yaml"), str(tmp_path / "c.yaml")]
    monkeypatch.chdir(REPO)
    assert config_files(["config/images/one_protocol/celeba64_lebm.yaml"]) == [  # relative paths stay relative
        "config/images/lebm.yaml", "config/images/one_protocol/protocol.yaml", "config/images/one_protocol/lebm.yaml",
        "config/images/celeba64.yaml", "config/images/one_protocol/celeba64_lebm.yaml"]


def test_every_shipped_config_loads():
    files = sorted((REPO / "config" / "synthetic").rglob("*.yaml"))
    assert len(files) >= 19  # 18 paper-grid files and the quick overlay
    quick = REPO / "config" / "synthetic" / "quick.yaml"
    for path in files:
        cfg = load_config([path])
        if path.parent.name == "paper":
            assert load_config([path, quick]).train.n_epochs < cfg.train.n_epochs


def test_seed_beyond_torch_range_is_a_config_error():
    with pytest.raises(ConfigError, match="'seed' must be <= 9223372036854775807"):
        load_config([], ["seed=9223372036854775808"])
