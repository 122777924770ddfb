"""Architectures side by side on tiny shakespeare (char level), at matched parameter counts.

    nice -n 10 python benchmarks/architectures.py --data ../shared/data/tinyshakespeare/input.txt \
        --json benchmarks/results/architectures.json --plot benchmarks/results/architectures.png \
        --heatmap benchmarks/results/cross_attention.png [--steps 500] [--s2s-steps 800]

Next-character language models, all trained with the same data order, batch, window, step count,
optimizer and schedule:

- ``gpt``: the scratch decoder-only transformer (RoPE, RMSNorm, SwiGLU), 4 layers, 4 heads, 96 wide;
- ``rnn`` / ``lstm`` / ``gru``: two recurrent layers over a 64-wide embedding, the hidden width chosen
  so the model has the GPT's parameter count (:func:`hidden_for_params`).

``val_loss`` is the exact mean loss over the whole held-out 10% (non-overlapping windows of the training
length, recurrent state reset per window, as the GPT's context is); the curve in the plot is the mean
over a fixed set of validation batches, the same for every model. ``tokens_per_s`` counts training
tokens over training-step time only.

Two other objectives at a similar size (their losses are not comparable with the LMs'):

- ``masked_lm``: an encoder-only transformer of the GPT's shape, BERT-style masking of 15% of the
  characters; its val loss is the cross-entropy on the masked positions (fixed masks).
- ``seq2seq``: an encoder-decoder on ``reverse_line`` (lines of at most 32 characters, target = the line
  reversed; train lines from the train split, val lines from the val split): val loss and exact-match
  accuracy of greedy decoding. The decoder's last-layer cross-attention for one val line is drawn.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
import torch.nn as nn

from benchmarks.common import machine, save
from citegraph.models.scratch.data import TokenData, read_texts, split_texts
from citegraph.models.scratch.evaluate import score_tokens
from citegraph.models.scratch.model import GPT, GPTConfig
from citegraph.models.scratch.recurrent import RecurrentConfig, RecurrentLM, hidden_for_params
from citegraph.models.scratch.seq2seq import (
    TASK_NAME,
    EncoderDecoder,
    MaskedLM,
    TransformerConfig,
    char_vocab,
    collate,
    cross_attention,
    exact_match,
    mask_tokens,
    num_params,
    reverse_line_pairs,
)
from citegraph.models.scratch.tokenizer import CharTokenizer
from citegraph.models.scratch.train import TrainConfig, lr_at

Batch = tuple[torch.Tensor, ...]


def optimizer_for(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with the GPT's grouping (decay on matrices only), applied to every architecture alike."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


@torch.no_grad()
def mean_loss(model: nn.Module, batches: list[Batch]) -> float:
    """Mean loss of ``model`` over fixed batches, in eval mode."""
    model.eval()
    losses = [model(*b)[1].item() for b in batches]
    model.train()
    return sum(losses) / len(losses)


def run_training(
    model: nn.Module,
    next_batch: Callable[[], tuple[Batch, int]],
    val_batches: list[Batch],
    sched: TrainConfig,
    eval_every: int,
    label: str,
) -> dict:
    """Train for ``sched.max_iters`` steps with the scratch trainer's schedule (warmup, cosine decay) and
    clipping; evaluate on ``val_batches`` every ``eval_every`` steps and at the end.

    ``next_batch`` returns a batch and how many tokens it holds (for the throughput figure).
    """
    opt = optimizer_for(model, sched.lr, sched.weight_decay)
    history = [{"step": 0, "val": round(mean_loss(model, val_batches), 4)}]
    step_time, tokens, train_loss = 0.0, 0, math.nan
    for step in range(sched.max_iters):
        batch, n_tokens = next_batch()
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = lr_at(step, sched)
        loss = model(*batch)[1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), sched.grad_clip)
        opt.step()
        step_time += time.perf_counter() - t0
        tokens += n_tokens
        train_loss = loss.item()
        if (step + 1) % eval_every == 0 or step + 1 == sched.max_iters:
            history.append({"step": step + 1, "val": round(mean_loss(model, val_batches), 4)})
            print(f"  {label:>9} step {step + 1:4d}  train {train_loss:.3f}  val {history[-1]['val']:.3f}")
    return {
        "train_loss": round(train_loss, 4),
        "val_loss_est": history[-1]["val"],
        "tokens_per_s": round(tokens / step_time, 1),
        "train_s": round(step_time, 1),
        "evals": history,
    }


def window_batches(
    data: TokenData, batch_size: int, block: int, generator: torch.Generator, n: int
) -> list[Batch]:
    """``n`` random validation windows (inputs, targets), drawn once and shared by every model."""
    return [data.batch("val", batch_size, block, generator) for _ in range(n)]


def train_lms(args: argparse.Namespace, data: TokenData, vocab: int, sched: TrainConfig) -> dict:
    """The four next-character LMs at the GPT's parameter count."""
    gpt_cfg = GPTConfig(vocab_size=vocab, block_size=args.block, n_layer=4, n_head=4, n_embd=96, dropout=0.0)
    target = GPT(gpt_cfg).num_params()
    builders: dict[str, Callable[[], nn.Module]] = {"gpt": lambda: GPT(gpt_cfg)}
    for kind in ("rnn", "lstm", "gru"):
        hidden = hidden_for_params(kind, target, vocab, n_embd=64, n_layer=2)
        rcfg = RecurrentConfig(
            vocab_size=vocab, kind=kind, n_embd=64, n_hidden=hidden, n_layer=2, block_size=args.block
        )
        builders[kind] = lambda rcfg=rcfg: RecurrentLM(rcfg)
    val_batches = window_batches(data, args.batch, args.block, torch.Generator().manual_seed(0), 10)
    results = {}
    for name, build in builders.items():
        torch.manual_seed(args.seed)
        model = build()
        # The same generator seed for every model: identical training windows in identical order.
        gen = torch.Generator().manual_seed(args.seed)
        print(f"{name}: {num_params(model):,} parameters")
        t0 = time.perf_counter()
        run = run_training(
            model,
            lambda gen=gen: (data.batch("train", args.batch, args.block, gen), args.batch * args.block),
            val_batches,
            sched,
            args.eval_every,
            name,
        )
        val = score_tokens(model, data.val)
        config = (
            {"n_layer": 4, "n_head": 4, "n_embd": 96, "pos": "rope", "norm": "rmsnorm", "mlp": "swiglu"}
            if name == "gpt"
            else {"n_layer": 2, "n_embd": 64, "n_hidden": model.config.n_hidden}
        )
        results[name] = {
            "params": num_params(model),
            "steps": sched.max_iters,
            "val_loss": round(val.loss, 4),
            **run,
            "wall_s": round(time.perf_counter() - t0, 1),
            "config": config,
        }
    return results


