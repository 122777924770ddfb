"""Two transformer shapes beside the decoder-only GPT: an encoder-only masked LM and an encoder-decoder.

- :class:`MaskedLM` is BERT's recipe at toy size: bidirectional self-attention over characters, 15% of
  positions chosen, of those 80% replaced by ``[MASK]``, 10% by a random character, 10% left as they are,
  and the loss taken on the chosen positions only (:func:`mask_tokens`).
- :class:`EncoderDecoder` is the original "Attention Is All You Need" layout: the encoder reads the
  source, each decoder layer runs causal self-attention, then cross-attention over the encoder output,
  then the MLP. The task, ``reverse_line``, is made from tiny shakespeare itself: the target is the
  source line with its characters in reverse order (:func:`reverse_line_pairs`). Reversal cannot be
  solved without looking at the source at the mirrored position, so the decoder's cross-attention
  (:func:`cross_attention`) should form an anti-diagonal when the model has learned it.

Both reuse the GPT's building blocks: RMSNorm, SwiGLU MLP and rotary positions (RoPE) in every
self-attention, plus a learned absolute position embedding (see :class:`Embedder`). Attention is written
out (no fused kernel) so its weights can be kept; at these sizes that costs little.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from citegraph.models.scratch.model import MLP, GPTConfig, apply_rope, make_norm, rope_tables

TASK_NAME = "reverse_line"
SEQ2SEQ_FILE = "seq2seq.pt"  # what save_encoder_decoder writes into a directory


@dataclass
class TransformerConfig:
    """Shape of the masked LM or the encoder-decoder (which gets ``n_layer`` layers on each side)."""

    vocab_size: int = 68
    block_size: int = 64  # longest sequence (rows of the position embedding)
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    rope: bool = True  # rotary positions in self-attention (cross-attention never rotates, see Attention)

    def block_config(self) -> GPTConfig:
        """The GPT config the shared building blocks (norm, MLP) are built from."""
        return GPTConfig(
            vocab_size=self.vocab_size,
            block_size=self.block_size,
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
            dropout=self.dropout,
            pos="learned",
        )


class Attention(nn.Module):
    """Multi-head attention of ``x`` over ``context`` (itself for self-attention, the encoder output for
    cross-attention), with an optional causal mask and a key padding mask.

    ``rope`` rotates queries and keys by their positions, so scores depend on the distance between them.
    Only self-attention gets it: in cross-attention query and key positions count different sequences,
    and their difference means nothing.
    """

    def __init__(self, n_embd: int, n_head: int) -> None:
        """Separate query and key/value projections, so the keys may come from another sequence."""
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} is not a multiple of n_head={n_head}")
        self.n_head, self.head_dim = n_head, n_embd // n_head
        self.q = nn.Linear(n_embd, n_embd, bias=False)
        self.kv = nn.Linear(n_embd, 2 * n_embd, bias=False)
        self.proj = nn.Linear(n_embd, n_embd, bias=False)
        self.keep_attention = False  # set to leave the softmax weights (B, H, T, S) in ``self.attention``
        self.attention: torch.Tensor | None = None

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        causal: bool = False,
        key_padding: torch.Tensor | None = None,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Attend from ``x`` (B, T, C) to ``context`` (B, S, C); ``key_padding`` (B, S) is True at pads."""
        context = x if context is None else context
        B, T, C = x.shape
        S = context.size(1)
        q = self.q(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        k, v = self.kv(context).split(C, dim=2)
        k = k.view(B, S, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, S, D)
        v = v.view(B, S, self.n_head, self.head_dim).transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        blocked = torch.zeros(T, S, dtype=torch.bool, device=x.device)
        if causal:
            blocked = ~torch.ones(T, S, dtype=torch.bool, device=x.device).tril()
        blocked = blocked.expand(B, 1, T, S)
        if key_padding is not None:
            blocked = blocked | key_padding[:, None, None, :]
        weights = scores.masked_fill(blocked, float("-inf")).softmax(dim=-1)
        if self.keep_attention:
            self.attention = weights.detach()
        y = (weights @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class EncoderLayer(nn.Module):
    """Pre-norm block with bidirectional self-attention: every position sees every other."""

    def __init__(self, config: TransformerConfig) -> None:
        """Norms, attention and MLP as in the GPT's block, minus the causal mask."""
        super().__init__()
        block = config.block_config()
        self.norm1, self.norm2 = make_norm(block), make_norm(block)
        self.attn = Attention(config.n_embd, config.n_head)
        self.mlp = MLP(block)

    def forward(
        self,
        x: torch.Tensor,
        key_padding: torch.Tensor | None,
        rope: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> torch.Tensor:
        """x + attn(norm(x)), then x + mlp(norm(x)); padded keys are never attended to."""
        x = x + self.attn(self.norm1(x), key_padding=key_padding, rope=rope)
        return x + self.mlp(self.norm2(x))


class DecoderLayer(nn.Module):
    """Causal self-attention, then cross-attention over the encoder output, then the MLP."""

    def __init__(self, config: TransformerConfig) -> None:
        """Three pre-norm sub-layers, each with its own norm."""
        super().__init__()
        block = config.block_config()
        self.norm1, self.norm2, self.norm3 = make_norm(block), make_norm(block), make_norm(block)
        self.self_attn = Attention(config.n_embd, config.n_head)
        self.cross_attn = Attention(config.n_embd, config.n_head)
        self.mlp = MLP(block)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        memory_padding: torch.Tensor | None,
        rope: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> torch.Tensor:
        """Decode ``x`` (B, T, C) against the encoded source ``memory`` (B, S, C)."""
        x = x + self.self_attn(self.norm1(x), causal=True, rope=rope)
        x = x + self.cross_attn(self.norm2(x), memory, key_padding=memory_padding)
        return x + self.mlp(self.norm3(x))


class Embedder(nn.Module):
    """Token embedding plus a learned position embedding; also holds the RoPE tables for self-attention.

    Learned rather than the fixed sinusoidal table: with GPT-2's N(0, 0.02) token init, a table of
    unit-size sines swamps the token signal. Absolute positions alone were not enough either: with them
    the benchmark's masked LM reached only 3.08 nats after 600 steps (the unigram entropy is 3.31),
    against 1.77 with RoPE, because "look at the neighbour" has to be learned separately for every
    absolute position; RoPE makes it one pattern. The absolute
    embedding stays for cross-attention, where the decoder must find a source position by index.
    """

    def __init__(self, config: TransformerConfig) -> None:
        """Token and position embedding matrices."""
        super().__init__()
        self.block_size = config.block_size
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.use_rope = config.rope
        cos, sin = rope_tables(config.n_embd // config.n_head, config.block_size, 10000.0)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def rope(self, length: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """RoPE tables for the first ``length`` positions, or None when the config turns RoPE off."""
        return (self.rope_cos[:length], self.rope_sin[:length]) if self.use_rope else None

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, T, C) vectors."""
        if idx.size(1) > self.block_size:
            raise ValueError(f"sequence of {idx.size(1)} tokens exceeds block_size={self.block_size}")
        return self.tok_emb(idx) + self.pos_emb(torch.arange(idx.size(1), device=idx.device))


def _init_weights(module: nn.Module) -> None:
    """GPT-2's N(0, 0.02) init for every linear and embedding weight (the GPT uses the same)."""
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


def num_params(model: nn.Module) -> int:
    """Trainable parameters (a tied head is counted once)."""
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------------
# Encoder-only: masked language model


class MaskedLM(nn.Module):
    """Bidirectional encoder over characters with a tied head; the last vocabulary id is ``[MASK]``."""

    def __init__(self, config: TransformerConfig) -> None:
        """Embedder, encoder layers, final norm and the head tied to the embedding."""
        super().__init__()
        self.config = config
        self.mask_id = config.vocab_size - 1
        self.embed = Embedder(config)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_layer))
        self.norm_f = make_norm(config.block_config())
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.apply(_init_weights)
        self.lm_head.weight = self.embed.tok_emb.weight  # tied, as in the GPT

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, V); with ``targets`` (-1 where not scored) also the masked-LM loss."""
        x, rope = self.embed(idx), self.embed.rope(idx.size(1))
        for layer in self.layers:
            x = layer(x, None, rope)
        logits = self.lm_head(self.norm_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.reshape(-1), ignore_index=-1)
        return logits, loss


def mask_tokens(
    ids: torch.Tensor, mask_id: int, n_chars: int, generator: torch.Generator, rate: float = 0.15
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption of ``ids`` (B, T): (inputs, targets), targets -1 at positions not chosen.

    Of the chosen positions 80% become ``mask_id``, 10% a random character (ids below ``n_chars``) and
    10% stay: the model cannot tell which visible characters are genuine, so it must model them all.
    At least one position per row is chosen, so every batch has a loss.
    """
    chosen = torch.rand(ids.shape, generator=generator) < rate
    chosen[torch.arange(ids.size(0)), torch.randint(ids.size(1), (ids.size(0),), generator=generator)] = True
    targets = torch.where(chosen, ids, torch.full_like(ids, -1))
    roll = torch.rand(ids.shape, generator=generator)
    random_chars = torch.randint(n_chars, ids.shape, generator=generator)
    inputs = torch.where(chosen & (roll < 0.8), torch.full_like(ids, mask_id), ids)
    inputs = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_chars, inputs)
    return inputs, targets


