"""Your own data (ebipla/data/files.py): a folder of images and vectors from .npy, .npz and .csv files, prepared into
md5-manifested tensors, prepared again when the source changes, with clear errors; and short training and evaluation
runs that read them."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from ebipla import run as rundir
from ebipla.checkpoint import load_checkpoint
from ebipla.cli import main
from ebipla.config import load_config
from ebipla.data import DataTransform, data_transform, training_set
from ebipla.data.files import is_validation, load_labels, read_manifest, shuffled_order
from ebipla.data.images import as_numpy_grid, load_split, md5_of, prepare
from ebipla.errors import CheckpointError, ConfigError, DataError
from ebipla.evaluate_images import reference_path
from ebipla.run import load_run, training_data
from ebipla.trainer import train

REPO = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")


def digits_png(folder: Path, n: int, start: int = 0) -> list[Path]:
    """Images start..start+n-1 of scikit-learn's digits as 8 x 8 greyscale PNGs in class subfolders 0..9."""
    digits = load_digits()
    paths = []
    for i in range(start, start + n):
        path = folder / str(digits.target[i]) / f"img{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((digits.images[i] * 15).astype(np.uint8), mode="L").save(path)
        paths.append(path)
    return paths


def folder_cfg(tmp_path: Path, path: Path, *extra: str):
    return load_config([], ["data.name=folder", f"data.folder.path={path}", "data.n_points=null",
                            f"data.root={tmp_path / 'datasets'}", *extra]).data


def array_cfg(tmp_path: Path, path: Path, *extra: str):
    return load_config([], ["data.name=array", f"data.array.path={path}", "data.n_points=null",
                            "train.batch_size=10", f"data.root={tmp_path / 'datasets'}", *extra]).data


def source_splits(manifest: dict) -> dict[str, str]:
    return {entry["path"]: entry["split"] for entry in manifest["source"]["files"]}


# ------------------------------------------------------------------------------------------------ folders


def test_folder_is_prepared_into_uint8_images_with_labels_and_a_fixed_split(tmp_path):
    images = tmp_path / "my_digits"
    digits_png(images, 60)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(images / "3" / "red.jpg")
    Image.new("RGB", (8, 8), (10, 200, 10)).save(images / "7" / "green.BMP")
    cfg = folder_cfg(tmp_path, images, "data.folder.val_fraction=0.3")
    train, val = load_split(cfg, "train"), load_split(cfg, "val")
    assert train.dtype == val.dtype == torch.uint8
    assert train.shape[1:] == val.shape[1:] == (3, 8, 8) and len(train) + len(val) == 62
    assert 5 <= len(val) <= 30  # about 30 % by the md5 rule

    folder = tmp_path / "datasets" / "my_digits"
    assert cfg.prepared_dir == folder
    manifest = read_manifest(folder)
    for name in ("train.pt", "val.pt", "train_labels.pt", "val_labels.pt"):
        assert manifest["files"][name]["md5"] == md5_of(folder / name)
    assert manifest["classes"] == [str(k) for k in range(10)]
    splits = source_splits(manifest)
    assert all((s == "val") == is_validation(0, rel, 0.3) for rel, s in splits.items())
    # The images are the files' pixels, in the fixed shuffled order; the labels are their subfolders.
    train_files = sorted((rel for rel, s in splits.items() if s == "train"), key=lambda rel: shuffled_order(0, rel))
    labels = load_labels(cfg, "train")
    assert len(set(labels[:10].tolist())) > 3  # shuffled: data.n_points takes every class, not the first folders
    assert labels.dtype == torch.int64 and len(labels) == len(train)
    for k, rel in enumerate(train_files):
        assert labels[k] == int(rel.split("/")[0])
        if rel.endswith(".png"):
            grey = torch.from_numpy(np.array(Image.open(images / rel)))
            assert torch.equal(train[k], grey.expand(3, 8, 8))
    assert len(load_labels(cfg, "val")) == len(val)
    assert any(torch.equal(img[:, 0, 0], torch.tensor([10, 200, 10], dtype=torch.uint8))
               for img in torch.cat([train, val]))  # the .BMP, read in RGB


