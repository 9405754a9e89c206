"""Prior energies, generators and the latent EBM that joins them."""

from .energy import EnergyMLP, GaussianEnergy, build_energy
from .generator import DCGANGenerator, IdentityGenerator, LinearGenerator, build_generator
from .latent_ebm import LatentEBM, build_model

__all__ = [
    "DCGANGenerator",
    "EnergyMLP",
    "GaussianEnergy",
    "IdentityGenerator",
    "LatentEBM",
    "LinearGenerator",
    "build_energy",
    "build_generator",
    "build_model",
]
