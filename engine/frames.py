"""The one frame grammar of EchoCare Studio: every command and field that takes frames reads it here.

A selection is a comma-separated list of items, each one of:

* ``all``: every frame;
* ``N``: one frame index (0-based);
* ``A-B``: frames A to B, both included (``10-20`` is eleven frames);
* ``A:B`` or ``A:B:STEP``: a Python-style slice, end excluded, either end may be left out
  (``0:10`` is frames 0-9, ``::2`` every other frame, ``-5:`` the last five).

Spaces are ignored. The result is the selected indices in increasing order, each once.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import ConfigError

GRAMMAR = "all, N, inclusive ranges A-B, slices A:B[:STEP], or a comma-separated list such as 0,5,10-20"
HELP = "all (default), 5, 10-20 (inclusive), 0:10 (slice, end excluded) or a list such as 0,5,10-20"


def _item(part: str, n_frames: int) -> range:
    """The frames one item names; ValueError when it is not an item of the grammar."""
    if part == "all":
        return range(n_frames)
    if ":" in part:
        bounds = part.split(":")
        if len(bounds) > 3:
            raise ValueError(part)
        return range(n_frames)[slice(*(int(b) if b else None for b in bounds))]
    first, dash, last = part.partition("-")
    lo = int(first)
    hi = int(last) if dash else lo
    if hi < lo:
        raise ValueError(f"range {part} runs backwards")
    if lo >= n_frames or hi >= n_frames:
        raise IndexError(part)
    return range(lo, hi + 1)


def parse_frames(spec: str | None, n_frames: int, source: str | Path | None = None) -> tuple[int, ...]:
    """The frame indices a selection names, in increasing order, without repeats.

    Args:
        spec: the selection (see the module docstring); ``None`` or blank means ``all``.
        n_frames: the number of frames of the cine.
        source: the file the frames belong to, named in the error.

    Raises:
        ConfigError: the selection is malformed, names a frame outside ``0..n_frames-1`` or
            selects nothing.
    """
    text = "".join((spec or "all").split())
    picked: set[int] = set()
    for part in text.split(","):
        try:
            picked.update(_item(part, n_frames))
        except IndexError:
            raise ConfigError(
                source, f"frames {part!r}: out of range (the cine has frames 0-{n_frames - 1})"
            ) from None
        except ValueError as err:
            why = str(err) if "backwards" in str(err) else f"{part!r} is not a frame selection"
            raise ConfigError(source, f"frames {text!r}: {why} (use {GRAMMAR})") from None
    if not picked:
        raise ConfigError(source, f"frames {text!r} select no frame")
    return tuple(sorted(picked))