def train_masked_lm(args: argparse.Namespace, data: TokenData, vocab: int, sched: TrainConfig) -> dict:
    """Encoder-only transformer of the GPT's shape with BERT-style masking; loss on masked positions."""
    cfg = TransformerConfig(vocab_size=vocab + 1, block_size=args.block, n_layer=4, n_head=4, n_embd=96)
    torch.manual_seed(args.seed)
    model = MaskedLM(cfg)
    print(f"masked_lm: {num_params(model):,} parameters")
    mask_gen = torch.Generator().manual_seed(1)  # fixed masks for the validation batches
    val_batches = [
        mask_tokens(x, model.mask_id, vocab, mask_gen)
        for x, _ in window_batches(data, args.batch, args.block, torch.Generator().manual_seed(0), 10)
    ]
    gen = torch.Generator().manual_seed(args.seed)

    def next_batch() -> tuple[Batch, int]:
        """A fresh window batch, freshly masked."""
        x, _ = data.batch("train", args.batch, args.block, gen)
        return mask_tokens(x, model.mask_id, vocab, gen), x.numel()

    t0 = time.perf_counter()
    run = run_training(model, next_batch, val_batches, sched, args.eval_every, "masked_lm")
    # A larger fixed masked sample of the val split for the headline figure (200 windows).
    big = [
        mask_tokens(x, model.mask_id, vocab, torch.Generator().manual_seed(2))
        for x, _ in window_batches(data, 20, args.block, torch.Generator().manual_seed(3), 10)
    ]
    return {
        "params": num_params(model),
        "steps": sched.max_iters,
        "val_mlm_loss": round(mean_loss(model, big), 4),
        **run,
        "wall_s": round(time.perf_counter() - t0, 1),
        "config": {"n_layer": 4, "n_head": 4, "n_embd": 96, "mask_rate": 0.15, "scored": "masked only"},
    }


