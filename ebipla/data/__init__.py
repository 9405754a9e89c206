"""Data sets: the synthetic benchmarks and the toy model (images are added by the image experiments)."""

from .synthetic import SyntheticData, make_synthetic, write_synthetic

__all__ = ["SyntheticData", "make_synthetic", "write_synthetic"]
