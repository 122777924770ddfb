"""Choose how much a stated quantity adds to the judge's answer score when the question asks for one
(``answerer.QUANTITY_WEIGHT``), by answers right on a development set of real-document questions.

Choose on ``benchmarks/data/real_docs_dev`` (papers and manuals that are not in the evaluation set), never on
``benchmarks/data/real_docs``: that one is scored once with the chosen value by ``benchmarks/real_docs.py``.
Retrieval and the judge's scores are computed once per question (cached), then every weight re-runs
``answerer.extractive_answer`` on the same hits. (At commit cf80022 this script also tried a term-coverage
weight and a least score to answer: ``benchmarks/results/answer_rank_choose_full_grid.json``.)

    D=/tmp/realdocs_dev   # benchmarks/data/real_docs_dev/fetch.sh
    python benchmarks/answer_rank_choose.py --questions benchmarks/data/real_docs_dev/questions.json \
        --json benchmarks/results/answer_rank_choose.json \
        --docs $D/rdd-nsdi12.pdf $D/column-stores.pdf $D/pcre2grep.html $D/uvicorn_docs
"""

from __future__ import annotations

import functools
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.*

from benchmarks.common import machine, save
from benchmarks.real_docs import answered_right, ingest, question_set_arguments

QUANTITY_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)


class CachedJudge:
    """The judge with its scoring calls memoized (keyed by their arguments as tuples), so a grid point
    costs no model pass."""

    def __init__(self, judge: Any) -> None:
        self._judge = judge
        self._answers = functools.cache(lambda q, s, p, c: judge.answers(q, list(s), list(p), list(c)))
        self._closeness = functools.cache(lambda a, b: judge.closeness(list(a), list(b)))

    def answers(
        self, question: str, sentences: list[str], previous: list[str], closeness: list[float]
    ) -> list:
        return self._answers(question, tuple(sentences), tuple(previous), tuple(closeness))

    def closeness(self, first: list[str], second: list[str]) -> Any:
        return self._closeness(tuple(first), tuple(second))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._judge, name)


def main() -> None:
    args, questions = question_set_arguments(__doc__)

    from citegraph.agents import answerer
    from citegraph.context import RagContext
    from citegraph.graphs.rag import graph
    from citegraph.models.judge.judge import judge_for
    from citegraph.resources import pipeline_for

    with tempfile.TemporaryDirectory(prefix="citegraph-rank-choose-") as scratch:
        store_dir = Path(scratch) / "store"
        ingest(args.docs, store_dir)
        context = RagContext(strategy="extract", store_dir=str(store_dir))
        store = pipeline_for(context).store
        judge = CachedJudge(judge_for(context))
        asked = []
        for item in questions:  # retrieval once per question: the grid changes only the answer step
            state = graph.invoke({"question": item["question"]}, context=context)
            asked.append((item, state.get("search_question") or item["question"], state.get("hits", [])))

        def score(weight: float) -> dict[str, Any]:
            answerer.QUANTITY_WEIGHT = weight
            answers = [answerer.extractive_answer(q, hits, store, judge) for _, q, hits in asked]
            right = [answered_right(item, a) for (item, _, _), a in zip(asked, answers, strict=True)]
            answerable = [r for r, (item, _, _) in zip(right, asked, strict=True) if not item["unanswerable"]]
            return {
                "quantity_weight": weight,
                "right": sum(right),
                "right_answerable": sum(answerable),
                "right_unanswerable": sum(right) - sum(answerable),
                "abstained": sum(a["abstained"] for a in answers),
            }

        grid = [score(weight) for weight in QUANTITY_WEIGHTS]
    # Ties go to the smaller weight: the least change from the judge alone.
    best = max(grid, key=lambda g: (g["right"], -g["quantity_weight"]))
    save(
        {
            "questions": len(questions),
            "judge_alone": grid[0],
            "chosen": best,
            "grid": grid,
            "machine": machine(),
        },
        args.json,
        echo_without=("grid",),
    )


if __name__ == "__main__":
    sys.exit(main())
