"""Choose the question forms whose answers state a number (``lexical.COUNTED_FORMS``).

On SQuAD v1.1 *train* (the judge's training folder; never XQuAD, our evaluation set), every answerable
question asking for a quantity (``lexical.quantity_form``) is grouped by its form ("how many", "when was",
the noun of "what chunk size"), and for each form we count how often the sentence holding the gold answer
states a number (``lexical.states_quantity``). The answer step abstains when a question of a chosen form
meets no sentence stating one, so a form is chosen when at least ``--share`` of its answer sentences state
a number, among forms with at least ``--least`` questions. Prints the table and the choice, checks it
against the shipped ``COUNTED_FORMS`` and saves both.

    python benchmarks/quantity_gate_choose.py --train /tmp/judge_train/squad_v1.1_train_explorer_html \
        --json benchmarks/results/quantity_gate_squad_train.json

(``benchmarks/data/judge_train/fetch.sh`` rebuilds /tmp/judge_train.)
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import machine, save
from citegraph.models.judge import lexical
from citegraph.models.judge.data import answer_sentence, read_folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--train", type=Path, required=True, help="SQuAD v1.1 train (a folder read_folder reads)"
    )
    parser.add_argument("--share", type=float, default=0.95)
    parser.add_argument("--least", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    questions, stated = Counter(), Counter()
    for item in read_folder(args.train).qa:
        form = lexical.quantity_form(item.question)
        if form is None or not item.answers:
            continue
        questions[form] += 1
        stated[form] += lexical.states_quantity(
            answer_sentence(item.context, item.answers[0][0]) or item.context
        )
    forms = {
        form: {"questions": n, "states_number": round(stated[form] / n, 4)}
        for form, n in questions.most_common()
    }
    chosen = sorted(
        f for f, row in forms.items() if row["questions"] >= args.least and row["states_number"] >= args.share
    )
    for form, row in forms.items():
        mark = "*" if form in chosen else " "
        print(f"{mark} {form:16s} {row['questions']:6d} {row['states_number']:.3f}")
    shipped = sorted(lexical.COUNTED_FORMS)
    print("chosen:", chosen, "| shipped:", "the same" if chosen == shipped else shipped)
    result = {
        "train": str(args.train),
        "rule": f"forms of >= {args.least} questions, answer sentence stating a number in >= {args.share}",
        "quantity_questions": sum(questions.values()),
        "forms": forms,
        "chosen": chosen,
        "shipped": shipped,
        "machine": machine(),
    }
    save(result, args.json, echo=False)


if __name__ == "__main__":
    main()
