"""Generation speed of the bundled SmolLM2-135M-Instruct: llama.cpp (``gguf:smollm2``) vs transformers
(``hf:smollm2``), side by side in one process on the same prompts.

    python benchmarks/llamacpp_speed.py --json benchmarks/results/llamacpp_speed.json [--rounds 3]

Both decode greedily with a 1.1 repetition penalty and the same token limit, as the answerer runs them. Each
round asks every prompt of both backends, alternating which goes first, so load from other processes on
the machine hits both alike. Tokens are counted with the model's own tokenizer on the reply text for both
(llama.cpp's reported count is kept beside it); tokens/s is end to end (prompt processing included, as a
user waits for it), summed over a round; the median round of each is reported, and the speed-up is the
median of the rounds' ratios (both backends under the same load), with every round's ratio beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, save

PASSAGES = (
    "[1] The Kestrel bridge was designed by the engineer Agnes Thorne and opened in 1911.\n"
    "[2] The Hollowell lighthouse keeper Marta Vance kept the lamp lit through the storm of 1893."
)
PROMPTS = [
    [("user", "Write a short paragraph about why bridges need maintenance.")],
    [("user", "Explain in three sentences how a lighthouse works.")],
    [("user", "List five fruits and say one thing about each.")],
    [
        ("system", "Answer only from the numbered sources and cite each sentence with [n]."),
        ("user", f"Sources:\n{PASSAGES}\n\nQuestion: Who designed the Kestrel bridge, and when did it open?"),
    ],
]


def timed_reply(model: Any, prompt: list[tuple[str, str]]) -> tuple[float, str, int | None]:
    """(seconds, reply text, tokens the backend reports generating or None) for one call."""
    start = time.perf_counter()
    reply = model.invoke(prompt)
    seconds = time.perf_counter() - start
    usage = getattr(reply, "usage_metadata", None) or {}
    return seconds, str(reply.content), usage.get("output_tokens")


def run_round(models: dict[str, Any], tokenizer: Any, first: str) -> dict[str, dict[str, float]]:
    """One pass over every prompt for every backend (``first`` goes first on even prompts)."""
    totals = {name: {"seconds": 0.0, "tokens": 0, "reported_tokens": 0} for name in models}
    for i, prompt in enumerate(PROMPTS):
        order = sorted(models, key=lambda name: (name != first) if i % 2 == 0 else (name == first))
        for name in order:
            seconds, text, reported = timed_reply(models[name], prompt)
            totals[name]["seconds"] += seconds
            totals[name]["tokens"] += len(tokenizer.encode(text, add_special_tokens=False))
            totals[name]["reported_tokens"] += reported or 0
    for figures in totals.values():
        figures["tokens_per_s"] = figures["tokens"] / figures["seconds"]
    return totals


def rounded(figures: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 2) for key, value in figures.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=96)
    args = ap.parse_args()

    from citegraph.models.hf import load_causal_lm, load_hf_chat_model
    from citegraph.models.llamacpp import load_gguf_chat_model

    loads: dict[str, float] = {}
    start = time.perf_counter()
    llamacpp = load_gguf_chat_model("smollm2", max_tokens=args.max_tokens)
    loads["gguf:smollm2"] = time.perf_counter() - start
    start = time.perf_counter()
    transformers = load_hf_chat_model("smollm2", max_new_tokens=args.max_tokens)
    loads["hf:smollm2"] = time.perf_counter() - start
    models = {"gguf:smollm2": llamacpp, "hf:smollm2": transformers}
    tokenizer = load_causal_lm("smollm2")[1]
    for model in models.values():  # one untimed call each: first-call setup is not generation speed
        model.invoke(PROMPTS[0])

    rounds = [run_round(models, tokenizer, first=list(models)[r % 2]) for r in range(args.rounds)]
    speeds = {name: statistics.median(r[name]["tokens_per_s"] for r in rounds) for name in models}
    ratios = [r["gguf:smollm2"]["tokens_per_s"] / r["hf:smollm2"]["tokens_per_s"] for r in rounds]
    result = {
        "benchmark": "llamacpp_speed",
        "machine": machine(),
        "prompts": len(PROMPTS),
        "max_tokens": args.max_tokens,
        "rounds": args.rounds,
        "load_s": {name: round(s, 2) for name, s in loads.items()},
        "tokens_per_s": {name: round(s, 2) for name, s in speeds.items()},
        # Per round (both backends under the same load), then the median and the spread over rounds.
        "speedup": round(statistics.median(ratios), 2),
        "speedup_per_round": [round(ratio, 2) for ratio in ratios],
        "per_round": [{name: rounded(figures) for name, figures in r.items()} for r in rounds],
    }
    save(result, args.json)


if __name__ == "__main__":
    main()
