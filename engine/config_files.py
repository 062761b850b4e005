"""Typed configuration files: a YAML or JSON mapping read once into frozen dataclasses.

:func:`from_dict` builds a dataclass from a parsed mapping, following its type hints (nested
dataclasses, tuples, unions, literals, mappings), and rejects unknown keys and wrong types with
one :class:`~engine.errors.ConfigError` ``PATH: reason``. Training configurations, recipes and
the app's run settings are all read this way.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from engine.errors import ConfigError

T = TypeVar("T")




def _convert_union(tp: Any, value: Any, where: str, src: str) -> Any:
    error: ConfigError | None = None
    for arg in get_args(tp):
        try:
            return _convert(arg, value, where, src)
        except ConfigError as err:
            error = err
    raise error or ConfigError(src, f"{where} has no valid type")


def _convert_tuple(tp: Any, value: Any, where: str, src: str) -> Any:
    if not isinstance(value, list | tuple):
        raise ConfigError(src, f"{where} must be a list")
    args = get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(args[0], v, f"{where}[{i}]", src) for i, v in enumerate(value))
    if len(args) != len(value):
        raise ConfigError(src, f"{where} must have {len(args)} items")
    return tuple(_convert(a, v, f"{where}[{i}]", src) for i, (a, v) in enumerate(zip(args, value)))


def _convert_mapping(tp: Any, value: Any, where: str, src: str) -> Any:
    del tp
    if not isinstance(value, Mapping):
        raise ConfigError(src, f"{where} must be a mapping")
    return dict(value)


def _convert_literal(tp: Any, value: Any, where: str, src: str) -> Any:
    if value not in get_args(tp):
        raise ConfigError(src, f"{where} must be one of {get_args(tp)}")
    return value


def _convert_scalar(tp: Any, value: Any, where: str, src: str) -> Any:
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (tp is bool) != isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(src, f"{where} must be {tp.__name__}, got {type(value).__name__}")
    return value


_CONVERTERS: dict[Any, Callable[[Any, Any, str, str], Any]] = {
    Union: _convert_union,
    types.UnionType: _convert_union,
    tuple: _convert_tuple,
    Literal: _convert_literal,
    Mapping: _convert_mapping,
    dict: _convert_mapping,
}


def _convert(tp: Any, value: Any, where: str, src: str) -> Any:
    """Convert one parsed YAML/JSON value to the annotated type, or raise ConfigError."""
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(src, f"{where} must be a mapping")
        return from_dict(tp, value, src, where)  # type: ignore[arg-type]
    origin = get_origin(tp)
    if origin is not None and origin not in _CONVERTERS and issubclass(origin, Mapping):
        origin = Mapping
    return _CONVERTERS.get(origin, _convert_scalar)(tp, value, where, src)


def from_dict(cls: type[T], data: Mapping[str, Any], src: str = "<config>", where: str = "") -> T:
    """Build the dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types.

    Args:
        cls: a (frozen) dataclass type.
        data: the parsed mapping.
        src: the file the mapping came from, for error messages.
        where: dotted path of this mapping inside the file.

    Raises:
        ConfigError: an unknown key, a wrong type or a wrong shape.
    """
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        at = f" in {where}" if where else ""
        raise ConfigError(src, f"unknown key {unknown[0]!r}{at} (known: {', '.join(sorted(names))})")
    kwargs = {
        k: _convert(hints[k], v, f"{where}.{k}" if where else k, src)
        for k, v in data.items()
        if v is not None or hints[k] is Any
    }
    return cls(**kwargs)


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file holding one mapping."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(p, "no such config file")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except (ValueError, ImportError) as err:
        raise ConfigError(p, f"cannot parse: {str(err).splitlines()[0]}") from None
    except Exception as err:  # yaml.YAMLError has no common base we import eagerly
        raise ConfigError(p, f"cannot parse: {str(err).splitlines()[0]}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(p, "the file must hold one mapping")
    return data


def to_dict(cfg: object) -> dict[str, Any]:
    """A JSON-ready dict of a config (tuples become lists), stored in model cards and checkpoints."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=list))  # type: ignore[call-overload]
