"""Prior energies U_alpha(x), p_alpha(x) = exp(-U_alpha(x)) / Z(alpha) (paper eq. 2).

Both energies map latents of shape (..., d_x) to energies of shape (...). Besides ``forward`` (differentiable in
x and alpha, used for the losses) each provides ``grad_x``, the latent gradient nabla_x U_alpha(x) computed
without autograd: no graph is recorded through the parameters, which the Langevin chains never differentiate.
``grad_x_fn()`` returns the same gradient as a function of x for the current parameters, with the per-parameter
set-up done once: a J-step chain (:func:`..algorithms.langevin.prior_chain`) calls it once and steps J times.

Speed (``ebipla bench --chain-variants``, issue 6): on CPU the energy MLP's matrix products, in ``grad_x`` and in
``forward`` with its autograd backward, go to oneDNN (``torch.ops.mkldnn._linear_pointwise``) when they are large
enough to amortise its call overhead. On the project's 2-core AMD EPYC machines MKL's sgemm (what ``F.linear`` calls
for float32) runs a 1000 x 128 x 128 product at about half of oneDNN's speed. Both sum in float32: results differ
from ``F.linear``'s by rounding at most (about 1e-7). ``USE_ONEDNN = False`` turns it off.

Portability (issue 13): oneDNN's bfloat16 kernels need AVX-512 (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``);
on an AVX2-only CPU oneDNN cannot create a bfloat16 inner product and the call raises. bfloat16 products
(``train.precision: bfloat16``) therefore go to oneDNN only where ``ONEDNN_BF16`` holds, and to ATen's bfloat16
addmm/mm elsewhere, which runs on every CPU (slowly: no native bfloat16). :func:`bf16_native` says which a device
does; the benchmarks label their bfloat16 variants with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable
from torch.utils.flop_counter import register_flop_formula

from ..config.schema import EnergyConfig

_aten = torch.ops.aten

# Products x @ W^T go to oneDNN when rows * in * out >= ONEDNN_MIN_WORK and in, out >= ONEDNN_MIN_WIDTH; smaller
# ones stay on ATen's addmm/mm, as do the 2-wide first and last products of the synthetic MLP: oneDNN's fixed cost
# per call (about 15 us) outweighs its faster kernel there (measured break-even near 1000 x 32 x 32). Measured on
# AVX-512 hosts only: an AVX2-only CPU may break even elsewhere (issue 13 asks for that measurement; not done yet).
ONEDNN_MIN_WORK = 2**21
ONEDNN_MIN_WIDTH = 16
USE_ONEDNN = torch.backends.mkldnn.is_available()  # set to False to keep every product on ATen (MKL on CPU)


def _host_has_onednn_bf16() -> bool:
    """Whether this CPU runs oneDNN's bfloat16 kernels (AVX-512 or newer); False where torch cannot say."""
    try:
        return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without the query
        return False


# Checked once: bfloat16 products go to oneDNN only if True (set it to False to force ATen's bfloat16 kernels, as
# on an AVX2-only CPU; the tests do).
ONEDNN_BF16 = _host_has_onednn_bf16()


def _onednn_suits(rows: int, weight: torch.Tensor) -> bool:
    dtype_ok = weight.dtype == torch.float32 or (weight.dtype == torch.bfloat16 and ONEDNN_BF16)
    return (USE_ONEDNN and dtype_ok and weight.device.type == "cpu"
            and min(weight.shape) >= ONEDNN_MIN_WIDTH and rows * weight.shape[0] * weight.shape[1] >= ONEDNN_MIN_WORK)


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CPU with oneDNN's bfloat16 kernels (``ONEDNN_BF16``, which
    ATen's convolutions and products also need for their fast bfloat16 path), or a GPU with bfloat16 units. Elsewhere
    bfloat16 still runs, on ATen's generic kernels, only slowly: timings there say nothing about bfloat16 hardware."""
    if device.type == "cuda":
        return bool(torch.version.hip) or torch.cuda.get_device_properties(device).major >= 8  # Ampere on
    return device.type == "cpu" and ONEDNN_BF16


