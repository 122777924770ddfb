"""Look for a better abstention gate for the extract answer, on SQuAD v1.1 *train* (never XQuAD).

XQuAD-shaped: ``--articles`` SQuAD train articles (chosen at random with ``--seed``), ``--paragraphs`` of
each, every question of those paragraphs. Each question is retrieved through the ``retrieval`` graph twice,
with its paragraph in the store and with it removed, and the answer step's judgment of the sentences is
recorded: the shipped gate's decision and the signals it could use (the bi-encoder closeness of the best
sentence, the answerable head, the best sentence's answer score, its short-answer span probability).
Then every gate "signal >= threshold", after the shipped gate or instead of it, is swept; the choice
abstains most without the paragraph while abstaining on at most ``--max-wrong`` of questions with it.

    python benchmarks/answerable_gate_choose.py --train /tmp/judge_train/squad_v1.1_train_explorer_html \
        --json benchmarks/results/answerable_gate_squad_train.json

(``benchmarks/data/judge_train/fetch.sh`` rebuilds /tmp/judge_train.)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
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
from citegraph.models.judge.data import explorer_page
from citegraph.settings import Settings

SIGNALS = ("closeness", "answerable", "answer", "span")


def load_explorer_articles(folder: Path, articles: int, paragraphs: int, seed: int) -> SquadData:
    """``articles`` article pages of ``folder`` and ``paragraphs`` paragraphs of each (at random), with
    every question of those paragraphs."""
    rng = random.Random(seed)
    pages = sorted(folder.glob("*.html"))
    rng.shuffle(pages)
    data = SquadData(name=f"squad-train-{articles}x{paragraphs}-{seed}", paragraphs={})
    for a, page in enumerate(pages[:articles]):
        by_context: dict[str, list[tuple[str, str]]] = {}
        for item in explorer_page(page, page.read_text(encoding="utf-8")):
            start, end = item.answers[0]
            by_context.setdefault(item.context, []).append((item.question, item.context[start:end]))
        contexts = list(by_context)
        for p, context in enumerate(
            sorted(rng.sample(contexts, min(paragraphs, len(contexts))), key=contexts.index)
        ):
            doc_id = f"{a}-{p}"
            data.paragraphs[doc_id] = (page.stem.replace("_", " "), context)
            for k, (question, answer) in enumerate(by_context[context]):
                data.questions.append(Question(f"{doc_id}-{k}", question, doc_id, (answer,)))
    return data


def signals(question: str, hits: list, store: Any, judge: Any) -> dict[str, Any]:
    """The shipped gate's decision on ``hits`` and the signals beside it."""
    import torch

    from citegraph.agents.answerer import judged
    from citegraph.models.judge.judge import ANSWERABLE_SENTENCES, answer_pair, best_span

    verdict = judged(question, hits, judge, store)
    ranked = verdict.ranked
    if not ranked:
        return {"gate": False, "top": "", **dict.fromkeys(SIGNALS, 0.0)}
    best = sorted(ranked[:ANSWERABLE_SENTENCES], key=lambda c: (c.hit.source_id, c.start))
    top = ranked[0]
    _, spans = judge.logits("answer", [answer_pair(question, top.text, top.previous)])
    start, end, offsets = spans[0]
    found = best_span(torch.as_tensor(start), torch.as_tensor(end), offsets, len(top.text))
    return {
        "gate": verdict.answerable,
        "top": top.text,
        "closeness": max(c.score for c in ranked),
        "answerable": judge.answerable(question, [c.text for c in best], max(c.score for c in best)),
        "answer": top.judgment.score if top.judgment else 0.0,
        "span": found[1] if found else 0.0,
    }


def score_questions(data: SquadData, limit: int | None) -> list[dict[str, Any]]:
    """Each question's signals with its paragraph (``with``) and without it (``removed``)."""
    from citegraph.models.judge.judge import judge_for_settings

    store = open_squad_store(data, Settings())
    judge = judge_for_settings(store.settings)
    rows = []
    questions = data.questions[:limit] if limit else data.questions
    for q, hits, hits_removed in retrieved_with_and_without(store, questions):
        row = {
            "question": q.question,
            "with": signals(q.question, hits, store, judge),
            "removed": signals(q.question, hits_removed, store, judge),
        }
        top = normalize_answer(row["with"].pop("top"))
        row["removed"].pop("top")
        row["top_holds_answer"] = any(normalize_answer(a) in top for a in q.answers)
        rows.append(row)
    return rows


def abstention(
    rows: list[dict[str, Any]], side: str, signal: str | None, threshold: float, gate: bool = True
) -> float:
    """Share of questions abstained on by the gate "``signal`` >= ``threshold``", after the shipped gate
    (``gate``) or instead of it."""
    return float(
        np.mean(
            [
                not ((r[side]["gate"] or not gate) and (signal is None or r[side][signal] >= threshold))
                for r in rows
            ]
        )
    )


def auc(positive: list[float], negative: list[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def sweep(rows: list[dict[str, Any]], max_wrong: float) -> dict[str, Any]:
    """How well each signal tells the question with its paragraph from the one without (AUC), and
    abstention with and without the paragraph for the shipped gate and each added threshold."""
    separation = {
        signal: round(auc([r["with"][signal] for r in rows], [r["removed"][signal] for r in rows]), 4)
        for signal in SIGNALS
    }
    shipped = {
        "abstain_answerable": round(abstention(rows, "with", None, 0), 4),
        "abstain_removed": round(abstention(rows, "removed", None, 0), 4),
    }
    table = []
    for signal in SIGNALS:
        values = sorted({round(r[side][signal], 3) for r in rows for side in ("with", "removed")})
        for threshold in np.quantile(values, np.linspace(0, 1, 41)):
            for gate in (True, False):
                table.append(
                    {
                        "signal": signal,
                        "after_shipped_gate": gate,
                        "threshold": round(float(threshold), 4),
                        "abstain_answerable": round(abstention(rows, "with", signal, threshold, gate), 4),
                        "abstain_removed": round(abstention(rows, "removed", signal, threshold, gate), 4),
                    }
                )
    allowed = [t for t in table if t["abstain_answerable"] <= max_wrong]
    chosen = max(allowed, key=lambda t: (t["abstain_removed"], -t["abstain_answerable"]), default=None)
    return {"auc_with_vs_removed": separation, "shipped_gate": shipped, "chosen": chosen, "sweep": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="SQuAD v1.1 train explorer pages")
    parser.add_argument("--articles", type=int, default=48)
    parser.add_argument("--paragraphs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--max-wrong", type=float, default=0.08)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument(
        "--rows", type=Path, default=None, help="save (or, if it exists, read) every question's signals"
    )
    args = parser.parse_args()
    if args.rows and args.rows.exists():
        rows = json.loads(args.rows.read_text(encoding="utf-8"))
    else:
        data = load_explorer_articles(args.train, args.articles, args.paragraphs, args.seed)
        rows = score_questions(data, args.limit)
        if args.rows:
            args.rows.write_text(json.dumps(rows), encoding="utf-8")
    result = {
        "command": " ".join(sys.argv),
        "data": f"{args.train}: {args.articles} articles x {args.paragraphs} paragraphs, seed {args.seed}",
        "questions": len(rows),
        "top_sentence_holds_answer": round(float(np.mean([r["top_holds_answer"] for r in rows])), 4),
        **sweep(rows, args.max_wrong),
        "machine": machine(),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "sweep"}, indent=1))
    save(result, args.json, echo=False)


if __name__ == "__main__":
    main()