def test_folder_is_prepared_again_only_when_its_files_change(tmp_path, caplog):
    images = tmp_path / "imgs"
    pngs = digits_png(images, 40)
    cfg = folder_cfg(tmp_path, images, "data.folder.val_fraction=0.3")
    folder = prepare(cfg)
    old = read_manifest(folder)
    old_splits = source_splits(old)
    caplog.set_level(logging.INFO, logger="ebipla.data")

    caplog.clear()  # unchanged: nothing is written
    stamp = (folder / "train.pt").stat().st_mtime_ns
    load_split(cfg, "train")
    os.utime(pngs[0])  # touched, same content: hashed, found equal, not prepared again
    load_split(cfg, "train")
    assert "preparing" not in caplog.text and (folder / "train.pt").stat().st_mtime_ns == stamp

    digits_png(images, 5, start=40)  # images added: prepared again, the old ones keep their split
    (folder / "fid_ref_digits-cnn.npz").write_bytes(b"stale statistics")
    train = load_split(cfg, "train")
    assert "5 added" in caplog.text
    new = read_manifest(folder)
    assert {rel: s for rel, s in source_splits(new).items() if rel in old_splits} == old_splits
    assert len(train) + len(load_split(cfg, "val")) == 45
    assert not (folder / "fid_ref_digits-cnn.npz").exists()  # it described the old training images

    caplog.clear()  # a file's content changes: prepared again
    Image.fromarray(np.full((8, 8), 255, dtype=np.uint8), mode="L").save(pngs[0])
    load_split(cfg, "val")
    assert "1 changed" in caplog.text and read_manifest(folder)["source"] != new["source"]

    caplog.clear()  # a setting changes: prepared again
    grey = folder_cfg(tmp_path, images, "data.folder.val_fraction=0.3", "data.folder.channels=grey")
    assert load_split(grey, "train").shape[1:] == (1, 8, 8) and "settings changed" in caplog.text


def test_greyscale_resize_and_centre_crop_of_non_square_images(tmp_path):
    images = tmp_path / "wide"
    images.mkdir()
    for i in range(3):  # 30 x 10: black | white | black thirds; the centre crop keeps the white third
        pixels = np.zeros((10, 30, 3), dtype=np.uint8)
        pixels[:, 10:20] = 255
        Image.fromarray(pixels).save(images / f"{i}.png")
    Image.fromarray(np.full((40, 8, 3), 255, dtype=np.uint8)).save(images / "tall.webp", lossless=True)
    cfg = folder_cfg(tmp_path, images, "data.folder.image_size=8", "data.folder.channels=grey",
                     "data.folder.val_fraction=0")
    train = load_split(cfg, "train")
    assert train.shape == (4, 1, 8, 8) and len(load_split(cfg, "val")) == 0
    assert (train[:, :, :, 1:7] == 255).all() and train.float().mean() > 230
    assert as_numpy_grid(train).shape == (8, 64, 3)  # grey drawn as RGB in sample grids
    assert load_labels(cfg, "train") is None  # no class subfolders
    assert read_manifest(cfg.prepared_dir)["classes"] is None


def test_a_separate_validation_folder(tmp_path):
    digits_png(tmp_path / "train", 30)
    digits_png(tmp_path / "val", 12, start=100)
    cfg = folder_cfg(tmp_path, tmp_path / "train", f"data.folder.val_path={tmp_path / 'val'}",
                     "data.folder.name=mine")
    train, val = load_split(cfg, "train"), load_split(cfg, "val")
    assert len(train) == 30 and len(val) == 12 and cfg.prepared_dir.name == "mine"
    manifest = read_manifest(cfg.prepared_dir)
    first_val = min((e["path"] for e in manifest["source"]["files"] if e["root"] == "val_path"),
                    key=lambda rel: shuffled_order(0, rel))  # the first in the fixed shuffled order, e.g. 0/img0109.png
    pixels = load_digits().images[int(first_val[-8:-4])]
    assert torch.equal(val[0, 0], torch.from_numpy((pixels * 15).astype(np.uint8)))
    assert manifest["settings"]["split"] == {"rule": "val_path"}
    assert sorted(set(manifest["classes"])) == manifest["classes"]
    assert reference_path(load_config([], ["data.name=folder", f"data.folder.path={tmp_path / 'train'}",
                                           "data.n_points=null", "data.folder.name=mine"])) == \
        Path("results/datasets/mine/fid_ref_inception-v3-compat.npz")