def bf16_note(device: torch.device) -> str:
    """The benchmarks' label for a bfloat16 variant on ``device``: empty where it is native (:func:`bf16_native`)."""
    if bf16_native(device):
        return ""
    return "bf16: not native on this CPU (ATen fallback)" if device.type == "cpu" else "bf16: not native on this GPU"


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x @ weight^T + bias by oneDNN; x (n, in) and weight (out, in) contiguous."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def _onednn_linear_flop(x_shape, w_shape, *args, **kwargs) -> int:
    """FlopCounterMode's count for oneDNN's product, as for addmm (``ebipla bench-images`` counts FLOPs)."""
    return 2 * math.prod(x_shape[:-1]) * w_shape[0] * w_shape[1]


if USE_ONEDNN:
    register_flop_formula(torch.ops.mkldnn._linear_pointwise)(_onednn_linear_flop)


class _OneDnnLinear(torch.autograd.Function):
    """F.linear through oneDNN for 2-D CPU input, with F.linear's first-order backward (no double backward).

    The weight's gradient is formed whenever the weight requires one, also for autograd.grad with respect to x
    alone (the Langevin chains use ``grad_x`` instead, which records no graph).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn_linear(x.contiguous(), weight.contiguous(), bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        need_x, need_w, need_b = ctx.needs_input_grad
        grad_x = _onednn_linear(grad, weight.t().contiguous(), None) if need_x else None
        grad_w = grad.t().mm(x) if need_w else None
        grad_b = grad.sum(0) if need_b and ctx.has_bias else None
        return grad_x, grad_w, grad_b


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear`` for x (n, in), differentiable, through oneDNN where that is faster (see the module docstring)."""
    if _onednn_suits(x.shape[0], weight):
        return _OneDnnLinear.apply(x, weight, bias)
    return F.linear(x, weight, bias)


