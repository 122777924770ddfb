"""Character-level recurrent language models (tanh RNN, LSTM, GRU) to set beside the scratch GPT.

Each model is an embedding, a stack of ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` layers and a linear head.
It has the same call signature as :class:`~citegraph.models.scratch.model.GPT` (``model(idx, targets)``
returns ``(logits, loss)``) and a ``config.block_size``, so the project's training-loop conventions and
:func:`~citegraph.models.scratch.evaluate.score_tokens` apply to it unchanged.

To compare architectures fairly the hidden width is chosen so the whole model has about as many
parameters as a given target (:func:`hidden_for_params`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

CellKind = Literal["rnn", "lstm", "gru"]
# Weight blocks per layer: a tanh RNN has one, a GRU three (reset, update, candidate), an LSTM four.
GATES: dict[str, int] = {"rnn": 1, "gru": 3, "lstm": 4}
CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


@dataclass
class RecurrentConfig:
    """Shape of a recurrent LM; ``block_size`` is only the training window (the model has no limit)."""

    vocab_size: int = 65
    kind: CellKind = "lstm"
    n_embd: int = 64
    n_hidden: int = 256
    n_layer: int = 1
    block_size: int = 64
    dropout: float = 0.0

    def __post_init__(self) -> None:
        """Reject unknown cell kinds early, with the allowed names in the message."""
        if self.kind not in GATES:
            raise ValueError(f"kind={self.kind!r}; expected one of {tuple(GATES)}")


class RecurrentLM(nn.Module):
    """Embedding -> recurrent stack -> linear head over the vocabulary."""

    def __init__(self, config: RecurrentConfig) -> None:
        """Build the layers described by ``config``."""
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.rnn = CELLS[config.kind](
            config.n_embd,
            config.n_hidden,
            num_layers=config.n_layer,
            batch_first=True,
            # nn.RNN's dropout acts between layers only; with one layer PyTorch warns, so pass 0 there.
            dropout=config.dropout if config.n_layer > 1 else 0.0,
        )
        self.lm_head = nn.Linear(config.n_hidden, config.vocab_size)

    def num_params(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, V) for ids ``idx`` (B, T); with ``targets`` also the mean cross-entropy.

        ``state`` (the recurrent state, zeros when None) lets a caller carry context across windows;
        training and evaluation here start each window from zeros, like the GPT's fixed context.
        """
        h, _ = self.rnn(self.tok_emb(idx), state)
        logits = self.lm_head(h)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.reshape(-1), ignore_index=-1)
        return logits, loss


def recurrent_params(kind: CellKind, vocab_size: int, n_embd: int, n_hidden: int, n_layer: int = 1) -> int:
    """Parameter count of a :class:`RecurrentLM`, in closed form (no model is built).

    Per layer and gate block: an input matrix, a recurrent matrix and PyTorch's two bias vectors.
    """
    gates = GATES[kind]
    total = vocab_size * n_embd  # embedding
    for layer in range(n_layer):
        inputs = n_embd if layer == 0 else n_hidden
        total += gates * (inputs * n_hidden + n_hidden * n_hidden + 2 * n_hidden)
    return total + n_hidden * vocab_size + vocab_size  # head with bias


def hidden_for_params(
    kind: CellKind, target: int, vocab_size: int, n_embd: int = 64, n_layer: int = 1
) -> int:
    """The hidden width whose model has the parameter count closest to ``target``.

    The count grows monotonically with the width, so a scan stops at the first width past the target.
    """
    if target <= 0:
        raise ValueError(f"target must be positive, got {target}")
    best, best_gap = 1, abs(recurrent_params(kind, vocab_size, n_embd, 1, n_layer) - target)
    hidden = 1
    while True:
        hidden += 1
        count = recurrent_params(kind, vocab_size, n_embd, hidden, n_layer)
        if abs(count - target) < best_gap:
            best, best_gap = hidden, abs(count - target)
        if count > target:
            return best
