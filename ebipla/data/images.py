"""Image data sets: download through torchvision, prepare once, load fast.

``prepare(cfg)`` turns a data set into ``<root>/<name>/train.pt`` and ``val.pt`` (uint8 tensors, N x 3 x H x W)
plus ``manifest.json`` (counts, preprocessing, md5 of both files); ``load_split`` reads them back and checks the md5.
``<name>`` is ``data.prepared_dir``'s last part: the data set's name, or for your own files (folder, array) the
name :mod:`.files` gives them. Images become floats in [-1, 1] only when a batch is taken (:func:`to_unit_range`).

Data sets (train / validation split, preprocessing):

* svhn: torchvision SVHN (md5-checked .mat files); train split 73,257 / test split 26,032; native 32 x 32.
* cifar10: torchvision CIFAR10 (md5-checked batches); train 50,000 / test 10,000; native 32 x 32.
* celeba64: torchvision CelebA (Google Drive; manual placement when it is refused); the first 40,000 files of the
  official train partition in sorted file-name order (the list is saved as train_subset.txt) / the official
  validation partition (19,867); Resize(64) + CenterCrop(64), Pang et al.'s crop.
* celebahq: the 30,000 CelebA-HQ images placed by hand in <downloads>/celebahq/ (checked against manifest.md5);
  all for training, no validation split (the paper reports only FID); Resize(256) + CenterCrop(256).
* digits: scikit-learn's bundled digits, no download; the first 1,500 / the last 297; 8 x 8 bilinearly upsampled
  to 32 x 32, grey repeated to RGB.
* fake: torchvision FakeData, for tests.
* folder: every image under data.folder.path (:mod:`.files`); a separate validation folder or a fixed seeded
  per-file split; Resize + CenterCrop to data.folder.image_size or the native size; RGB or greyscale (N x 1 x H x W);
  class labels from first-level subfolders. Prepared again when the files or the settings change.
* array (not images; prepared and loaded here too): float32 N x d vectors from data.array.path (.npy, .npz, .csv),
  split like folder (:mod:`.files`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoint import atomic_write, atomic_write_json, atomic_write_text
from ..config.schema import FILE_DATA, DataConfig, DigitsConfig
from ..errors import DataError

SPLITS = ("train", "val")
MANIFEST = "manifest.json"
CELEBA64_SUBSET = 40_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1] (the generator's Tanh range)."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounded and clipped."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8)


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------------ in memory


def digits_splits(cfg: DigitsConfig) -> dict[str, torch.Tensor]:
    """scikit-learn's digits (values 0-16) -> uint8 RGB at cfg.image_size; train = the first n_train images."""
    from sklearn.datasets import load_digits

    images = torch.from_numpy(load_digits().images).float()[:, None] / 16.0  # (1797, 1, 8, 8) in [0, 1]
    images = F.interpolate(images, size=cfg.image_size, mode="bilinear", align_corners=False)
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    return {"train": images[:cfg.n_train], "val": images[cfg.n_train:]}


