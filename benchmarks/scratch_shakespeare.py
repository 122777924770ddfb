"""Train nanoGPT's CPU "baby" config on tiny shakespeare (char level) and report loss and speed.

    python benchmarks/scratch_shakespeare.py --data ../shared/data/tinyshakespeare/input.txt \
        --json benchmarks/results/scratch_shakespeare.json [--iters 2000] \
        [--pos learned] [--norm layernorm] [--mlp gelu]

The config is nanoGPT's (README, "I only have a macbook"): 4 layers, 4 heads, 128 wide, block 64, batch 12,
2,000 iterations, lr 1e-3 cosine-decayed to 1e-4 with 100 warmup steps, AdamW (0.9, 0.99), weight decay
0.1, clipping at 1.0, dropout 0, no biases. ``--pos/--norm/--mlp`` switch one component for the ablation.

Reported: ``val_loss`` is the exact mean loss over the whole held-out 10% (non-overlapping 64-token
windows, the same context distribution as training); ``val_loss_est`` is nanoGPT's style of estimate
(20 batches) at the last evaluation; ``tokens_per_s`` counts training tokens over training-step time only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.common import save
from citegraph.models.scratch.data import TokenData
from citegraph.models.scratch.evaluate import score_tokens
from citegraph.models.scratch.generate import load_model
from citegraph.models.scratch.train import TrainConfig, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="tiny shakespeare input.txt")
    ap.add_argument("--json", required=True, type=Path, help="where to write the result")
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--pos", default="rope", choices=["rope", "learned", "sinusoidal"])
    ap.add_argument("--norm", default="rmsnorm", choices=["rmsnorm", "layernorm"])
    ap.add_argument("--mlp", default="swiglu", choices=["swiglu", "gelu"])
    ap.add_argument("--out", type=Path, default=None, help="run directory to keep (default: a temp dir)")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "run"
        cfg = TrainConfig(
            data=[str(args.data)],
            out_dir=str(out),
            tokenizer="char",
            n_layer=4,
            n_head=4,
            n_embd=128,
            block_size=64,
            batch_size=12,
            max_iters=args.iters,
            lr_decay_iters=args.iters,
            lr=1e-3,
            min_lr=1e-4,
            warmup_iters=100,
            beta2=0.99,
            weight_decay=0.1,
            grad_clip=1.0,
            dropout=0.0,
            eval_interval=250,
            eval_iters=20,
            pos=args.pos,
            norm=args.norm,
            mlp=args.mlp,
            device="cpu",
            seed=args.seed,
            verbose=True,
        )
        t0 = time.perf_counter()
        summary = train(cfg)
        wall = time.perf_counter() - t0
        # Exact held-out loss of the final weights (ckpt.pt holds the last iteration's model).
        model, _ = load_model(out, checkpoint="last")
        val = score_tokens(model, TokenData.open(out).val)

    result = {
        "params": summary["params"],
        "iters": summary["iters"],
        "val_loss": round(val.loss, 4),
        "train_loss": round(summary["train_loss"], 4),
        "val_loss_est": round(summary["val_loss"], 4),
        "tokens_per_s": round(summary["tokens_per_s"], 1),
        "wall_s": round(wall, 1),
        "config": {
            "pos": args.pos,
            "norm": args.norm,
            "mlp": args.mlp,
            "seed": args.seed,
            "mlp_hidden": summary["model_config"]["mlp_hidden"],
            "threads": torch.get_num_threads(),
        },
        "evals": summary["history"]["eval"],
    }
    save(result, args.json, indent=1, echo_without=("evals",))


if __name__ == "__main__":
    main()
