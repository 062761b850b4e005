"""Report prose: the text decoder's words made into sentences, each number slot filled or dropped.

The report head's vocabulary holds no digit, so where its training reports had a number it
writes the unit alone ("ejection fraction %", "volume . ml"), sometimes after what is left of
the number (its decimal point or minus sign). The decoder's words become prose in four steps:

1. Sentences. A full stop ends a sentence; a section heading ("findings :", "impression :")
   or a list bullet ("-" opening a sentence or after a colon) starts a new one. A "." or "-"
   right before a unit word is what is left of a number, not a full stop or a bullet.
2. Slots. An empty slot is a unit word (``UNIT_WORDS``) with no number before it, or a colon
   that ends its sentence ("structures detected :" once the count is gone).
3. Filling. A sentence is cut into clauses at its commas and semicolons. A clause with one
   slot is filled from the measurement it names (a ``Fillable``: its name or spelled-out name
   is in the clause and its unit is the slot's unit), with the number as the findings print it;
   any other clause with a slot is dropped, and a sentence whose first clause is dropped is
   dropped whole (what follows leans on it).
4. Writing. Words are joined with no space before punctuation and none inside brackets
   ("( x )" -> "(x)"), abbreviations and units take their usual case ("hc" -> "HC",
   "db" -> "dB"), and each sentence starts with a capital and ends with a full stop.

``report_problems(text)`` is the one rule a finished report is checked against (empty slots,
space before punctuation, a quantity stated twice in the findings); the report task writes
nothing it flags, and the tests scan reports with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# units a report writes after a number (lower case, as the decoder writes them)
UNIT_WORDS = frozenset(
    {"%", "ml", "mm", "cm", "bpm", "weeks", "week", "days", "db", "mm²", "cm²", "cm³", "ml/m²", "px",
     "px²", "px³", "°", "deg", "ms", "hz", "khz", "mhz", "cm/s", "m/s", "mmhg"}
)  # fmt: skip
HEADINGS = frozenset(
    {"findings", "impression", "conclusion", "comment", "comments", "indication", "technique"}
)
CLOSING = frozenset({",", ".", ";", ":", ")", "!", "?"})
CLAUSE_BREAKS = frozenset({",", ";"})
# the usual case of words the decoder writes in lower case
CASE = {"db": "dB", "ml": "mL", "mhz": "MHz", "khz": "kHz", "hz": "Hz", "mmhg": "mmHg", "hadlock": "Hadlock"}
# spelled-out names of common abbreviations (a measurement named "HC" is also "head circumference")
GLOSSARY = {
    "ef": "ejection fraction",
    "hc": "head circumference",
    "bpd": "biparietal diameter",
    "ofd": "occipitofrontal diameter",
    "ac": "abdominal circumference",
    "fl": "femur length",
    "crl": "crown rump length",
    "edv": "end-diastolic volume",
    "esv": "end-systolic volume",
    "hr": "heart rate",
    "imt": "intima media thickness",
}
_NUMBER = re.compile(r"^[-+−]?\d+(?:[.,]\d+)?$")
_TOKEN = re.compile(r"[-+−]?\d+(?:\.\d+)?|[A-Za-z][A-Za-z0-9_\-'/²³]*|[%°]|[^\sA-Za-z0-9]")
_UNIT_SUFFIX = re.compile(r"[ _](mm|cm|ml|mm2|cm2|pct|percent|bpm|deg|px|px2|px3)$")


def is_number(token: str) -> bool:
    """``"40.3"``, ``"-21"``: a token that states a number."""
    return bool(_NUMBER.match(token))


def canonical(name: str) -> str:
    """The quantity a name stands for, so two names of one quantity compare equal:
    ``"HC"``, ``"mean hc_mm"`` and ``"Head circumference"`` -> ``"hc"``; ``"Ejection fraction (lv)"``
    -> ``"ef"``; ``"mean lv_cavity area"`` -> ``"lv cavity area"``."""
    text = re.sub(r"\([^)]*\)", " ", name.lower())
    text = text.strip().removeprefix("mean ").strip()
    text = _UNIT_SUFFIX.sub("", text).replace("_", " ")
    text = " ".join(text.split())
    spelled = {v: k for k, v in GLOSSARY.items()}
    return spelled.get(text, text)


@dataclass(frozen=True)
class Fillable:
    """A number the prose may state.

    Attributes:
        names: word sequences naming it, lower case (``("ejection", "fraction")``, ``("ef",)``).
        unit: its unit as written after the number, lower case (``"%"``, ``"mm"``).
        text: the number as the findings print it (``"40.3"``).
    """

    names: tuple[tuple[str, ...], ...]
    unit: str
    text: str


def fillable(name: str, unit: str, text: str) -> Fillable:
    """A ``Fillable`` named ``name`` (and its glossary spelling), e.g. ``fillable("HC", "mm", "177.0")``."""
    key = canonical(name)
    names = {tuple(key.split()), tuple(re.sub(r"\([^)]*\)", " ", name.lower()).split())}
    if key in GLOSSARY:
        names.add(tuple(GLOSSARY[key].split()))
    return Fillable(tuple(sorted(n for n in names if n)), unit.lower(), text)


def sentences(words: Sequence[str]) -> list[list[str]]:
    """The decoder's words cut into sentences (step 1 of the module docstring), full stops removed."""
    out: list[list[str]] = []
    current: list[str] = []

    def close() -> None:
        nonlocal current
        if current:
            out.append(current)
        current = []

    skip = False
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        after = words[i + 1] if i + 1 < len(words) else ""
        if word in (".", "-") and after.lower() in UNIT_WORDS:
            continue  # what is left of a number: the unit after it is an empty slot
        if word.lower() in HEADINGS and after == ":":
            close()
            skip = True
        elif word in (".", "!", "?"):
            close()
        elif word == "-" and (not current or current[-1] == ":"):
            if current and current[-1] == ":":
                current.pop()
            close()
        else:
            current.append(word)
    close()
    return out