def test_prepare_command_prepares_a_folder(tmp_path):
    digits_png(tmp_path / "pics", 12)
    assert main(["prepare", "--set", "data.name=folder", "--set", f"data.folder.path={tmp_path / 'pics'}",
                 "--set", "data.n_points=null", "--set", f"data.root={tmp_path / 'ds'}"]) == 0
    manifest = json.loads((tmp_path / "ds" / "pics" / "manifest.json").read_text())
    assert manifest["kind"] == "folder" and manifest["files"]["train.pt"]["shape"][1:] == [3, 8, 8]


def test_folder_errors_name_the_file_and_the_fix(tmp_path):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"no images in .*empty.*\.png, \.jpg, \.jpeg, \.webp, \.bmp.*Put the images"):
        load_split(folder_cfg(tmp_path, empty), "train")

    broken = tmp_path / "broken"
    digits_png(broken, 3)
    (broken / "0" / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"bad\.png cannot be read as an image.*Remove it"):
        load_split(folder_cfg(tmp_path, broken), "train")

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.new("RGB", (8, 8)).save(mixed / "a.png")
    Image.new("RGB", (12, 8)).save(mixed / "b.png")
    with pytest.raises(DataError, match=r"a\.png is 8 x 8 pixels .*/b\.png is 12 x 8\. Set data\.folder\.image_size"):
        load_split(folder_cfg(tmp_path, mixed), "train")

    with pytest.raises(DataError, match=r"data\.folder\.path = .*nowhere: no such folder"):
        load_split(folder_cfg(tmp_path, tmp_path / "nowhere"), "train")
    with pytest.raises(ConfigError, match=r"'data\.folder\.path' must name the folder"):
        load_config([], ["data.name=folder"])
    with pytest.raises(ConfigError, match=r"'data\.folder\.path' gives .* name 'digits'.* set data\.folder\.name"):
        load_config([], ["data.name=folder", f"data.folder.path={tmp_path / 'digits'}"])


# ------------------------------------------------------------------------------------------------ arrays


def test_arrays_from_npy_npz_and_csv(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(300, 3)).astype(np.float32)
    np.save(tmp_path / "points.npy", points)
    np.save(tmp_path / "line.npy", points[:, 0])
    np.savez(tmp_path / "bundle.npz", points=points, other=points[:5])
    header = tmp_path / "header.csv"
    header.write_text("x,label,y,z\n" + "".join(f"{a!r},cat,{b!r},{c!r}\n" for a, b, c in points.tolist()))
    plain = tmp_path / "plain.csv"
    plain.write_text("".join(f"{a!r},{b!r},{c!r}\n" for a, b, c in points.tolist()) + "\n")

    def both(path, *extra):
        cfg = array_cfg(tmp_path, path, *extra)
        train, val = load_split(cfg, "train"), load_split(cfg, "val")
        assert train.dtype == torch.float32 and len(train) + len(val) == 300
        return torch.cat([train, val]), cfg

    full, cfg = both(tmp_path / "points.npy")
    train_rows = [i for i in range(300) if not is_validation(0, str(i), 0.1)]
    assert torch.equal(load_split(cfg, "train"), torch.from_numpy(points[train_rows]))
    assert torch.equal(both(tmp_path / "line.npy")[0], full[:, :1])
    assert torch.equal(both(tmp_path / "bundle.npz", "data.array.key=points")[0], full)
    chosen, cfg = both(header, "data.array.columns=[z, x]")
    assert torch.equal(chosen, full[:, [2, 0]]) and read_manifest(cfg.prepared_dir)["columns"] == ["z", "x"]
    assert torch.equal(both(plain, "data.array.columns=['2', '1']")[0], full[:, [2, 1]])
    assert torch.equal(both(plain)[0], full)


def test_appended_rows_keep_the_old_rows_split(tmp_path):
    data = np.arange(400, dtype=np.float32).reshape(200, 2)
    np.save(tmp_path / "grow.npy", data[:150])
    cfg = array_cfg(tmp_path, tmp_path / "grow.npy")
    val_before = load_split(cfg, "val")
    np.save(tmp_path / "grow.npy", data)
    val_after = load_split(cfg, "val")
    assert len(val_after) > len(val_before) > 0 and torch.equal(val_after[:len(val_before)], val_before)


