"""Held-out evaluation: mean cross-entropy and perplexity of a model on a token stream or text files."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from citegraph.models.scratch.model import GPT


@dataclass
class LMScore:
    tokens: int  # number of scored (predicted) tokens
    loss: float  # mean cross-entropy, nats per token
    bytes: int | None = None  # UTF-8 bytes of the scored text, when known

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss)

    @property
    def bits_per_byte(self) -> float | None:
        """Tokenizer-independent: compares a char model with a BPE model on the same text."""
        if not self.bytes:
            return None
        return self.loss * self.tokens / math.log(2) / self.bytes

    def to_dict(self) -> dict:
        return {
            "tokens": self.tokens,
            "loss": self.loss,
            "perplexity": self.perplexity,
            "bits_per_byte": self.bits_per_byte,
        }


@torch.no_grad()
def score_tokens(
    model: GPT, ids: np.ndarray | list[int], stride: int | None = None, batch_size: int = 16
) -> LMScore:
    """Mean next-token loss over ``ids`` with windows of ``block_size`` tokens.

    With ``stride == block_size`` (the default) windows do not overlap and each token is predicted from
    0..block_size-1 tokens of context, as in training. A smaller stride scores only the last ``stride``
    tokens of each window, so every prediction has at least ``block_size - stride`` tokens of context
    (lower, "sliding window" perplexity, at block_size/stride times the cost).
    """
    block = model.config.block_size
    stride = stride or block
    if not 0 < stride <= block:
        raise ValueError(f"stride must be in 1..{block}")
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    if ids.numel() < 2:
        raise ValueError("need at least two tokens to score")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    # (input start, first scored position within the window) for every window.
    windows: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + block, ids.numel() - 1)
        first_scored = 0 if start == 0 else block - stride
        windows.append((start, first_scored))
        if end >= ids.numel() - 1:
            break
        start += stride
    total, count = 0.0, 0
    for b in range(0, len(windows), batch_size):
        group = windows[b : b + batch_size]
        # Only the very last window can be shorter than the block; it is scored on its own.
        full = [w for w in group if w[0] + block + 1 <= ids.numel()]
        batches = [full] if full else []
        batches += [[w] for w in group if w not in full]
        for chunk in batches:
            length = min(block, ids.numel() - 1 - chunk[0][0])
            x = torch.stack([ids[s : s + length] for s, _ in chunk]).to(device)
            y = torch.stack([ids[s + 1 : s + length + 1] for s, _ in chunk]).to(device)
            logits, _ = model(x, y)
            losses = torch.nn.functional.cross_entropy(
                logits.flatten(0, 1).float(), y.flatten(), reduction="none"
            ).view(len(chunk), length)
            for row, (_, first) in enumerate(chunk):
                total += losses[row, first:].sum().item()
                count += losses[row, first:].numel()
    model.train(was_training)
    return LMScore(tokens=count, loss=total / count)


def score_text(model: GPT, tokenizer, texts: list[str], stride: int | None = None) -> LMScore:
    """Score raw text files' contents (each encoded on its own, scores pooled)."""
    total, count, nbytes = 0.0, 0, 0
    for text in texts:
        ids = tokenizer.encode(text)
        if len(ids) < 2:
            continue
        s = score_tokens(model, ids, stride)
        total += s.loss * s.tokens
        count += s.tokens
        nbytes += len(text.encode("utf-8"))
    if count == 0:
        raise ValueError("the evaluation text is too short to score")
    return LMScore(tokens=count, loss=total / count, bytes=nbytes)


def load_text_files(files: list[Path]) -> list[str]:
    from citegraph.models.scratch.data import read_texts

    return read_texts(files)
