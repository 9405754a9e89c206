"""Typed, strict run configuration (see :mod:`.schema` for the fields, :mod:`.loader` for the rules)."""

from .loader import config_files, config_from_dict, config_from_layers, dump_yaml, load_config, to_dict
from .schema import (
    AbpConfig,
    AlgorithmConfig,
    DataConfig,
    EbiplaConfig,
    EbiplaFullConfig,
    EvalConfig,
    LebmConfig,
    ModelConfig,
    PgdConfig,
    RaeConfig,
    RunConfig,
    TrainConfig,
    VaeConfig,
)

__all__ = [
    "AbpConfig",
    "AlgorithmConfig",
    "DataConfig",
    "EbiplaConfig",
    "EbiplaFullConfig",
    "EvalConfig",
    "LebmConfig",
    "ModelConfig",
    "PgdConfig",
    "RaeConfig",
    "RunConfig",
    "TrainConfig",
    "VaeConfig",
    "config_files",
    "config_from_dict",
    "config_from_layers",
    "dump_yaml",
    "load_config",
    "to_dict",
]
