"""The verifier on a public support-judgment test set: for each (premise, hypothesis) pair, is
"hypothesis [1]" verified against source [1] = premise? Right when verified exactly for ENTAILMENT.

SICK 2014 test (4,927 pairs; never trained on: the judge saw SICK *train*, from the same source
sentences, so this is in-domain for it). Runs under whichever CiteGraph is imported, so
``benchmarks/side_by_side.py`` compares the judge with the bi-encoder verifier before it.

    python benchmarks/support_judgment.py \
        --data ../shared/data/judge_train/eval_only/sick2014_test/SICK_test_annotated.txt \
        --json benchmarks/results/support_sick_test.json
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import machine, make_verifier, save


def macro_f1(truth: list[bool], guess: list[bool]) -> float:
    scores = []
    for positive in (True, False):
        tp = sum(t == positive and g == positive for t, g in zip(truth, guess, strict=True))
        scores.append(2 * tp / max(sum(t == positive for t in truth) + sum(g == positive for g in guess), 1))
    return sum(scores) / 2


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="SICK test file (tab-separated, with header)."
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()

    with args.data.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[: args.limit]
    verifier, judged_by = make_verifier()
    truth, guess, labels = [], [], []
    start = time.perf_counter()
    for row in rows:
        claim = row["sentence_B"].strip().rstrip(".")
        verified = verifier.verify(f"{claim} [1].", {1: row["sentence_A"]}).verified
        labels.append(row["entailment_judgment"])
        truth.append(row["entailment_judgment"] == "ENTAILMENT")
        guess.append(verified)
    seconds = time.perf_counter() - start

    def accepted(label: str) -> float:
        chosen = [g for g, lab in zip(guess, labels, strict=True) if lab == label]
        return round(sum(chosen) / max(len(chosen), 1), 4)

    save(
        {
            "dataset": "SICK 2014 test",
            "pairs": len(rows),
            "support_judged_by": judged_by,
            "accuracy": round(sum(t == g for t, g in zip(truth, guess, strict=True)) / len(rows), 4),
            "macro_f1": round(macro_f1(truth, guess), 4),
            "accepted_entailment": accepted("ENTAILMENT"),
            "accepted_neutral": accepted("NEUTRAL"),
            "accepted_contradiction": accepted("CONTRADICTION"),
            "ms_per_pair": round(seconds * 1000 / len(rows), 2),
            "machine": machine(),
        },
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
