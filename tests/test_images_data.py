"""Image data sets offline: digits and FakeData in memory, preparation and loading with md5 checks, and the
download paths' errors (no network here) and manual placement."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ebipla.config import load_config
from ebipla.data import training_set
from ebipla.data.images import (
    as_numpy_grid,
    digits_splits,
    load_split,
    prepare,
    to_uint8,
    to_unit_range,
)
from ebipla.errors import DataError


def data_cfg(tmp_path, name: str, *extra: str):
    return load_config([], [f"data.name={name}", "data.n_points=null", f"data.root={tmp_path}/datasets",
                            f"data.downloads={tmp_path}/downloads", *extra]).data


def test_digits_are_real_rgb_images_in_a_fixed_split(tmp_path):
    splits = digits_splits(data_cfg(tmp_path, "digits").digits)
    assert splits["train"].shape == (1500, 3, 32, 32) and splits["val"].shape == (297, 3, 32, 32)
    assert splits["train"].dtype == torch.uint8
    assert torch.equal(splits["train"][:, 0], splits["train"][:, 2])  # grey repeated to RGB
    assert splits["train"].max() == 255 and splits["train"].min() == 0
    again = digits_splits(data_cfg(tmp_path, "digits").digits)
    assert torch.equal(splits["train"], again["train"])


def test_unit_range_round_trip():
    images = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16).expand(2, 3, 16, 16)
    floats = to_unit_range(images)
    assert floats.min() == -1 and floats.max() == 1
    assert torch.equal(to_uint8(floats), images)
    assert torch.equal(to_uint8(torch.tensor([-3.0, 3.0])), torch.tensor([0, 255], dtype=torch.uint8))


@pytest.mark.parametrize("name", ["digits", "fake"])
def test_prepare_then_load_checks_the_manifest(tmp_path, name):
    cfg = data_cfg(tmp_path, name, "data.fake.image_size=16")
    folder = prepare(cfg)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == {"train.pt", "val.pt"}
    train = torch.load(folder / "train.pt", weights_only=True)
    assert torch.equal(train, load_split(cfg, "train"))
    subset = load_split(load_config([], [f"data.name={name}", "data.n_points=10", "train.batch_size=5",
                                      f"data.root={tmp_path}/datasets", "data.fake.image_size=16"]).data, "train")
    assert torch.equal(subset, train[:10])


def test_damaged_or_missing_prepared_files_say_what_to_do(tmp_path):
    cfg = data_cfg(tmp_path, "svhn")
    with pytest.raises(DataError, match=r"has not been prepared. Run `ebipla prepare"):
        load_split(cfg, "train")
    folder = tmp_path / "datasets" / "svhn"
    folder.mkdir(parents=True)
    torch.save(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), folder / "train.pt")
    (folder / "manifest.json").write_text(json.dumps({"files": {"train.pt": {"md5": "0" * 32}}}))
    with pytest.raises(DataError, match=r"does not match the md5 .* Delete .* prepare it again"):
        load_split(cfg, "train")


@pytest.mark.parametrize("name,hint", [("svhn", "train_32x32.mat"), ("cifar10", "cifar-10-python.tar.gz"),
                                       ("celeba64", "img_align_celeba/")])
def test_failed_downloads_explain_manual_placement(tmp_path, name, hint):
    # No network here: torchvision's real download code fails, and the error names the files and the folder.
    with pytest.raises(DataError) as err:
        prepare(data_cfg(tmp_path, name))
    assert hint in str(err.value) and str(tmp_path / "downloads" / name) in str(err.value)


def test_celebahq_manual_placement_with_checksum_manifest(tmp_path):
    cfg = data_cfg(tmp_path, "celebahq")
    with pytest.raises(DataError, match="no CelebA-HQ images"):
        prepare(cfg)
    raw = tmp_path / "downloads" / "celebahq"
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)).save(raw / f"{i}.png")
    prepare(cfg)
    assert load_split(cfg, "train").shape == (3, 3, 256, 256)
    assert load_split(cfg, "val").shape[0] == 0
    assert len((raw / "manifest.md5").read_text().splitlines()) == 3
    Image.fromarray(np.zeros((300, 300, 3), dtype=np.uint8)).save(raw / "1.png")  # a replaced file
    with pytest.raises(DataError, match=r"differ from .*manifest.md5.*'1.png'"):
        prepare(cfg)


def test_training_set_gives_float_batches_in_unit_range(tmp_path):
    data = training_set(data_cfg(tmp_path, "digits"), torch.device("cpu"), "pinned_cpu")
    assert len(data) == 1500 and data.obs_shape == (3, 32, 32)
    batch = data.batch(torch.tensor([0, 5, 7]))
    assert batch.dtype == torch.float32 and batch.shape == (3, 3, 32, 32)
    assert batch.min() >= -1 and batch.max() <= 1


def test_grid_layout():
    images = torch.stack([torch.full((3, 2, 2), i, dtype=torch.uint8) for i in range(5)])
    grid = as_numpy_grid(images, columns=2)
    assert grid.shape == (6, 4, 3)
    assert grid[0, 2, 0] == 1 and grid[2, 0, 0] == 2 and grid[4, 0, 0] == 4 and grid[4, 2, 0] == 0
