"""Choose the extract answer's abstention gate on SQuAD v1.1 *train* (never XQuAD).

XQuAD-shaped: ``--articles`` SQuAD train articles (chosen at random with ``--seed``), ``--paragraphs`` of
each, every question of those paragraphs. Each question is retrieved through the ``retrieval`` graph twice,
with its paragraph in the store and with it removed, and the answer step's judgment of the sentences is
recorded: the shipped gate's decision, the signals it weighs (``answerer.gate_signals``) and others it
could (the answerable head, the short-answer span probability, more lexical ones). A logistic regression
over a set of signals tells "with" from "removed"; its bias is shifted so that it abstains on at most
``--max-wrong`` of the questions with their paragraph. Each set is scored by 5-fold cross-validation
grouped by article (the threshold chosen on the training folds); the shipped set is then fitted on all
questions, which gives ``answerer.ABSTENTION_WEIGHTS`` and ``ABSTENTION_BIAS``. Questions whose best
sentences do not state what they ask for (``lexical.states_what_is_asked``) are abstained on either way.

    python benchmarks/answerable_gate_choose.py --train /tmp/judge_train/squad_v1.1_train_explorer_html \
        --json benchmarks/results/answerable_gate_squad_train.json

(``benchmarks/data/judge_train/fetch.sh`` rebuilds /tmp/judge_train.)
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import machine, save
from citegraph.agents.answerer import ABSTENTION_WEIGHTS, answers_at_all
from citegraph.eval.qa import (
    Question,
    SquadData,
    normalize_answer,
    open_squad_store,
    retrieved_with_and_without,
)
from citegraph.models.judge.data import explorer_page
from citegraph.retrieval.query import named_terms
from citegraph.retrieval.tokenizer import tokenize
from citegraph.settings import Settings

# Signals the shipped gate does not weigh, recorded to show what they would earn.
OTHER_SIGNALS = (
    "answerable",
    "span",
    "rarest_missing",
    "phrase_coverage",
    "name_coverage",
    "passage_similarity",
    "max_passage_coverage",
    "best_passage_coverage",
)


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


def rarest_missing(weights: dict[str, float], text: str, documents: int) -> float:
    """The weight of the rarest question term ``text`` lacks, as a share of the highest a term can have
    among ``documents`` chunks; 0 when ``text`` holds every term."""
    here = set(tokenize(text))
    missing = [w for t, w in weights.items() if t not in here]
    return max(missing, default=0.0) / math.log(1 + (documents + 0.5) / 0.5)


def phrase_coverage(question: str, text: str) -> float:
    """Share of the question's adjacent content-term pairs found adjacent in ``text``."""
    terms = tokenize(question)
    pairs = set(itertools.pairwise(terms))
    tokens = tokenize(text)
    return len(pairs & set(itertools.pairwise(tokens))) / len(pairs) if pairs else 1.0


def name_coverage(question: str, text: str) -> float:
    """Share of the question's names (capitalised words after its first, numbers) found in ``text``."""
    words = re.findall(r"\w+", question)[1:]
    names = {w.lower() for w in words if w[0].isupper() or w[0].isdigit()}
    here = {w.lower() for w in re.findall(r"\w+", text)}
    return len(names & here) / len(names) if names else 1.0


def signals(question: str, hits: list, store: Any, judge: Any) -> dict[str, Any]:
    """Whether the best sentences state what the question asks for, the signals the shipped gate weighs
    and the others."""
    import torch

    from citegraph.agents.answerer import ANSWER_SENTENCES, gate_signals, judged, weighted_terms
    from citegraph.models.judge import lexical
    from citegraph.models.judge.judge import ANSWERABLE_SENTENCES, answer_pair, best_span

    verdict = judged(question, hits, judge, store)
    ranked = verdict.ranked
    if not ranked:
        return {
            "fits": False,
            "top": "",
            **dict.fromkeys((*ABSTENTION_WEIGHTS, *OTHER_SIGNALS), 0.0),
        }
    best = sorted(ranked[:ANSWERABLE_SENTENCES], key=lambda c: (c.hit.source_id, c.start))
    weights = weighted_terms(question, store)
    passages = "\n".join(h.text for h in hits)
    top = ranked[0]
    _, spans = judge.logits("answer", [answer_pair(question, top.text, top.previous)])
    start, end, offsets = spans[0]
    found = best_span(torch.as_tensor(start), torch.as_tensor(end), offsets, len(top.text))
    return {
        "fits": lexical.states_what_is_asked(question, [c.text for c in ranked[:ANSWER_SENTENCES]]),
        "top": top.text,
        **gate_signals(named_terms(question), weights, ranked, hits),
        "answerable": judge.answerable(question, [c.text for c in best], max(c.score for c in best)),
        "span": found[1] if found else 0.0,
        "rarest_missing": rarest_missing(weights, passages, max(len(store), 1)),
        "phrase_coverage": phrase_coverage(question, passages),
        "name_coverage": name_coverage(question, passages),
        "passage_similarity": max((h.similarity or 0.0) for h in hits),
        # The question's terms held together in one passage (the best sentence's, or any), not across all:
        # tried as a fifth signal, see benchmarks/results/answerable_gate_passage_coverage_*.json.
        "max_passage_coverage": max(lexical.coverage(weights, h.text) for h in hits),
        "best_passage_coverage": lexical.coverage(weights, top.hit.text),
    }


