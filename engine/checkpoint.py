"""Reading foreign checkpoints safely and fitting them to the EchoCare encoder.

``read_state_dict`` accepts safetensors and ``torch.save`` files; pickles are read with
``weights_only=True`` only, so nothing inside a file can run code. ``echocare_filter`` maps
the layouts found in the wild (echocare.md section 4) onto the official key namespace:

* ``state_dict`` / ``model`` / ``module`` nesting is unwrapped;
* ``module.``, ``model.``, ``seg_net.encoder.``, ``encoder.``, ``backbone.`` and ``swinViT.``
  prefixes are stripped (a key keeps its name when stripping does not make it an encoder key);
* LoRA-wrapped attention (``attn.qkv.qkv.*`` + ``linear_{a,b}_{q,v}``) is folded into ``qkv``
  (q rows ``[:C]``, v rows ``[-C:]``);
* ``mask_token`` is kept when the model has one and filled from the model when absent;
* relative-position tables of another window size are resized, a 1-channel stem is widened.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from engine.errors import ModelError
from engine.models.echocare import MASK_TOKEN

PREFIXES = ("module.", "model.", "seg_net.encoder.", "encoder.", "backbone.", "swinViT.")
NESTING = ("state_dict", "model", "module", "network", "net")
LORA_PARTS = ("linear_a_q", "linear_b_q", "linear_a_v", "linear_b_v")


@dataclass(frozen=True)
class LoadReport:
    """What fitting a checkpoint to a model found.

    Attributes:
        loaded: model keys filled from the checkpoint.
        missing: model keys the checkpoint lacks.
        unexpected: checkpoint keys the model has no place for (dropped).
        reshaped: keys adapted to the model (resized tables, widened stem, index buffers).
        mismatched: keys present with a shape the model cannot take, as "key ckpt-shape vs model-shape".
        folded: qkv keys that had LoRA deltas folded in.
    """

    loaded: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    reshaped: tuple[str, ...] = ()
    mismatched: tuple[str, ...] = ()
    folded: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every model tensor was found with a usable shape (a strict load)."""
        return not self.missing and not self.mismatched

    def lines(self) -> list[str]:
        """The report as short lines for the CLI and the load-report dialog."""
        out = [
            f"loaded {len(self.loaded)} tensors; missing {len(self.missing)}; "
            f"unexpected {len(self.unexpected)}; reshaped {len(self.reshaped)}; "
            f"lora-folded {len(self.folded)}"
        ]
        for label, keys in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("reshaped", self.reshaped),
            ("wrong shape", self.mismatched),
        ):
            out.extend(f"  {label}: {k}" for k in keys[:8])
            if len(keys) > 8:
                out.append(f"  {label}: ... {len(keys) - 8} more")
        return out

    def refusal(self, arch: str) -> str:
        """One sentence saying why a strict load into ``arch`` failed."""
        if self.mismatched:
            return f"wrong shapes for {arch}: {len(self.mismatched)} tensors, e.g. {self.mismatched[0]}"
        total = len(self.missing) + len(self.loaded)
        hint = f"; it holds keys like {self.unexpected[0]}" if self.unexpected else ""
        return f"not a {arch} checkpoint: {len(self.missing)} of {total} tensors missing{hint}"


