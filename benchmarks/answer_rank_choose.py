"""Choose how the extract answer step ranks and gates candidate sentences: the weights of the lexical
signals beside the judge (``COVERAGE_WEIGHT``, ``QUANTITY_WEIGHT``) and the least rank that answers
(``MIN_ANSWER_RANK``), by answers right on a development set of real-document questions, abstaining on
at most ``MAX_ABSTAINED_ANSWERABLE`` of its answerable ones.

Choose on ``benchmarks/data/real_docs_dev`` (papers and manuals that are not in the evaluation set), never on
``benchmarks/data/real_docs``: that one is scored once with the chosen values by ``benchmarks/real_docs.py``.
Retrieval and the judge's scores are computed once per question (cached), then every grid point re-runs
``answerer.extractive_answer`` on the same hits.

    D=/tmp/realdocs_dev   # benchmarks/data/real_docs_dev/fetch.sh
    python benchmarks/answer_rank_choose.py --questions benchmarks/data/real_docs_dev/questions.json \\
        --json benchmarks/results/answer_rank_choose.json \\
        --docs $D/rdd-nsdi12.pdf $D/column-stores.pdf $D/pcre2grep.html $D/uvicorn_docs
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.*

from benchmarks.common import machine, save
from benchmarks.real_docs import answered_right

COVERAGE_WEIGHTS = (0.0, 0.3, 0.5, 0.8)
QUANTITY_WEIGHTS = (0.0, 0.1, 0.2, 0.3)
MIN_RANKS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9)
MAX_ABSTAINED_ANSWERABLE = 0.08


class CachedJudge:
    """The judge with its scoring calls memoized, so a grid point costs no model pass."""

    def __init__(self, judge: Any) -> None:
        self._judge = judge
        self.answers = functools.cache(lambda q, s, p, c: judge.answers(q, list(s), list(p), list(c)))
        self.answerable = functools.cache(lambda q, s, c=None: judge.answerable(q, list(s), c))
        self._closeness = functools.cache(lambda a, b: judge.closeness(list(a), list(b)))

    def closeness(self, first: list[str], second: list[str]) -> Any:
        return self._closeness(tuple(first), tuple(second))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._judge, name)


def freeze(method: Any) -> Any:
    """``method`` taking its sequence arguments as tuples (what the cache can key on)."""

    def call(question: str, *args: Any) -> Any:
        return method(question, *(tuple(a) if isinstance(a, list) else a for a in args))

    return call


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=Path, nargs="+", required=True, help="Files and folders to ingest.")
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    questions = json.loads(args.questions.read_text(encoding="utf-8"))

    from citegraph.agents import answerer
    from citegraph.context import RagContext
    from citegraph.graphs.rag import graph
    from citegraph.resources import judge_for, pipeline_for

    with tempfile.TemporaryDirectory(prefix="citegraph-rank-choose-") as scratch:
        store_dir = Path(scratch) / "store"
        ingest = [
            sys.executable,
            "-m",
            "citegraph.cli",
            "ingest",
            *map(str, args.docs),
            "--store",
            str(store_dir),
        ]
        subprocess.run(ingest, check=True, capture_output=True)
        context = RagContext(strategy="extract", store_dir=str(store_dir))
        store = pipeline_for(context).store
        judge = CachedJudge(judge_for(context))
        judge.answers, judge.answerable = freeze(judge.answers), freeze(judge.answerable)
        asked = []
        for item in questions:  # retrieval once per question: the grid changes only the answer step
            state = graph.invoke({"question": item["question"]}, context=context)
            asked.append((item, state.get("search_question") or item["question"], state.get("hits", [])))

        def score(coverage: float, quantity: float, min_rank: float) -> dict[str, Any]:
            answerer.COVERAGE_WEIGHT, answerer.QUANTITY_WEIGHT = coverage, quantity
            answerer.MIN_ANSWER_RANK = min_rank
            answers = [answerer.extractive_answer(q, hits, store, judge) for _, q, hits in asked]
            right = [answered_right(item, a) for (item, _, _), a in zip(asked, answers, strict=True)]
            answerable = [r for r, (item, _, _) in zip(right, asked, strict=True) if not item["unanswerable"]]
            abstained = [
                a["abstained"]
                for a, (item, _, _) in zip(answers, asked, strict=True)
                if not item["unanswerable"]
            ]
            return {
                "coverage_weight": coverage,
                "quantity_weight": quantity,
                "min_answer_rank": min_rank,
                "right": sum(right),
                "right_answerable": sum(answerable),
                "right_unanswerable": sum(right) - sum(answerable),
                "abstained_answerable": round(sum(abstained) / max(len(abstained), 1), 4),
            }

        grid = [score(*point) for point in itertools.product(COVERAGE_WEIGHTS, QUANTITY_WEIGHTS, MIN_RANKS)]
    judge_alone = next(
        g for g in grid if (g["coverage_weight"], g["quantity_weight"], g["min_answer_rank"]) == (0, 0, 0)
    )
    # Abstaining on answerable questions is bounded as the issue bounds it on XQuAD (a gate that abstains
    # on everything would get every unanswerable question right). Ties go to the smaller weights and the
    # lower gate: the least change from the judge alone.
    allowed = [g for g in grid if g["abstained_answerable"] <= MAX_ABSTAINED_ANSWERABLE]
    best = max(
        allowed,
        key=lambda g: (g["right"], -g["coverage_weight"], -g["quantity_weight"], -g["min_answer_rank"]),
    )
    save(
        {
            "questions": len(questions),
            "judge_alone": judge_alone,
            "max_abstained_answerable": MAX_ABSTAINED_ANSWERABLE,
            "chosen": best,
            "grid": grid,
            "machine": machine(),
        },
        args.json,
        echo_without=("grid",),
    )


if __name__ == "__main__":
    sys.exit(main())
