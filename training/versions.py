"""Model versions made by training: lineage, the better-than-parent gate, and side-by-side compare.

Every fine-tuning run stores a new immutable version in ``engine.model_store``. Its card holds:

* ``parent``: the version it started from (a version of the same name, else ``NAME@VERSION``);
* ``metrics``: figures on the frozen test split, ``test.<head>.<metric>``, plus the parent's
  figures on the *same* split as ``parent.<head>.<metric>`` (so the two are comparable);
* ``notes``: JSON ``{"lineage": {...}}`` with data and label hashes, label counts, the run
  config, the gate's verdict and whether the version was activated.

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

from training.metrics import primary

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
    parent: Any | None,
    test: Mapping[str, float],
    parent_test: Mapping[str, float] | None,
    verdict: Verdict,
    lineage: Mapping[str, Any],
    trained_on: str,
) -> Any:
    """Store ``model`` (a FoundationModel, LoRA already folded) as a new version; returns its card."""
    from engine import model_store
    from engine.model_card import ModelCard

    metrics = {f"test.{k}": float(v) for k, v in test.items() if not math.isnan(v)}
    metrics.update({f"parent.{k}": float(v) for k, v in (parent_test or {}).items() if not math.isnan(v)})
    parent_ref = None
    if parent is not None:
        parent_ref = parent.version if parent.name == model.cfg.name else f"{parent.name}@{parent.version}"
    notes = {
        "lineage": {**lineage, "gate": {"worse": list(verdict.worse), "reason": verdict.reason}},
        "activated": verdict.activate,
    }
    card = ModelCard.from_cfg(
        replace(model.cfg, version="", trained_on=trained_on),
        parent=parent_ref,
        metrics=metrics,
        source_sha256=str(lineage.get("data_sha256", "")),
        notes=json.dumps(notes, sort_keys=True),
    )
    return model_store.save_version(card, model.state_dict(), activate=verdict.activate)


def _lineage(card: Any) -> dict[str, Any]:
    try:
        return dict(json.loads(card.notes or "{}").get("lineage", {}))
    except (ValueError, AttributeError):
        return {}


def compare_rows(a: Any, b: Any) -> list[tuple[str, str, str]]:
    """Rows (field, A, B) comparing two cards: lineage, then every metric of either."""

    def fmt(v: Any) -> str:
        return "-" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))

    la, lb = _lineage(a), _lineage(b)
    rows = [
        ("version", f"{a.name}@{a.version}", f"{b.name}@{b.version}"),
        ("parent", fmt(a.parent), fmt(b.parent)),
        ("created", a.created, b.created),
        ("mode", fmt(la.get("mode")), fmt(lb.get("mode"))),
        ("heads", ",".join(h.name for h in a.heads), ",".join(h.name for h in b.heads)),
        ("data sha256", fmt(la.get("data_sha256", ""))[:12], fmt(lb.get("data_sha256", ""))[:12]),
        ("labels sha256", fmt(la.get("labels_sha256", ""))[:12], fmt(lb.get("labels_sha256", ""))[:12]),
        (
            "test split sha256",
            fmt(la.get("test_split_sha256", ""))[:12],
            fmt(lb.get("test_split_sha256", ""))[:12],
        ),
        ("label counts", json.dumps(la.get("label_counts", {})), json.dumps(lb.get("label_counts", {}))),
        ("gate", fmt(la.get("gate", {}).get("reason")), fmt(lb.get("gate", {}).get("reason"))),
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
    same = _lineage(a).get("test_split_sha256") == _lineage(b).get("test_split_sha256")
    if not same:
        lines.append("note: the two versions were tested on different test splits; compare with care")
    return "\n".join(lines)