def score_questions(data: SquadData, limit: int | None, top_k: int = 5) -> list[dict[str, Any]]:
    """Each question's signals with its paragraph (``with``) and without it (``removed``), over at most
    ``top_k`` retrieved passages."""
    from citegraph.models.judge.judge import judge_for_settings

    store = open_squad_store(data, Settings())
    judge = judge_for_settings(store.settings)
    rows = []
    questions = data.questions[:limit] if limit else data.questions
    for q, hits, hits_removed in retrieved_with_and_without(store, questions, top_k=top_k):
        row = {
            "id": q.qid,
            "question": q.question,
            "with": signals(q.question, hits, store, judge),
            "removed": signals(q.question, hits_removed, store, judge),
        }
        top = normalize_answer(row["with"].pop("top"))
        row["removed"].pop("top")
        row["top_holds_answer"] = any(normalize_answer(a) in top for a in q.answers)
        rows.append(row)
    return rows


def auc(positive: list[float], negative: list[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def lowest_passing(scores: np.ndarray, fits: np.ndarray, max_wrong: float) -> float:
    """The highest threshold on ``scores`` (questions with their paragraph) at which the gate "fits and
    score >= threshold" abstains on at most ``max_wrong`` of them."""
    chosen = float(scores.min()) - 1.0
    for threshold in np.sort(scores):
        if np.mean(~(fits & (scores >= threshold))) > max_wrong:
            break
        chosen = float(threshold)
    return chosen


def fit_gate(rows: list[dict[str, Any]], names: tuple[str, ...], max_wrong: float) -> dict[str, Any]:
    """A logistic gate over ``names``: abstention with and without the paragraph under 5-fold
    cross-validation grouped by article, and the weights and bias fitted on all ``rows``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    n = len(rows)
    x = np.array([[r[side][s] for s in names] for side in ("with", "removed") for r in rows], dtype=float)
    y = np.array([1] * n + [0] * n)
    fits = np.array([r[side]["fits"] for side in ("with", "removed") for r in rows], dtype=bool)
    article = np.array([int(r["id"].split("-")[0]) for r in rows] * 2)
    answers = np.zeros(2 * n, dtype=bool)
    for train, test in GroupKFold(5).split(x, y, article):
        model = LogisticRegression(max_iter=2000).fit(x[train], y[train])
        scores = model.decision_function(x)
        kept = train[y[train] == 1]
        threshold = lowest_passing(scores[kept], fits[kept], max_wrong)
        answers[test] = fits[test] & (scores[test] >= threshold)
    model = LogisticRegression(max_iter=2000).fit(x, y)
    scores = model.decision_function(x)
    threshold = lowest_passing(scores[:n], fits[:n], max_wrong)
    return {
        "signals": list(names),
        "cross_validated": {
            "abstain_answerable": round(float(np.mean(~answers[:n])), 4),
            "abstain_removed": round(float(np.mean(~answers[n:])), 4),
        },
        "weights": {s: round(float(w), 3) for s, w in zip(names, model.coef_[0], strict=True)},
        "bias": round(float(model.intercept_[0] - threshold), 3),
    }


def choose(rows: list[dict[str, Any]], max_wrong: float) -> dict[str, Any]:
    """How well each signal tells a question with its paragraph from one without (AUC); the shipped
    gate's abstention; and logistic gates over the shipped signals and over more."""
    every = (*ABSTENTION_WEIGHTS, *OTHER_SIGNALS)
    shipped = tuple(ABSTENTION_WEIGHTS)
    return {
        "auc_with_vs_removed": {
            s: round(auc([r["with"][s] for r in rows], [r["removed"][s] for r in rows]), 4) for s in every
        },
        # The shipped gate, from the recorded signals (so saved rows are scored with today's weights).
        "shipped_gate": {
            side: round(float(np.mean([not (r[key]["fits"] and answers_at_all(r[key])) for r in rows])), 4)
            for side, key in (("abstain_answerable", "with"), ("abstain_removed", "removed"))
        },
        "gates": [
            fit_gate(rows, names, max_wrong)
            for names in (
                ("closeness", "answerable"),
                ("closeness", "answerable", "answer"),
                shipped,
                (*shipped, "answerable"),
                (*shipped, "max_passage_coverage"),
                (*shipped, "best_passage_coverage"),
                (*shipped, "max_passage_coverage", "best_passage_coverage"),
                every,
            )
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="SQuAD v1.1 train explorer pages")
    parser.add_argument("--articles", type=int, default=48)
    parser.add_argument("--paragraphs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--max-wrong", type=float, default=0.08)
    parser.add_argument("--top-k", type=int, default=5, help="passages per question (RagContext.top_k)")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument(
        "--rows", type=Path, default=None, help="save (or, if it exists, read) every question's signals"
    )
    args = parser.parse_args()
    if args.rows and args.rows.exists():
        rows = json.loads(args.rows.read_text(encoding="utf-8"))
    else:
        data = load_explorer_articles(args.train, args.articles, args.paragraphs, args.seed)
        rows = score_questions(data, args.limit, args.top_k)
        if args.rows:
            args.rows.write_text(json.dumps(rows), encoding="utf-8")
    result = {
        "command": " ".join(sys.argv),
        "data": f"{args.train}: {args.articles} articles x {args.paragraphs} paragraphs, seed {args.seed}",
        "questions": len(rows),
        "top_sentence_holds_answer": round(float(np.mean([r["top_holds_answer"] for r in rows])), 4),
        **choose(rows, args.max_wrong),
        "machine": machine(),
    }
    save(result, args.json)


if __name__ == "__main__":
    main()
