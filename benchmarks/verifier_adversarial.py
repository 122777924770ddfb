"""The citation verifier against changed facts: does it reject a correct cited sentence whose answer (an
entity or a number) was swapped for another one, or which was negated, and does it keep the original?

From every answerable XQuAD question: the paragraph sentence holding the gold answer, cited as [1] with
the whole paragraph as source. The adversarial copy replaces the answer with the answer of another
question of the same kind (number -> number, name -> name) that the paragraph never mentions; a third
kind, ``negation``, puts "not" after the sentence's first "is/was/are/were" (every word still in the
source, so only a judge of meaning catches it). Runs under whichever CiteGraph is imported, so
``benchmarks/side_by_side.py`` can compare versions.

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

from benchmarks.common import make_verifier, save
from citegraph.agents.verifier import numbers
from citegraph.eval.qa import load_squad, normalize_answer
from citegraph.ingest.chunking import sentence_spans

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
    cited = lambda s: re.sub(r"([.!?][\"'”’)]*)\s*$", r" [1]\1", s.strip())  # noqa: E731
    negated_sentences = set()
    for q in data.questions:
        if not q.answers:
            continue
        paragraph = data.paragraphs[q.doc_id][1]
        sentence = next(
            (paragraph[a:b] for a, b in sentence_spans(paragraph) if q.answers[0] in paragraph[a:b]), None
        )
        verb = re.search(r"\b(is|was|are|were)\b", sentence or "")
        if sentence is None or verb is None or sentence in negated_sentences or " not " in sentence:
            continue
        negated_sentences.add(sentence)
        negated = f"{sentence[: verb.end()]} not{sentence[verb.end() :]}"
        cases.append(
            {
                "kind": "negation",
                "original": cited(sentence),
                "adversarial": cited(negated),
                "source": paragraph,
            }
        )
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
        cases.append(
            {
                "kind": kind,
                "original": cited(sentence),
                "adversarial": cited(sentence.replace(answer, swap, 1)),
                "source": paragraph,
            }
        )
    rng.shuffle(cases)  # kinds mixed, so --limit keeps each in proportion
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
    verifier, judged_by = make_verifier()
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
        "by_kind": {k: rates([r for r in rows if r["kind"] == k]) for k in ("number", "name", "negation")},
        "ms_per_check": round(seconds * 1000 / max(2 * len(rows), 1), 2),
        "support_judged_by": judged_by,
    }
    save(result, args.json)


if __name__ == "__main__":
    sys.exit(main())
