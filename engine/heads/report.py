"""Report head: a small GRU text decoder over a word-level vocabulary, conditioned on pooled features.

The vocabulary is the head's labels in the model card; its first four words are the special
tokens ``SPECIALS``. Numbers never come from this decoder: the report task fills them from the
other tasks' structured outputs.

Outputs (inference): ``tokens`` ``[B, T]`` int64 greedy word ids, ``<eos>`` then ``<pad>`` after
the end. With ``tokens=`` (teacher forcing, training): ``logits`` ``[B, T, V]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as nnf

from engine.heads.base import FeatureSpec
from engine.layers.pooling import PooledFeatures

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = range(4)


class GruReportHead(nn.Module):
    """Pooled features -> initial GRU state -> greedy word decoding.

    Args:
        spec: the encoder's feature pyramid.
        vocab_size: V, the number of words including the four specials.
        levels: encoder levels pooled for the condition.
        hidden: GRU state size.
        embed: word embedding size.
        max_len: T, the longest sentence generated (words, ``<eos>`` included).
    """

    def __init__(
        self,
        spec: FeatureSpec,
        vocab_size: int,
        levels: Sequence[int] = (4,),
        hidden: int = 128,
        embed: int = 64,
        max_len: int = 24,
    ) -> None:
        super().__init__()
        if vocab_size <= len(SPECIALS):
            raise ValueError(f"a vocabulary needs words beyond the {len(SPECIALS)} special tokens")
        self.pool = PooledFeatures(spec.channels, levels)
        self.init = nn.Sequential(nn.LayerNorm(self.pool.dim), nn.Linear(self.pool.dim, hidden), nn.Tanh())
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=PAD)
        self.cell = nn.GRUCell(embed, hidden)
        self.out = nn.Linear(hidden, vocab_size)
        self.max_len = max_len

    def forward(
        self, feats: Sequence[torch.Tensor], image: torch.Tensor, tokens: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        del image
        state = self.init(self.pool(feats))
        if tokens is not None:
            return {"logits": self._teacher_forced(state, tokens)}
        return {"tokens": self._greedy(state)}

    def _teacher_forced(self, state: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, T, V]`` predicting ``tokens[:, t]`` from ``<bos>, tokens[:, :t]``."""
        bos = torch.full_like(tokens[:, :1], BOS)
        inputs = self.embed(torch.cat([bos, tokens[:, :-1]], 1))
        logits = []
        for t in range(tokens.shape[1]):
            state = self.cell(inputs[:, t], state)
            logits.append(self.out(state))
        return torch.stack(logits, 1)

    def _greedy(self, state: torch.Tensor) -> torch.Tensor:
        b = state.shape[0]
        word = torch.full((b,), BOS, dtype=torch.long, device=state.device)
        done = torch.zeros(b, dtype=torch.bool, device=state.device)
        words = []
        for _ in range(self.max_len):
            state = self.cell(self.embed(word), state)
            logits = self.out(state)
            logits[:, PAD] = float("-inf")
            logits[:, BOS] = float("-inf")
            word = torch.where(done, torch.full_like(word, PAD), logits.argmax(-1))
            words.append(word)
            done = done | (word == EOS)
        return torch.stack(words, 1)


class ReportLoss(nn.Module):
    """Token cross-entropy under teacher forcing; ``<pad>`` positions are ignored.

    Outputs must come from ``head(feats, image, tokens=target)`` (they hold ``logits``).
    Target: ``[B, T]`` int64 word ids ending with ``<eos>`` and padded with ``<pad>``.
    """

    def forward(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        logits = outputs["logits"]
        return nnf.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=PAD)