def linear_fn(weight: torch.Tensor, bias: torch.Tensor | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """x -> x @ weight^T + bias (``F.linear``, no autograd) for a weight (out, in) held fixed while it is used.

    The weight is made contiguous once (the backward pass's W^T included); large products run through oneDNN on
    CPU (see the module docstring). x: (n, in) -> (n, out).
    """
    w = weight.contiguous()

    def product(x: torch.Tensor) -> torch.Tensor:
        if _onednn_suits(x.shape[0], w):
            return _onednn_linear(x, w, bias)
        return F.linear(x, w, bias)

    return product


def _activation(name: str, slope: float):
    """(forward, backward) of an activation; backward(g, z) = g * act'(z), with ATen's fused kernels."""
    if name == "silu":
        return F.silu, _aten.silu_backward
    if name == "gelu":
        return F.gelu, lambda g, z: _aten.gelu_backward(g, z, approximate="none")
    if name == "relu":
        return F.relu, lambda g, z: _aten.threshold_backward(g, z, 0.0)
    if name == "leaky_relu":
        return (lambda z: F.leaky_relu(z, slope)), (lambda g, z: _aten.leaky_relu_backward(g, z, slope, False))
    raise ValueError(f"unknown activation {name!r}")


class EnergyMLP(nn.Module):
    """U_alpha(x) = MLP(x) [+ |x|^2 / (2 sigma_p^2) with Pang et al.'s Gaussian tilt].

    Hidden layers ``hidden`` with the chosen activation, then a linear map to one output (paper.md 4.1: three
    hidden layers of 128 units; Pang et al.'s image energy: two of 200 with GELU or LeakyReLU(0.2)).
    """

    def __init__(self, d_x: int, cfg: EnergyConfig):
        super().__init__()
        widths = (d_x, *cfg.hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.out = nn.Linear(widths[-1], 1)
        self.act, self.act_backward = _activation(cfg.activation, cfg.leaky_slope)
        self.prior_sigma = cfg.prior_sigma
        self.d_x = d_x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(-1, self.d_x)  # (n, d_x)
        for layer in self.hidden:
            h = self.act(linear(h, layer.weight, layer.bias))
        u = linear(h, self.out.weight, self.out.bias).reshape(x.shape[:-1])  # (...)
        if self.prior_sigma is not None:
            u = u + x.square().sum(-1) / (2.0 * self.prior_sigma**2)
        return u

    @torch.no_grad()
    def grad_x(self, x: torch.Tensor) -> torch.Tensor:
        """nabla_x U_alpha(x) per point, by a hand-written backward pass. (..., d_x) -> (..., d_x)."""
        return self.grad_x_fn()(x)

    @torch.no_grad()
    def grad_x_fn(self, dtype: torch.dtype | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """x -> nabla_x U_alpha(x) for the current alpha; use it only until alpha changes (it keeps W^T copies).

        ``dtype`` (e.g. torch.bfloat16) computes the network in that precision; the gradient comes back in x's dtype.
        """
        return self._hand_pass(dtype, with_value=False)

    @torch.no_grad()
    def value_and_grad_fn(self) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """x -> (U_alpha(x), nabla_x U_alpha(x)) from one pass for the current alpha. (..., d_x) -> (...), (..., d_x)"""
        return self._hand_pass(None, with_value=True)

    def _hand_pass(self, dtype: torch.dtype | None, with_value: bool) -> Callable:
        """The hand-written backward pass behind ``grad_x_fn`` and ``value_and_grad_fn``, without autograd.

        Forward z_l = h_{l-1} W_l^T + b_l, h_l = act(z_l) (and U = h_L w_out^T + b_out when ``with_value``);
        backward from dU/dh_L = w_out, g <- (g * act'(z_l)) W_l with ATen's fused activation-backward kernels.
        """
        def cast(t: torch.Tensor | None) -> torch.Tensor | None:
            return t if t is None or dtype is None else t.to(dtype)

        forward = [linear_fn(cast(layer.weight), cast(layer.bias)) for layer in self.hidden]  # h -> z
        backward = [linear_fn(cast(layer.weight.t().contiguous()), None) for layer in self.hidden]  # g -> g W
        w_out, b_out = cast(self.out.weight.detach()), cast(self.out.bias.detach())  # (1, width), (1,)
        act, act_backward, d_x = self.act, self.act_backward, self.d_x
        tilt = None if self.prior_sigma is None else 1.0 / self.prior_sigma**2

        @torch.no_grad()
        def hand_pass(x: torch.Tensor):
            flat = x.reshape(-1, d_x)  # (n, d_x)
            pre = []
            h = flat if dtype is None else flat.to(dtype)
            for product in forward:
                z = product(h)  # (n, width)
                pre.append(z)
                h = act(z)
            g = w_out.expand(flat.shape[0], -1)  # dU/dh for the last hidden layer, (n, width)
            for product, z in zip(reversed(backward), reversed(pre)):
                g = product(act_backward(g, z))  # (n, fan_in)
            g = g.to(x.dtype)
            if tilt is not None:
                g = g + flat * tilt
            if not with_value:
                return g.reshape(x.shape)
            u = F.linear(h, w_out, b_out)[:, 0].to(x.dtype)  # (n,)
            if tilt is not None:
                u = u + 0.5 * tilt * flat.square().sum(-1)
            return u.reshape(x.shape[:-1]), g.reshape(x.shape)

        return hand_pass

    def expected_grad_alpha(self) -> None:
        """E_{p_alpha}[nabla_alpha U_alpha] has no closed form for an MLP: Algorithm 1 falls back to ULA."""
        return None


class GaussianEnergy(nn.Module):
    """U_alpha(x) = |x - alpha|^2 / 2, i.e. p_alpha = N(alpha, I): the toy hierarchical model of IPLA and PGD."""

    def __init__(self, d_x: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(d_x))
        self.d_x = d_x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x - self.alpha).square().sum(-1)

    @torch.no_grad()
    def grad_x(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.alpha

    def grad_x_fn(self, dtype: torch.dtype | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """x -> nabla_x U_alpha(x); ``dtype`` is ignored (two element-wise operations, always in x's dtype)."""
        return self.grad_x

    def expected_grad_alpha(self) -> list[torch.Tensor]:
        """E_{x ~ N(alpha, I)}[nabla_alpha U_alpha(x)] = E[alpha - x] = 0: the exact prior term of eq. 11."""
        return [torch.zeros_like(self.alpha)]


def build_energy(d_x: int, cfg: EnergyConfig) -> nn.Module:
    if cfg.target is not None:
        from .custom import custom_energy

        return custom_energy(cfg, d_x)
    return GaussianEnergy(d_x) if cfg.kind == "gaussian" else EnergyMLP(d_x, cfg)
