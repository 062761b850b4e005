"""Reduced-precision variants of exported graphs, and how far they move the outputs.

* int8 (CPU): ``onnxruntime.quantization.quantize_dynamic`` on MatMul and Gemm (weights int8,
  activations quantised per run). Convolutions stay fp32.
* fp16 (CUDA): ``onnxruntime.transformers.float16`` with float32 inputs and outputs kept. It
  only makes sense with onnxruntime-gpu; the CPU provider has few fp16 kernels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

QUANTIZED_OPS = ("MatMul", "Gemm")


def _atomic(dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    return dst.with_name(f".{dst.name}.{os.getpid()}.tmp")


def quantize_int8(src: str | Path, dst: str | Path) -> Path:
    """Write the dynamic-int8 version of ``src`` (MatMul/Gemm weights in int8) to ``dst``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst = Path(dst)
    tmp = _atomic(dst)
    quantize_dynamic(
        str(src),
        str(tmp),
        op_types_to_quantize=list(QUANTIZED_OPS),
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    tmp.replace(dst)
    return dst


def convert_fp16(src: str | Path, dst: str | Path) -> Path:
    """Write an fp16 version of ``src`` whose inputs and outputs stay float32."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    dst = Path(dst)
    tmp = _atomic(dst)
    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(tmp))
    tmp.replace(dst)
    return dst


def precision_path(fp32: Path, precision: str) -> Path:
    """The file of ``precision`` ("fp32", "int8", "fp16") next to the fp32 export, made on demand."""
    if precision == "fp32":
        return fp32
    dst = fp32.with_name(f"{fp32.stem}.{precision}.onnx")
    if not dst.is_file():
        (quantize_int8 if precision == "int8" else convert_fp16)(fp32, dst)
    return dst


def max_abs_diffs(reference: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> dict[str, float]:
    """Per output name, the largest absolute difference, and its size relative to the reference's range."""
    out: dict[str, float] = {}
    for name, ref in reference.items():
        diff = float(np.abs(other[name] - ref).max())
        out[name] = diff
        out[f"{name}_relative"] = diff / max(1e-12, float(np.abs(ref).max()))
    return out
