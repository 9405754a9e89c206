"""ebipla: latent energy-based models trained by interacting particle Langevin dynamics.

Reproduction of Marks, Wang, Akyildiz, "Learning Latent Energy-Based Models via Interacting Particle Langevin
Dynamics" (UAI 2026, arXiv 2510.12311), with the LEBM baseline of Pang et al. (2020). Notation follows the paper:
x is the latent, y the observation, U_alpha the prior energy, g_beta the generator.
"""

__version__ = "0.1.0"
