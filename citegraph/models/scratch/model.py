"""A decoder-only transformer in plain PyTorch, meant to be read top to bottom.

The default block is the "modern" recipe: rotary position embeddings (RoPE), RMSNorm before each
sub-layer, a SwiGLU MLP and causal attention through ``scaled_dot_product_attention`` with grouped
key/value heads. Each choice has the classic GPT-2 alternative behind a config switch (learned or
sinusoidal positions, LayerNorm, GELU MLP) so the benchmark can ablate one change at a time.

Generation uses a key/value cache (:class:`KVCache`): the prompt is run once ("prefill") and then
each new token attends to the cached keys and values instead of recomputing the whole prefix.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

PositionKind = Literal["rope", "learned", "sinusoidal"]
NormKind = Literal["rmsnorm", "layernorm"]
MlpKind = Literal["swiglu", "gelu"]


@dataclass
class GPTConfig:
    """Everything needed to rebuild the model; saved as a plain dict inside every checkpoint."""

    vocab_size: int = 256
    block_size: int = 256  # longest context the model is trained on (and the KV cache holds)
    n_layer: int = 4
    n_head: int = 4
    n_kv_head: int | None = None  # None: as many as n_head (plain multi-head); fewer: grouped-query attention
    n_embd: int = 128
    mlp_hidden: int | None = None  # None: 4*n_embd for GELU, 8/3*n_embd for SwiGLU (same parameter count)
    dropout: float = 0.0
    bias: bool = (
        False  # biases in Linear and LayerNorm; off is slightly better and faster (nanoGPT's finding)
    )
    pos: PositionKind = "rope"
    norm: NormKind = "rmsnorm"
    mlp: MlpKind = "swiglu"
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.n_kv_head is None:
            self.n_kv_head = self.n_head
        if self.mlp_hidden is None:
            # SwiGLU has three matrices instead of two, so 2/3 of GELU's 4x width keeps parameters equal.
            self.mlp_hidden = 4 * self.n_embd if self.mlp == "gelu" else round(8 * self.n_embd / 3)
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} is not a multiple of n_head={self.n_head}")
        if self.n_head % self.n_kv_head:
            raise ValueError(f"n_head={self.n_head} is not a multiple of n_kv_head={self.n_kv_head}")
        if self.pos == "rope" and (self.n_embd // self.n_head) % 2:
            raise ValueError("RoPE needs an even head size")
        for name, allowed in (("pos", PositionKind), ("norm", NormKind), ("mlp", MlpKind)):
            if getattr(self, name) not in allowed.__args__:
                raise ValueError(f"{name}={getattr(self, name)!r}; expected one of {allowed.__args__}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GPTConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# ----------------------------------------------------------------------------------------------------
# Building blocks


class _RMSNormFunction(torch.autograd.Function):
    """RMSNorm with its backward written out: y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps).

    On CPU ``F.rms_norm`` is a composite of small ops, and autograd differentiates each of them (pow, mean,
    add, rsqrt, two products); the closed form below needs half the passes over the activations, which
    took a baby-config RMSNorm's forward + backward from ~400 to ~300 us on one thread (nine per step;
    with two threads on a busy machine the difference was within the noise, see results/scratch_profile.json).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        """Normalise the last dimension of ``x`` and scale it by ``weight``."""
        rstd = torch.rsqrt(x.square().mean(-1, keepdim=True).add_(eps))
        x_hat = x * rstd
        ctx.save_for_backward(x_hat, rstd, weight)
        return x_hat * weight

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        """dx = rstd * (g - x_hat * mean(g * x_hat)) with g = dy * w; dw = sum of dy * x_hat."""
        x_hat, rstd, weight = ctx.saved_tensors
        grad_weight = (grad_out * x_hat).flatten(0, -2).sum(0)
        g = grad_out * weight
        grad_x = (g - x_hat * (g * x_hat).mean(-1, keepdim=True)).mul_(rstd)
        return grad_x, grad_weight, None


class RMSNorm(nn.Module):
    """Scale by the root mean square only: no mean subtraction, no bias; cheaper than LayerNorm."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training in float32 takes the hand-written backward; everything else the library kernel."""
        if torch.is_grad_enabled() and x.dtype == torch.float32 == self.weight.dtype:
            return _RMSNormFunction.apply(x, self.weight, self.eps)
        # Without autograd the library op is one call: it matters when decoding one token at a time. Under
        # bf16/fp16 autocast it also keeps the reduction in float32, which the function above would not.
        return F.rms_norm(x, (x.size(-1),), self.weight, self.eps)


