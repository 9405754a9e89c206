"""ebipla: latent energy-based models trained by interacting particle Langevin dynamics.

Reproduction of Marks, Wang, Akyildiz, "Learning Latent Energy-Based Models via Interacting Particle Langevin
Dynamics" (UAI 2026, arXiv 2510.12311), with the LEBM baseline of Pang et al. (2020). Notation follows the paper:
x is the latent, y the observation, U_alpha the prior energy, g_beta the generator.

The Python API (docs/python-api.md): ``ebipla.load_config``, ``ebipla.train``, ``ebipla.load_run`` and the
``ebipla.Run`` they return, defined in :mod:`ebipla.api` and imported on first use (``import ebipla`` stays light,
so that the command line starts fast).
"""

__version__ = "0.1.0"
__all__ = ["Run", "load_config", "load_run", "train"]


def __getattr__(name: str):
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'ebipla' has no attribute {name!r}")
