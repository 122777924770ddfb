"""Decoding strategies on one char-level scratch model trained on tiny shakespeare.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/decoding_strategies.py \
        --data ../shared/data/tinyshakespeare/input.txt --model /tmp/cg_lab/shakespeare_char2k \
        --reference /tmp/cg_lab/shakespeare_ref --json benchmarks/results/decoding_strategies.json

A run directory that does not exist yet is trained first with nanoGPT's CPU "baby" config (4 layers,
4 heads, 128 wide, block 64, batch 12; ``--iters`` steps, about 5 minutes for 2,000 on 2 busy cores). The
reference model is trained the same way with another seed and other components (learned positions,
LayerNorm, GELU), so its perplexity is a second opinion on the samples and not the generator's own.
Prompts are speaker names from the held-out last 10% of the text; the ``human`` row is what really follows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.common import machine, save
from citegraph.eval.decoding import STRATEGIES, DecodingConfig, compare_decoding, prompts_from_text
from citegraph.eval.repr_cli import print_decoding
from citegraph.models.scratch.data import TokenData
from citegraph.models.scratch.evaluate import score_tokens
from citegraph.models.scratch.generate import load_model
from citegraph.models.scratch.train import TrainConfig, train


def ensure_model(data: Path, out: Path, iters: int, seed: int, reference: bool) -> None:
    """Train the baby config into ``out`` unless a model is there already."""
    if (out / "model.pt").is_file():
        return
    parts = {"pos": "learned", "norm": "layernorm", "mlp": "gelu"} if reference else {}
    cfg = TrainConfig(
        data=[str(data)],
        out_dir=str(out),
        tokenizer="char",
        n_layer=4,
        n_head=4,
        n_embd=128,
        block_size=64,
        batch_size=12,
        max_iters=iters,
        lr=1e-3,
        min_lr=1e-4,
        warmup_iters=100,
        eval_interval=max(1, iters // 4),
        eval_iters=20,
        device="cpu",
        seed=seed,
        verbose=True,
        **parts,
    )
    train(cfg)


def main() -> None:
    """Train (if needed), sample every strategy, score, print and save."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="tiny shakespeare input.txt")
    ap.add_argument("--model", required=True, type=Path, help="scratch run directory (trained if missing)")
    ap.add_argument(
        "--reference", type=Path, default=None, help="reference run directory (trained if missing)"
    )
    ap.add_argument("--json", required=True, type=Path, help="where to write the result")
    ap.add_argument("--iters", type=int, default=2000, help="training steps for a missing model")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--samples", type=int, default=3, help="samples per prompt and strategy")
    ap.add_argument("--tokens", type=int, default=300, help="new tokens (characters) per sample")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)  # a 0.8M-parameter model decoding one token at a time gains nothing from more

    ensure_model(args.data, args.model, args.iters, 1337, reference=False)
    if args.reference:
        ensure_model(args.data, args.reference, args.iters, 7, reference=True)
    model, tokenizer = load_model(args.model)
    reference = load_model(args.reference)[0] if args.reference else None
    text = args.data.read_text(encoding="utf-8")
    pairs = prompts_from_text(text[int(len(text) * 0.9) :], args.prompts, args.tokens)
    started = time.perf_counter()
    result = compare_decoding(
        model, tokenizer, pairs, DecodingConfig(STRATEGIES, args.tokens, args.samples, args.seed), reference
    )
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["model"] = {
        "path": str(args.model),
        "params": model.num_params(),
        "val_loss": round(score_tokens(model, TokenData.open(args.model).val).loss, 4),
    }
    if reference is not None and args.reference is not None:
        result["reference"] = {
            "path": str(args.reference),
            "params": reference.num_params(),
            "val_loss": round(score_tokens(reference, TokenData.open(args.reference).val).loss, 4),
            "components": "learned positions, LayerNorm, GELU; seed 7",
        }
    result["machine"] = machine()
    print_decoding(result)
    save(result, args.json, indent=1, echo=False)


if __name__ == "__main__":
    main()
