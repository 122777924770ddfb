"""KV-cache speed-up of greedy generation, and proof that cached and uncached outputs are identical.

    python benchmarks/scratch_kvcache.py --model runs/sherlock --json benchmarks/results/scratch_kvcache.json
    python benchmarks/scratch_kvcache.py --random --block-size 512 --json ...   # untrained, any size

Both paths generate ``--new-tokens`` tokens greedily from the same prompt, alternating runs so machine
noise hits both alike; the best of ``--repeats`` is reported for each.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.common import save
from citegraph.models.scratch.generate import SamplingConfig, generate_ids, load_model
from citegraph.models.scratch.model import GPT, GPTConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="a trained run directory")
    ap.add_argument("--random", action="store_true", help="use an untrained model instead")
    ap.add_argument("--block-size", type=int, default=512)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--prompt", default="Sherlock Holmes took his bottle from the corner of the mantelpiece")
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", required=True, type=Path)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.random:
        torch.manual_seed(0)
        config = GPTConfig(
            vocab_size=2048,
            block_size=args.block_size,
            n_layer=args.n_layer,
            n_head=args.n_head,
            n_embd=args.n_embd,
        )
        model, prompt_ids, source = GPT(config).eval(), torch.randint(0, 2048, (12,)).tolist(), "random init"
    else:
        model, tok = load_model(args.model)
        prompt_ids, source = tok.encode(args.prompt), str(args.model)

    def run(use_cache: bool) -> tuple[list[int], float]:
        sc = SamplingConfig(
            max_new_tokens=args.new_tokens, temperature=0, use_cache=use_cache, stop_at_eot=False
        )
        t0 = time.perf_counter()
        ids = list(generate_ids(model, prompt_ids, sc))
        return ids, time.perf_counter() - t0

    times: dict[bool, list[float]] = {True: [], False: []}
    outputs: dict[bool, list[int]] = {}
    run(True)  # warm-up
    for _ in range(args.repeats):
        for use_cache in (False, True):
            outputs[use_cache], seconds = run(use_cache)
            times[use_cache].append(seconds)
    cached, uncached = min(times[True]), min(times[False])
    result = {
        "model": source,
        "params": model.num_params(),
        "block_size": model.config.block_size,
        "prompt_tokens": len(prompt_ids),
        "new_tokens": args.new_tokens,
        "uncached_s": round(uncached, 3),
        "cached_s": round(cached, 3),
        "uncached_tokens_per_s": round(args.new_tokens / uncached, 1),
        "cached_tokens_per_s": round(args.new_tokens / cached, 1),
        "speedup": round(uncached / cached, 2),
        "identical_greedy_output": outputs[True] == outputs[False],
        "threads": torch.get_num_threads(),
    }
    save(result, args.json, indent=1)


if __name__ == "__main__":
    main()
