"""Strict YAML loading of :class:`~ebipla.config.schema.RunConfig`.

Config files are layered: later files and ``key.path=value`` overrides replace earlier values key by key; a file
may name ``base`` files (a path or a list, relative to it) that are layered before it. Every
value remembers where it came from, so an unknown key, a wrong type or an out-of-range value is reported with its
dotted key and the file (or "command line") that set it. Nothing but :class:`~ebipla.errors.ConfigError` escapes.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import reprlib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import ConfigError
from .schema import FILE_DATA, IMAGES, SYNTHETIC, RunConfig

Origins = dict[tuple[str, ...], str]


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-2`` as a float (YAML 1.1 wants ``1.0e-2``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        problem = _yaml_problem(exc)
        raise ConfigError(f"{source} is not valid YAML: {problem}. Fix the syntax at the position shown.") from None
    except RecursionError:
        raise ConfigError(f"{source} is nested too deeply to read. Write the sections out plainly.") from None
    except Exception as exc:  # PyYAML's constructors raise ValueError etc., e.g. for a date like 2001-13-45
        raise ConfigError(
            f"{source} cannot be read as YAML ({type(exc).__name__}: {_one_line(exc)}): a value looks like a "
            "number, date or tagged value but is not a valid one. Quote it if it is meant as a string."
        ) from None


def read_yaml_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist. Check the path given with --config.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc}).") from None
    data = parse_yaml(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of config sections at the top level, not a {_kind(data)}.")
    return data


# ------------------------------------------------------------------------------------------------ layering


def merge(base: dict, update: Mapping, origins: Origins, source: str, prefix: tuple[str, ...] = ()) -> dict:
    """Deep-merge ``update`` into ``base`` (in place), recording ``source`` for every key it sets."""
    for key, value in update.items():
        if not isinstance(key, str):
            raise ConfigError(f"{source}: key {_shown(key)} under '{_dotted(prefix) or '<top>'}' is not a string.")
        path = (*prefix, key)
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value, origins, source, path)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value
            _mark(value, path, origins, source)
    return base


def _mark(value: Any, path: tuple[str, ...], origins: Origins, source: str) -> None:
    origins[path] = source
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _mark(sub, (*path, str(key)), origins, source)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr_energy=1e-3"`` -> (["train", "lr_energy"], 0.001)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} on the command line must look like section.key=value.")
    return key.strip().split("."), parse_yaml(raw, f"override {text!r}")


def file_layers(path: str | Path, seen: tuple[Path, ...] = ()) -> list[tuple[dict[str, Any], str]]:
    """A config file as layers: first its ``base`` file(s) (paths relative to it, themselves layered), then it."""
    path = Path(path)
    resolved = _resolved(path)
    if resolved in seen:
        raise ConfigError(f"{path}: 'base' files include each other ({' -> '.join(map(str, seen))}).")
    data = read_yaml_file(path)
    bases = data.pop("base", [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{path}: key 'base' must be a file name or a list of them; got {_shown(bases)}.")
    layers = []
    for base in bases:
        layers += file_layers(path.parent / base, (*seen, resolved))
    return [*layers, (data, str(path))]


def config_files(paths: Iterable[str | Path]) -> list[str]:
    """Every file a config made of ``paths`` reads: each path after its ``base`` files, normalised, each once.

    What a workflow job that trains from ``paths`` depends on (editing a base file must rerun it).
    """
    files: list[str] = []
    for path in paths:
        for _, source in file_layers(path):
            normal = os.path.normpath(source)
            if normal not in files:
                files.append(normal)
    return files


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a NUL in a 'base' entry, a symlink loop
        raise ConfigError(f"config file {str(path)!r} cannot be resolved ({_one_line(exc)}). Check the path and the "
                          "'base' entries that lead to it.") from None


def load_config(paths: Iterable[str | Path] = (), overrides: Iterable[str] = ()) -> RunConfig:
    """Defaults, then each file in order (after its ``base`` files), then each ``key=value`` override."""
    layers: list[tuple[Mapping[str, Any], str]] = [layer for path in paths for layer in file_layers(path)]
    for text in overrides:
        keys, value = parse_override(text)
        nested: Any = value
        for key in reversed(keys):
            nested = {key: nested}
        layers.append((nested, "command line"))
    return config_from_layers(layers)


def config_from_layers(layers: Iterable[tuple[Mapping[str, Any], str]]) -> RunConfig:
    """Defaults, then each (mapping, source name) layer in order; the source names the layer in errors."""
    raw: dict[str, Any] = {}
    origins: Origins = {}
    for mapping, source in layers:
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"{source} must hold a mapping of config sections, not a {_kind(mapping)}.")
        try:
            merge(raw, mapping, origins, source)
        except RecursionError:
            raise ConfigError(
                f"{source} is nested too deeply or refers to itself (a YAML alias inside its own anchor). "
                "Write the sections out plainly."
            ) from None
    cfg = build(RunConfig, raw, origins)
    check_consistency(cfg, origins)
    return cfg


def config_from_dict(raw: Mapping[str, Any], source: str) -> RunConfig:
    """Build a config from one plain dict (e.g. one saved in a checkpoint); ``source`` names it in errors."""
    return config_from_layers([(raw, source)])


# ------------------------------------------------------------------------------------------------ building


def build(cls: type, raw: Mapping[str, Any], origins: Origins, prefix: tuple[str, ...] = ()) -> Any:
    """Instantiate dataclass ``cls`` from ``raw``, checking keys, types and ranges."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if not isinstance(key, str):
            raise ConfigError(
                f"{_where(prefix, origins)}: key {_shown(key)} under '{_dotted(prefix) or '<top>'}' is not a string. "
                f"Valid keys here: {', '.join(fields)}."
            )
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"{_where((*prefix, key), origins)}: unknown key '{_dotted((*prefix, key))}'.{hint} "
                f"Valid keys here: {', '.join(fields)}."
            )
    kwargs = {}
    for name, fld in fields.items():
        if name not in raw:
            continue
        path = (*prefix, name)
        value = _convert(hints[name], raw[name], path, origins, fld)
        _check_range(value, fld, path, origins)
        kwargs[name] = value
    return cls(**kwargs)


