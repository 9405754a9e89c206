"""A small digits classifier, registered as the torch-fidelity feature extractor ``digits-cnn``.

The offline digits experiment computes its FID exactly as the image experiments do (torch-fidelity feature
extractor, FID statistics, Frechet distance); only the extractor differs: instead of Inception, a CNN trained
here on the digits' training split, whose 64-d penultimate layer gives the features. Its weights file is passed
like Inception's (``eval.fid.weights_path``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch_fidelity import FeatureExtractorBase, register_feature_extractor
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from ..checkpoint import atomic_write
from ..config.schema import DataConfig
from ..errors import ConfigError, DataError

NAME = "digits-cnn"
SIZE = 32  # images are resized to this before the network


class DigitsCNN(nn.Module):
    """conv(1->16) pool conv(16->32) pool fc(2048->64) fc(64->10), ReLU; input grey [0, 1], 32 x 32."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 8 * 8, 64)
        self.fc2 = nn.Linear(64, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return F.relu(self.fc1(h.flatten(1)))  # (B, 64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.features(x))


def prepare_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> grey float (B, 1, 32, 32) in [0, 1]."""
    grey = images.float().mean(1, keepdim=True) / 255.0
    if grey.shape[-1] != SIZE or grey.shape[-2] != SIZE:
        grey = F.interpolate(grey, size=SIZE, mode="bilinear", align_corners=False)
    return grey


class DigitsFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity's interface around :class:`DigitsCNN`: uint8 (B, 3, H, W) in, ('64', 'logits') out."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise DataError("the digits-cnn FID extractor needs eval.fid.weights_path: train it with "
                            "`ebipla digits-classifier --out FILE` (the workflow's digits_classifier rule).")
        self.net = DigitsCNN()
        self.net.load_state_dict(torch.load(feature_extractor_weights_path, map_location="cpu", weights_only=True))

    @staticmethod
    def get_provided_features_list():
        return "64", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"fid": "64", "kid": "64", "prc": "64", "isc": "logits"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, SIZE, SIZE, dtype=torch.uint8)

    def forward(self, x: torch.Tensor):
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError("expecting uint8 images of shape (B, 3, H, W)")
        feats = self.net.features(prepare_input(x))
        found = {"64": feats, "logits": self.net.fc2(feats)}
        return tuple(found[name] for name in self.features_list)


if NAME not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(NAME, DigitsFeatureExtractor)


def train_classifier(train: torch.Tensor, labels: torch.Tensor, val: torch.Tensor, val_labels: torch.Tensor,
                     out: str | Path, epochs: int = 30, seed: int = 0) -> float:
    """Train :class:`DigitsCNN` (Adam 1e-3, batch 64) on uint8 images; save its weights; return val accuracy."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DigitsCNN()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, x_val = prepare_input(train), prepare_input(val)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(64):
            opt.zero_grad()
            F.cross_entropy(net(x[idx]), labels[idx]).backward()
            opt.step()
    with torch.no_grad():
        accuracy = float((net(x_val).argmax(1) == val_labels).float().mean())
    atomic_write(out, lambda f: torch.save(net.state_dict(), f))
    return accuracy


def classifier_labels(cfg: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Class labels (train, val) to train the classifier on: the digits', or a folder's (its class subfolders, at
    most 10: the network has 10 outputs) when it has them."""
    if cfg.name == "digits":
        return digits_labels(cfg.digits.n_train)
    from ..data.files import load_labels

    labels, val_labels = load_labels(cfg, "train"), load_labels(cfg, "val")
    if cfg.name != "folder" or labels is None or val_labels is None:
        raise ConfigError(f"`ebipla digits-classifier` trains on the digits or on a folder of images in class "
                          f"subfolders with a validation split; data.name is {cfg.name!r}"
                          + ("" if cfg.name != "folder" else " and its folder has no classes or no validation "
                             "images (set data.folder.val_fraction or val_path)") + ".")
    if int(max(labels.max(), val_labels.max())) >= 10:
        raise ConfigError(f"`ebipla digits-classifier` has 10 outputs; the folder {cfg.folder.path} has more "
                          "classes. Use another FID feature extractor (eval.fid.feature_extractor).")
    return labels, val_labels


def digits_labels(n_train: int) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    target = torch.from_numpy(load_digits().target).long()
    return target[:n_train], target[n_train:]
