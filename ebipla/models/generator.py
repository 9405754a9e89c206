"""Generators g_beta: R^{d_x} -> observation space, mapping latents (n, d_x) to observations (n, *obs_shape).

The synthetic experiments use a single linear layer (paper.md 4.1); the toy model of the theory uses the
identity; the image experiments use the transposed-convolution generator of Pang et al. (2020). Every generator
exposes ``obs_shape``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config.schema import GeneratorConfig


class LinearGenerator(nn.Module):
    """g_beta(x) = W x + b."""

    def __init__(self, d_x: int, obs_shape: tuple[int, ...], bias: bool = True):
        super().__init__()
        if len(obs_shape) != 1:
            raise ValueError(f"the linear generator needs vector observations, not shape {obs_shape}")
        self.obs_shape = obs_shape
        self.linear = nn.Linear(d_x, obs_shape[0], bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)  # (n, d_y)


class IdentityGenerator(nn.Module):
    """g(x) = x, with no parameters (beta is empty): y | x ~ N(x, sigma^2 I)."""

    def __init__(self, d_x: int, obs_shape: tuple[int, ...]):
        super().__init__()
        if obs_shape != (d_x,):
            raise ValueError(f"the identity generator needs observations of shape ({d_x},), not {obs_shape}")
        self.obs_shape = obs_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class DCGANGenerator(nn.Module):
    """Pang et al.'s image generator: x (n, nz) -> ConvT(nz, 8 ngf, 4, 1, 0) at 4 x 4, then stride-2 ConvT(4, 2, 1)
    layers halving the channels (8 ngf, 4 ngf, 2 ngf, ngf, ...) up to the image size, LeakyReLU(0.2) between
    layers, a last ConvT to the image channels and Tanh. With ngf = 64 at 32 x 32 this is the SVHN generator
    (512 -> 256 -> 128 -> 3), used for CIFAR-10 too (paper.md 4.2); with ngf = 128 at 64 x 64 the CelebA-64 one
    (1024 -> 512 -> 256 -> 128 -> 3). At 256 x 256 (CelebA-HQ) the same stack continues (..., 64, 32 -> 3): DAMC's
    exact CelebA-HQ layers (Yu et al. 2023, `_netG_celebaHQ`) could not be retrieved, so this is our stand-in.
    Convolution weights start xavier-normal (Pang's init). With ``channels_last`` the weights, and so every
    activation and the output, are stored in channels-last (NHWC) order: the same values up to float rounding, and
    faster convolutions (1.1-1.2x per training step on CPU, ``ebipla bench-images --compare``).
    """

    def __init__(self, d_x: int, obs_shape: tuple[int, ...], ngf: int, bias: bool = True,
                 channels_last: bool = False):
        super().__init__()
        channels, height, width = obs_shape
        n_up = (height // 4).bit_length() - 1  # stride-2 layers after the 4 x 4 seed
        if height != width or height != 4 * 2**n_up or n_up < 1:
            raise ValueError(f"the dcgan generator makes square images of 8, 16, 32, ... pixels, not {obs_shape}")
        widths = [max(1, 8 * ngf // 2**i) for i in range(n_up)]  # hidden channels, (8 ngf, 4 ngf, ...)
        layers: list[nn.Module] = [nn.ConvTranspose2d(d_x, widths[0], 4, 1, 0, bias=bias), nn.LeakyReLU(0.2)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias), nn.LeakyReLU(0.2)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=bias), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.obs_shape = obs_shape
        for m in self.net:
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.xavier_normal_(m.weight)
        if channels_last:
            self.to(memory_format=torch.channels_last)  # the (n, d_x, 1, 1) input is in both orders at once

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[:, :, None, None])  # (n, d_x) -> (n, C, H, W)


def build_generator(d_x: int, obs_shape: tuple[int, ...], cfg: GeneratorConfig) -> nn.Module:
    if cfg.target is not None:
        from .custom import custom_generator

        return custom_generator(cfg, d_x, obs_shape)
    if cfg.kind == "identity":
        return IdentityGenerator(d_x, obs_shape)
    if cfg.kind == "dcgan":
        return DCGANGenerator(d_x, obs_shape, cfg.ngf, cfg.bias, cfg.channels_last)
    return LinearGenerator(d_x, obs_shape, cfg.bias)
