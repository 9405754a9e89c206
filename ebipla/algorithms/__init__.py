"""Training algorithms, one module each behind the interface described in :mod:`.base`.

``ALGORITHMS`` maps the config's ``algorithm.name`` to its module.
"""

from types import ModuleType

from . import abp, ebipla, ebipla_full, lebm, pgd, rae, vae
from .base import Algorithm, Batch, TrainState

ALGORITHMS: dict[str, ModuleType] = {"ebipla": ebipla, "ebipla_full": ebipla_full, "lebm": lebm,
                                     "vae": vae, "abp": abp, "pgd": pgd, "rae": rae}  # the last four: baselines

__all__ = ["ALGORITHMS", "Algorithm", "Batch", "TrainState"]
