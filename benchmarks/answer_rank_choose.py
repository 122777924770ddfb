"""Choose a setting of the extract answer step (a constant of ``citegraph.agents.answerer``) by answers
right on development sets of real-document questions.

``QUANTITY_WEIGHT`` (what a stated quantity adds to the judge's answer score when the question asks for one)
was chosen on ``benchmarks/data/real_docs_dev``; ``COVERAGE_PLACES`` (how many of the judged sentences are
those holding most of the question's weighted terms) on ``real_docs_dev``, ``real_docs_cli`` and
``real_docs_code`` together; ``RUNNER_UP_SHARE`` (the share of the best sentence's answer score at which
the runner-up is quoted too) on those and ``real_docs_click``, ties going to the shorter answers (each
value's ``mean_words``). Never choose on ``benchmarks/data/real_docs``: that one is scored once with the
chosen values by ``benchmarks/real_docs.py``. Retrieval is run once per question and the judge's scores are
cached, then every value re-runs ``answerer.extractive_answer`` on the same hits. (At commit cf80022 this
script also tried a term-coverage weight and a least score to answer:
``benchmarks/results/answer_rank_choose_full_grid.json``; at a0f96d2, ``RESTATEMENT_WEIGHT``, what
restating the question costs a sentence's rank: 53 -> 54 of 78 here, nothing on the evaluation set and
slightly worse on XQuAD, not adopted: ``answer_rank_choose_restatement_weight.json`` and
``*_restatement_weight_side_by_side.json``.)

    D=/tmp/realdocs_dev   # each set's fetch.sh
    python benchmarks/answer_rank_choose.py --setting COVERAGE_PLACES --values 0 1 2 3 4 \\
        --json benchmarks/results/answer_rank_choose_coverage_places.json \\
        --set benchmarks/data/real_docs_dev/questions.json $D/rdd-nsdi12.pdf $D/column-stores.pdf \\
              $D/pcre2grep.html $D/uvicorn_docs \\
        --set benchmarks/data/real_docs_cli/questions.json /tmp/realdocs_cli \\
        --set benchmarks/data/real_docs_code/questions.json /tmp/realdocs_code
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.*

from benchmarks.common import machine, save
from benchmarks.real_docs import add_set_argument, answered_right, ingest


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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_set_argument(parser, required=True)
    parser.add_argument("--setting", default="QUANTITY_WEIGHT", help="The answerer constant to choose.")
    parser.add_argument("--values", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3, 0.5])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from citegraph.agents import answerer
    from citegraph.context import RagContext
    from citegraph.graphs.rag import graph
    from citegraph.models.judge.judge import judge_for
    from citegraph.resources import pipeline_for

    shipped = getattr(answerer, args.setting)
    values = [type(shipped)(v) for v in args.values]
    with tempfile.TemporaryDirectory(prefix="citegraph-rank-choose-") as scratch:
        asked = []  # (question set, item, question searched, hits, store)
        for n, (questions_file, *docs) in enumerate(args.set):
            store_dir = Path(scratch) / f"store{n}"
            ingest([Path(d) for d in docs], store_dir)
            context = RagContext(strategy="extract", store_dir=str(store_dir))
            store = pipeline_for(context).store
            judge = CachedJudge(judge_for(context))
            # Retrieval once per question: the grid changes only the answer step.
            for item in json.loads(Path(questions_file).read_text(encoding="utf-8")):
                state = graph.invoke({"question": item["question"]}, context=context)
                question = state.get("search_question") or item["question"]
                asked.append((Path(questions_file).parent.name, item, question, state.get("hits", []), store))

        def score(value: float) -> dict[str, Any]:
            setattr(answerer, args.setting, value)
            try:
                answers = [answerer.extractive_answer(q, hits, s, judge) for _, _, q, hits, s in asked]
            finally:
                setattr(answerer, args.setting, shipped)
            right = [answered_right(item, a) for (_, item, *_), a in zip(asked, answers, strict=True)]
            by_set: dict[str, int] = {}
            for (name, *_), r in zip(asked, right, strict=True):
                by_set[name] = by_set.get(name, 0) + r
            answerable = [
                r for r, (_, item, *_) in zip(right, asked, strict=True) if not item["unanswerable"]
            ]
            return {
                args.setting: value,
                "right": sum(right),
                "right_answerable": sum(answerable),
                "right_unanswerable": sum(right) - sum(answerable),
                "abstained": sum(a["abstained"] for a in answers),
                # How long the answers read: a setting that quotes more sentences pays here.
                "mean_words": round(
                    sum(len(a["answer"].split()) for a in answers if not a["abstained"])
                    / max(sum(not a["abstained"] for a in answers), 1),
                    1,
                ),
                "right_by_set": by_set,
            }

        grid = [score(value) for value in values]
    # Ties go to the shorter answers, then to the smaller value: the least change from the judge alone.
    best = max(grid, key=lambda g: (g["right"], -g["mean_words"], -g[args.setting]))
    save(
        {"questions": len(asked), "setting": args.setting, "shipped": shipped, "chosen": best, "grid": grid}
        | {"machine": machine()},
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
