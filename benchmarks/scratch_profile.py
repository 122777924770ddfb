"""Where a training step of the scratch GPT goes on nanoGPT's CPU "baby" config (4x4x128, block 64, batch 12).

    python benchmarks/scratch_profile.py --data ../shared/data/tinyshakespeare/input.txt --threads 2 \
        --json benchmarks/results/scratch_profile.json [--loop-iters 500] [--rounds 5]

Two views:

1. **The real loop**: ``citegraph train scratch``'s own ``train()`` for ``--loop-iters`` iterations (an eval
   every 250), with the phase timers it logs (``timing_s``: data, forward+backward, optimizer, evaluation,
   checkpoint writes, progress), and the share each would have in the full 2,000-iteration run.
2. **Components**: forward + backward of each part of the model at the config's real shapes, times how
   often a step runs it (RMSNorm 9x, RoPE/attention/MLP 4x, ...), beside a whole step; the optimizer step,
   gradient clipping and the data loader on their own. Where this change replaced an implementation, the
   previous one is timed beside it (``F.rms_norm`` autograd, the per-tensor AdamW loop, the per-example
   data loader).

Each component is timed in ``--rounds`` interleaved rounds and the median round is kept, so load from other
processes on a shared machine hits all of them alike. Shares are of the median full step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.common import machine, save
from citegraph.models.scratch.data import TokenData, prepare_data
from citegraph.models.scratch.model import GPT, GPTConfig, apply_rope
from citegraph.models.scratch.train import TrainConfig, train

BATCH, BLOCK = 12, 64


def baby_config(vocab: int) -> GPTConfig:
    """The model of the baby config (RoPE, RMSNorm, SwiGLU: the defaults)."""
    return GPTConfig(vocab_size=vocab, block_size=BLOCK, n_layer=4, n_head=4, n_embd=128)


def old_batch(data: np.ndarray, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The data loader before this change: one numpy slice per example, stacked."""
    starts = torch.randint(len(data) - BLOCK, (BATCH,), generator=generator).tolist()
    window = torch.from_numpy(np.stack([np.asarray(data[s : s + BLOCK + 1], dtype=np.int64) for s in starts]))
    return window[:, :-1], window[:, 1:]


def component_timers(model: GPT, data: TokenData) -> dict[str, tuple[int, Callable[[], object]]]:
    """name -> (times per training step, a closure running it once with its backward)."""
    cfg = model.config
    C, H, D = cfg.n_embd, cfg.n_head, cfg.n_embd // cfg.n_head
    block, attn, mlp = model.blocks[0], model.blocks[0].attn, model.blocks[0].mlp
    torch.manual_seed(0)
    x0 = torch.randn(BATCH, BLOCK, C)
    grad = torch.randn(BATCH, BLOCK, C)
    q0, k0, v0 = (torch.randn(BATCH, H, BLOCK, D) for _ in range(3))
    idx = torch.randint(0, cfg.vocab_size, (BATCH, BLOCK))
    rope = (model.rope_cos[:BLOCK], model.rope_sin[:BLOCK])
    gelu_mlp = GPT(GPTConfig(**{**cfg.to_dict(), "mlp": "gelu", "mlp_hidden": None})).blocks[0].mlp
    layer_norm = torch.nn.LayerNorm(C, bias=False)
    n_norms = 2 * cfg.n_layer + 1

    def leaf(t: torch.Tensor) -> torch.Tensor:
        return t.clone().requires_grad_()

    def rmsnorm() -> None:
        block.norm1(leaf(x0)).backward(grad)

    def rmsnorm_library() -> None:
        F.rms_norm(leaf(x0), (C,), block.norm1.weight, block.norm1.eps).backward(grad)

    def layernorm() -> None:
        layer_norm(leaf(x0)).backward(grad)

    def rope_qk() -> None:
        q, k = leaf(q0), leaf(k0)
        (apply_rope(q, *rope).sum() + apply_rope(k, *rope).sum()).backward()

    def sdpa() -> None:
        q, k, v = leaf(q0), leaf(k0), leaf(v0)
        F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(
            grad.view(BATCH, BLOCK, H, D).transpose(1, 2)
        )

    def attn_linears() -> None:
        x = leaf(x0)
        attn.qkv(x).sum().backward()
        attn.proj(leaf(x0)).backward(grad)

    def attention_layer() -> None:
        attn(leaf(x0), rope, None).backward(grad)

    def swiglu() -> None:
        mlp(leaf(x0)).backward(grad)

    def gelu() -> None:
        gelu_mlp(leaf(x0)).backward(grad)

    def embed_head_loss() -> None:
        h = model.tok_emb(idx)
        logits = model.lm_head(model.norm_f(h))
        F.cross_entropy(logits.view(-1, logits.size(-1)), idx.view(-1)).backward()

    gen = torch.Generator().manual_seed(0)

    def loader() -> None:
        data.batch("train", BATCH, BLOCK, gen)

    def loader_old() -> None:
        old_batch(data.train, gen)

    return {
        "rmsnorm (hand-written backward)": (n_norms, rmsnorm),
        "rmsnorm (F.rms_norm autograd, before)": (n_norms, rmsnorm_library),
        "layernorm (for comparison)": (n_norms, layernorm),
        "rope on q and k": (cfg.n_layer, rope_qk),
        "attention core (SDPA, causal)": (cfg.n_layer, sdpa),
        "attention qkv + out projections": (cfg.n_layer, attn_linears),
        "attention layer (all of the above but norms)": (cfg.n_layer, attention_layer),
        "swiglu mlp": (cfg.n_layer, swiglu),
        "gelu mlp (for comparison)": (cfg.n_layer, gelu),
        "embedding + tied head + cross-entropy": (1, embed_head_loss),
        "data loader (vectorised)": (1, loader),
        "data loader (per-example, before)": (1, loader_old),
    }