def train_seq2seq(
    args: argparse.Namespace, train_text: str, val_text: str, sched: TrainConfig
) -> tuple[dict, EncoderDecoder, dict[str, int], list[tuple[str, str]]]:
    """Encoder-decoder on reverse_line: val loss, exact match of greedy decoding."""
    max_len = 32
    train_pairs = reverse_line_pairs(train_text, max_len)
    val_pairs = reverse_line_pairs(val_text, max_len)
    stoi = char_vocab(train_text + val_text)
    cfg = TransformerConfig(vocab_size=len(stoi) + 3, block_size=max_len + 2, n_layer=2, n_head=4, n_embd=64)
    torch.manual_seed(args.seed)
    model = EncoderDecoder(cfg)
    print(f"seq2seq: {num_params(model):,} parameters, {len(train_pairs)} train / {len(val_pairs)} val lines")
    val_batches = [collate(val_pairs[i : i + 64], stoi) for i in range(0, len(val_pairs), 64)]
    gen = torch.Generator().manual_seed(args.seed)

    def next_batch() -> tuple[Batch, int]:
        """A random batch of line pairs; tokens are the non-pad source and target characters."""
        idx = torch.randint(len(train_pairs), (args.s2s_batch,), generator=gen).tolist()
        group = [train_pairs[i] for i in idx]
        return collate(group, stoi), sum(len(s) + len(t) + 1 for s, t in group)

    s2s_sched = dataclasses.replace(sched, max_iters=args.s2s_steps)
    t0 = time.perf_counter()
    run = run_training(model, next_batch, val_batches, s2s_sched, args.eval_every, "seq2seq")
    em_pairs = val_pairs[: args.em_lines]
    em = exact_match(model, em_pairs, stoi)
    result = {
        "task": TASK_NAME,
        "task_description": "target is the source line's characters in reverse order; lines of 1-32 chars",
        "params": num_params(model),
        "train_lines": len(train_pairs),
        "val_lines": len(val_pairs),
        "val_loss": run["val_loss_est"],  # mean of the 64-line batch losses over every val line
        "exact_match": round(em, 4),
        "exact_match_lines": len(em_pairs),
        "steps": args.s2s_steps,
        "batch_size": args.s2s_batch,
        **run,
        "wall_s": round(time.perf_counter() - t0, 1),
        "config": {"encoder_layers": 2, "decoder_layers": 2, "n_head": 4, "n_embd": 64},
    }
    return result, model, stoi, val_pairs


def plot_curves(results: dict, path: Path) -> None:
    """Val loss vs step: the four LMs on the left, the masked LM and the seq2seq task on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, r in results["language_models"].items():
        steps = [e["step"] for e in r["evals"]]
        left.plot(
            steps, [e["val"] for e in r["evals"]], marker=".", label=f"{name} ({r['params'] / 1e3:.0f}k)"
        )
    left.set(xlabel="step", ylabel="val loss (nats/char)", title="Next-char LMs at matched parameters")
    left.set_ylim(top=3.6)
    left.grid(alpha=0.3)
    left.legend()
    for key, label in (("masked_lm", "encoder-only, masked-LM loss"), ("seq2seq", f"enc-dec, {TASK_NAME}")):
        r = results[key]
        right.plot([e["step"] for e in r["evals"]], [e["val"] for e in r["evals"]], marker=".", label=label)
    right.set(xlabel="step", ylabel="val loss (nats/char)", title="Other objectives (not comparable to left)")
    right.grid(alpha=0.3)
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_cross_attention(
    model: EncoderDecoder, stoi: dict[str, int], source: str, path: Path
) -> dict[str, str | bool]:
    """Heatmap of the last decoder layer's cross-attention (mean over heads) for one source line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights, output = cross_attention(model, source, stoi)
    rows = [*output, "<eos>"][: weights.size(0)]
    fig, ax = plt.subplots(figsize=(0.28 * len(source) + 2.5, 0.28 * len(rows) + 1.8))
    # Scaled to the largest weight: an untrained map is near-uniform (about 1/S) and would look blank.
    image = ax.imshow(weights.numpy(), cmap="viridis", vmin=0.0, vmax=weights.max().item(), aspect="equal")
    show = {" ": "␣"}  # a visible mark for spaces in tick labels
    ax.set_xticks(range(len(source)), [show.get(c, c) for c in source], fontfamily="monospace")
    ax.set_yticks(range(len(rows)), [show.get(c, c) for c in rows], fontfamily="monospace")
    ax.set_xlabel("source character (encoder)")
    ax.set_ylabel("generated character (decoder step)")
    correct = output == source[::-1]
    ax.set_title(
        f"cross-attention, last decoder layer, mean of heads\n{source!r} -> {output!r} "
        f"({'exact' if correct else 'wrong'})",
        fontsize=9,
    )
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"source": source, "output": output, "exact": correct}


