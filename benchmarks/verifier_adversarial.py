"""The citation verifier against swapped facts: does it reject a correct cited sentence whose answer (an
entity or a number) was swapped for another one, and does it keep the original?

From every answerable XQuAD question: the paragraph sentence holding the gold answer, cited as [1] with
the whole paragraph as source. The adversarial copy replaces the answer with the answer of another
question of the same kind (number -> number, name -> name) that the paragraph never mentions.

    python benchmarks/verifier_adversarial.py --json benchmarks/results/verifier_adversarial.json
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import save
from citegraph.agents.verifier import Verifier, numbers
from citegraph.eval.qa import load_squad, normalize_answer
from citegraph.ingest.chunking import sentence_spans
from citegraph.retrieval.embeddings import Embedder

XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad" / "xquad.en.json"


def kind_of(answer: str) -> str | None:
    """'number' for answers holding a number, 'name' for capitalised ones; other answers are not used."""
    if numbers(answer):
        return "number"
    if answer[:1].isupper():
        return "name"
    return None


def build_cases(path: Path, seed: int = 0) -> list[dict]:
    """(original sentence, adversarial sentence, paragraph, kind) for every usable question."""
    data = load_squad(path)
    by_kind: dict[str, list[str]] = {"number": [], "name": []}
    for q in data.questions:
        for a in q.answers[:1]:
            if (k := kind_of(a)) is not None:
                by_kind[k].append(a)
    rng = random.Random(seed)
    cases = []
    for q in data.questions:
        if not q.answers or (kind := kind_of(q.answers[0])) is None:
            continue
        answer = q.answers[0]
        paragraph = data.paragraphs[q.doc_id][1]
        sentence = next(
            (paragraph[a:b] for a, b in sentence_spans(paragraph) if answer in paragraph[a:b]), None
        )
        if sentence is None:
            continue
        plain, mentioned = normalize_answer(paragraph), numbers(paragraph)
        pool = [x for x in by_kind[kind] if normalize_answer(x) not in plain and not numbers(x) & mentioned]
        if not pool:
            continue
        swap = rng.choice(pool)
        cited = lambda s: re.sub(r"([.!?][\"'”’)]*)\s*$", r" [1]\1", s.strip())  # noqa: E731
        cases.append(
            {
                "kind": kind,
                "original": cited(sentence),
                "adversarial": cited(sentence.replace(answer, swap, 1)),
                "source": paragraph,
            }
        )
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=XQUAD)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()

    cases = build_cases(args.dataset)[: args.limit]
    verifier = Verifier(Embedder())
    verifier.verify("Warm-up [1].", {1: "Warm-up."})
    rows = []
    start = time.perf_counter()
    for case in cases:
        sources = {1: case["source"]}
        rows.append(
            {
                "kind": case["kind"],
                "original_ok": verifier.verify(case["original"], sources).verified,
                "adversarial_ok": verifier.verify(case["adversarial"], sources).verified,
            }
        )
    seconds = time.perf_counter() - start

    def rates(subset: list[dict]) -> dict:
        n = len(subset)
        return {
            "cases": n,
            "rejection_rate": round(sum(not r["adversarial_ok"] for r in subset) / n, 4) if n else None,
            "false_rejection_rate": round(sum(not r["original_ok"] for r in subset) / n, 4) if n else None,
        }

    result = {
        "dataset": args.dataset.name,
        **rates(rows),
        "by_kind": {k: rates([r for r in rows if r["kind"] == k]) for k in ("number", "name")},
        "ms_per_check": round(seconds * 1000 / max(2 * len(rows), 1), 2),
        "thresholds": {"min_lexical": verifier.min_lexical, "min_semantic": verifier.min_semantic},
    }
    save(result, args.json)


if __name__ == "__main__":
    sys.exit(main())
