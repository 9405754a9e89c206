"""Evaluation metrics."""

from .mmd import median_bandwidth, mmd2_unbiased

__all__ = ["median_bandwidth", "mmd2_unbiased"]
