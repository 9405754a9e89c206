"""The paper's own numbers (Marks, Wang, Akyildiz, UAI 2026; tables as in ../shared/docs/paper.md section 5), and the
literature rows it cites. The tables of ``results/paper`` print these next to ours, marked as cited; ``report.md``
compares ours with the paper's EBIPLA and LEBM values.

A value is ``(mean, uncertainty)``; the uncertainty is the standard error over 5 runs where the paper states one
(Tables 1 and 2(b)), the standard deviation over 5 runs for Table 4's times, and ``None`` where it states none.
"""

from __future__ import annotations

from typing import NamedTuple


class Value(NamedTuple):
    mean: float
    uncertainty: float | None = None


DATASET_LABELS = {"svhn": "SVHN", "cifar10": "CIFAR-10", "celeba64": "CelebA64", "celebahq": "CelebA-HQ",
                  "digits": "digits (offline)", "swissroll": "Swiss roll", "moons": "half-moons", "circle": "circle"}

# Table 1: model -> citation and {data set: (MSE, FID)}. SRI has no CIFAR-10 entry.
TABLE1_CITED: dict[str, tuple[str, dict[str, tuple[float | None, float | None]]]] = {
    "VAE": ("Kingma & Welling 2014", {"svhn": (0.019, 46.78), "cifar10": (0.057, 106.37), "celeba64": (0.021, 65.75)}),
    "2s-VAE": ("Dai & Wipf 2018", {"svhn": (0.019, 42.81), "cifar10": (0.056, 72.90), "celeba64": (0.021, 44.40)}),
    "RAE": ("Ghosh et al. 2019", {"svhn": (0.014, 40.02), "cifar10": (0.027, 74.16), "celeba64": (0.018, 40.95)}),
    "SRI (L=5)": ("Nijkamp et al. 2020b", {"svhn": (0.011, 35.32), "cifar10": (None, None),
                                           "celeba64": (0.015, 47.95)}),
    "LEBM": ("Pang et al. 2020", {"svhn": (0.008, 29.44), "cifar10": (0.020, 70.15), "celeba64": (0.013, 37.87)}),
    "SM-LEBM": ("Schröder et al. 2023", {"svhn": (0.010, 34.44), "cifar10": (0.026, 77.82),
                                         "celeba64": (0.014, 41.21)}),
    "ED-LEBM": ("Schröder et al. 2023", {"svhn": (0.006, 28.10), "cifar10": (0.023, 73.58),
                                         "celeba64": (0.009, 36.73)}),
}

# The paper's EBIPLA rows: Table 1 (mean +- s.e. over 5 runs), Table 2(a) (one run), Table 2(b) (SVHN, 5 runs).
EBIPLA_TABLE1 = {
    "svhn": {"mse": Value(0.004, 4e-5), "fid": Value(27.54, 0.42)},
    "cifar10": {"mse": Value(0.017, 5e-4), "fid": Value(75.13, 0.74)},
    "celeba64": {"mse": Value(0.013, 9e-5), "fid": Value(35.72, 0.46)},
}
# Table 1's LEBM row (the LEBM paper's numbers; no uncertainty stated).
LEBM_TABLE1 = {ds: {"mse": Value(mse), "fid": Value(fid)} for ds, (mse, fid) in TABLE1_CITED["LEBM"][1].items()}

TABLE2A_CITED = {"VAE": 180.49, "ABP": 160.21, "LEBM": 133.07, "DAMC (Yu et al. 2023)": 85.88}
EBIPLA_TABLE2A = {"celebahq": Value(92.10)}  # one run, no uncertainty
EBIPLA_TABLE2B = {1: Value(31.00, 0.81), 4: Value(27.83, 0.38), 16: Value(27.09, 0.31), 32: Value(26.74, 0.22)}
TABLE2B_DATASET = "svhn"

# Table 4 (one RTX 3090, 5 runs): data set -> method -> (seconds per step (mean, s.d.), GFLOPs per step).
TABLE4 = {
    "cifar10": {"lebm": (Value(2.06, 0.07), 1.50), "ebipla": (Value(0.99, 0.07), 0.80)},
    "celeba64": {"lebm": (Value(1.59, 0.06), 0.80), "ebipla": (Value(1.46, 0.06), 0.79)},
    "svhn": {"lebm": (Value(0.49, 0.07), 0.75), "ebipla": (Value(0.33, 0.07), 0.74)},
}
TABLE4_DEVICE = "one NVIDIA RTX 3090"
TABLE4_LEBM_N = 10  # our reading: LEBM timed at the matched budget (paper.md section 9, row 26)

# Appendix E.2, Tables 5-7: FID from the literature, the paper's EBIPLA value last.
LITERATURE: dict[str, tuple[str, list[tuple[str, float]]]] = {
    "table5": ("cifar10", [
        ("VAE", 78.41), ("2s-VAE", 72.90), ("RAE", 74.16), ("PixelCNN", 65.93), ("PixelIQN", 49.46),
        ("WGAN-GP", 36.40), ("SN-GAN", 21.70), ("StyleGAN2-ADA", 2.92), ("NCSN", 25.32), ("NCSN-v2", 31.75),
        ("NCSN++", 2.20), ("Glow", 45.99), ("Residual Flow", 46.37), ("LEBM", 70.15), ("EBM-SR", 44.50),
        ("EBM-IG", 38.20), ("EBM-CD", 25.10), ("SM-LEBM", 77.82), ("ED-LEBM", 73.58), ("CoopVAEBM", 36.20),
        ("CoopNets", 33.61), ("Divergence Triangle", 30.10), ("VARA", 27.50), ("GEBM", 19.31), ("CF-EBM", 16.71),
        ("VAEBM", 12.16), ("EBM-Diffusion", 9.60), ("CDRL", 3.68), ("DDAEBM", 4.82), ("NT-EBM", 78.12),
        ("EBM-FCE", 37.30), ("CoopFlow", 15.80)]),
    "table6": ("svhn", [
        ("ABP", 49.71), ("ABP-SRI", 35.23), ("ABP-OT", 19.48), ("SRI (L=5)", 35.32), ("VAE", 46.78),
        ("2s-VAE", 42.81), ("RAE", 40.02), ("DCGAN", 21.40), ("Glow", 41.70), ("LEBM", 29.44), ("SM-LEBM", 34.44),
        ("ED-LEBM", 28.10), ("NT-EBM", 48.01), ("EBM-FCE", 20.19), ("CoopFlow", 15.32)]),
    "table7": ("celeba64", [
        ("ABP", 51.50), ("ABP-SRI", 36.84), ("SRI (L=5)", 47.95), ("VAE", 38.76), ("VAE (second entry)", 65.75),
        ("2s-VAE", 44.40), ("RAE", 40.95), ("DCGAN", 12.50), ("Glow", 23.32), ("LEBM", 37.87), ("SM-LEBM", 41.21),
        ("ED-LEBM", 36.73), ("EBM-FCE", 12.21), ("DDAEBM", 10.29), ("GEBM", 5.21), ("CoopFlow", 4.15)]),
}

# The scale behind the paper's numbers (paper.md 4.2 and Appendix C.3): report.md calls a row of ours made at
# another scale "not comparable (scale)" instead of giving a verdict. Image runs: batch 128, 200 epochs, FID from
# 50,000 samples; Table 4: batch 128, J = 60 prior steps, on a GPU.
IMAGE_SCALE = {"batch_size": 128, "n_epochs": 200, "fid_samples": 50000}
TABLE4_SCALE = {"B": 128, "J": 60}
