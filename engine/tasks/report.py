"""Report: structured findings from the other tasks, laid out by the exam's template, plus the
text decoder's impression as sentences.

Every number in the report is formatted from a structured result (a ``Quantity``, class
probabilities, an ``EjectionFraction``, the exam); the decoder's words hold no digit, and a
sentence of theirs that had a number either gets it from the matching measurement or is left out
(``engine.tasks.report_text``), so the text never states a number the measurements do not, nor
shows an empty slot. A grade in words of a measurement (the left ventricle's systolic function)
comes from the measurement by its rule, never from the decoder
(``engine.tasks.report_templates.GRADES``).

The report's header names the model, the exam and who chose it (the model, or a person), what
the report is (the exam's template, ``engine.tasks.report_templates``) and the frames analysed.
The exam is ``others["exam"].summary[0]`` (an ``ExamResult``) when the exam ran or was set;
without one the generic template lists every result. An exam the model does not recognise (``unknown``) gets
a report that says only that no automatic findings were made, and why, in one line.

One number per quantity. Results naming one quantity (``report_text.canonical``: the landmarks'
"HC" and the regression head's "hc_mm" / "mean hc_mm"; "BPD" and "bpd_mm") give one findings line,
with its source and unit. The measured value is preferred: first a value measured on the image
(landmarks, segmentation, detection) that is finite and calibrated, then the regression head's
estimate when finite, then a measured value in pixels (flagged uncalibrated); NaN is never shown.

The ejection fraction is reported only from an ``EjectionFraction`` over a full cardiac cycle
(``engine.tasks.ejection``): without one its line says why it is not reported, and a regression
head's estimate of EF is never shown in its place.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.config import ModelCfg
from engine.errors import TaskError
from engine.heads.kinds.exam import ExamResult
from engine.provenance import ModelRef
from engine.tasks.base import CineContext, FrameContext, make_info
from engine.tasks.report_templates import GRADES, TEMPLATES, template_for
from engine.tasks.report_text import GLOSSARY, Fillable, canonical, fillable, prose
from engine.types import ClassScores, EjectionFraction, Quantity, Report, TaskResult

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = range(4)
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']*|[^\sA-Za-z]")
ORDER = ("classification", "segmentation", "detection", "landmarks", "regression")
# units as the report prints them: superscripts, so the only digits in the text are values
DISPLAY_UNITS = {"mm2": "mm²", "px2": "px²", "px3": "px³", "cm2": "cm²", "cm3": "cm³", "deg": "°"}
SOURCES = {"segmentation": "segmentation", "detection": "detection", "landmarks": "landmarks"}
REGRESSION_SOURCE = "regression head"
EF_KEYS = frozenset({"ef"})
NO_CYCLE = "the analysed frames hold no full cardiac cycle (end-diastole, end-systole, next end-diastole)"
NO_VENTRICLE = "no ventricle was segmented in the analysed frames"


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


def number_text(q: Quantity) -> str:
    """The number of ``q`` as the report prints it: one decimal, counts as integers."""
    return f"{q.value:.0f}" if q.unit == "count" else f"{q.value:.1f}"


@dataclass(frozen=True)
class Finding:
    """One findings line before the one-number rule picks among those of a quantity.

    Attributes:
        key: the quantity (``report_text.canonical``).
        name: as the line names it.
        value: the number with its unit and source, or why there is none.
        rank: lower is preferred among the findings of one key; None: never shown (NaN, or an
            estimate the cycle rule does not allow).
        measured: from a measurement on the image (not the regression head's estimate).
        fill: the number as the prose may state it (None: no number).
        number: the value itself (NaN: none), for a template's grade.
    """

    key: str
    name: str
    value: str
    rank: int | None
    measured: bool = True
    fill: Fillable | None = None
    number: float = math.nan


def _classification(s: ClassScores) -> Finding:
    text = ", ".join(f"{label} {p:.2f}" for label, p in s.top_k(2))
    return Finding("classification", "Classification", text, 0)


def _quantity(q: Quantity, task: str, cycle_keys: frozenset[str]) -> Finding:
    key = canonical(q.name)
    measured = task != "regression"
    if not math.isfinite(q.value) or (not measured and key in cycle_keys):
        return Finding(key, q.name, "", None, measured)
    unit = "" if q.unit == "count" else DISPLAY_UNITS.get(q.unit, q.unit)
    source = SOURCES.get(task, task) if measured else REGRESSION_SOURCE
    notes = ", ".join([source] + ([] if q.calibrated else ["uncalibrated"]))
    value = f"{number_text(q)} {unit}".rstrip() + f" ({notes})"
    rank = (0 if q.calibrated else 2) if measured else 1
    fill = fillable(q.name, unit, number_text(q)) if unit else None
    return Finding(key, q.name, value, rank, measured, fill, q.value)


def _ejection(e: EjectionFraction, key: str) -> Finding:
    name = f"Ejection fraction ({e.structure})"
    if not math.isfinite(e.ef_percent):
        why = NO_VENTRICLE if not (np.asarray(e.volumes) > 0).any() else NO_CYCLE
        return Finding(key, name, f"not reported: {why}", -1)
    beats = ", ".join(f"ED {d} / ES {s}" for d, s in zip(e.ed_frames, e.es_frames))
    value = f"{e.ef_percent:.1f} % (segmentation, {beats})"
    return Finding(key, name, value, -1, fill=fillable(key, "%", f"{e.ef_percent:.1f}"), number=e.ef_percent)


def one_per_quantity(found: Sequence[Finding], cycle_keys: frozenset[str] = EF_KEYS) -> dict[str, Finding]:
    """The finding shown for each quantity (module docstring), keyed in first-seen order; an EF
    (``cycle_keys``) with only the regression head's estimates says why it is not reported."""
    groups: dict[str, list[Finding]] = {}
    for f in found:
        groups.setdefault(f.key, []).append(f)
    shown: dict[str, Finding] = {}
    for key, group in groups.items():
        candidates = [f for f in group if f.rank is not None]
        if candidates:
            best = min(candidates, key=lambda f: f.rank if f.rank is not None else 0)
            named = next((f.name for f in group if f.measured), best.name)
            shown[key] = Finding(key, named, best.value, best.rank, best.measured, best.fill, best.number)
        elif key in cycle_keys and any(not f.measured for f in group):
            shown[key] = Finding(key, "Ejection fraction", f"not reported: {NO_CYCLE}", -1)
    return shown


def _exam_of(others: Mapping[str, TaskResult]) -> ExamResult | None:
    result = others.get("exam")
    return next((s for s in result.summary if isinstance(s, ExamResult)), None) if result else None


def exam_line(exam: ExamResult | None, has_exam_head: bool) -> str:
    """The header's exam line: the exam and who chose it."""
    if exam is None:
        return "Exam: not determined" + (" (the model has no exam head)" if not has_exam_head else "")
    if exam.source == "user":
        by = "set by the user"
    else:
        by = "not recognised by the model" if exam.unknown else "recognised by the model"
    return f"Exam: {exam.label()} ({by})"


def no_findings_line(exam: ExamResult) -> str:
    """The one line of an unknown exam's report."""
    if exam.source == "user":
        why = "the exam was set to unknown by the user"
    else:
        why = "the exam was not recognised" + (f" ({exam.reason})" if exam.reason else "")
    return f"No automatic findings were made: {why}."


class ReportTask:
    """Decodes the report head's ``tokens`` ``[T]`` and writes the structured report."""

    def __init__(self, cfg: ModelCfg, ref: ModelRef) -> None:
        self.info = make_info(cfg, ref, "report", "Report", uses=ORDER)
        if self.info.labels[: len(SPECIALS)] != SPECIALS:
            raise TaskError(cfg.name, f"the report vocabulary must start with {', '.join(SPECIALS)}")
        self.has_exam_head = "exam" in cfg.heads_by_name
        ef = [m for m in cfg.measurements if m.get("kind") == "ejection_fraction"]
        self.ef_key = canonical(str(ef[0].get("name", "EF"))) if ef else "ef"
        self.cycle_keys = EF_KEYS | {self.ef_key}
        names = [str(m.get("name", "")) for m in cfg.measurements]
        names += [label for head in cfg.heads if head.kind != "report" for label in head.labels]
        self.case = {k: k.upper() for k in GLOSSARY}
        self.case |= {w.lower(): w for n in names for w in n.split() if w != w.lower() and w.isalpha()}

    def postprocess(self, outputs: Mapping[str, np.ndarray], ctx: FrameContext) -> str:
        """The impression words of one frame, digits-free."""
        found = []
        # backends may hand integer outputs back as floats
        for t in np.rint(outputs["tokens"]).astype(np.int64).tolist():
            if t == EOS:
                break
            word = self.info.labels[t] if 0 <= t < len(self.info.labels) else "<unk>"
            if word not in SPECIALS and not any(c.isdigit() for c in word):
                found.append(word)
        return " ".join(found)

    def findings(self, others: Mapping[str, TaskResult]) -> dict[str, Finding]:
        """One finding per quantity from the other tasks' cine-level results, in task order."""
        found: list[Finding] = []
        for name in ORDER:
            for s in others[name].summary if name in others else ():
                if isinstance(s, ClassScores):
                    found.append(_classification(s))
                elif isinstance(s, Quantity):
                    found.append(_quantity(s, name, self.cycle_keys))
                elif isinstance(s, EjectionFraction):
                    found.append(_ejection(s, self.ef_key))
        return one_per_quantity(found, self.cycle_keys)

    def summarize(
        self, frames: Sequence[str], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[Report, ...]:
        exam = _exam_of(others)
        template = template_for(exam)
        header = [f"Model: {self.info.model.label()}", exam_line(exam, self.has_exam_head)]
        if exam is not None and exam.unknown:
            return (Report("\n".join([*header, no_findings_line(exam)]) + "\n", (), "", self.info.model),)
        header += [] if template.generic else [f"Report: {template.title}"]
        shown = self.findings(others)
        listed, rest = template.order(shown)
        said = Counter(frames).most_common(1)[0][0].split() if frames else []
        fills = [f.fill for f in shown.values() if f.fill is not None]
        about = [words for g in GRADES for words in g.about] + template.foreign(TEMPLATES.values())
        graded = [
            g.sentence(shown[g.key].number)
            for g in GRADES
            if g.key in shown and math.isfinite(shown[g.key].number)
        ]
        impression = prose(said, fills, self.case, about, graded)
        if not listed:  # the generic template, or none of the template's measurements: one list
            listed, rest = rest, []
        lines = [*header, f"Frames analysed: {len(cine.frames)}", "Findings:"]
        lines += [f"- {shown[k].name}: {shown[k].value}" for k in listed] or ["- none"]
        if rest:
            lines += ["Other results:", *(f"- {shown[k].name}: {shown[k].value}" for k in rest)]
        lines += ["Impression:", impression or "(none)"]
        findings = tuple((shown[k].name, shown[k].value) for k in [*listed, *rest])
        digit_free = prose(said, (), self.case, about, graded)
        return (Report("\n".join(lines) + "\n", findings, digit_free, self.info.model),)