def make_dropout(config: GPTConfig) -> nn.Module:
    # Identity when off: a no-op Dropout still costs a call per layer, which shows in one-token decoding.
    return nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()


def make_norm(config: GPTConfig) -> nn.Module:
    if config.norm == "rmsnorm":
        return RMSNorm(config.n_embd, config.norm_eps)
    return nn.LayerNorm(config.n_embd, eps=config.norm_eps, bias=config.bias)


def rope_tables(head_dim: int, length: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles, shape (length, head_dim): channel i and i + head_dim/2 form a pair
    rotated by the same angle, so each table holds its half twice."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x[i], x[i + D/2]) of channels of x (B, H, T, D) by its position's angle.

    Because q and k are rotated by their absolute positions, their dot product depends only on the
    distance between them: attention sees relative positions, and no parameters are needed.
    """
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)  # no-ops in float32; keeps bf16 activations in bf16
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin  # (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """The fixed sin/cos position table of "Attention Is All You Need" (added to the embeddings)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)
    return table


class KVCache:
    """Keys and values of every layer for the tokens seen so far, preallocated up to ``block_size``.

    Tensors are (batch, n_kv_head, block_size, head_dim); ``length`` is how many positions are filled.
    The model appends to it in :meth:`CausalSelfAttention.forward` and advances ``length`` once per call.
    """

    def __init__(self, config: GPTConfig, batch_size: int, device: torch.device, dtype: torch.dtype) -> None:
        head_dim = config.n_embd // config.n_head
        shape = (batch_size, config.n_kv_head, config.block_size, head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.length = 0
        self.capacity = config.block_size

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this call's k, v (B, Hkv, T, D) after the cached ones; return all keys and values so far."""
        start, end = self.length, self.length + k.size(2)
        self.k[layer][:, :, start:end] = k
        self.v[layer][:, :, start:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def reset(self) -> None:
        self.length = 0


class CausalSelfAttention(nn.Module):
    """Causal self-attention; with ``n_kv_head < n_head`` each k/v head serves a group of q heads (GQA)."""

    def __init__(self, config: GPTConfig, layer: int) -> None:
        super().__init__()
        self.layer = layer
        self.n_head, self.n_kv_head = config.n_head, config.n_kv_head
        self.head_dim = config.n_embd // config.n_head
        kv_dim = self.n_kv_head * self.head_dim
        self.qkv = nn.Linear(config.n_embd, config.n_embd + 2 * kv_dim, bias=config.bias)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.proj.is_residual_out = True  # scaled down at init, see GPT._init_weights
        self.dropout = config.dropout
        self.resid_dropout = make_dropout(config)
        self.use_rope = config.pos == "rope"
        # The lab sets this to see the softmax weights; SDPA never materialises them, so that run takes
        # the slower explicit path below and leaves the weights (B, H, T, S) in ``self.attention``.
        self.keep_attention = False
        self.attention: torch.Tensor | None = None

    def forward(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None, cache: KVCache | None
    ) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(
            [C, self.n_kv_head * self.head_dim, self.n_kv_head * self.head_dim], dim=2
        )
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        k = k.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, Hkv, T, D)
        v = v.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        if self.use_rope:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)

        past = cache.length if cache is not None else 0
        if cache is not None:
            k, v = cache.update(self.layer, k, v)
        # Causal masking: with no cached prefix the built-in flag is exact (and fastest). A single new token
        # may attend to everything cached. Several new tokens after a cached prefix need an explicit mask,
        # because is_causal aligns the triangle to the top-left corner, not to the end of the keys.
        mask, causal = None, past == 0 and T > 1
        if past > 0 and T > 1:
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
        if self.keep_attention:
            y = self._explicit_attention(q, k, v, past)
        else:
            y = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask,
                is_causal=causal,
                dropout_p=self.dropout if self.training else 0.0,
                enable_gqa=self.n_kv_head != self.n_head,
            )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.proj(y))

    def _explicit_attention(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, past: int
    ) -> torch.Tensor:
        """softmax(q k^T / sqrt(D)) v written out (no dropout), keeping the weights in ``self.attention``."""
        if self.n_kv_head != self.n_head:  # each k/v head serves consecutive q heads, as SDPA's GQA does
            k = k.repeat_interleave(self.n_head // self.n_kv_head, dim=1)
            v = v.repeat_interleave(self.n_head // self.n_kv_head, dim=1)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        # Query i (at absolute position past + i) sees keys 0..past + i: one rule for every cache case.
        allowed = torch.ones(q.size(2), k.size(2), dtype=torch.bool, device=q.device).tril(diagonal=past)
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
        self.attention = weights.detach()
        return weights @ v


class MLP(nn.Module):
    """Position-wise feed-forward: SwiGLU ``down(silu(gate(x)) * up(x))`` or GPT-2's ``down(gelu(up(x)))``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.gated = config.mlp == "swiglu"
        self.up = nn.Linear(config.n_embd, config.mlp_hidden, bias=config.bias)
        self.gate = nn.Linear(config.n_embd, config.mlp_hidden, bias=config.bias) if self.gated else None
        self.down = nn.Linear(config.mlp_hidden, config.n_embd, bias=config.bias)
        self.down.is_residual_out = True
        self.dropout = make_dropout(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.gate(x)) * self.up(x) if self.gated else F.gelu(self.up(x))
        return self.dropout(self.down(h))


class Block(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: GPTConfig, layer: int) -> None:
        super().__init__()
        self.norm1 = make_norm(config)
        self.attn = CausalSelfAttention(config, layer)
        self.norm2 = make_norm(config)
        self.mlp = MLP(config)

    def forward(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None, cache: KVCache | None
    ) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), rope, cache)
        return x + self.mlp(self.norm2(x))


# ----------------------------------------------------------------------------------------------------
# The model


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd) if config.pos == "learned" else None
        self.drop = make_dropout(config)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layer))
        self.norm_f = make_norm(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying: the output projection reuses the input embedding (fewer parameters, better
        # small-data perplexity). The Embedding owns the tensor, so it is initialised once.
        self.lm_head.weight = self.tok_emb.weight

        # Fixed tables live in non-persistent buffers: they follow .to(device) but are not saved.
        head_dim = config.n_embd // config.n_head
        if config.pos == "rope":
            cos, sin = rope_tables(head_dim, config.block_size, config.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        elif config.pos == "sinusoidal":
            self.register_buffer(
                "sin_table", sinusoidal_table(config.block_size, config.n_embd), persistent=False
            )

        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        # GPT-2 init: N(0, 0.02), and the projections that write into the residual stream scaled by
        # 1/sqrt(2*n_layer) so the stream's variance does not grow with depth.
        if isinstance(module, nn.Linear):
            std = 0.02
            if getattr(module, "is_residual_out", False):
                std /= math.sqrt(2 * self.config.n_layer)
            if module is not self.lm_head:  # tied: initialised as the embedding
                nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        """Trainable parameters (the tied head is counted once)."""
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        cache: KVCache | None = None,
        label_smoothing: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits for token ids ``idx`` (B, T); with ``targets``, also the mean cross-entropy loss.

        Without targets only the last position's logits are computed (all that generation needs).
        With a ``cache``, ``idx`` continues the cached sequence: positions start at ``cache.length``.
        """
        T = idx.size(1)
        start = cache.length if cache is not None else 0
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} tokens exceeds block_size={self.config.block_size}")

        x = self.tok_emb(idx)
        rope = None
        if self.config.pos == "learned":
            x = x + self.pos_emb(torch.arange(start, start + T, device=idx.device))
        elif self.config.pos == "sinusoidal":
            x = x + self.sin_table[start : start + T]
        else:
            rope = (self.rope_cos[start : start + T], self.rope_sin[start : start + T])
        x = self.drop(x)
        for block in self.blocks:
            x = block(x, rope, cache)
        if cache is not None:
            cache.length += T
        x = self.norm_f(x)

        if targets is None:
            return self.lm_head(x[:, [-1], :]), None
        logits = self.lm_head(x)
        loss = F.cross_entropy(
            logits.view(-1, logits.size(-1)).float(),
            targets.reshape(-1),
            ignore_index=-1,
            label_smoothing=label_smoothing,
        )
        return logits, loss

    def new_cache(self, batch_size: int = 1) -> KVCache:
        """An empty KV cache on this model's device and dtype."""
        weight = self.tok_emb.weight
        return KVCache(self.config, batch_size, weight.device, weight.dtype)

    def optimizer_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW groups: weight decay on matrices (linear and embedding weights), none on norms and biases."""
        params = [p for p in self.parameters() if p.requires_grad]
        return [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
