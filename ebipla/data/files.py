"""Data sets from your own files: a folder of images (``data.name: folder``) and vectors from a .npy, .npz or .csv
file (``data.name: array``).

Both are prepared once into ``<data.root>/<dataset_name>/`` like the downloaded data sets (:mod:`.images`), so
training, the FID reference and DVC treat them alike:

* ``train.pt``, ``val.pt``: folder: uint8 (N, C, H, W), C = 3 (rgb) or 1 (grey); array: float32 (N, d) in the
  data's own units (standardisation is applied when training reads them, see :class:`DataTransform`).
* ``train_labels.pt``, ``val_labels.pt``: int64 (N,), when the images sit in class subfolders.
* ``manifest.json``: the md5 and shape of each file above, the prepare settings (:func:`prepare_settings`), the
  classes, the standardisation, and the source's fingerprint: root key, relative path, size and md5 of every
  source file.

:func:`ensure_prepared` (called by ``ebipla prepare``, :func:`~ebipla.data.images.load_split` and so by training
and evaluation) prepares the data set when it is missing, and again when the source fingerprint or the settings
differ from the manifest, logging why. To spare hashing every file on every load, ``source_stat.json`` next to the
manifest caches (relative path, size, mtime) of the source files last found to match it: when nothing has changed
by that measure the hashing is skipped. The cache is no part of the data set and may be deleted. Preparing again
deletes the folder's FID reference statistics (``fid_ref*.npz``), which described the old training images.

Splits. With ``val_path``, its images (rows) validate and all of ``path`` trains. Otherwise an image validates iff
md5("<split_seed>:<relative path>"), read as a number u in [0, 1), is below ``val_fraction`` (row i of an array:
md5("<split_seed>:<i>")). The rule is fixed per file, so images added later never move the old ones between the
splits (rows appended to an array likewise).

Folders. Images are found recursively by suffix (:data:`IMAGE_SUFFIXES`, any case) and stored in each split in a
fixed pseudo-random order (:func:`shuffled_order`), so that ``data.n_points`` samples every class. Files and
folders whose name starts with a dot are skipped, symlinked folders are not followed. PIL decodes the images; they
become RGB (any alpha dropped) or greyscale (PIL's L). ``image_size`` set: Resize(image_size) of the shorter side,
then CenterCrop(image_size) (torchvision, bilinear with antialiasing); null: the native size, which every image
must share. Labels: when every image (of ``path`` and ``val_path``) sits in a first-level subfolder, that
subfolder's name is its class, classes numbered in sorted order; otherwise there are no labels. Nothing trains on
the labels; ``ebipla digits-classifier`` can learn them as an offline FID feature extractor.

Arrays. ``.npy``: 2-D (N, d), a 1-D array is one column. ``.npz``: the array ``key`` (the only one when null).
``.csv``: comma-separated utf-8 text; the first row is a header unless every cell of it is a number; blank lines are
skipped; an empty cell counts as NaN. Columns are chosen by header name; the columns of a headerless csv, .npy and
.npz are named "0", "1", .... Values become float32; a NaN or inf (also a value beyond float32's range) in a chosen
column is an error. ``standardize``: the per-column mean and population std (float64) of the float32 training
split (std 0 -> 1), stored in the manifest.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import atomic_write, atomic_write_json
from ..config.schema import DataConfig, FolderConfig
from ..errors import DataError, OutputError
from .images import MANIFEST, SPLITS, md5_of

log = logging.getLogger("ebipla.data")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
ARRAY_SUFFIXES = (".npy", ".npz", ".csv")
STAT_CACHE = "source_stat.json"  # (root, path, size, mtime_ns) of the source files that matched the manifest


def labels_file(split: str) -> str:
    return f"{split}_labels.pt"


# ------------------------------------------------------------------------------------------------ transform


@dataclass(frozen=True)
class DataTransform:
    """The map between the data's units and the model's: y_model = (y - mean) / std, column by column.

    ``mean`` and ``std`` (d values each) are None for the identity, which every data set but a standardised array
    uses. Both maps take and return (n, d) tensors of any float dtype and device; they compute in float64.
    """

    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    @property
    def is_identity(self) -> bool:
        return self.mean is None

    def to_model(self, y: torch.Tensor) -> torch.Tensor:
        """Data units -> model units, (n, d) -> (n, d)."""
        if self.is_identity:
            return y
        mean, std = self._stats(y)
        return ((y.double() - mean) / std).to(y.dtype)

    def to_data(self, y: torch.Tensor) -> torch.Tensor:
        """Model units -> data units, (n, d) -> (n, d): samples as the data set has them."""
        if self.is_identity:
            return y
        mean, std = self._stats(y)
        return (y.double() * std + mean).to(y.dtype)

    def _stats(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.tensor(self.mean, dtype=torch.float64, device=y.device),
                torch.tensor(self.std, dtype=torch.float64, device=y.device))

    def state(self) -> dict | None:
        """Plain data for a checkpoint or manifest: {"mean": [...], "std": [...]}, or None for the identity."""
        return None if self.is_identity else {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_state(cls, state: dict | None) -> DataTransform:
        if not state:
            return cls()
        return cls(tuple(float(v) for v in state["mean"]), tuple(float(v) for v in state["std"]))


def data_transform(cfg: DataConfig, prepare: bool = True) -> DataTransform:
    """The data set's transform: a standardised array's (from its manifest; with ``prepare``, after
    :func:`ensure_prepared`), else the identity."""
    if cfg.name != "array" or not cfg.array.standardize:
        return DataTransform()
    folder = ensure_prepared(cfg) if prepare else cfg.prepared_dir
    manifest = read_manifest(folder)
    if manifest is None or not manifest.get("standardize"):
        raise DataError(f"{folder / MANIFEST} is missing or records no standardisation: prepare the data set again "
                        f"with `{prepare_command(cfg)}`.")
    return DataTransform.from_state(manifest["standardize"])


def training_md5(cfg: DataConfig) -> str | None:
    """The md5 of a folder or array data set's prepared training split (its manifest's), which a checkpoint records
    so that resuming on changed data is caught; None for every other data set (generated or fixed)."""
    if cfg.name not in ("folder", "array"):
        return None
    manifest = read_manifest(cfg.prepared_dir) or {}
    return manifest.get("files", {}).get("train.pt", {}).get("md5")


# ------------------------------------------------------------------------------------------------ source files


@dataclass(frozen=True)
class SourceFile:
    root: str  # the config key it comes from: "path" or "val_path"
    rel: str  # its path relative to that folder, with "/" (an array: the file's name)
    file: Path
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, root: str, rel: str, file: Path) -> SourceFile:
        stat = file.stat()
        return cls(root, rel, file, stat.st_size, stat.st_mtime_ns)

    def stat_entry(self) -> list:
        return [self.root, self.rel, self.size, self.mtime_ns]


def prepare_command(cfg: DataConfig) -> str:
    """The command line that prepares this data set."""
    if cfg.name == "folder" or cfg.name == "array":
        return f"ebipla prepare --set data.name={cfg.name} --set data.{cfg.name}.path={getattr(cfg, cfg.name).path}"
    return f"ebipla prepare --set data.name={cfg.name}"


def source_files(cfg: DataConfig) -> list[SourceFile]:
    """The files a folder or array data set is read from: ``path``'s, then ``val_path``'s."""
    if cfg.name == "folder":
        files = scan_folder(cfg.folder.path, "path")
        return files + (scan_folder(cfg.folder.val_path, "val_path") if cfg.folder.val_path else [])
    files = [array_file(cfg.array.path, "path")]
    return files + ([array_file(cfg.array.val_path, "val_path")] if cfg.array.val_path else [])


def scan_folder(path: str, key: str) -> list[SourceFile]:
    """Every image under ``path`` (data.folder.<key>), recursively, in sorted relative-path order."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"data.folder.{key} = {path}: no such folder. Point data.folder.{key} at the folder that "
                        "holds the images.")
    found = []
    for here, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                file = Path(here) / name
                found.append(SourceFile.of(key, file.relative_to(folder).as_posix(), file))
    if not found:
        raise DataError(f"no images in {folder} (data.folder.{key}; searched recursively for "
                        f"{', '.join(IMAGE_SUFFIXES)}, any case). Put the images there, or point data.folder.{key} "
                        "at the folder that holds them.")
    return sorted(found, key=lambda f: f.rel)