def test_standardisation_round_trip_and_training_units(tmp_path):
    rng = np.random.default_rng(1)
    points = (rng.normal(size=(300, 2)) * [3.0, 0.5] + [100.0, -50.0]).astype(np.float32)
    np.save(tmp_path / "pts.npy", np.concatenate([points, np.ones((300, 1), np.float32)], axis=1))
    cfg = array_cfg(tmp_path, tmp_path / "pts.npy", "data.array.standardize=true")
    transform = data_transform(cfg)
    train = load_split(cfg, "train")  # in the data's units
    assert transform.mean == pytest.approx(train.double().mean(0).tolist())
    assert transform.std[:2] == pytest.approx(train.double().std(0, unbiased=False)[:2].tolist())
    assert transform.std[2] == 1.0  # a constant column is not divided by 0
    model_units = training_set(cfg, CPU).values
    assert model_units[:, :2].mean(0).abs().max() < 1e-4 and (model_units[:, :2].std(0) - 1).abs().max() < 0.01
    y = torch.randn(50, 3) * 10
    assert torch.allclose(transform.to_data(transform.to_model(y)), y, atol=1e-5)
    assert torch.allclose(transform.to_data(model_units), train, atol=1e-4)
    assert DataTransform.from_state(transform.state()) == transform
    assert data_transform(array_cfg(tmp_path, tmp_path / "pts.npy")).is_identity


def test_array_errors_name_the_file_and_the_fix(tmp_path):
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,b\n1,2\n3,4\n5,nan\n7,8\n9,inf\n")
    with pytest.raises(DataError, match=r"bad\.csv has 2 row\(s\) with NaN.*the first is row 2 \(line 4\).*Remove"):
        load_split(array_cfg(tmp_path, bad_csv), "train")
    inf_npy = tmp_path / "inf.npy"
    np.save(inf_npy, np.array([[1.0, 2.0], [np.inf, 0.0]]))
    with pytest.raises(DataError, match=r"inf\.npy has 1 row\(s\) with NaN, inf.*row 1"):
        load_split(array_cfg(tmp_path, inf_npy), "train")
    npz = tmp_path / "two.npz"
    np.savez(npz, first=np.zeros((20, 2)), second=np.ones((20, 2)))
    with pytest.raises(DataError, match=r"two\.npz has no array named 'third' .*: first, second\. Set data\.array"):
        load_split(array_cfg(tmp_path, npz, "data.array.key=third"), "train")
    with pytest.raises(DataError, match=r"two\.npz holds 2 arrays \(first, second\): set data\.array\.key"):
        load_split(array_cfg(tmp_path, npz), "train")
    with pytest.raises(DataError, match=r"bad\.csv has no column named 'c' .*: a, b\. Set data\.array\.columns"):
        load_split(array_cfg(tmp_path, bad_csv, "data.array.columns=[c]"), "train")
    word = tmp_path / "word.csv"
    word.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(DataError, match=r"word\.csv line 3, column 'b': 'x' is not a number"):
        load_split(array_cfg(tmp_path, word), "train")


def test_fewer_points_than_the_batch(tmp_path):
    np.save(tmp_path / "few.npy", np.random.default_rng(0).normal(size=(60, 2)))
    cfg = load_config([], ["data.name=array", f"data.array.path={tmp_path / 'few.npy'}", "data.n_points=null",
                           f"data.root={tmp_path / 'ds'}", "train.batch_size=100", "device=cpu"])
    with pytest.raises(DataError, match=r"few\.npy has \d+ points, fewer than train\.batch_size = 100\. Lower "
                                        r"train\.batch_size"):
        training_data(cfg, CPU)
    digits_png(tmp_path / "small", 20)
    cfg = load_config([], ["data.name=folder", f"data.folder.path={tmp_path / 'small'}", "data.n_points=null",
                           f"data.root={tmp_path / 'ds'}", "train.batch_size=50"])
    with pytest.raises(DataError, match=r"small has \d+ points, fewer than train\.batch_size = 50"):
        training_data(cfg, CPU)


# ------------------------------------------------------------------------------------------------ runs


