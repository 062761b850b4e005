"""Model versions made by training: lineage, the better-than-parent gate, and side-by-side compare.

Every fine-tuning run stores a new immutable version in ``engine.model_store``. Its card holds:

* ``metrics``: figures on the frozen test split, ``test.<head>.<metric>``, plus the parent's
  figures on the *same* split as ``parent.<head>.<metric>`` (so the two are comparable);
* ``lineage`` (``engine.model_card.Lineage``): the version it started from (a version of the
  same name, else ``NAME@VERSION``), data and label hashes, label counts, the run config, the
  gate's verdict and whether the version was activated.

Gate: for each trained head, the primary metric (``training.metrics.primary``) must not be
worse than the parent's by more than ``TOLERANCE``; otherwise the version is flagged and, under
the default policy "if_better", stored but not activated.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine.model_card import Lineage, ModelCard

TOLERANCE = 1e-3


@dataclass(frozen=True)
class Verdict:
    """The gate's decision for a new version.

    Attributes:
        worse: heads whose primary metric is worse than the parent's on the frozen test split.
        activate: whether the version becomes the active one.
        reason: one line for logs and the UI.
    """

    worse: tuple[str, ...]
    activate: bool
    reason: str


def gate(
    test: Mapping[str, float], parent: Mapping[str, float] | None, heads: Sequence[str], policy: str
) -> Verdict:
    """Compare primary metrics of the new version and its parent (``{"<head>.<metric>": value}``)."""
    from training.metrics import primary  # imports torch

    worse = []
    details = []
    for head in heads:
        metric, higher = primary(head)
        key = f"{head}.{metric}"
        new, old = test.get(key, math.nan), (parent or {}).get(key, math.nan)
        if math.isnan(old) or math.isnan(new):
            continue
        delta = new - old if higher else old - new
        details.append(f"{key} {old:.4g} -> {new:.4g}")
        if delta < -TOLERANCE:
            worse.append(head)
    activate = {"always": True, "never": False}.get(policy, not worse)
    if worse:
        reason = f"worse than its parent on the frozen test split ({'; '.join(details)})"
    elif details:
        reason = f"not worse than its parent ({'; '.join(details)})"
    else:
        reason = "no parent figures on this split to compare with"
    return Verdict(tuple(worse), activate, reason)


def sha256_of(chunks: Sequence[bytes]) -> str:
    """One sha256 over several byte strings (length-prefixed, order-sensitive)."""
    h = hashlib.sha256()
    for c in chunks:
        h.update(len(c).to_bytes(8, "little"))
        h.update(c)
    return h.hexdigest()


def register_version(
    model: Any,
    *,
    parent: ModelCard | None,
    test: Mapping[str, float],
    parent_test: Mapping[str, float] | None,
    verdict: Verdict,
    lineage: Mapping[str, Any],
    trained_on: str,
) -> ModelCard:
    """Store ``model`` (a FoundationModel, LoRA already folded) as a new version; returns its card.

    Args:
        lineage: the run's data facts (``training.api.lineage_of``); the parent, the method and
            the gate's verdict are added here.
    """
    from engine import model_store

    metrics = {f"test.{k}": float(v) for k, v in test.items() if not math.isnan(v)}
    metrics.update({f"parent.{k}": float(v) for k, v in (parent_test or {}).items() if not math.isnan(v)})
    parent_ref = None
    if parent is not None:
        parent_ref = parent.version if parent.name == model.cfg.name else f"{parent.name}@{parent.version}"
    facts = Lineage.from_dict(lineage)
    card = ModelCard(
        replace(model.cfg, version="", trained_on=trained_on),
        lineage=replace(
            facts,
            parent=parent_ref,
            method="fine-tune",
            gate=verdict.reason,
            worse=verdict.worse,
            activated=verdict.activate,
        ),
        metrics=metrics,
        source_sha256=facts.data_sha256,
    )
    return model_store.save_version(card, model.state_dict(), activate=verdict.activate)


def compare_rows(a: ModelCard, b: ModelCard) -> list[tuple[str, str, str]]:
    """Rows (field, A, B) comparing two cards: lineage, then every metric of either."""

    def fmt(v: Any) -> str:
        return "-" if v is None or v == "" else (f"{v:.4f}" if isinstance(v, float) else str(v))

    la, lb = a.lineage, b.lineage
    rows = [
        ("version", f"{a.name}@{a.version}", f"{b.name}@{b.version}"),
        ("parent", fmt(la.parent), fmt(lb.parent)),
        ("created", a.created, b.created),
        ("mode", fmt(la.mode), fmt(lb.mode)),
        ("heads", ",".join(h.name for h in a.model.heads), ",".join(h.name for h in b.model.heads)),
        ("data sha256", la.data_sha256[:12], lb.data_sha256[:12]),
        ("labels sha256", la.labels_sha256[:12], lb.labels_sha256[:12]),
        ("test split sha256", la.test_split_sha256[:12], lb.test_split_sha256[:12]),
        ("label counts", json.dumps(dict(la.label_counts)), json.dumps(dict(lb.label_counts))),
        ("gate", fmt(la.gate), fmt(lb.gate)),
    ]
    for key in sorted(set(a.metrics) | set(b.metrics)):
        rows.append((key, fmt(a.metrics.get(key)), fmt(b.metrics.get(key))))
    return rows


def compare_text(ref_a: str, ref_b: str) -> str:
    """``echocare train compare A B``: two versions side by side as a text table.

    Raises:
        ModelError: a version does not exist.
    """
    from engine import model_store

    _, a = model_store.locate(ref_a)
    _, b = model_store.locate(ref_b)
    rows = compare_rows(a, b)
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{'':<{w0}}  {'A':<{w1}}  B"]
    lines += [f"{k:<{w0}}  {va:<{w1}}  {vb}" for k, va, vb in rows]
    if a.lineage.test_split_sha256 != b.lineage.test_split_sha256:
        lines.append("note: the two versions were tested on different test splits; compare with care")
    return "\n".join(lines)
