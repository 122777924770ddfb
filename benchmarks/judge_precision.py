"""The judge in float32 and under bfloat16 autocast, side by side on held-out *training* examples.

The answer step runs the judge under bfloat16 autocast where the CPU multiplies bfloat16 in hardware
(``judge.native_bf16``). This measures what that changes and what it buys, on the held-out share of the
judge's own training data (``build_examples``; never XQuAD or a benchmark's test split):

- per head (answer, answerable, support): logit and probability differences, how often the two make the
  same decision at the shipped thresholds, and each one's AUC against the labels; for ``answer`` also how
  often the short-answer span is the same;
- speed: the answer step's call (8 answer pairs in one batch), float32 and bfloat16 interleaved call by
  call so machine noise hits both alike; p50 per call and the ratio.

    python benchmarks/judge_precision.py --data /tmp/judge_train \
        --json benchmarks/results/judge_precision.json

(``benchmarks/data/judge_train/fetch.sh /tmp/judge_train`` rebuilds the data folder.)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import machine, save
from citegraph.models.judge.data import Example, build_examples, read_folder
from citegraph.models.judge.judge import Judge, best_span, judge_at, native_bf16
from citegraph.models.judge.train import metrics

HEADS = ("answer", "answerable", "support")
CALL_SIZE = 8  # the answer step judges its 8 shortlisted sentences in one call (``JUDGED_SENTENCES``)


def scored(
    judge: Judge, head: str, examples: list[Example], closeness: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, list]:
    """Logits, probabilities (stacked with ``closeness`` where the judge was calibrated so) and spans."""
    logits, spans = judge.logits(head, [(e.text_a, e.text_b) for e in examples])
    return logits, judge.probability(head, logits, closeness), spans


def compare_head(full: Judge, half: Judge, head: str, examples: list[Example]) -> dict[str, Any]:
    """What bfloat16 changes for one head's scores and decisions; AUC as the training log computes it
    (``train.metrics``), so it reads beside the model card's."""
    labels = np.array([e.label for e in examples])
    # The bi-encoder's closeness does not depend on the judge's precision: computed once for both.
    closeness = None
    if full.stacked(head):
        closeness = full.closeness([e.text_a for e in examples], [e.text_b for e in examples])
    logits32, p32, spans32 = scored(full, head, examples, closeness)
    logits16, p16, spans16 = scored(half, head, examples, closeness)
    row: dict[str, Any] = {
        "examples": len(examples),
        "logit_max_abs_diff": round(float(np.abs(logits32 - logits16).max()), 4),
        "logit_mean_abs_diff": round(float(np.abs(logits32 - logits16).mean()), 4),
        "probability_max_abs_diff": round(float(np.abs(p32 - p16).max()), 4),
        "same_decision": round(
            float(np.mean([full.says(head, a) == half.says(head, b) for a, b in zip(p32, p16, strict=True)])),
            4,
        ),
        "auc_float32": metrics(p32, labels)["auc"],
        "auc_bfloat16": metrics(p16, labels)["auc"],
    }
    if head == "answer":
        same = []
        for example, a, b in zip(examples, spans32, spans16, strict=True):
            limit = len(example.text_b.split(" [SEP] ")[0])
            found = [best_span(torch.as_tensor(s[0]), torch.as_tensor(s[1]), s[2], limit) for s in (a, b)]
            same.append((found[0] or (None,))[0] == (found[1] or (None,))[0])
        row["same_span"] = round(float(np.mean(same)), 4)
    return row


def speed(full: Judge, half: Judge, examples: list[Example], calls: int) -> dict[str, Any]:
    """p50 ms of an answer-step call (``CALL_SIZE`` pairs), float32 and bfloat16 interleaved call by call."""
    times: dict[str, list[float]] = defaultdict(list)
    pairs = [(e.text_a, e.text_b) for e in examples]
    for i in range(calls):
        batch = pairs[(i * CALL_SIZE) % len(pairs) :][:CALL_SIZE]
        order = [("float32", full), ("bfloat16", half)]
        for name, judge in order if i % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            judge.logits("answer", batch)
            times[name].append((time.perf_counter() - started) * 1000)
    p50 = {name: round(statistics.median(values), 2) for name, values in times.items()}
    return {
        "calls": calls,
        "pairs_per_call": CALL_SIZE,
        "p50_ms": p50,
        "speedup_bfloat16": round(p50["float32"] / p50["bfloat16"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the judge's training data folder")
    parser.add_argument("--per-head", type=int, default=1000, help="held-out examples compared per head")
    parser.add_argument("--calls", type=int, default=200, help="answer-step calls timed per precision")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    shipped = judge_at()
    full = Judge(shipped.model, shipped.tokenizer, bf16=False)
    half = Judge(shipped.model, shipped.tokenizer, bf16=True)
    _, held = build_examples(read_folder(args.data), seed=args.seed)
    by_head: dict[str, list[Example]] = defaultdict(list)
    for example in held:
        by_head[example.head].append(example)
    rng = random.Random(args.seed)
    for examples in by_head.values():
        rng.shuffle(examples)
    result = {
        "data": f"{args.data}: held-out training examples (build_examples, seed {args.seed})",
        "native_bf16": native_bf16(),
        "threads": torch.get_num_threads(),
        "heads": {h: compare_head(full, half, h, by_head[h][: args.per_head]) for h in HEADS},
        "speed": speed(full, half, by_head["answer"], args.calls),
        "machine": machine(),
    }
    save(result, args.json)


if __name__ == "__main__":
    main()
