"""Importing an encoder checkpoint (official, fine-tuned, LoRA-wrapped) into the model store.

Nothing is written unless the checkpoint fits the architecture strictly, so a refused import
leaves the store exactly as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from engine.checkpoint import LoadReport, echocare_filter, read_state_dict, unwrap
from engine.config import ModelCfg
from engine.errors import ModelError
from engine.factory import create_encoder
from engine.model_card import ModelCard
from engine.model_store import save_version, sha256_file
from engine.models.echocare import ENCODERS

DEFAULT_ARCH = "echocare_swin_b"
_BLOCK = re.compile(r"layers([1-4])\.0\.blocks\.(\d+)\.attn\.relative_position_bias_table$")


@dataclass(frozen=True)
class ImportResult:
    """A stored import: the new version's card and the key report."""

    card: ModelCard
    report: LoadReport
    arch: str


def detect_arch(tensors: dict[str, Tensor]) -> str | None:
    """The registered encoder variant whose shapes a checkpoint's tensors have, if any.

    Reads embed_dim from the stem, blocks and heads per stage from the relative-position
    tables (their keys may still carry wrapper prefixes).
    """
    stem = next((v for k, v in tensors.items() if k.endswith("patch_embed.proj.weight")), None)
    if stem is None or stem.ndim != 4:
        return None
    depths, heads = [0, 0, 0, 0], [0, 0, 0, 0]
    window = 0
    for key, value in tensors.items():
        match = _BLOCK.search(key)
        if match and value.ndim == 2:
            stage = int(match.group(1)) - 1
            depths[stage] = max(depths[stage], int(match.group(2)) + 1)
            heads[stage] = int(value.shape[1])
            window = (round(value.shape[0] ** 0.5) + 1) // 2
    for name in ENCODERS:
        arch = ENCODERS.get(name)
        if (
            arch.embed_dim == stem.shape[0]
            and arch.patch_size == stem.shape[-1]
            and arch.depths == tuple(depths)
            and arch.num_heads == tuple(heads)
            and arch.window_size == window
        ):
            return name
    return None


def import_checkpoint(
    path: str | Path, name: str | None = None, arch: str | None = None, trained_on: str = ""
) -> ImportResult:
    """Fit an encoder checkpoint to ``arch`` strictly and store it as a new model version.

    Args:
        path: the checkpoint (safetensors or torch.save; pickles read with weights_only).
        name: model name in the store; the file's stem by default.
        arch: registered encoder variant; detected from the tensor shapes by default,
            falling back to the official ``echocare_swin_b``.
        trained_on: statement of the training data for the card.

    Raises:
        ModelError: unreadable, unsafe, truncated, other-architecture or wrong-shape
            checkpoint; nothing is written then.
    """
    path = Path(path)
    state = read_state_dict(path)
    arch = arch or detect_arch(unwrap(state)) or DEFAULT_ARCH
    encoder = create_encoder(arch)
    tensors, report = echocare_filter(state, encoder)
    if not report.ok:
        raise ModelError(path, report.refusal(arch))
    model = ModelCfg(
        name=name or re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem),
        arch=arch,
        version="",
        input_size=(256, 256),
        in_chans=encoder.arch.in_chans,
        trained_on=trained_on or f"imported from {path.name}",
    )
    card = ModelCard(model, source_sha256=sha256_file(path), notes="\n".join(report.lines()))
    stored = save_version(card, {f"encoder.{k}": v for k, v in tensors.items()})
    return ImportResult(stored, report, arch)
