"""Train a small byte-level-BPE scratch model on the Sherlock demo corpus; report perplexity and samples.

    python benchmarks/scratch_sherlock.py --data citegraph/demo_corpus/*.txt --out runs/sherlock \
        --json benchmarks/results/scratch_sherlock.json [--iters 500] \
        [--plot benchmarks/results/scratch_sherlock_loss.png]

Validation is the last 10% of each book. ``val_ppl`` is the exact perplexity over all of it (non-overlapping
windows); ``val_bits_per_byte`` makes it comparable with models that use other tokenizers.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.common import save
from citegraph.models.scratch.data import TokenData, read_texts, split_texts
from citegraph.models.scratch.evaluate import score_text, score_tokens
from citegraph.models.scratch.generate import SamplingConfig, generate_text, load_model
from citegraph.models.scratch.train import TrainConfig, train

PROMPTS = ["Sherlock Holmes", "“What do you make of it, Watson?”", "It was a cold morning"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, nargs="+", help="the demo corpus .txt files")
    ap.add_argument("--out", required=True, type=Path, help="run directory (model, tokenizer, log)")
    ap.add_argument("--json", required=True, type=Path)
    ap.add_argument("--plot", type=Path, default=None, help="copy the loss plot here")
    ap.add_argument("--iters", type=int, default=500)
    ap.add_argument("--vocab-size", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    cfg = TrainConfig(
        data=[str(p) for p in args.data],
        out_dir=str(args.out),
        tokenizer="bpe",
        vocab_size=args.vocab_size,
        n_layer=4,
        n_head=4,
        n_kv_head=2,
        n_embd=128,
        block_size=128,
        dropout=0.1,
        batch_size=12,
        max_iters=args.iters,
        lr=1e-3,
        min_lr=1e-4,
        warmup_iters=50,
        eval_interval=100,
        eval_iters=10,
        patience=3,
        device="cpu",
    )
    t0 = time.perf_counter()
    summary = train(cfg)
    wall = time.perf_counter() - t0

    model, tok = load_model(args.out)  # best validation weights
    val = score_tokens(model, TokenData.open(args.out).val)
    _, val_texts = split_texts(read_texts(args.data), cfg.val_fraction)
    val_bytes = score_text(model, tok, val_texts)  # each book's tail on its own, with bits per byte
    samples = {}
    for prompt in PROMPTS:
        sc = SamplingConfig(
            max_new_tokens=80, temperature=0.8, top_k=50, top_p=0.95, repetition_penalty=1.1, seed=0
        )
        samples[prompt] = generate_text(model, tok, prompt, sc)
    greedy = generate_text(model, tok, PROMPTS[0], SamplingConfig(max_new_tokens=60, temperature=0))

    result = {
        "params": summary["params"],
        "iters": summary["iters"],
        "stopped_early": summary["stopped_early"],
        "vocab_size": tok.vocab_size,
        "train_tokens": len(TokenData.open(args.out).train),
        "val_tokens": val.tokens,
        "train_loss": round(summary["train_loss"], 4),
        "val_loss": round(val.loss, 4),
        "val_ppl": round(val.perplexity, 2),
        "val_bits_per_byte": round(val_bytes.bits_per_byte, 4),
        "tokens_per_s": round(summary["tokens_per_s"], 1),
        "wall_s": round(wall, 1),
        "samples_t0.8_topk50_topp0.95": samples,
        "greedy": {PROMPTS[0]: greedy},
        "evals": summary["history"]["eval"],
    }
    save(result, args.json, indent=1, ensure_ascii=False, echo_without=("evals",))
    if args.plot:
        shutil.copyfile(args.out / "loss.png", args.plot)


if __name__ == "__main__":
    main()
