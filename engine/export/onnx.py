"""ONNX export of a FoundationModel: the encoder and each head, dynamic batch, with a parity check.

Files written to the output folder:

* ``encoder.onnx``: ``image`` [B, 3, H, W] -> ``feat0`` .. ``feat4`` (so heads can run on
  cached features);
* ``head_<name>.onnx``: ``feat0`` .. ``feat4``, ``image`` -> that head's outputs, for every head
  a run uses. An interactive head (``HeadSpec.interactive``, the prompt head) is not exported:
  it takes prompts with each call and runs in torch (``Predictor.run_prompted``).

Export uses the TorchScript exporter (``dynamo=False``), opset 17.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.errors import ModelError
from engine.export.graphs import EncoderGraph, HeadGraph, dummy_inputs
from engine.heads.spec import load_kinds
from engine.models.foundation import FoundationModel

OPSET = 17
PARITY_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ExportResult:
    """What ``export_model`` wrote and how closely ONNX Runtime matched torch.

    Attributes:
        files: the written ``.onnx`` files, encoder first.
        max_diff: the largest difference torch fp32 vs ONNX Runtime over every output of every
            graph, on a random batch of two (``parity``: absolute, relative where the torch
            value exceeds 1).
    """

    files: tuple[Path, ...]
    max_diff: float


def export_graph(graph: nn.Module, path: Path, inputs: tuple[torch.Tensor, ...], opset: int = OPSET) -> Path:
    """Export one flat-signature graph with a dynamic batch axis on every input and output.

    The file is written under a temporary name and renamed into place, so an interrupted
    export never leaves a partial ``path``.
    """
    names = [*graph.input_names, *graph.output_names]  # type: ignore[misc]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-derived Python ints
        torch.onnx.export(
            graph.eval(),
            inputs,
            str(tmp),
            input_names=list(graph.input_names),  # type: ignore[arg-type]
            output_names=list(graph.output_names),  # type: ignore[arg-type]
            dynamic_axes={n: {0: "batch"} for n in names},
            opset_version=opset,
            dynamo=False,
            do_constant_folding=True,
        )
    tmp.replace(path)
    return path


def parity(graph: nn.Module, path: Path, example: tuple[torch.Tensor, ...]) -> float:
    """Largest difference torch fp32 vs ONNX Runtime on a random batch of two: absolute, and
    relative to the torch value where that exceeds 1 (an out-of-distribution score of some
    thousands on random features differs in its last float32 digits, not in its meaning)."""
    from engine.backends.onnx_backend import OnnxBackend
    from engine.backends.torch_backend import TorchBackend

    gen = torch.Generator().manual_seed(0)
    probe = {
        n: torch.rand((2, *t.shape[1:]), generator=gen).numpy()
        for n, t in zip(graph.input_names, example, strict=True)  # type: ignore[arg-type]
    }
    want = TorchBackend(graph, device="cpu").run(probe)
    got = OnnxBackend(path, device="cpu").run(probe)
    return max(float((np.abs(want[k] - got[k]) / np.maximum(1.0, np.abs(want[k]))).max()) for k in want)


def _graphs(
    model: FoundationModel, out_dir: Path
) -> dict[str, tuple[nn.Module, Path, tuple[torch.Tensor, ...]]]:
    image, feats = dummy_inputs(model, batch=1)
    graphs = {"encoder": (EncoderGraph(model), out_dir / "encoder.onnx", (image,))}
    interactive = {spec.kind for spec in load_kinds() if spec.interactive}
    for n in model.head_names:
        if model.cfg.heads_by_name[n].kind in interactive:
            continue
        graphs[f"head_{n}"] = (HeadGraph(model, n), out_dir / f"head_{n}.onnx", (*feats, image))
    return graphs


def export_part(model: FoundationModel, part: str, out_dir: Path, opset: int = OPSET) -> Path:
    """Export one graph (``"encoder"`` or ``"head_<name>"``) to ``out_dir/<part>.onnx``, checked.

    Raises:
        ModelError: ONNX Runtime differs from torch by more than ``PARITY_TOLERANCE``
            (the file is removed then).
    """
    model = model.cpu().eval()
    graph, path, example = _graphs(model, out_dir)[part]
    export_graph(graph, path, example, opset)
    worst = parity(graph, path, example)
    if worst > PARITY_TOLERANCE:
        path.unlink()
        raise ModelError(path, f"ONNX export differs from torch by {worst:.2e} (> {PARITY_TOLERANCE:g})")
    return path


def export_model(
    model: FoundationModel, out_dir: str | Path, opset: int = OPSET, check: bool = True
) -> ExportResult:
    """Export the encoder and every head but the interactive ones, then compare ONNX Runtime
    with torch.

    Raises:
        ModelError: the parity check exceeds ``PARITY_TOLERANCE``.
    """
    out_dir = Path(out_dir)
    model = model.cpu().eval()
    graphs = _graphs(model, out_dir)
    worst = 0.0
    for graph, path, example in graphs.values():
        export_graph(graph, path, example, opset)
        if check:
            worst = max(worst, parity(graph, path, example))
    if worst > PARITY_TOLERANCE:
        raise ModelError(out_dir, f"ONNX export differs from torch by {worst:.2e} (> {PARITY_TOLERANCE:g})")
    return ExportResult(tuple(p for _, p, _ in graphs.values()), worst)