def array_file(path: str, key: str) -> SourceFile:
    file = Path(path)
    if not file.is_file():
        raise DataError(f"data.array.{key} = {path}: no such file. Point data.array.{key} at a .npy, .npz or .csv "
                        "file.")
    if file.suffix.lower() not in ARRAY_SUFFIXES:
        raise DataError(f"{file} (data.array.{key}) is not a .npy, .npz or .csv file. Save the vectors in one of "
                        "those formats (e.g. numpy.save or a comma-separated file), then rerun.")
    return SourceFile.of(key, file.name, file)


def is_validation(split_seed: int, name: str, fraction: float) -> bool:
    """The fixed split rule: md5("<split_seed>:<name>") read as u in [0, 1), validation iff u < fraction."""
    digest = hashlib.md5(f"{split_seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


def shuffled_order(split_seed: int, name: str) -> bytes:
    """A file's place in its split: md5("order:<split_seed>:<name>"). Sorting by it gives a fixed pseudo-random
    order, so that data.n_points (the first M images) takes a sample of every class, not the first subfolders."""
    return hashlib.md5(f"order:{split_seed}:{name}".encode()).digest()


def prepare_settings(cfg: DataConfig) -> dict:
    """The settings that shape the prepared tensors (a change prepares the data set again), as plain data."""
    own = cfg.folder if cfg.name == "folder" else cfg.array
    split = ({"rule": "val_path"} if own.val_path else
             {"rule": "md5", "val_fraction": own.val_fraction, "split_seed": own.split_seed})
    if isinstance(own, FolderConfig):
        return {"kind": "folder", "image_size": own.image_size, "channels": own.channels, "split": split}
    return {"kind": "array", "key": own.key, "columns": list(own.columns) if own.columns is not None else None,
            "standardize": own.standardize, "split": split}


# ------------------------------------------------------------------------------------------------ up to date?


def read_manifest(folder: Path) -> dict | None:
    """A prepared data set's manifest, or None when it is missing or not readable JSON."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _identity(entry: dict) -> tuple:
    return entry.get("root"), entry.get("path"), entry.get("size"), entry.get("md5")


def stale_reason(manifest: dict | None, folder: Path, settings: dict, fingerprint: list[dict]) -> str | None:
    """Why the prepared data set in ``folder`` does not match the source (None when it does)."""
    if manifest is None:
        return "not prepared yet"
    source = manifest.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("files"), list):
        return f"{folder / MANIFEST} records no source files"
    if manifest.get("settings") != settings:
        old = manifest.get("settings") or {}
        changed = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        return "the settings changed: " + "; ".join(f"{k} {old.get(k)!r} -> {settings.get(k)!r}" for k in changed)
    missing = [name for name in manifest.get("files", {}) if not (folder / name).exists()]
    if missing:
        return f"the prepared file {folder / missing[0]} is missing"
    old = {_identity(e)[:2]: _identity(e) for e in source["files"] if isinstance(e, dict)}
    new = {_identity(e)[:2]: _identity(e) for e in fingerprint}
    added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    changed = sorted(k for k in set(new) & set(old) if new[k] != old[k])
    if not (added or removed or changed):
        return None
    first = (added + changed + removed)[0]
    return (f"the source files changed: {len(added)} added, {len(changed)} changed, {len(removed)} removed "
            f"(first: {first[0]} {first[1]})")


def _stats_unchanged(folder: Path, files: list[SourceFile]) -> bool:
    """True when the stat cache says these exact (path, size, mtime) were found to match the current manifest."""
    try:
        cache = json.loads((folder / STAT_CACHE).read_text(encoding="utf-8"))
        return (cache["manifest_md5"] == md5_of(folder / MANIFEST)
                and cache["files"] == [f.stat_entry() for f in files])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write_stat_cache(folder: Path, files: list[SourceFile]) -> None:
    """Remember the source's (path, size, mtime) as matching the manifest; a folder that cannot be written to (a
    read-only copy) goes without: the next load hashes the source files again."""
    try:
        atomic_write_json(folder / STAT_CACHE, {"manifest_md5": md5_of(folder / MANIFEST),
                                                "files": [f.stat_entry() for f in files]})
    except OutputError as exc:
        log.debug("no stat cache: %s", exc)


def ensure_prepared(cfg: DataConfig) -> Path:
    """Prepare a folder or array data set unless its prepared files match the source and the settings; -> its
    folder. See the module docstring for the checks."""
    folder = cfg.prepared_dir
    files = source_files(cfg)
    settings = prepare_settings(cfg)
    manifest = read_manifest(folder)
    if manifest is not None and manifest.get("settings") == settings and _stats_unchanged(folder, files):
        return folder
    fingerprint = [{"root": f.root, "path": f.rel, "size": f.size, "md5": md5_of(f.file)} for f in files]
    reason = stale_reason(manifest, folder, settings, fingerprint)
    if reason is not None:
        log.info("preparing %s from %s: %s", folder, getattr(cfg, cfg.name).path, reason)
        _prepare(cfg, files, fingerprint, settings, folder)
    _write_stat_cache(folder, files)
    return folder


def _prepare(cfg: DataConfig, files: list[SourceFile], fingerprint: list[dict], settings: dict,
             folder: Path) -> None:
    """Write the tensors, drop what described an older preparation, then the manifest (last: it commits)."""
    if cfg.name == "folder":
        tensors, extra = prepare_folder(cfg.folder, files, fingerprint)
    else:
        tensors, extra = prepare_array(cfg, files)
    manifest = {"name": cfg.dataset_name, "kind": cfg.name, "files": {}, **extra, "settings": settings,
                "source": {"path": getattr(cfg, cfg.name).path, "val_path": getattr(cfg, cfg.name).val_path,
                           "files": fingerprint}}
    folder.mkdir(parents=True, exist_ok=True)
    for name, tensor in tensors.items():
        path = folder / name
        atomic_write(path, lambda f, t=tensor: torch.save(t.contiguous(), f))
        manifest["files"][name] = {"md5": md5_of(path), "shape": list(tensor.shape)}
    stale = [folder / labels_file(s) for s in SPLITS if labels_file(s) not in tensors]
    stale += sorted(folder.glob("fid_ref*.npz"))
    for path in stale:
        if path.exists():
            log.info("removing %s: it described the data set as prepared before", path)
            path.unlink()
    atomic_write_json(folder / MANIFEST, manifest)


# ------------------------------------------------------------------------------------------------ folders


def prepare_folder(fc: FolderConfig, files: list[SourceFile],
                   fingerprint: list[dict]) -> tuple[dict[str, torch.Tensor], dict]:
    """Decode, split and label the images. -> ({file name: tensor}, manifest fields); marks each fingerprint entry
    with its split."""
    splits = [("val" if f.root == "val_path" or (fc.val_path is None and is_validation(fc.split_seed, f.rel,
                                                                                        fc.val_fraction))
               else "train") for f in files]
    if "train" not in splits:
        raise DataError(f"all {len(files)} images of {fc.path} fell into the validation split (data.folder."
                        f"val_fraction = {fc.val_fraction}). Lower data.folder.val_fraction or add images.")
    images = read_images(files, fc.image_size, fc.channels)
    classes = class_names(files)
    tensors, labels = {}, {}
    for split in SPLITS:
        rows = sorted((i for i, s in enumerate(splits) if s == split),
                      key=lambda i: shuffled_order(fc.split_seed, files[i].rel))
        shape = images[0].shape
        tensors[f"{split}.pt"] = torch.stack([images[i] for i in rows]) if rows else torch.empty(0, *shape,
                                                                                                dtype=torch.uint8)
        if classes is not None:
            index = {c: k for k, c in enumerate(classes)}
            labels[labels_file(split)] = torch.tensor([index[files[i].rel.split("/")[0]] for i in rows],
                                                      dtype=torch.int64)
    for entry, split in zip(fingerprint, splits):
        entry["split"] = split
    return {**tensors, **labels}, {"format": "uint8 N x C x H x W", "classes": classes}


def read_images(files: list[SourceFile], image_size: int | None, channels: str) -> list[torch.Tensor]:
    """Decode every file to uint8 (C, H, W): resized and centre-cropped, or all of one native size."""
    from PIL import Image
    from torchvision import transforms
    from torchvision.transforms.functional import pil_to_tensor

    resize = transforms.Compose([transforms.Resize(image_size), transforms.CenterCrop(image_size)]) if image_size \
        else None
    mode = "RGB" if channels == "rgb" else "L"
    out, first = [], None
    for f in files:
        try:
            with Image.open(f.file) as image:
                image = image.convert(mode)  # decodes the whole file
        except Exception as exc:  # UnidentifiedImageError, truncated files, decompression bombs ...
            raise DataError(f"{f.file} cannot be read as an image ({type(exc).__name__}: {exc}). Remove it from "
                            "the folder or replace it with a valid image, then rerun.") from None
        if resize is not None:
            image = resize(image)
        elif first is None:
            first = (f.file, image.size)
        elif image.size != first[1]:
            raise DataError(
                f"the images differ in size: {first[0]} is {first[1][0]} x {first[1][1]} pixels (width x height) "
                f"and {f.file} is {image.size[0]} x {image.size[1]}. Set data.folder.image_size (e.g. "
                f"{min(first[1])}) to resize and centre-crop every image to one square size.")
        out.append(pil_to_tensor(image))
    return out


def class_names(files: list[SourceFile]) -> list[str] | None:
    """The sorted first-level subfolder names when every image sits in one, else None."""
    parts = [f.rel.split("/") for f in files]
    if any(len(p) < 2 for p in parts):
        return None
    return sorted({p[0] for p in parts})


def load_labels(cfg: DataConfig, split: str) -> torch.Tensor | None:
    """A folder data set's class labels of a split, int64 (N,), md5-checked; None when it has no classes. The
    class names are the manifest's ``classes``."""
    folder = ensure_prepared(cfg)
    manifest = read_manifest(folder) or {}
    name = labels_file(split)
    if name not in manifest.get("files", {}):
        return None
    path = folder / name
    if md5_of(path) != manifest["files"][name]["md5"]:
        raise DataError(f"{path} does not match the md5 in {folder / MANIFEST}: the file is damaged or was replaced. "
                        f"Delete {folder} and run `{prepare_command(cfg)}`.")
    return torch.load(path, weights_only=True)