def test_train_and_evaluate_on_a_csv_in_the_data_units(tmp_path):
    rng = np.random.default_rng(2)
    centres = np.array([[95.0, -55.0], [105.0, -45.0]])
    points = centres[rng.integers(0, 2, 600)] + rng.normal(scale=1.5, size=(600, 2))
    csv_file = tmp_path / "mixture.csv"
    csv_file.write_text("u,v\n" + "".join(f"{a},{b}\n" for a, b in points))
    run = tmp_path / "run"
    common = ["--set", "data.name=array", "--set", f"data.array.path={csv_file}", "--set", "data.n_points=null",
              "--set", "data.array.standardize=true", "--set", f"data.root={tmp_path / 'ds'}", "--set", "device=cpu"]
    assert main(["train", *common, "--set", "train.n_epochs=2", "--set", "train.batch_size=200", "--set",
                 "algorithm.n_prior_steps=5", "--set", "algorithm.n_particles=4", "--out", str(run)]) == 0
    assert load_run(run).transform.mean == pytest.approx(points.mean(0), abs=0.5)
    assert main(["sample", "--run", str(run), "--n", "50"]) == 0
    assert np.abs(np.load(run / rundir.SAMPLES)["y"].mean(0) - [100.0, -50.0]).max() < 5
    assert main(["evaluate", "--run", str(run), "--set", "eval.n_samples=200", "--set", "eval.n_eval_points=100",
                 "--set", "eval.long_run_steps=0", "--set", "eval.landscape_grid=10"]) == 0
    metrics = json.loads((run / rundir.EVAL_METRICS).read_text())
    n_val = len(torch.load(tmp_path / "ds" / "mixture" / "val.pt", weights_only=True))
    assert np.isfinite(metrics["mmd2"]) and metrics["dataset"] == "array"
    assert metrics["n_eval_points"] == min(100, n_val)
    y = np.load(run / rundir.SAMPLES)["y"]
    assert y.shape == (200, 2) and np.abs(y.mean(0) - [100.0, -50.0]).max() < 5  # the data's units, not ~0


def test_training_reads_a_folder_of_pngs(tmp_path):
    digits_png(tmp_path / "pngs", 40)
    cfg = load_config([REPO / "config" / "images" / "digits_ebipla.yaml"], [
        "data.name=folder", f"data.folder.path={tmp_path / 'pngs'}", "data.folder.image_size=16",
        f"data.root={tmp_path / 'ds'}", "train.batch_size=8", "algorithm.n_prior_steps=3", "algorithm.n_particles=2",
        "algorithm.warmup_iters=0", "model.latent_dim=4", "model.generator.ngf=4", "model.energy.hidden=[8]",
        "device=cpu"])
    train(cfg, tmp_path / "run", device=CPU, until_iteration=2)
    payload = load_checkpoint(tmp_path / "run" / rundir.CHECKPOINT)
    assert payload["iteration"] == 2 and payload["obs_shape"] == [3, 16, 16]
    assert payload["particles"].shape[0] == len(load_split(cfg.data, "train")) and payload["data_transform"] is None


def test_resuming_on_changed_data_is_refused_like_a_changed_config(tmp_path):
    rng = np.random.default_rng(0)
    csv_file = tmp_path / "points.csv"
    csv_file.write_text("a,b\n" + "".join(f"{x},{y}\n" for x, y in rng.normal(size=(300, 2))))
    cfg = load_config([], ["data.name=array", f"data.array.path={csv_file}", "data.n_points=null",
                           f"data.root={tmp_path / 'ds'}", "train.batch_size=100", "algorithm.n_prior_steps=3",
                           "algorithm.n_particles=2", "device=cpu"])
    train(cfg, tmp_path / "run", device=CPU, until_iteration=2)
    train(cfg, tmp_path / "run", device=CPU, until_iteration=3)  # unchanged data: resumes
    with csv_file.open("a") as f:
        f.write("0.5,0.25\n")  # one more row: prepared again on the next load
    with pytest.raises(CheckpointError, match=r"the training data \(md5 of the prepared train.pt\)"):
        train(cfg, tmp_path / "run", device=CPU, until_iteration=4)
    assert load_checkpoint(tmp_path / "run" / rundir.CHECKPOINT)["iteration"] == 3  # nothing lost
    train(cfg, tmp_path / "run", device=CPU, until_iteration=1, restart_on_change=True)
    assert (tmp_path / "run" / rundir.PREVIOUS_CHECKPOINT).exists()
