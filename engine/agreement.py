"""Whether two runs' task results agree: the check behind ``auto``'s choice of a faster path.

Results are compared field by field, in the structure the tasks return (dataclasses of
``engine.types``, tuples, dicts, numpy arrays, numbers and text). A candidate agrees with the
fp32 reference when, everywhere:

* a label map (a ``mask`` field) has Dice >= ``DICE`` for every label either map holds;
* class probabilities (``probs``) pick the same class, and class ids (``label_ids``) are equal;
* every other number (floats, numeric arrays, numbers inside text) is within ``RELATIVE`` of
  the reference's magnitude (of the largest value, for an array), NaNs in the same places;
* everything else (names, units, integers, flags, the words of a text) is equal.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import numpy as np

from engine.tasks.propagate import dice

DICE = 0.99
RELATIVE = 0.01

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def results_agree(ref: object, got: object) -> bool:
    """True when ``got`` agrees with the reference ``ref`` (see the module docstring)."""
    return first_difference(ref, got) is None


def first_difference(ref: object, got: object, where: str = "result") -> str | None:
    """Where ``got`` first departs from ``ref`` and how, or None when they agree."""
    return _diff(ref, got, where, "")


def _diff(ref: object, got: object, where: str, name: str) -> str | None:
    """``first_difference`` of a value held in a field ``name`` (which picks the array rule)."""
    floats = (float, np.floating)
    if isinstance(ref, floats) and isinstance(got, floats):
        return None if _close(float(ref), float(got)) else f"{where}: {got} vs {ref}"
    if type(ref) is not type(got):
        return f"{where}: {type(got).__name__} vs {type(ref).__name__}"
    if isinstance(ref, np.ndarray):
        return _array(name, ref, got, where)  # type: ignore[arg-type]
    if dataclasses.is_dataclass(ref):
        names = [f.name for f in dataclasses.fields(ref)]
        return _children([(n, getattr(ref, n), getattr(got, n)) for n in names], where)
    if isinstance(ref, Mapping):
        if list(ref) != list(got):  # type: ignore[call-overload]
            return f"{where}: keys {list(got)} vs {list(ref)}"  # type: ignore[call-overload]
        return _children([(str(k), v, got[k]) for k, v in ref.items()], where)  # type: ignore[index]
    if isinstance(ref, (tuple, list)):
        if len(ref) != len(got):  # type: ignore[arg-type]
            return f"{where}: {len(got)} vs {len(ref)} items"  # type: ignore[arg-type]
        return _children([(str(i), a, b) for i, (a, b) in enumerate(zip(ref, got))], where)  # type: ignore[call-overload]
    if isinstance(ref, str):
        return _text(ref, got, where)  # type: ignore[arg-type]
    return None if ref == got else f"{where}: {got!r} vs {ref!r}"


def _children(pairs: list[tuple[str, object, object]], where: str) -> str | None:
    for name, a, b in pairs:
        found = _diff(a, b, f"{where}.{name}", name)
        if found is not None:
            return found
    return None


def _close(ref: float, got: float) -> bool:
    if np.isnan(ref) or np.isnan(got):
        return bool(np.isnan(ref) and np.isnan(got))
    return abs(got - ref) <= RELATIVE * abs(ref)


def _text(ref: str, got: str, where: str) -> str | None:
    """Equal words; numbers within ``RELATIVE`` (a report's "EF 40.3 %" may read "EF 40.4 %")."""
    if _NUMBER.split(ref) != _NUMBER.split(got):
        return f"{where}: {got!r} vs {ref!r}"
    numbers = zip(_NUMBER.findall(ref), _NUMBER.findall(got), strict=True)
    if all(_close(float(a), float(b)) for a, b in numbers):
        return None
    return f"{where}: {got!r} vs {ref!r}"


def _array(name: str, ref: np.ndarray, got: np.ndarray, where: str) -> str | None:
    if ref.shape != got.shape:
        return f"{where}: shape {list(got.shape)} vs {list(ref.shape)}"
    if name == "mask":
        worst = min_dice(ref, got)
        return None if worst >= DICE else f"{where}: Dice {worst:.4f} < {DICE}"
    if name == "probs":
        same = ref.size == 0 or int(np.argmax(ref)) == int(np.argmax(got))
        return None if same else f"{where}: class {int(np.argmax(got))} vs {int(np.argmax(ref))}"
    if name == "label_ids" or ref.dtype.kind in "bUSO":
        return None if np.array_equal(ref, got) else f"{where}: values differ"
    return _numbers(ref.astype(np.float64), got.astype(np.float64), where)


def _numbers(ref: np.ndarray, got: np.ndarray, where: str) -> str | None:
    nan = np.isnan(ref)
    if not np.array_equal(nan, np.isnan(got)):
        return f"{where}: NaNs in other places"
    if not (~nan).any():
        return None
    worst = float(np.abs(got[~nan] - ref[~nan]).max())
    allowed = RELATIVE * float(np.abs(ref[~nan]).max())
    return None if worst <= allowed else f"{where}: differs by {worst:.4g} (> {allowed:.4g})"


def min_dice(ref: np.ndarray, got: np.ndarray) -> float:
    """The lowest Dice over the non-zero labels of two label maps (1.0 when neither has any)."""
    labels = np.union1d(np.unique(ref), np.unique(got))
    scores = [1.0]
    for label in labels[labels != 0]:
        scores.append(dice(ref == label, got == label))
    return min(scores)
