"""Report: structured findings filled from the other tasks, plus the text decoder's impression.

Every number in the report is formatted from a structured result (a ``Quantity``, class
probabilities, an ``EjectionFraction``); the decoder's words are kept only if they hold no
digit, so the text can never state a number the measurements do not.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from engine.config import ModelCfg
from engine.errors import TaskError
from engine.provenance import ModelRef
from engine.tasks.base import CineContext, FrameContext, make_info
from engine.types import ClassScores, EjectionFraction, Quantity, Report, TaskResult

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = range(4)
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']*|[^\sA-Za-z]")
ORDER = ("classification", "segmentation", "detection", "landmarks", "regression")
# units as the report prints them: superscripts, so the only digits in the text are values
DISPLAY_UNITS = {"mm2": "mm²", "px2": "px²", "px3": "px³", "cm2": "cm²", "cm3": "cm³", "deg": "°"}


def words(text: str) -> list[str]:
    """Report words without numbers (numbers come from the measuring tasks, not the decoder)."""
    return [w.lower() for w in _WORD.findall(text) if not any(c.isdigit() for c in w)]


def build_vocab(texts: Sequence[str]) -> tuple[str, ...]:
    """The report head's labels: the four special tokens then every word seen, sorted."""
    return SPECIALS + tuple(sorted({w for t in texts for w in words(t)} - set(SPECIALS)))


def encode_report(text: str, vocab: Sequence[str], max_len: int) -> np.ndarray:
    """Word ids ``[max_len]`` ending with ``<eos>`` and padded with ``<pad>``."""
    index = {w: i for i, w in enumerate(vocab)}
    ids = [*[index.get(w, UNK) for w in words(text)][: max_len - 1], EOS]
    return np.array(ids + [PAD] * (max_len - len(ids)), dtype=np.int64)


def fmt_quantity(q: Quantity) -> str:
    """``value unit`` with one decimal (counts as integers), flagged when uncalibrated."""
    if q.unit == "count":
        return f"{q.value:.0f}"
    text = f"{q.value:.1f} {DISPLAY_UNITS.get(q.unit, q.unit)}".rstrip()
    return text if q.calibrated else f"{text} (uncalibrated)"


def _classification(summary: Sequence[object]) -> list[tuple[str, str]]:
    return [
        ("Classification", ", ".join(f"{label} {p:.2f}" for label, p in s.top_k(2)))
        for s in summary
        if isinstance(s, ClassScores)
    ]


def _quantities(summary: Sequence[object]) -> list[tuple[str, str]]:
    return [(q.name, fmt_quantity(q)) for q in summary if isinstance(q, Quantity) and math.isfinite(q.value)]


def _ejection(summary: Sequence[object]) -> list[tuple[str, str]]:
    out = []
    for e in summary:
        if isinstance(e, EjectionFraction) and math.isfinite(e.ef_percent):
            frames = ", ".join(f"ED {d} / ES {s}" for d, s in zip(e.ed_frames, e.es_frames))
            out.append((f"Ejection fraction ({e.structure})", f"{e.ef_percent:.1f} % ({frames})"))
    return out


class ReportTask:
    """Decodes the report head's ``tokens`` ``[T]`` and writes the structured report."""

    def __init__(self, cfg: ModelCfg, ref: ModelRef) -> None:
        self.info = make_info(cfg, ref, "report", "Report", uses=ORDER)
        if self.info.labels[: len(SPECIALS)] != SPECIALS:
            raise TaskError(cfg.name, f"the report vocabulary must start with {', '.join(SPECIALS)}")

    def postprocess(self, outputs: Mapping[str, np.ndarray], ctx: FrameContext) -> str:
        """The impression sentence of one frame, digits-free."""
        words = []
        # backends may hand integer outputs back as floats
        for t in np.rint(outputs["tokens"]).astype(np.int64).tolist():
            if t == EOS:
                break
            word = self.info.labels[t] if 0 <= t < len(self.info.labels) else "<unk>"
            if word not in SPECIALS and not any(c.isdigit() for c in word):
                words.append(word)
        return " ".join(words)

    def summarize(
        self, frames: Sequence[str], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[Report, ...]:
        findings: list[tuple[str, str]] = []
        for name in ORDER:
            if name in others:
                summary = others[name].summary
                findings += _classification(summary) + _quantities(summary) + _ejection(summary)
        impression = Counter(frames).most_common(1)[0][0] if frames else ""
        lines = [f"Model: {self.info.model.label()}", f"Frames analysed: {len(cine.frames)}", "Findings:"]
        lines += [f"- {k}: {v}" for k, v in findings] or ["- none"]
        lines += ["Impression:", impression or "(none)"]
        return (Report("\n".join(lines) + "\n", tuple(findings), impression, self.info.model),)
