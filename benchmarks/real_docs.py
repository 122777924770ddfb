"""Cited answers over real documents nobody here wrote (PDF papers, Markdown manuals), with questions a
user would ask, some of which the documents do not answer.

``--questions`` is a JSON list of ``{"id", "question", "answers": [phrases], "unanswerable": bool}``. An
answerable question is answered right when the answer (or its short answer) contains one of its phrases
(case and spacing ignored) — a proxy, printed beside every answer so a person can check it; an unanswerable
one when the system abstains. The ``--docs`` files and folders are ingested into a fresh store first.
Runs under whichever CiteGraph is imported, so ``benchmarks/side_by_side.py`` compares versions.

Questions: ``benchmarks/data/real_docs/questions.json``; the documents (not committed) go in /tmp/realdocs,
rebuilt by ``benchmarks/data/real_docs/fetch.sh`` (sources, commits and licenses in that folder's README).

    D=/tmp/realdocs
    python benchmarks/real_docs.py --questions benchmarks/data/real_docs/questions.json \
        --json benchmarks/results/real_docs.json \
        --docs $D/raft.pdf $D/gfs.pdf $D/mapreduce-osdi04.pdf $D/lua-manual.html $D/httpx_docs/*.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import machine, save


def squeeze(text: str) -> str:
    """Lower case, folded spacing, ligatures undone (pypdf keeps "ﬁ" as one character)."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def answered_right(item: dict, answer: dict) -> bool:
    """An unanswerable question is answered right by an abstention; an answerable one by an answer (or
    short answer) holding one of its phrases."""
    if item["unanswerable"]:
        return bool(answer["abstained"])
    said = squeeze(answer["answer"] + " " + answer.get("short_answer", ""))
    return not answer["abstained"] and any(squeeze(a) in said for a in item["answers"])


def where(citation: dict) -> str:
    """A citation's file name and location ("raft.pdf p. 5, § 5.2 Leader election")."""
    return f"{Path(citation['source']).name} {citation['location']}"


def closest_section_holds_answer(item: dict, answer: dict, store: Any) -> bool:
    """Whether an abstention on an answerable question points at its answer: one of its ``closest``
    passages lies in a section (heading to next heading; 1,500 characters around it without headings)
    holding one of the question's answer phrases."""
    from citegraph.ingest.outline import heading_at

    paths = {s.path: s.source_id for s in store.sources()}
    for place in answer.get("closest", []):
        text = store.source(paths[place["source"]]).text
        headings = list(text.headings)
        heading = heading_at(headings, place["start"])
        later = [h.offset for h in headings if h.offset > place["start"]]
        start = heading.offset if heading else max(0, place["start"] - 1500)
        end = later[0] if later else min(len(text), place["end"] + 1500)
        if any(squeeze(a) in squeeze(text[start:end]) for a in item["answers"]):
            return True
    return False


def question_set_arguments(description: str) -> tuple[argparse.Namespace, list[dict]]:
    """The arguments of a script over a real-document question set (``--docs``, ``--questions``,
    ``--json``) and the questions it names."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=Path, nargs="+", required=True, help="Files and folders to ingest.")
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    return args, json.loads(args.questions.read_text(encoding="utf-8"))


def add_set_argument(parser: argparse.ArgumentParser, required: bool) -> None:
    """``--set QUESTIONS_JSON DOC...`` (repeatable): a question set and the files and folders it asks about,
    for the scripts that run several sets at once; ``args.set`` is a list of such lists."""
    parser.add_argument(
        "--set",
        nargs="+",
        action="append",
        default=None if required else [],
        required=required,
        metavar="QUESTIONS_JSON DOC",
        help="A question set and the files and folders it asks about (repeatable).",
    )


def ingest(docs: list[Path], store: Path) -> None:
    """Ingest ``docs`` into a fresh ``store`` with the CLI, as a user would."""
    command = [sys.executable, "-m", "citegraph.cli", "ingest", *map(str, docs), "--store", str(store)]
    subprocess.run(command, check=True, capture_output=True)


def main() -> None:
    args, questions = question_set_arguments(__doc__)

    from citegraph.context import RagContext
    from citegraph.graphs.rag import graph
    from citegraph.resources import pipeline_for

    with tempfile.TemporaryDirectory(prefix="citegraph-real-docs-") as scratch:
        store = Path(scratch) / "store"
        ingest(args.docs, store)
        context = RagContext(strategy="extract", store_dir=str(store))
        graph.invoke({"question": questions[0]["question"]}, context=context)  # warm-up
        rows, latencies = [], []
        for item in questions:
            start = time.perf_counter()
            answer = graph.invoke({"question": item["question"]}, context=context)["answer"]
            latencies.append((time.perf_counter() - start) * 1000)
            right = answered_right(item, answer)
            rows.append(
                {
                    "id": item["id"],
                    "question": item["question"],
                    "unanswerable": item["unanswerable"],
                    "right": right,
                    "abstained": answer["abstained"],
                    "answer": answer["answer"],
                    "short_answer": answer.get("short_answer", ""),
                    "cited": [where(c) for c in answer["citations"]],
                    "closest": [where(c) for c in answer.get("closest", [])],
                }
            )
            if answer["abstained"] and not item["unanswerable"]:
                rows[-1]["closest_section_holds_answer"] = closest_section_holds_answer(
                    item, answer, pipeline_for(context).store
                )

    answerable = [r for r in rows if not r["unanswerable"]]
    unanswerable = [r for r in rows if r["unanswerable"]]
    save(
        {
            "questions": len(rows),
            "right": round(sum(r["right"] for r in rows) / len(rows), 4),
            "right_answerable": round(sum(r["right"] for r in answerable) / max(len(answerable), 1), 4),
            "abstained_unanswerable": round(
                sum(r["right"] for r in unanswerable) / max(len(unanswerable), 1), 4
            ),
            "abstained_answerable": round(
                sum(r["abstained"] for r in answerable) / max(len(answerable), 1), 4
            ),
            # Of the answerable questions abstained on, those whose closest passages point at the answer.
            "refused_pointing_at_answer": sum(r.get("closest_section_holds_answer", False) for r in rows),
            "p50_ms": round(statistics.median(latencies), 1),
            "rows": rows,
            "machine": machine(),
        },
        args.json,
        ensure_ascii=False,
        echo_without=("rows",),
    )


if __name__ == "__main__":
    sys.exit(main())