# ----------------------------------------------------------------------------------------------------
# Encoder-decoder: the reverse_line task

PAD, BOS, EOS = 0, 1, 2
N_SPECIAL = 3  # character ids start after the three specials


def reverse_line_pairs(text: str, max_len: int = 32) -> list[tuple[str, str]]:
    """(line, line reversed) for each non-empty line of ``text`` with at most ``max_len`` characters."""
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if 0 < len(line) <= max_len:
            pairs.append((line, line[::-1]))
    return pairs


def collate(
    pairs: list[tuple[str, str]], stoi: dict[str, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad a batch: source ids, decoder input (BOS + target) and decoder targets (target + EOS).

    ``stoi`` maps a character to its id (already offset past the specials); padding is ``PAD`` everywhere
    and the loss ignores it.
    """
    src = [[stoi[c] for c in s] for s, _ in pairs]
    tgt = [[stoi[c] for c in t] for _, t in pairs]
    S, T = max(map(len, src)), max(map(len, tgt)) + 1
    src_t = torch.full((len(pairs), S), PAD, dtype=torch.long)
    tgt_in = torch.full((len(pairs), T), PAD, dtype=torch.long)
    tgt_out = torch.full((len(pairs), T), PAD, dtype=torch.long)
    for i, (s, t) in enumerate(zip(src, tgt, strict=True)):
        src_t[i, : len(s)] = torch.tensor(s)
        tgt_in[i, : len(t) + 1] = torch.tensor([BOS, *t])
        tgt_out[i, : len(t) + 1] = torch.tensor([*t, EOS])
    return src_t, tgt_in, tgt_out


def char_vocab(chars: str | list[str]) -> dict[str, int]:
    """Character -> id for the encoder-decoder, offset past PAD/BOS/EOS."""
    return {c: i + N_SPECIAL for i, c in enumerate(sorted(set(chars)))}


class EncoderDecoder(nn.Module):
    """Encoder over the source, decoder with cross-attention; one embedding shared by both and the head."""

    def __init__(self, config: TransformerConfig) -> None:
        """``config.n_layer`` encoder layers and as many decoder layers."""
        super().__init__()
        self.config = config
        self.embed = Embedder(config)
        self.encoder = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_layer))
        self.decoder = nn.ModuleList(DecoderLayer(config) for _ in range(config.n_layer))
        block = config.block_config()
        self.norm_enc, self.norm_dec = make_norm(block), make_norm(block)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.apply(_init_weights)
        self.lm_head.weight = self.embed.tok_emb.weight

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder output (B, S, C) and the source padding mask (B, S)."""
        padding = src == PAD
        x, rope = self.embed(src), self.embed.rope(src.size(1))
        for layer in self.encoder:
            x = layer(x, padding, rope)
        return self.norm_enc(x), padding

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        """Next-token logits (B, T, V) for the decoder inputs given the encoded source."""
        x, rope = self.embed(tgt_in), self.embed.rope(tgt_in.size(1))
        for layer in self.decoder:
            x = layer(x, memory, padding, rope)
        return self.lm_head(self.norm_dec(x))

    def forward(
        self, src: torch.Tensor, tgt_in: torch.Tensor, tgt_out: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced logits; with ``tgt_out`` also the mean loss over non-pad target positions."""
        logits = self.decode(tgt_in, *self.encode(src))
        if tgt_out is None:
            return logits, None
        loss = F.cross_entropy(logits.flatten(0, 1).float(), tgt_out.reshape(-1), ignore_index=PAD)
        return logits, loss

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, max_new: int) -> list[list[int]]:
        """Greedy decoding of a padded source batch; each output stops before its first EOS.

        Without a KV cache the decoder reruns over the whole prefix each step; the sequences are short.
        """
        memory, padding = self.encode(src)
        out = torch.full((src.size(0), 1), BOS, dtype=torch.long, device=src.device)
        done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
        for _ in range(min(max_new, self.config.block_size - 1)):
            nxt = self.decode(out, memory, padding)[:, -1].argmax(dim=-1)
            out = torch.cat([out, nxt[:, None]], dim=1)
            done |= nxt == EOS
            if done.all():
                break
        results = []
        for row in out[:, 1:].tolist():
            results.append(row[: row.index(EOS)] if EOS in row else row)
        return results


@torch.no_grad()
def exact_match(
    model: EncoderDecoder, pairs: list[tuple[str, str]], stoi: dict[str, int], batch_size: int = 64
) -> float:
    """Share of ``pairs`` whose greedy decoding equals the target exactly."""
    was_training = model.training
    model.eval()
    itos = {i: c for c, i in stoi.items()}
    hits = 0
    for b in range(0, len(pairs), batch_size):
        group = pairs[b : b + batch_size]
        src, _, _ = collate(group, stoi)
        outputs = model.greedy(src, max_new=max(len(t) for _, t in group) + 2)
        for ids, (_, target) in zip(outputs, group, strict=True):
            hits += "".join(itos.get(i, "?") for i in ids) == target
    model.train(was_training)
    return hits / len(pairs)


@torch.no_grad()
def cross_attention_weights(
    model: EncoderDecoder, source: str, stoi: dict[str, int]
) -> tuple[torch.Tensor, str]:
    """Every decoder layer's cross-attention for one source string, and the greedy output.

    Returns weights (layers, heads, T, S): row t is how strongly the step that produced output character t
    (the last row: EOS) attended to each source character. Each row sums to 1. The model is left as it was.
    """
    unknown = sorted({c for c in source if c not in stoi})
    if not source or unknown:
        raise ValueError(f"the source must be non-empty and use the model's characters; unknown: {unknown}")
    if len(source) > model.config.block_size:
        raise ValueError(f"source of {len(source)} characters exceeds block_size={model.config.block_size}")
    was_training = model.training
    model.eval()
    itos = {i: c for c, i in stoi.items()}
    src = torch.tensor([[stoi[c] for c in source]], device=model.embed.tok_emb.weight.device)
    out = model.greedy(src, max_new=len(source) + 2)[0]
    layers = [layer.cross_attn for layer in model.decoder]
    try:
        for attn in layers:
            attn.keep_attention = True
        model.decode(torch.tensor([[BOS, *out]], device=src.device), *model.encode(src))
        weights = torch.stack([attn.attention[0] for attn in layers])
    finally:
        for attn in layers:
            attn.keep_attention, attn.attention = False, None
        model.train(was_training)
    return weights.cpu(), "".join(itos.get(i, "?") for i in out)


@torch.no_grad()
def cross_attention(
    model: EncoderDecoder, source: str, stoi: dict[str, int], layer: int = -1
) -> tuple[torch.Tensor, str]:
    """One decoder layer's cross-attention for ``source``, averaged over heads, and the greedy output.

    Returns weights (T, S), each row the average of row-stochastic maps (see :func:`cross_attention_weights`).
    """
    weights, output = cross_attention_weights(model, source, stoi)
    return weights[layer].mean(dim=0), output


# ----------------------------------------------------------------------------------------------------
# Saving, loading and training the encoder-decoder outside the benchmark (for ``citegraph lab``)


def save_encoder_decoder(
    model: EncoderDecoder, stoi: dict[str, int], directory: Path | str, info: dict[str, Any] | None = None
) -> Path:
    """Write weights, config, character vocabulary and ``info`` (e.g. training figures) to one file."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SEQ2SEQ_FILE
    state = {
        "task": TASK_NAME,
        "config": asdict(model.config),
        "stoi": stoi,
        "model": model.state_dict(),
        "info": info or {},
    }
    torch.save(state, path)
    return path


def load_encoder_decoder(
    directory: Path | str, device: str = "cpu"
) -> tuple[EncoderDecoder, dict[str, int], dict[str, Any]]:
    """(model in eval mode, character vocabulary, saved info) from a directory written by
    :func:`save_encoder_decoder`; FileNotFoundError when there is none."""
    path = Path(directory).expanduser() / SEQ2SEQ_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no encoder-decoder ({SEQ2SEQ_FILE}) in {directory}; "
            "train one with `citegraph lab train-seq2seq`"
        )
    state = torch.load(path, map_location=device, weights_only=True)
    model = EncoderDecoder(TransformerConfig(**state["config"]))
    model.load_state_dict(state["model"])
    return model.to(device).eval(), state["stoi"], {"task": state["task"], **state["info"]}


def train_reverse_line(
    text: str,
    config: TransformerConfig | None = None,
    steps: int = 1500,
    batch_size: int = 32,
    lr: float = 2e-3,
    max_len: int = 32,
    seed: int = 1337,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[EncoderDecoder, dict[str, int], dict[str, Any]]:
    """Train an encoder-decoder on ``reverse_line`` pairs of ``text`` (the last 10% of lines held out).

    The recipe of benchmarks/architectures.py: AdamW (0.9, 0.99), weight decay 0.1 on matrices, warmup over
    the first tenth of the steps, cosine decay to lr/10, clipping at 1.0. ``progress(step, loss)`` is
    called after every step. Returns the model, its vocabulary and figures (val loss, exact match).
    """
    from citegraph.models.scratch.train import TrainConfig, lr_at

    lines = reverse_line_pairs(text, max_len)
    if len(lines) < 2:
        raise ValueError(f"need at least two non-empty lines of at most {max_len} characters")
    cut = max(1, int(len(lines) * 0.9))
    train_pairs, val_pairs = lines[:cut], lines[cut:] or lines[-1:]
    stoi = char_vocab(text)
    base = config or TransformerConfig(n_layer=2, n_head=4, n_embd=64)
    config = TransformerConfig(
        **{**asdict(base), "vocab_size": len(stoi) + N_SPECIAL, "block_size": max_len + 2}
    )
    torch.manual_seed(seed)
    model = EncoderDecoder(config)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.99),
    )
    sched = TrainConfig(max_iters=steps, lr=lr, min_lr=lr / 10, warmup_iters=max(1, steps // 10))
    gen = torch.Generator().manual_seed(seed)
    loss_value = math.nan
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, sched)
        picks = torch.randint(len(train_pairs), (batch_size,), generator=gen).tolist()
        _, loss = model(*collate([train_pairs[i] for i in picks], stoi))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_value = loss.item()
        if progress is not None:
            progress(step + 1, loss_value)
    model.eval()
    scored = val_pairs[:512]
    with torch.no_grad():
        val_loss = sum(model(*collate(scored[i : i + 64], stoi))[1].item() for i in range(0, len(scored), 64))
    info = {
        "steps": steps,
        "batch_size": batch_size,
        "train_lines": len(train_pairs),
        "val_lines": len(val_pairs),
        "train_loss": round(loss_value, 4),
        "val_loss": round(val_loss / math.ceil(len(scored) / 64), 4),  # mean of the 64-line batch losses
        "exact_match": round(exact_match(model, val_pairs[:100], stoi), 4),
        "exact_match_lines": min(100, len(val_pairs)),
    }
    return model, stoi, info