def read_state_dict(path: str | Path, mmap: bool = True) -> Mapping[str, object]:
    """Read a checkpoint without executing anything it contains.

    Args:
        path: a ``.safetensors`` file or a ``torch.save`` file (zip or legacy pickle).
        mmap: map a zip ``torch.save`` file's tensors from disk instead of reading them (the file
            then stays open while they live).

    Returns:
        the stored mapping (possibly nested; see ``echocare_filter``), tensors on the CPU.

    Raises:
        ModelError: missing, truncated or corrupt file, unknown format, or a pickle that would
            build anything but tensors and containers (code execution is refused).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as err:
        raise ModelError(path, f"cannot read checkpoint ({err.strerror or err})") from None
    if len(head) >= 9 and head[8:9] == b"{":
        return _read_safetensors(path)
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return _read_torch(path, mmap=mmap and head[:4] == b"PK\x03\x04")
    raise ModelError(path, "not a checkpoint (expected safetensors or a torch.save file)")


def _read_safetensors(path: Path) -> Mapping[str, object]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(path, f"truncated or corrupt safetensors file ({err})") from None


def _read_torch(path: Path, mmap: bool) -> Mapping[str, object]:
    try:
        with warnings.catch_warnings():  # torch's note on a legacy pickle's protocol, not the user's concern
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        if "weights only" in first.lower() or "weights_only" in str(err):
            reason = (
                "refused: the file would build objects other than tensors (code execution is not allowed)"
            )
            raise ModelError(path, reason) from None
        raise ModelError(path, f"truncated or corrupt checkpoint ({first})") from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile, KeyError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelError(path, f"truncated or corrupt checkpoint ({first})") from None
    if not isinstance(data, Mapping):
        raise ModelError(path, f"not a state dict (holds a {type(data).__name__})")
    return data


def unwrap(state: Mapping[str, object]) -> dict[str, Tensor]:
    """Descend through ``state_dict``/``model``/``module`` nesting to the tensors."""
    current: Mapping[str, object] = state
    while not any(isinstance(v, Tensor) for v in current.values()):
        inner = next((current[k] for k in NESTING if isinstance(current.get(k), Mapping)), None)
        if inner is None:
            break
        current = inner  # type: ignore[assignment]
    return {str(k): v for k, v in current.items() if isinstance(v, Tensor)}


def _strip(key: str, targets: Mapping[str, Tensor]) -> str:
    """``key`` without wrapper prefixes when that names an encoder tensor (or LoRA part)."""
    candidate = key
    changed = True
    while changed:
        changed = False
        for prefix in PREFIXES:
            if candidate.startswith(prefix):
                candidate, changed = candidate[len(prefix) :], True
    base = candidate.replace(".attn.qkv.qkv.", ".attn.qkv.")
    for part in LORA_PARTS:
        base = base.replace(f".attn.qkv.{part}.", ".attn.qkv.")
    return candidate if base in targets or candidate == MASK_TOKEN else key


def fold_lora(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    """Fold LoRA-wrapped qkv projections into plain ``attn.qkv`` tensors.

    ``W_qkv[:C] += B_q @ A_q`` and ``W_qkv[-C:] += B_v @ A_v`` (C = channels); LoRA biases,
    when present, are folded the same way.

    Returns:
        the new state and the folded ``.attn.qkv.weight`` keys.
    """
    out = dict(state)
    folded = []
    for key in [k for k in state if k.endswith(".attn.qkv.qkv.weight")]:
        stem = key[: -len("qkv.weight")]  # "...attn.qkv."
        weight = out.pop(key).clone()
        bias = out.pop(f"{stem}qkv.bias", None)
        bias = None if bias is None else bias.clone()
        c = weight.shape[1]
        for part, rows in (("q", slice(0, c)), ("v", slice(weight.shape[0] - c, None))):
            a = out.pop(f"{stem}linear_a_{part}.weight", None)
            b = out.pop(f"{stem}linear_b_{part}.weight", None)
            if a is None or b is None:
                continue
            weight[rows] += (b.double() @ a.double()).to(weight.dtype)
            a_bias = out.pop(f"{stem}linear_a_{part}.bias", None)
            b_bias = out.pop(f"{stem}linear_b_{part}.bias", None)
            if bias is not None and (a_bias is not None or b_bias is not None):
                extra = torch.zeros_like(bias[rows], dtype=torch.float64)
                if a_bias is not None:
                    extra += b.double() @ a_bias.double()
                if b_bias is not None:
                    extra += b_bias.double()
                bias[rows] += extra.to(bias.dtype)
        out[f"{stem[:-1]}.weight"] = weight
        if bias is not None:
            out[f"{stem[:-1]}.bias"] = bias
        folded.append(f"{stem[:-1]}.weight")
    return out, folded


def _resize_table(table: Tensor, target: Tensor) -> Tensor:
    """Bicubic resize of a relative-position bias table [(2w-1)^2, heads] to another window."""
    src = round(table.shape[0] ** 0.5)
    dst = round(target.shape[0] ** 0.5)
    grid = table.float().T.reshape(1, -1, src, src)
    resized = nn.functional.interpolate(grid, size=(dst, dst), mode="bicubic", align_corners=False)
    return resized.reshape(-1, dst * dst).T.to(target.dtype)


def _adapt(key: str, value: Tensor, target: Tensor) -> Tensor | None:
    """A reshaped version of ``value`` that fits ``target``, or None when none is known."""
    if key.endswith("relative_position_index"):
        return target.clone()
    if key.endswith("relative_position_bias_table") and value.shape[1:] == target.shape[1:]:
        return _resize_table(value, target)
    if key == "patch_embed.proj.weight" and value.shape[1] == 1 and value.shape[0::2] == target.shape[0::2]:
        return (value.repeat(1, target.shape[1], 1, 1) / target.shape[1]).to(target.dtype)
    return None


def echocare_filter(state: Mapping[str, object], model: nn.Module) -> tuple[dict[str, Tensor], LoadReport]:
    """Fit a checkpoint's tensors to an EchoCare encoder's state dict.

    Args:
        state: what ``read_state_dict`` returned (any supported nesting and prefixes).
        model: an ``EchoCareEncoder`` or a model with one as ``.encoder``.

    Returns:
        the tensors keyed exactly like ``model``'s encoder state dict (only keys that fit),
        and the report. A strict load needs ``report.ok``.
    """
    encoder = getattr(model, "encoder", model)
    targets = encoder.state_dict()
    flat = unwrap(state)
    renamed = {_strip(k, targets): v for k, v in flat.items()}
    renamed, folded = fold_lora(renamed)
    filled = MASK_TOKEN in targets and MASK_TOKEN not in renamed
    if MASK_TOKEN not in targets:
        renamed.pop(MASK_TOKEN, None)
    elif filled:  # pretraining-only; fine-tuned checkpoints drop it
        renamed[MASK_TOKEN] = targets[MASK_TOKEN].detach().clone()
    out: dict[str, Tensor] = {}
    reshaped, mismatched = [], []
    for key, target in targets.items():
        value = renamed.get(key)
        if value is None:
            continue
        if value.shape != target.shape:
            adapted = _adapt(key, value, target)
            if adapted is None:
                mismatched.append(f"{key} {list(value.shape)} vs {list(target.shape)}")
                continue
            value = adapted
            reshaped.append(key)
        out[key] = value.to(target.dtype) if value.dtype != target.dtype else value
    report = LoadReport(
        loaded=tuple(k for k in out if not (filled and k == MASK_TOKEN)),
        missing=tuple(k for k in targets if k not in renamed and k != MASK_TOKEN),
        unexpected=tuple(k for k in renamed if k not in targets),
        reshaped=tuple(reshaped),
        mismatched=tuple(mismatched),
        folded=tuple(folded),
    )
    return out, report


def load_encoder_checkpoint(model: nn.Module, path: str | Path) -> LoadReport:
    """Load a checkpoint strictly into ``model``'s encoder.

    Raises:
        ModelError: unreadable or unsafe file, or keys/shapes that do not fit (model unchanged).
    """
    encoder = getattr(model, "encoder", model)
    tensors, report = echocare_filter(read_state_dict(path), encoder)
    if not report.ok:
        raise ModelError(path, report.refusal(getattr(encoder, "arch_name", "") or "this encoder"))
    encoder.load_state_dict(tensors, strict=True)
    return report
