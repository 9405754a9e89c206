"""Encoders of the autoencoder baselines (``vae``, ``rae``): observations (n, *obs_shape) -> (n, out_dim).

The VAE's encoder outputs 2 d_x numbers (the mean and the log-variance of q(x | y)), the RAE's d_x (the code).
``auto`` mirrors the generator: an MLP for vectors, for images the DCGAN generator run backwards.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config.schema import EncoderConfig, GeneratorConfig


class MLPEncoder(nn.Module):
    """y (n, d_y) -> Linear/SiLU layers of ``hidden`` widths -> (n, out_dim)."""

    def __init__(self, d_y: int, out_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        width = d_y
        for h in hidden:
            layers += [nn.Linear(width, h), nn.SiLU()]
            width = h
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.net(y.flatten(1))


class ConvEncoder(nn.Module):
    """y (n, C, H, W) -> Conv(4, 2, 1) layers of ndf, 2 ndf, 4 ndf, ... channels down to 4 x 4 (LeakyReLU(0.2)),
    then Conv(4, 1, 0) to (n, out_dim): the mirror image of :class:`~ebipla.models.DCGANGenerator`."""

    def __init__(self, obs_shape: tuple[int, ...], out_dim: int, ndf: int):
        super().__init__()
        channels, height, _ = obs_shape
        n_down = (height // 4).bit_length() - 1
        if height != 4 * 2**n_down or n_down < 1:
            raise ValueError(f"the conv encoder reads square images of 8, 16, 32, ... pixels, not {obs_shape}")
        widths = [min(8 * ndf, ndf * 2**i) for i in range(n_down)]  # (ndf, 2 ndf, ..., at most 8 ndf)
        layers: list[nn.Module] = []
        c_in = channels
        for c_out in widths:
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c_in = c_out
        layers.append(nn.Conv2d(c_in, out_dim, 4, 1, 0))
        self.net = nn.Sequential(*layers)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.net(y).flatten(1)  # (n, out_dim, 1, 1) -> (n, out_dim)


def build_encoder(obs_shape: tuple[int, ...], out_dim: int, cfg: EncoderConfig,
                  generator: GeneratorConfig) -> nn.Module:
    kind = cfg.kind if cfg.kind != "auto" else ("conv" if len(obs_shape) == 3 else "mlp")
    if kind == "conv":
        return ConvEncoder(obs_shape, out_dim, cfg.ndf or generator.ngf)
    d_y = 1
    for s in obs_shape:
        d_y *= s
    return MLPEncoder(d_y, out_dim, cfg.hidden)
