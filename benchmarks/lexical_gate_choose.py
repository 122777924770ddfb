"""Choose the coverage threshold the answer step abstains by on questions the judge cannot read (Thai).

On a SQuAD-format *training* set in that language (we use the train split of the iApp Thai Wikipedia QA
set, never XQuAD), every question is retrieved through the ``retrieval`` graph twice: with its paragraph
in the store and with it removed. ``lexical.coverage`` scores the retrieved sentences; the best score is
what the answer step compares with ``ANSWER_COVERAGE``. The choice: the threshold that abstains most
without the paragraph while abstaining on at most 10% of questions with it; the sweep is saved so the
trade-off can be read.

    python benchmarks/lexical_gate_choose.py --train /tmp/iapp/data/train.jsonl \
        --json benchmarks/results/lexical_gate_iapp_train.json

(``train.jsonl`` is in ``squad_format/data.zip`` of github.com/iapp-technology/iapp-wiki-qa-dataset.)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import machine, save
from citegraph.eval.qa import (
    Question,
    SquadData,
    normalize_answer,
    open_squad_store,
    retrieved_with_and_without,
)
from citegraph.settings import Settings

MAX_WRONG_ABSTENTION = 0.10


def load_jsonl_squad(path: Path, contexts: int, seed: int = 0) -> SquadData:
    """``contexts`` paragraphs (chosen at random with ``seed``) and their answerable questions from a
    JSON-lines SQuAD file (one question per line: context, question, answers.text), such as iApp's."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_context: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_context.setdefault(row["context"], []).append(row)
    chosen = sorted(by_context)
    random.Random(seed).shuffle(chosen)
    data = SquadData(name=f"{path.stem}-{contexts}-{seed}", paragraphs={})
    for i, context in enumerate(chosen[:contexts]):
        doc_id = f"{i}-0"
        data.paragraphs[doc_id] = (by_context[context][0].get("title", ""), context)
        for row in by_context[context]:
            answers = tuple(a for a in row["answers"]["text"] if a.strip())
            if answers:
                data.questions.append(Question(row["question_id"], row["question"], doc_id, answers))
    return data


@dataclass
class Scored:
    """One question: the best retrieved sentence's coverage with and without its paragraph, and whether
    the best sentence (with the paragraph) holds a gold answer."""

    best: float
    best_removed: float
    top_holds_answer: bool


def score_questions(data: SquadData, limit: int, log: Callable[[str], None] = print) -> list[Scored]:
    """Retrieve each question (first ``limit``) with and without its paragraph and score the sentences."""
    from citegraph.agents.answerer import candidate_sentences, judged_by_terms

    store = open_squad_store(data, Settings())
    scored = []
    for q, hits, hits_removed in retrieved_with_and_without(store, data.questions[:limit], log):
        with_paragraph = judged_by_terms(q.question, candidate_sentences(hits), store).ranked
        removed = judged_by_terms(q.question, candidate_sentences(hits_removed), store).ranked
        gold = [normalize_answer(a) for a in q.answers]
        top = normalize_answer(with_paragraph[0].text) if with_paragraph else ""
        scored.append(
            Scored(
                best=with_paragraph[0].score if with_paragraph else 0.0,
                best_removed=removed[0].score if removed else 0.0,
                top_holds_answer=any(g and g in top for g in gold),
            )
        )
    return scored


def sweep(scored: list[Scored]) -> dict[str, Any]:
    """Abstention with and without the paragraph at each threshold, and the threshold chosen."""
    best = np.array([s.best for s in scored])
    removed = np.array([s.best_removed for s in scored])
    rows = []
    for threshold in np.round(np.arange(0.2, 0.951, 0.025), 3):
        rows.append(
            {
                "threshold": float(threshold),
                "abstain_answerable": round(float(np.mean(best < threshold)), 4),
                "abstain_removed": round(float(np.mean(removed < threshold)), 4),
            }
        )
    # Abstaining on a question the documents answer is the costlier error for a user: the most abstention
    # without the paragraph among thresholds that abstain on at most MAX_WRONG_ABSTENTION with it.
    allowed = [r for r in rows if r["abstain_answerable"] <= MAX_WRONG_ABSTENTION] or rows[:1]
    chosen = max(allowed, key=lambda r: (r["abstain_removed"], -r["abstain_answerable"]))
    return {
        "questions": len(scored),
        "top_sentence_holds_answer": round(float(np.mean([s.top_holds_answer for s in scored])), 4),
        "chosen": chosen,
        "sweep": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="iApp train.jsonl")
    parser.add_argument("--contexts", type=int, default=300, help="paragraphs in the store")
    parser.add_argument("--questions", type=int, default=400, help="questions asked (twice each)")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    data = load_jsonl_squad(args.train, args.contexts)
    result = {
        "command": " ".join(sys.argv),
        "data": f"{args.train} ({args.contexts} paragraphs, seed 0)",
        **sweep(score_questions(data, args.questions)),
        "machine": machine(),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "sweep"}, indent=1))
    save(result, args.json, ensure_ascii=False, echo=False)


if __name__ == "__main__":
    main()