# ------------------------------------------------------------------------------------------------ arrays


def prepare_array(cfg: DataConfig, files: list[SourceFile]) -> tuple[dict[str, torch.Tensor], dict]:
    """Read, check and split the vectors; the training split's mean and std when standardising."""
    ac = cfg.array
    train, names = read_array(files[0].file, ac.key, ac.columns)
    if ac.val_path:
        val, val_names = read_array(files[1].file, ac.key, ac.columns)
        if val.shape[1] != train.shape[1]:
            raise DataError(f"{files[1].file} (data.array.val_path) has {val.shape[1]} column(s) "
                            f"({', '.join(val_names)}) but {files[0].file} has {train.shape[1]} ({', '.join(names)}). "
                            "Give both files the same columns, or choose them with data.array.columns.")
    else:
        is_val = np.array([is_validation(ac.split_seed, str(i), ac.val_fraction) for i in range(len(train))],
                          dtype=bool)
        train, val = train[~is_val], train[is_val]
        if len(train) == 0:
            raise DataError(f"all {len(is_val)} rows of {files[0].file} fell into the validation split (data.array."
                            f"val_fraction = {ac.val_fraction}). Lower data.array.val_fraction or add rows.")
    extra = {"format": "float32 N x d", "columns": names, "standardize": None}
    if ac.standardize:
        mean, std = train.astype(np.float64).mean(0), train.astype(np.float64).std(0)
        std[std == 0] = 1.0
        extra["standardize"] = DataTransform(tuple(mean.tolist()), tuple(std.tolist())).state()
    return {"train.pt": torch.from_numpy(train), "val.pt": torch.from_numpy(val)}, extra


