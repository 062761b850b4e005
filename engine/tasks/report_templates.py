"""Report templates per exam: what a report is called and the measurements it lists first, in order.

A template is found by the exam's organ (``ExamResult.organ``: "left ventricle", "fetal head",
"breast", "abdominal organs", "carotid"), else by its view or body region; any other exam, and
a report without an exam, uses ``GENERIC``, which lists every result in task order. A template
names measurements by their ``report_text.canonical`` key, so "hc" is the landmarks' "HC" and the
regression head's "hc_mm" alike, and "lv cavity area" is segmentation's "mean lv_cavity area".

A measurement may be graded in words (``GRADES``): a report with a measured EF says whether
left ventricular systolic function is normal, mildly reduced or reduced, by the ESC 2021
heart-failure bands (EF >= 50 %, 41-49 %, <= 40 %; the simulator's own cut is 50 %), whatever
the template. The words come from the measurement alone: any decoder sentence about the same
thing is dropped, and without the measurement (no full cardiac cycle) nothing is graded.

A template's impression keeps no decoder sentence that names another kind of study
(``Template.names``): the decoder reads single frames and may call a breast frame an
"Echocardiogram"; the report's title comes from the exam, not from the decoder.

A template orders and titles; it does not decide what applies to the exam (the model card's
``exams`` does, through ``--tasks auto``). Results it does not name follow under "Other
results", so a run of every task (``--tasks all``) still shows all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


class ExamLike(Protocol):
    """What a template lookup reads of an exam (``engine.heads.kinds.exam.ExamResult``)."""

    unknown: bool
    path: tuple[str, ...]


@dataclass(frozen=True)
class Grade:
    """A measurement graded in words in the impression.

    Attributes:
        key: the measurement (canonical key, e.g. "ef").
        about: word sequences (lower case) of decoder sentences on the same thing, which the
            grade replaces (``("systolic", "function")``).
        sentence: the impression sentence for a value (no digits: every number of a report
            comes from a structured result).
    """

    key: str
    about: tuple[tuple[str, ...], ...]
    sentence: Callable[[float], str]


def lv_systolic_function(ef_percent: float) -> str:
    """The grade of left ventricular systolic function from EF (ESC 2021 bands)."""
    grade = "Normal" if ef_percent >= 50 else "Mildly reduced" if ef_percent > 40 else "Reduced"
    return f"{grade} left ventricular systolic function (graded from the measured ejection fraction)."


GRADES: tuple[Grade, ...] = (Grade("ef", (("systolic", "function"),), lv_systolic_function),)


@dataclass(frozen=True)
class Template:
    """A report's title and the measurements (canonical keys) it lists first, in order.

    Attributes:
        title: what the report is (its header's "Report:" line; the generic template has none).
        measurements: canonical keys in the order the findings list them; empty: task order.
        generic: the fallback (its findings are not split into the template's and the others).
        names: word sequences (lower case) by which report text names this kind of study; a
            decoder sentence naming another template's study is left out of this one's
            impression (an echocardiogram's words in a breast report). Empty: the title's words.
    """

    title: str
    measurements: tuple[str, ...] = ()
    generic: bool = False
    names: tuple[tuple[str, ...], ...] = ()

    def named_by(self) -> tuple[tuple[str, ...], ...]:
        """The word sequences naming this kind of study (``names``, else the title's words)."""
        return self.names or (tuple(self.title.lower().split()),)

    def foreign(self, templates: Iterable[Template]) -> list[tuple[str, ...]]:
        """The word sequences naming the other templates' studies ([] for the generic template)."""
        if self.generic:
            return []
        return [n for t in templates if t.title != self.title for n in t.named_by()]

    def order(self, keys: Iterable[str]) -> tuple[list[str], list[str]]:
        """(the template's keys present in ``keys``, in the template's order; the other keys, in
        the order given)."""
        keys = list(dict.fromkeys(keys))
        listed = [k for k in self.measurements if k in keys]
        return listed, [k for k in keys if k not in listed]


GENERIC = Template("Ultrasound", (), generic=True)

TEMPLATES: dict[str, Template] = {
    "left ventricle": Template(
        "Echocardiogram",
        (
            "ef",
            "lv length",
            "lv cavity area",
            "lv area",
            "lv myocardium area",
            "myocardium area",
            "mitral annulus",
            "apex angle",
        ),
    ),
    "fetal head": Template("Fetal biometry", ("hc", "bpd", "ofd", "cephalic index", "head area")),
    "breast": Template("Breast ultrasound", ("classification", "lesion area", "mass count", "lesion count")),
    "abdominal organs": Template(
        "Abdominal ultrasound",
        ("kidney count", "gallbladder count", "cyst count", "mass count", "kidney area", "gallbladder area"),
    ),
    "carotid": Template(
        "Carotid ultrasound",
        ("imt", "vessel area", "vessel count", "lumen diameter"),
        names=(("carotid", "ultrasound"), ("vascular", "ultrasound")),
    ),
}


def template_for(exam: ExamLike | None, templates: dict[str, Template] | None = None) -> Template:
    """The template of ``exam``: by organ, else view, else region; ``GENERIC`` for none or unknown."""
    table = TEMPLATES if templates is None else templates
    if exam is None or exam.unknown:
        return GENERIC
    path: Sequence[str] = exam.path
    for name in (path[1:2], path[2:3], path[0:1]):
        if name and name[0] in table:
            return table[name[0]]
    return GENERIC
