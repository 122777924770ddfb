"""Training throughput of the baby-config variants, measured side by side in one process.

    python benchmarks/scratch_speed.py --json benchmarks/results/scratch_speed.json [--steps 20] [--rounds 5]

Each round times ``--steps`` AdamW training steps (batch 12 x 64 tokens, vocab 65) of every variant in
turn, so load from other processes on the machine hits all variants alike; the median round is reported
with its ratio to the default (RoPE, RMSNorm, SwiGLU). Random tokens: speed does not depend on the data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.common import save
from citegraph.models.scratch.model import GPT, GPTConfig

VARIANTS = {
    "rope_rmsnorm_swiglu": {},
    "learned_positions": {"pos": "learned"},
    "layernorm": {"norm": "layernorm"},
    "gelu": {"mlp": "gelu"},
    "gpt2_style (learned+layernorm+gelu)": {"pos": "learned", "norm": "layernorm", "mlp": "gelu"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", required=True, type=Path)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    x = torch.randint(0, 65, (12, 64))
    y = torch.randint(0, 65, (12, 64))
    setups = {}
    for name, overrides in VARIANTS.items():
        model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, **overrides))
        opt = torch.optim.AdamW(model.optimizer_groups(0.1), lr=1e-3, betas=(0.9, 0.99))
        setups[name] = (model, opt)

    def steps(model: GPT, opt: torch.optim.Optimizer, n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            _, loss = model(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t0

    for model, opt in setups.values():  # warm-up
        steps(model, opt, 3)
    seconds: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(args.rounds):
        for name, (model, opt) in setups.items():
            seconds[name].append(steps(model, opt, args.steps))
    tokens = args.steps * x.numel()
    speed = {name: tokens / statistics.median(s) for name, s in seconds.items()}
    base = speed["rope_rmsnorm_swiglu"]
    result = {
        "threads": torch.get_num_threads(),
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "variants": {
            name: {
                "params": setups[name][0].num_params(),
                "tokens_per_s": round(v, 1),
                "ratio_to_default": round(v / base, 3),
            }
            for name, v in speed.items()
        },
    }
    save(result, args.json, indent=1)


if __name__ == "__main__":
    main()