def fake_splits(image_size: int, n: int, seed: int, eval_seed: int) -> dict[str, torch.Tensor]:
    """torchvision FakeData (PIL images drawn from seeded generators), as uint8 tensors."""
    from torchvision.datasets import FakeData
    from torchvision.transforms.functional import pil_to_tensor

    def draw(count: int, offset: int) -> torch.Tensor:
        data = FakeData(size=count, image_size=(3, image_size, image_size), random_offset=offset)
        return torch.stack([pil_to_tensor(data[i][0]) for i in range(count)])

    return {"train": draw(n, seed * 1_000_003), "val": draw(max(2, n // 4), eval_seed * 1_000_003)}


# ------------------------------------------------------------------------------------------------ downloads


def _stack(dataset, transform=None) -> torch.Tensor:
    """All images of a torchvision data set as one uint8 tensor (N, 3, H, W)."""
    from torchvision.transforms.functional import pil_to_tensor

    images = []
    for i in range(len(dataset)):
        image = dataset[i][0]
        images.append(pil_to_tensor(transform(image) if transform else image.convert("RGB")))
    return torch.stack(images)


MANUAL_FILES = {
    "svhn": "train_32x32.mat (md5 e26dedcc434d2e4c54c9b2d4a06d8373) and test_32x32.mat "
            "(md5 eb5a983be6a315427106f1b164d9cef3) from http://ufldl.stanford.edu/housenumbers/",
    "cifar10": "cifar-10-python.tar.gz (md5 c58f30108f718f92721af3b95e74349a) from "
               "https://www.cs.toronto.edu/~kriz/cifar.html",
}


def _torchvision(name: str, raw: Path, make):
    """Call a torchvision constructor (download=True, md5-checked); failures become a DataError with the fix."""
    try:
        return make()
    except Exception as exc:  # URLError offline, RuntimeError on a failed integrity check, ...
        raise DataError(
            f"the {name} data set could not be downloaded or verified under {raw} ({type(exc).__name__}: {exc}). "
            f"Without internet access here, download {MANUAL_FILES[name]} elsewhere, copy it into {raw}/ and "
            "rerun: torchvision checks the md5 and skips the download."
        ) from None


def _svhn(raw: Path) -> dict[str, torch.Tensor]:
    from torchvision.datasets import SVHN

    return {split: torch.from_numpy(_torchvision("svhn", raw, lambda n=name: SVHN(str(raw), n, download=True)).data)
            for split, name in (("train", "train"), ("val", "test"))}  # (N, 3, 32, 32) uint8


def _cifar10(raw: Path) -> dict[str, torch.Tensor]:
    from torchvision.datasets import CIFAR10

    def make(train: bool):
        return _torchvision("cifar10", raw, lambda: CIFAR10(str(raw), train=train, download=True))

    return {split: torch.from_numpy(make(train).data).permute(0, 3, 1, 2).contiguous()  # from (N, 32, 32, 3)
            for split, train in (("train", True), ("val", False))}


def _celeba_split(raw: Path, split: str):
    from torchvision.datasets import CelebA

    try:
        return CelebA(str(raw), split=split, target_type="identity", download=True)
    except Exception as exc:  # gdown quota, HTML instead of zip, md5 mismatch, missing files ...
        raise DataError(
            f"CelebA could not be obtained under {raw} ({type(exc).__name__}: {exc}). Google Drive often refuses "
            "the download. Place the files by hand instead: from the official CelebA page, put the extracted "
            f"img_align_celeba/ folder and list_attr_celeba.txt, identity_CelebA.txt, list_bbox_celeba.txt, "
            f"list_landmarks_align_celeba.txt and list_eval_partition.txt into {raw / 'celeba'}/, then rerun; "
            "torchvision checks the md5 of the text files."
        ) from None


def _celeba64(raw: Path, out: Path) -> dict[str, torch.Tensor]:
    """The 40k-image training subset (the first 40,000 train-partition files in sorted order) and the official
    validation partition, both Resize(64) + CenterCrop(64)."""
    from torch.utils.data import Subset
    from torchvision import transforms

    transform = transforms.Compose([transforms.Resize(64), transforms.CenterCrop(64)])
    train = _celeba_split(raw, "train")
    order = sorted(range(len(train)), key=lambda i: train.filename[i])[:CELEBA64_SUBSET]
    atomic_write_text(out / "train_subset.txt", "".join(f"{train.filename[i]}\n" for i in order))
    return {"train": _stack(Subset(train, order), transform), "val": _stack(_celeba_split(raw, "valid"), transform)}


def _celebahq(raw: Path, out: Path) -> dict[str, torch.Tensor]:
    """Manually placed CelebA-HQ images (png or jpg, any size), checked against <downloads>/celebahq/manifest.md5
    when it exists (written on the first preparation otherwise), Resize(256) + CenterCrop(256)."""
    from PIL import Image
    from torchvision import transforms
    from torchvision.transforms.functional import pil_to_tensor

    files = sorted(p for p in raw.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(
            f"no CelebA-HQ images in {raw}. CelebA-HQ has no automatic download: obtain the 30,000 images "
            f"(e.g. the CelebAMask-HQ release, 'CelebA-HQ-img/0.jpg' ... '29999.jpg') and copy them into {raw}/, "
            "then rerun. A checksum manifest (manifest.md5) is written on the first preparation and checked later."
        )
    manifest = raw / "manifest.md5"
    digests = {p.name: md5_of(p) for p in files}
    if manifest.exists():
        expected = dict(line.split()[::-1] for line in manifest.read_text().splitlines() if line.strip())
        bad = sorted(n for n in expected if digests.get(n) != expected[n])
        if bad:
            raise DataError(f"{len(bad)} CelebA-HQ file(s) in {raw} differ from {manifest} or are missing "
                            f"(first: {bad[:3]}). Restore the original files, or delete the manifest to accept "
                            "the new ones.")
    else:
        atomic_write_text(manifest, "".join(f"{d}  {n}\n" for n, d in digests.items()))
    transform = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(256)])
    train = torch.stack([pil_to_tensor(transform(Image.open(p).convert("RGB"))) for p in files])
    return {"train": train, "val": train[:0]}


# ------------------------------------------------------------------------------------------------ prepare / load


def splits_in_memory(cfg: DataConfig) -> dict[str, torch.Tensor] | None:
    """The data sets that need no files (digits, fake); None for the others."""
    if cfg.name == "digits":
        return digits_splits(cfg.digits)
    if cfg.name == "fake":
        return fake_splits(cfg.fake.image_size, cfg.n_points or 256, cfg.seed, cfg.eval_seed)
    return None


def prepare(cfg: DataConfig) -> Path:
    """Download (or read the placed files) and write <root>/<name>/{train,val}.pt and manifest.json. Folder and array
    data sets: prepared only when missing or out of date (:func:`.files.ensure_prepared`)."""
    if cfg.name in FILE_DATA:
        from .files import ensure_prepared

        return ensure_prepared(cfg)
    out = cfg.prepared_dir
    raw = Path(cfg.downloads) / cfg.name
    raw.mkdir(parents=True, exist_ok=True)
    splits = splits_in_memory(cfg)
    if splits is None:
        makers = {"svhn": lambda: _svhn(raw), "cifar10": lambda: _cifar10(raw),
                  "celeba64": lambda: _celeba64(raw, out), "celebahq": lambda: _celebahq(raw, out)}
        splits = makers[cfg.name]()
    manifest = {"name": cfg.name, "format": "uint8 N x 3 x H x W", "files": {}}
    for split, images in splits.items():
        path = out / f"{split}.pt"
        atomic_write(path, lambda f, images=images: torch.save(images.contiguous(), f))
        manifest["files"][f"{split}.pt"] = {"md5": md5_of(path), "shape": list(images.shape)}
    atomic_write_json(out / MANIFEST, manifest)
    return out


def load_split(cfg: DataConfig, split: str) -> torch.Tensor:
    """A split, checked against the manifest; the first n_points for training. Images: uint8 (N, C, H, W), C = 3
    except for greyscale folders (1). Arrays: float32 (N, d) in the data's units (standardisation is applied by
    :func:`ebipla.data.training_set`). Folder and array data sets are prepared first when missing or out of date."""
    images = splits_in_memory(cfg)
    if images is not None:
        data = images[split]
    elif cfg.name in FILE_DATA:
        from .files import ensure_prepared, prepare_command

        data = _read_prepared(ensure_prepared(cfg), split, prepare_command(cfg))
    else:
        data = _read_prepared(cfg.prepared_dir, split, f"ebipla prepare --set data.name={cfg.name}")
    if split == "train" and cfg.n_points is not None:
        data = data[:cfg.n_points]
    return data


LABELLED = ("digits", "svhn", "cifar10", "folder")  # data sets with class labels (split_labels)


def split_labels(cfg: DataConfig, split: str) -> torch.Tensor:
    """Class labels, int64 (N,), of a split, in the order of :func:`load_split` (the first n_points for training).

    The prepared tensors keep no labels; they are read from their source, which prepared the images in the same
    order: scikit-learn for the digits, the md5-checked torchvision files under data.downloads for SVHN (digit 0
    is label 0) and CIFAR-10, the class subfolders for a folder. CelebA, FakeData and arrays have none."""
    if cfg.name == "digits":
        from sklearn.datasets import load_digits

        target = torch.from_numpy(load_digits().target)  # sklearn's order, as digits_splits
        labels = target[:cfg.digits.n_train] if split == "train" else target[cfg.digits.n_train:]
    elif cfg.name == "svhn":
        from torchvision.datasets import SVHN

        raw, name = Path(cfg.downloads) / "svhn", {"train": "train", "val": "test"}[split]
        labels = torch.from_numpy(_torchvision("svhn", raw, lambda: SVHN(str(raw), name, download=True)).labels)
    elif cfg.name == "cifar10":
        from torchvision.datasets import CIFAR10

        raw = Path(cfg.downloads) / "cifar10"
        labels = torch.tensor(_torchvision("cifar10", raw, lambda: CIFAR10(str(raw), train=split == "train",
                                                                          download=True)).targets)
    elif cfg.name == "folder":
        from .files import load_labels

        labels = load_labels(cfg, split)
        if labels is None:
            raise DataError(f"the folder {cfg.folder.path} has no class labels for its {split} split (put the images "
                            "in one subfolder per class).")
    else:
        raise DataError(f"the {cfg.name} data set has no class labels; labelled data sets: {', '.join(LABELLED)}.")
    labels = labels.long()
    if split == "train" and cfg.n_points is not None:
        labels = labels[:cfg.n_points]
    return labels


def _read_prepared(folder: Path, split: str, command: str) -> torch.Tensor:
    """A prepared split, md5-checked; ``command`` (the ``ebipla prepare`` line of the data set) goes into errors."""
    path, manifest_path = folder / f"{split}.pt", folder / MANIFEST
    if not path.exists() or not manifest_path.exists():
        raise DataError(f"{path} is missing: the {folder.name} data set has not been prepared. Run `{command}` (it "
                        "downloads into data.downloads; see ebipla/data/images.py).")
    try:
        expected = json.loads(manifest_path.read_text())["files"][path.name]["md5"]
    except (ValueError, KeyError, TypeError):
        raise DataError(f"{manifest_path} is damaged (not the JSON manifest that `ebipla prepare` writes, or it has "
                        f"no md5 for {path.name}). Delete {folder} and prepare it again (`{command}`), or restore it "
                        "with `dvc checkout`.") from None
    if md5_of(path) != expected:
        raise DataError(f"{path} does not match the md5 in {manifest_path}: the file is damaged or was replaced. "
                        f"Delete {folder} and prepare it again (`{command}`), or restore it with `dvc checkout`.")
    return torch.load(path, weights_only=True)


def as_numpy_grid(images: torch.Tensor, columns: int = 8) -> np.ndarray:
    """uint8 (n, 3, H, W) -> one uint8 image (rows*H, columns*W, 3), row-major, padded with black. Greyscale images
    (n, 1, H, W) are drawn as RGB."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    n, c, h, w = images.shape
    rows = -(-n // columns)
    grid = torch.zeros((rows * h, columns * w, c), dtype=torch.uint8)
    for i in range(n):
        r, k = divmod(i, columns)
        grid[r * h:(r + 1) * h, k * w:(k + 1) * w] = images[i].permute(1, 2, 0)
    return grid.numpy()
