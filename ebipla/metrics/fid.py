"""FID through torch-fidelity: its feature extractors and its Frechet distance, with streaming statistics.

Features come from a torch-fidelity feature extractor (``inception-v3-compat`` by default, the TF-Inception port,
2048-d pool features; ``digits-cnn`` for the offline digits experiment, registered by :mod:`.digits_cnn`). Images
go in as uint8 (B, 3, H, W), batch by batch, so 50,000 samples of any size never sit in memory at once: the mean
and covariance are accumulated in float64 (the covariance with 1/(n - 1), as torch-fidelity's np.cov). The
distance is ``torch_fidelity.metric_fid.fid_statistics_to_metric``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch_fidelity
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from ..checkpoint import atomic_save_npz
from ..errors import DataError
from . import digits_cnn  # noqa: F401  (registers the digits-cnn extractor)


def feature_layer(extractor: str) -> str:
    return FEATURE_EXTRACTORS_REGISTRY[extractor].get_default_feature_layer_for_metric("fid")


def create_extractor(name: str, weights_path: str | None, device: torch.device):
    """A torch-fidelity feature extractor on ``device``; ``weights_path`` None lets torch-fidelity download."""
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        raise DataError(f"unknown FID feature extractor {name!r}; torch-fidelity knows "
                        f"{sorted(FEATURE_EXTRACTORS_REGISTRY)}.")
    try:
        extractor = torch_fidelity.utils.create_feature_extractor(
            name, [feature_layer(name)], cuda=False, verbose=False, feature_extractor_weights_path=weights_path,
            feature_extractor_internal_dtype=None, feature_extractor_compile=False)
    except OSError as exc:  # no network for the weights download, or an unreadable weights file
        raise DataError(
            f"the weights of the FID feature extractor {name!r} could not be loaded ({exc}). Without internet "
            "access, download them elsewhere (torch-fidelity's release 'weights-inception-2015-12-05-6726825d.pth') "
            "and set eval.fid.weights_path to the file."
        ) from None
    return extractor.to(device)


class StreamingStats:
    """Running sum and sum of outer products of feature vectors, in float64."""

    def __init__(self) -> None:
        self.n = 0
        self.total: torch.Tensor | None = None
        self.outer: torch.Tensor | None = None

    def update(self, features: torch.Tensor) -> None:
        f = features.detach().double().cpu()  # (B, D)
        if self.total is None:
            self.total = torch.zeros(f.shape[1], dtype=torch.float64)
            self.outer = torch.zeros(f.shape[1], f.shape[1], dtype=torch.float64)
        self.total += f.sum(0)
        self.outer += f.T @ f
        self.n += f.shape[0]

    def finalize(self) -> dict[str, np.ndarray]:
        if self.n < 2:
            raise ValueError("FID statistics need at least two images")
        mu = self.total / self.n
        sigma = (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return {"mu": mu.numpy(), "sigma": sigma.numpy()}


@torch.no_grad()
def statistics(batches: Iterable[torch.Tensor], extractor) -> dict[str, np.ndarray]:
    """FID statistics {mu, sigma} of uint8 image batches (B, 3, H, W); greyscale batches (B, 1, H, W) are given to
    the extractor as RGB with the grey value in every channel (the extractors take three channels)."""
    device = next(extractor.parameters()).device
    stats = StreamingStats()
    for batch in batches:
        batch = batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch
        features = extractor.convert_features_tuple_to_dict(extractor(batch.to(device)))
        stats.update(features[extractor.get_requested_features_list()[0]])
    return stats.finalize()


def frechet_distance(stats_1: dict[str, np.ndarray], stats_2: dict[str, np.ndarray]) -> float:
    return float(fid_statistics_to_metric(stats_1, stats_2, verbose=False)[KEY_METRIC_FID])


def save_statistics(path: str | Path, stats: dict[str, np.ndarray], **meta: str | int) -> None:
    atomic_save_npz(path, mu=stats["mu"], sigma=stats["sigma"], **{k: np.asarray(v) for k, v in meta.items()})


def load_statistics(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"FID reference statistics {path} are missing: compute them with `ebipla fid-ref` "
                        "(the workflow's fid_reference rule).")
    with np.load(path) as data:
        return {"mu": data["mu"], "sigma": data["sigma"], "n": int(data["n"]) if "n" in data else -1}


def image_batches(images: torch.Tensor, batch_size: int) -> Iterable[torch.Tensor]:
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size]


def download_inception(out: str | Path) -> Path:
    """torch-fidelity's Inception weights (the file it downloads itself), saved at ``out`` for offline nodes."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.download")
    try:
        torch.hub.download_url_to_file(URL_INCEPTION_V3, str(tmp), progress=False)
    except OSError as exc:
        raise DataError(f"the Inception weights could not be downloaded from {URL_INCEPTION_V3} ({exc}). Download "
                        f"the file on a machine with internet access and copy it to {out}.") from None
    tmp.replace(out)
    return out
