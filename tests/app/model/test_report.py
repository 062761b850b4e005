"""The report's numbers are read from the annotations; the words are the person's own."""

from __future__ import annotations

from app.model import commands
from app.model.annotations import Annotation, Review
from app.model.document import Document
from app.model.report import NUMBERS_HEADER, linked_numbers, report_text
from engine.provenance import ModelRef

MODEL = ModelRef("echocare-demo", "1")


def test_numbers_follow_the_annotations_and_the_words_are_kept(cine, mm_per_px):
    doc = Document(cine)
    assert report_text(doc) == f"{NUMBERS_HEADER}\n- none\n"
    doc.apply(commands.set_study_value(doc, "report", "Normal size."))
    cls = Annotation("class", value="A4C", scores=(("A4C", 0.8), ("PLAX", 0.2)))
    ef = Annotation("value", value=55.0, name="EF (%)")
    doc.apply(commands.apply_prediction(doc, MODEL, [cls, ef, Annotation("frame_mark", 2, value="ED")]))
    line = Annotation("distance", 3, 0, ((10, 10), (10, 30)))
    doc.apply(commands.add(line))
    assert linked_numbers(doc) == [
        ("Class", "A4C (p 0.80) (AI draft)"),
        ("EF (%)", "55.0 (ED 2) (AI draft)"),
        ("distance, frame 3", f"{20 * mm_per_px:.1f} mm"),
    ]
    doc.apply(commands.update(line, line.moved_to(((10, 10), (10, 50)))))
    (ef_draft,) = doc.of_kind("value")
    doc.apply(commands.review(doc, [ef_draft.id], Review.REJECTED))
    text = report_text(doc, "Model: echocare-demo v1 · demo model, not for clinical use")
    assert text == (
        "Model: echocare-demo v1 · demo model, not for clinical use\n\n"
        f"{NUMBERS_HEADER}\n- Class: A4C (p 0.80) (AI draft)\n"
        f"- distance, frame 3: {40 * mm_per_px:.1f} mm\n\n"
        "Normal size.\n"
    )


def test_a_caliper_across_regions_says_why_it_has_no_number(cine):
    doc = Document(cine)
    doc.apply(commands.add(Annotation("distance", 0, 0, ((10, 10), (150, 10)))))
    ((name, text),) = linked_numbers(doc)
    assert name == "distance, frame 0" and text.startswith("not measurable (the points lie in different")