def empty_slots(tokens: Sequence[str]) -> list[int]:
    """Indices of the empty slots of one sentence's tokens: unit words with no number before them,
    and a colon that ends the sentence."""
    slots = [
        i
        for i, t in enumerate(tokens)
        if t.lower() in UNIT_WORDS and (i == 0 or not is_number(tokens[i - 1]))
    ]
    if tokens and tokens[-1] == ":":
        slots.append(len(tokens) - 1)
    return slots


def _clauses(tokens: Sequence[str]) -> list[list[str]]:
    """A sentence cut after each comma or semicolon (each clause keeps its closing mark)."""
    out: list[list[str]] = [[]]
    for t in tokens:
        out[-1].append(t)
        if t in CLAUSE_BREAKS:
            out.append([])
    return [c for c in out if c]


def _names(words: Sequence[str], name: Sequence[str]) -> bool:
    n = len(name)
    return any(tuple(words[i : i + n]) == tuple(name) for i in range(len(words) - n + 1))


def _fill(clause: list[str], fillables: Sequence[Fillable]) -> list[str] | None:
    """The clause with its slots filled, or None when one cannot be."""
    slots = empty_slots([t for t in clause if t not in CLAUSE_BREAKS])
    if not slots:
        return clause
    if len(slots) > 1:
        return None
    unit = clause[slots[0]].lower()
    lower = [t.lower() for t in clause]
    found = {f.text for f in fillables if f.unit == unit and any(_names(lower, n) for n in f.names)}
    if len(found) != 1:
        return None
    return [*clause[: slots[0]], found.pop(), *clause[slots[0] :]]