def _convert(tp: Any, value: Any, path: tuple[str, ...], origins: Origins, fld: Any = None) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if all(dataclasses.is_dataclass(a) for a in options):
            return _convert_tagged(options, value, path, origins, fld)
        if len(options) != 1:
            raise TypeError(f"unsupported config union {tp!r} at {_dotted(path)}")  # a schema bug
        return _convert(options[0], value, path, origins)
    if origin is dict:  # free-form keyword arguments (a custom network's kwargs): plain YAML data, string keys
        if not isinstance(value, Mapping):
            _fail(path, origins, "must be a mapping of keyword arguments", value)
        for key in value:
            if not isinstance(key, str) or not key.isidentifier():
                _fail(path, origins, f"must have keyword names as keys ({_shown(key)} is not one)", dict(value))
        return _plain(value)
    if origin is Literal:
        if value not in args:
            _fail(path, origins, f"must be one of {', '.join(repr(a) for a in args)}", value)
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            _fail(path, origins, "must be a list", value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, (*path, str(i)), origins) for i, v in enumerate(value))
        if len(value) != len(args):
            _fail(path, origins, f"must be a list of {len(args)} values", value)
        return tuple(_convert(a, v, (*path, str(i)), origins) for i, (a, v) in enumerate(zip(args, value)))
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            _fail(path, origins, "must be a mapping (a config section)", value)
        return build(tp, value, origins, path)
    return _scalar(tp, value, path, origins)


def _convert_tagged(options: list[type], value: Any, path: tuple[str, ...], origins: Origins, fld: Any) -> Any:
    """A union of sections told apart by their ``name`` field (e.g. the algorithm)."""
    if not isinstance(value, Mapping):
        _fail(path, origins, "must be a mapping (a config section)", value)
    by_name = {typing.get_args(typing.get_type_hints(o)["name"])[0]: o for o in options}
    default_name = fld.default_factory().name if fld is not None else next(iter(by_name))
    name = value.get("name", default_name)
    if not isinstance(name, str) or name not in by_name:
        _fail((*path, "name"), origins, f"must be one of {', '.join(map(repr, by_name))}", name)
    return build(by_name[name], value, origins, path)