def print_table(results: dict) -> None:
    """One table: the LMs, then the masked LM and the seq2seq task."""
    print(f"\n{'model':<10} {'params':>8} {'val loss':>9} {'tokens/s':>9}  note")
    for name, r in results["language_models"].items():
        print(f"{name:<10} {r['params']:>8,} {r['val_loss']:>9.4f} {r['tokens_per_s']:>9.0f}  next-char")
    m = results["masked_lm"]
    print(
        f"{'masked_lm':<10} {m['params']:>8,} {m['val_mlm_loss']:>9.4f} {m['tokens_per_s']:>9.0f}  "
        "loss on masked chars"
    )
    s = results["seq2seq"]
    print(
        f"{'enc-dec':<10} {s['params']:>8,} {s['val_loss']:>9.4f} {s['tokens_per_s']:>9.0f}  "
        f"{s['task']}: exact match {s['exact_match']:.1%} of {s['exact_match_lines']} val lines"
    )


def main() -> None:
    """Parse arguments, run everything, write the JSON and the two figures, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="tiny shakespeare input.txt")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--heatmap", type=Path, default=None)
    ap.add_argument("--steps", type=int, default=600, help="optimizer steps for every LM and the masked LM")
    ap.add_argument("--s2s-steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--s2s-batch", type=int, default=32)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--em-lines", type=int, default=300, help="val lines scored for exact match")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    # The project's char setup: alphabet of the whole text, last 10% held out (data.prepare_data).
    texts = read_texts([args.data])
    (train_text,), (val_text,) = split_texts(texts, 0.1)
    tok = CharTokenizer.train(texts)
    data = TokenData(
        train=np.asarray(tok.encode(train_text), dtype=np.int64),
        val=np.asarray(tok.encode(val_text), dtype=np.int64),
    )
    data.check(args.block)
    sched = TrainConfig(
        max_iters=args.steps,
        lr=args.lr,
        min_lr=args.lr / 10,
        warmup_iters=max(1, args.steps // 10),
        weight_decay=0.1,
        grad_clip=1.0,
    )

    t0 = time.perf_counter()
    results: dict = {
        "data": str(args.data),
        "split": "last 10% of the text held out",
        "vocab_size": tok.vocab_size,
        "train_tokens": int(data.train.size),
        "val_tokens": int(data.val.size),
        "steps": args.steps,
        "batch_size": args.batch,
        "block_size": args.block,
        "tokens_per_model": args.steps * args.batch * args.block,
        "schedule": {
            "lr": sched.lr,
            "min_lr": sched.min_lr,
            "warmup": sched.warmup_iters,
            "decay": "cosine",
            "optimizer": "AdamW (0.9, 0.99), weight decay 0.1 on matrices",
            "grad_clip": sched.grad_clip,
        },
        "seed": args.seed,
        "threads": torch.get_num_threads(),
    }
    results["language_models"] = train_lms(args, data, tok.vocab_size, sched)
    results["masked_lm"] = train_masked_lm(args, data, tok.vocab_size, sched)
    s2s, model, stoi, val_pairs = train_seq2seq(args, train_text, val_text, sched)
    results["seq2seq"] = s2s
    # A val line of typical length with varied characters, for the heatmap.
    example = next((s for s, _ in val_pairs if 20 <= len(s) <= 28), val_pairs[0][0])
    if args.heatmap:
        args.heatmap.parent.mkdir(parents=True, exist_ok=True)
        results["seq2seq"]["heatmap_example"] = plot_cross_attention(model, stoi, example, args.heatmap)
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    results["machine"] = machine()
    if args.plot:
        plot_curves(results, args.plot)
    save(results, args.json, indent=1, echo=False)
    print_table(results)


if __name__ == "__main__":
    main()