def resolve(sentence: Sequence[str], fillables: Sequence[Fillable]) -> list[str]:
    """One sentence with its slots filled, its unfillable clauses dropped ([] when its first is)."""
    kept: list[str] = []
    for k, clause in enumerate(_clauses(sentence)):
        filled = _fill(clause, fillables)
        if filled is None:
            if k == 0:
                return []
            continue
        kept += filled
    while kept and kept[-1] in CLAUSE_BREAKS:
        kept.pop()
    return kept


def detokenise(tokens: Sequence[str], case: Mapping[str, str] | None = None) -> str:
    """Tokens joined as prose: no space before closing punctuation or after "(", words in their
    usual case (``CASE`` and ``case``, keyed by lower case), the first letter a capital."""
    spellings = {**CASE, **(case or {})}
    text = ""
    for t in tokens:
        word = spellings.get(t.lower(), t)
        if text and not (word in CLOSING or text.endswith(("(", "/")) or word == "/"):
            text += " "
        text += word
    for i, c in enumerate(text):
        if c.isalpha():
            return text[:i] + c.upper() + text[i + 1 :]
    return text


def prose(
    words: Sequence[str],
    fillables: Sequence[Fillable] = (),
    case: Mapping[str, str] | None = None,
    drop: Sequence[Sequence[str]] = (),
    instead: Sequence[str] = (),
) -> str:
    """The decoder's words as finished sentences (module docstring), "" when none survives.

    Sentences naming any word sequence of ``drop`` (lower case) are left out, and the finished
    sentences ``instead`` take the place of the first of them (at the end when none was).
    """
    out: list[str] = []
    at = None
    for sentence in sentences(words):
        lower = [t.lower() for t in sentence]
        if any(_names(lower, d) for d in drop):
            at = len(out) if at is None else at
            continue
        kept = resolve(sentence, fillables)
        if any(t[:1].isalnum() for t in kept):
            out.append(detokenise(kept, case).rstrip(":") + ".")
    at = len(out) if at is None else at
    return " ".join([*out[:at], *instead, *out[at:]])


def tokens_of(line: str) -> list[str]:
    """A line of finished text as tokens: numbers, words (with their units' ² and ³), marks."""
    return _TOKEN.findall(line)


def finding_lines(text: str) -> list[tuple[str, str]]:
    """The ``- name: value`` lines of a report text as (name, value)."""
    out = []
    for line in text.splitlines():
        if line.startswith("- ") and ": " in line:
            name, value = line[2:].split(": ", 1)
            out.append((name, value))
    return out


def report_problems(text: str) -> list[str]:
    """What is wrong with a report text, one line per problem ([] for a good report).

    Checked: an empty slot (a unit word with no number before it, "( )", or a colon, comma or
    semicolon directly followed by another mark, as in "detected:." or ". mL ,"), a space before
    closing punctuation or after "(", a sentence starting with a mark, and one quantity stated
    by two findings lines (``canonical`` names: "HC" and "mean hc_mm").
    """
    problems = []
    for n, line in enumerate(text.splitlines(), 1):
        where = f"line {n} {line.strip()!r}"
        body = line[2:] if line.startswith("- ") else line
        tokens = tokens_of(body)
        for i in empty_slots(tokens):
            if tokens[i] != ":" or i != len(tokens) - 1 or line.startswith("- "):
                problems.append(f"{where}: empty slot before {tokens[i]!r}")
        if re.search(r"\s[,.;:)!?]", body) or "( " in body:
            problems.append(f"{where}: space before punctuation or inside brackets")
        if re.search(r"\(\s*\)|[:,;(]\s*[.,;:)]|(^|[.!?]\s)[,.;:]", body):
            problems.append(f"{where}: dangling punctuation")
    seen: dict[str, str] = {}
    for name, _ in finding_lines(text):
        key = canonical(name)
        if key in seen:
            problems.append(f"{name!r} and {seen[key]!r} state one quantity")
        seen.setdefault(key, name)
    return problems


def digit_free(words: Iterable[str]) -> list[str]:
    """Words holding no digit (what the decoder's vocabulary allows)."""
    return [w for w in words if not any(c.isdigit() for c in w)]