def _plain(value: Any) -> Any:
    """A YAML value as plain, unshared data: mappings become dicts and sequences lists, recursively."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _scalar(tp: type, value: Any, path: tuple[str, ...], origins: Origins) -> Any:
    if tp is bool:
        if not isinstance(value, bool):
            _fail(path, origins, "must be true or false", value)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(path, origins, "must be an integer", value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(path, origins, "must be a number", value)
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the float range
            _fail(path, origins, "must be a finite number", value)
        if not math.isfinite(number):
            _fail(path, origins, "must be a finite number", value)
        return number
    if tp is str:
        if not isinstance(value, str):
            _fail(path, origins, "must be a string", value)
        return value
    raise TypeError(f"unsupported config type {tp!r} at {_dotted(path)}")  # a schema bug, not user input


def _check_range(value: Any, fld: dataclasses.Field, path: tuple[str, ...], origins: Origins) -> None:
    if value is None or not fld.metadata:
        return
    meta = fld.metadata
    if "gt" in meta and not value > meta["gt"]:
        _fail(path, origins, f"must be > {meta['gt']}", value)
    if "ge" in meta and not value >= meta["ge"]:
        _fail(path, origins, f"must be >= {meta['ge']}", value)
    if "lt" in meta and not value < meta["lt"]:
        _fail(path, origins, f"must be < {meta['lt']}", value)
    if "le" in meta and not value <= meta["le"]:
        _fail(path, origins, f"must be <= {meta['le']}", value)


def check_consistency(cfg: RunConfig, origins: Origins) -> None:
    """Checks that involve several fields."""
    if cfg.data.eval_seed == cfg.data.seed:
        _fail(("data", "eval_seed"), origins, "must differ from data.seed (held-out data is a fresh draw)",
              cfg.data.eval_seed)
    algo = cfg.algorithm
    if algo.name == "ebipla" and algo.n_particles % algo.warmup_particles:
        _fail(("algorithm", "warmup_particles"), origins,
              f"must divide algorithm.n_particles = {algo.n_particles}", algo.warmup_particles)
    if cfg.model.energy.kind == "gaussian" and cfg.model.energy.prior_sigma is not None:
        _fail(("model", "energy", "prior_sigma"), origins, "must be null for the gaussian energy",
              cfg.model.energy.prior_sigma)
    for key in ("betas_energy", "betas_generator"):
        betas = getattr(cfg.train, key)
        if not all(0.0 <= b < 1.0 for b in betas):
            _fail(("train", key), origins, "must hold two numbers in [0, 1)", list(betas))
    if cfg.data.n_points is None and cfg.data.name in SYNTHETIC:
        _fail(("data", "n_points"), origins, "must be set for synthetic data", None)
    if algo.name != "ebipla_full" and cfg.data.n_points is not None and cfg.train.batch_size > cfg.data.n_points:
        _fail(("train", "batch_size"), origins, f"must be <= data.n_points = {cfg.data.n_points}",
              cfg.train.batch_size)
    if cfg.data.name in FILE_DATA:
        _check_file_data(cfg, origins)


def _check_file_data(cfg: RunConfig, origins: Origins) -> None:
    """data.name folder or array: the section's path is set and the prepared data set's name is usable."""
    section = cfg.data.name
    own = getattr(cfg.data, section)
    what = "folder of images" if section == "folder" else ".npy, .npz or .csv file"
    if own.path is None:
        _fail(("data", section, "path"), origins, f"must name the {what} to read when data.name is {section}", None)
    name = cfg.data.dataset_name
    key = ("data", section, "name" if own.name is not None else "path")
    if name in ("", ".", "..") or "/" in name or "\\" in name:
        _fail(key, origins, f"gives the prepared data set the unusable name {name!r} (under data.root); set "
              f"data.{section}.name to a plain name", name if own.name is not None else own.path)
    if name in SYNTHETIC + IMAGES + FILE_DATA:
        _fail(key, origins, f"gives the prepared data set the name {name!r}, which a built-in data set uses under "
              f"data.root; set data.{section}.name to another name", name if own.name is not None else own.path)


# ------------------------------------------------------------------------------------------------ saving


def to_dict(cfg: Any) -> Any:
    """Plain-data form of a config (tuples become lists), as written to ``config.yaml``."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, tuple):
        return [to_dict(v) for v in cfg]
    return cfg


def dump_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None)


# ------------------------------------------------------------------------------------------------ messages


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _where(path: tuple[str, ...], origins: Origins) -> str:
    for cut in range(len(path), 0, -1):
        if path[:cut] in origins:
            return origins[path[:cut]]
    return "the defaults"


def _shown(value: Any) -> str:
    """A value as the messages quote it: its repr, shortened when long or deeply nested."""
    return reprlib.repr(value)


def _one_line(text: object) -> str:
    """``str(text)`` with its line breaks and runs of spaces collapsed: messages are one paragraph."""
    return " ".join(str(text).split())


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: what is wrong, and where."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem is None:
        return _one_line(exc)
    mark = exc.problem_mark or exc.context_mark
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return "; ".join(_one_line(p) for p in (exc.context, exc.problem) if p) + where


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string"}.get(type(value), type(value).__name__)


def _fail(path: tuple[str, ...], origins: Origins, requirement: str, value: Any) -> typing.NoReturn:
    raise ConfigError(
        f"{_where(path, origins)}: key '{_dotted(path)}' {requirement}; got {_shown(value)}. "
        "Fix it where it is set, or drop the key to use the default."
    )