def optimizer_timers(model: GPT) -> dict[str, tuple[int, Callable[[], object]]]:
    """AdamW as the trainer builds it (fused) and as it was (per-tensor loop), clipping, zeroing."""
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    fused = torch.optim.AdamW(model.optimizer_groups(0.1), lr=1e-4, betas=(0.9, 0.99), fused=True)
    loop = torch.optim.AdamW(model.optimizer_groups(0.1), lr=1e-4, betas=(0.9, 0.99))
    return {
        "adamw step (fused)": (1, fused.step),
        "adamw step (per-tensor loop, before)": (1, loop.step),
        "clip_grad_norm_": (1, lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)),
    }


def full_step(model: GPT, data: TokenData) -> Callable[[], object]:
    """One training step as ``train()`` runs it: batch, forward, backward, clip, fused AdamW, zero."""
    opt = torch.optim.AdamW(model.optimizer_groups(0.1), lr=1e-4, betas=(0.9, 0.99), fused=True)
    gen = torch.Generator().manual_seed(1)

    def step() -> None:
        x, y = data.batch("train", BATCH, BLOCK, gen)
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()

    return step


def time_rounds(timers: dict[str, Callable[[], object]], calls: dict[str, int], rounds: int) -> dict:
    """Median seconds per call of each timer over ``rounds`` interleaved rounds."""
    for fn in timers.values():  # warm-up: allocator, MKL and oneDNN caches
        for _ in range(3):
            fn()
    seconds: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(rounds):
        for name, fn in timers.items():
            t0 = time.perf_counter()
            for _ in range(calls[name]):
                fn()
            seconds[name].append((time.perf_counter() - t0) / calls[name])
    return {name: statistics.median(s) for name, s in seconds.items()}


def profile_components(data: TokenData, vocab: int, rounds: int) -> dict:
    """Per-call and per-step milliseconds of every component, and their share of a whole step."""
    torch.manual_seed(0)
    model = GPT(baby_config(vocab))
    parts = component_timers(model, data)
    opt_model = GPT(baby_config(vocab))
    parts.update(optimizer_timers(opt_model))
    step_model = GPT(baby_config(vocab))
    timers = {"full training step": full_step(step_model, data)} | {k: fn for k, (_, fn) in parts.items()}
    calls = {name: 5 if name == "full training step" else 30 for name in timers}
    per_call = time_rounds(timers, calls, rounds)
    step_s = per_call["full training step"]
    rows = {"full training step": {"ms_per_call": round(step_s * 1e3, 3), "per_step": 1, "share": 1.0}}
    for name, (count, _) in parts.items():
        rows[name] = {
            "ms_per_call": round(per_call[name] * 1e3, 3),
            "per_step": count,
            "ms_per_step": round(per_call[name] * count * 1e3, 3),
            "share": round(per_call[name] * count / step_s, 3),
        }
    return rows


def profile_loop(text: Path, iters: int, tmp: Path, threads: int) -> dict:
    """The real ``train()`` on the baby config, with its own phase timers."""
    cfg = TrainConfig(
        data=[str(text)],
        out_dir=str(tmp / "run"),
        tokenizer="char",
        block_size=BLOCK,
        batch_size=BATCH,
        max_iters=iters,
        lr_decay_iters=iters,
        eval_interval=250,
        eval_iters=20,
        device="cpu",
        threads=threads,
        verbose=False,
    )
    summary = train(cfg)
    timing = summary["timing_s"]
    evals = len(summary["history"]["eval"])
    per_step = {k: timing[k] / iters for k in ("data", "forward_backward", "optimizer", "progress")}
    per_eval = {k: timing[k] / evals for k in ("eval", "checkpoint")}
    # The same costs in the 2,000-iteration run (9 evaluations): what share each phase would take.
    full = {k: v * 2000 for k, v in per_step.items()} | {k: v * 9 for k, v in per_eval.items()}
    total = sum(full.values())
    return {
        "iters": iters,
        "evaluations": evals,
        "timing_s": timing,
        "loop_seconds": summary["loop_seconds"],
        "tokens_per_s_median_step": round(summary["tokens_per_s_median_step"], 1),
        "tokens_per_s_loop": round(summary["tokens_seen"] / summary["loop_seconds"], 1),
        "ms_per_step": {k: round(v * 1e3, 3) for k, v in per_step.items()},
        "ms_per_evaluation": {k: round(v * 1e3, 1) for k, v in per_eval.items()},
        "share_in_2000_iter_run": {k: round(v / total, 3) for k, v in full.items()},
    }


def main() -> None:
    """Run both views and save them."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="tiny shakespeare input.txt")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loop-iters", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        prepare_data([args.data], Path(tmp) / "data", "char")
        data = TokenData.open(Path(tmp) / "data")
        vocab = int(max(data.train.max(), data.val.max())) + 1
        components = profile_components(data, vocab, args.rounds)
        loop = profile_loop(args.data, args.loop_iters, Path(tmp), args.threads) if args.loop_iters else None
    result = {
        "command": " ".join(["python", *sys.argv]),
        "threads": torch.get_num_threads(),
        "config": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": BLOCK, "batch_size": BATCH},
        "components": components,
        "loop": loop,
        "machine": machine(),
    }
    save(result, args.json, indent=1)


if __name__ == "__main__":
    main()