def read_array(file: Path, key: str | None, columns: tuple[str, ...] | None) -> tuple[np.ndarray, list[str]]:
    """The chosen columns of a .npy, .npz or .csv file as float32 (N, d), checked finite; and their names."""
    suffix = file.suffix.lower()
    if suffix == ".csv":
        values, names, lines = read_csv(file, columns)
    else:
        raw = _read_npz(file, key) if suffix == ".npz" else _load_numpy(file)
        (values, names), lines = _numeric_matrix(raw, file, columns), None
    if len(values) == 0:
        raise DataError(f"{file} holds no rows of data. Point data.array.path at a file with data.")
    with np.errstate(over="ignore", invalid="ignore"):
        values = values.astype(np.float32)
    check_finite(values, file, lines)
    return values, names


def _load_numpy(file: Path) -> np.ndarray:
    try:
        return np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{file} cannot be read as a .npy file ({exc}). Save it again with numpy.save (numbers "
                        "only, no Python objects), then rerun.") from None


def _read_npz(file: Path, key: str | None) -> np.ndarray:
    try:
        with np.load(file, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if key is None and len(keys) != 1:
                raise DataError(f"{file} holds {len(keys)} arrays ({', '.join(keys) or 'none'}): set data.array.key "
                                "to the one to read.")
            if key is not None and key not in keys:
                raise DataError(f"{file} has no array named {key!r} (data.array.key); its arrays are: "
                                f"{', '.join(keys) or 'none'}. Set data.array.key to one of them.")
            return archive[key if key is not None else keys[0]]
    except (OSError, ValueError, EOFError) as exc:  # not a zip file, an object array, ...
        raise DataError(f"{file} cannot be read as a .npz file ({exc}). Save it again with numpy.savez (numbers "
                        "only, no Python objects), then rerun.") from None


def _numeric_matrix(raw: np.ndarray, file: Path,
                    columns: tuple[str, ...] | None) -> tuple[np.ndarray, list[str]]:
    """A 1-D or 2-D numeric array -> its chosen columns, float64 (N, d), and their names."""
    if raw.dtype.kind not in "biuf":
        raise DataError(f"{file} holds {raw.dtype} values, not numbers. Save the vectors as a numeric array.")
    if raw.ndim == 1:
        raw = raw[:, None]
    if raw.ndim != 2:
        raise DataError(f"{file} holds an array of shape {raw.shape}; it must be 2-D, one row per point (N x d). "
                        "Reshape it (e.g. array.reshape(len(array), -1)) and save it again.")
    picked, names = _column_names(raw.shape[1], columns, file)
    return raw[:, picked].astype(np.float64), names


def _column_names(width: int, columns: tuple[str, ...] | None, file: Path,
                  names: list[str] | None = None) -> tuple[list[int], list[str]]:
    """Indices and names of the chosen columns (names "0", "1", ... unless a header gives them)."""
    names = names if names is not None else [str(i) for i in range(width)]
    if columns is None:
        return list(range(width)), names
    picked = []
    for column in columns:
        if names.count(column) != 1:
            problem = "has no column" if column not in names else "has more than one column"
            raise DataError(f"{file} {problem} named {column!r} (data.array.columns); its columns are: "
                            f"{', '.join(names)}. Set data.array.columns to names from that list.")
        picked.append(names.index(column))
    return picked, [names[i] for i in picked]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_csv(file: Path, columns: tuple[str, ...] | None) -> tuple[np.ndarray, list[str], list[int]]:
    """A comma-separated file -> (float64 (N, d) of the chosen columns, their names, each row's line number)."""
    try:
        with open(file, newline="", encoding="utf-8-sig") as f:
            rows = [(line, row) for line, row in enumerate(csv.reader(f), start=1) if any(c.strip() for c in row)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{file} cannot be read as a comma-separated text file ({exc}). Save it as utf-8 text with "
                        "one point per line, then rerun.") from None
    if not rows:
        raise DataError(f"{file} is empty. Point data.array.path at a file with data.")
    header = not all(_is_number(c) for c in rows[0][1])
    width = len(rows[0][1])
    picked, names = _column_names(width, columns, file, [c.strip() for c in rows[0][1]] if header else None)
    body = rows[1:] if header else rows
    values = np.empty((len(body), len(picked)))
    for i, (line, row) in enumerate(body):
        if len(row) != width:
            raise DataError(f"{file} line {line} has {len(row)} fields where line {rows[0][0]} has {width}. Give "
                            "every line the same number of comma-separated fields, then rerun.")
        for j, k in enumerate(picked):
            values[i, j] = _cell(row[k], file, line, names[j])
    return values, names, [line for line, _ in body]


def _cell(text: str, file: Path, line: int, column: str) -> float:
    if not text.strip():
        return float("nan")  # a missing value: reported with the NaNs
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{file} line {line}, column {column!r}: {text.strip()!r} is not a number. Fix the value, or "
                        "leave the column out with data.array.columns, then rerun.") from None


def check_finite(values: np.ndarray, file: Path, lines: list[int] | None = None) -> None:
    """Refuse NaN and inf: name the file, the count of bad rows and the first (its line in a csv)."""
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        where = f"row {first}" + (f" (line {lines[first]})" if lines is not None else "")
        raise DataError(f"{file} has {int(bad.sum())} row(s) with NaN, inf or missing values (or values beyond "
                        f"float32's range); the first is {where}: {values[first].tolist()}. Remove or fill those "
                        "rows (or leave their columns out with data.array.columns), then rerun.")
