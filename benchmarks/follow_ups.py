"""Conversations with follow-ups ("Where was she born?", "How big are its chunks?") over the demo corpus
and public PDF papers: the share of follow-ups answered right.

``--conversations`` is a JSON list of ``{"id", "corpus": "demo"|"papers", "turns": [{"question",
"answers": [phrases]}]}``; the first turn of each sets the subject and is not scored, every later turn is a
follow-up, right when the answer (or its short answer) contains one of its phrases (case and spacing
ignored; printed beside the answer so a person can check it). Each follow-up's ``explicit`` form (the
question a person would ask without the conversation) is also asked on a fresh thread: its share right is
what a perfect rewrite would reach with this answer step. Each conversation runs on its own
checkpointed thread through ``citegraph.threads``, as ``citegraph chat`` does. Runs under whichever
CiteGraph is imported, so ``benchmarks/side_by_side.py`` compares versions:

    python benchmarks/side_by_side.py --baseline 5a19e92 --rounds 1 \\
        --json benchmarks/results/follow_ups.json -- \\
        python benchmarks/follow_ups.py --conversations benchmarks/data/follow_ups/conversations.json \\
        --papers /tmp/realdocs/raft.pdf /tmp/realdocs/gfs.pdf /tmp/realdocs/mapreduce-osdi04.pdf \\
        --json {json}

(The papers come from ``benchmarks/data/real_docs/fetch.sh``; the demo corpus ships in the package.)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import machine, save
from benchmarks.real_docs import ingest, squeeze

DEMO = Path(__file__).resolve().parent.parent / "citegraph" / "demo_corpus"


def run_conversation(threads: Any, graph: Any, context: Any, conversation: dict[str, Any]) -> list[dict]:
    """Ask every turn on one thread; a row for each follow-up (every turn after the first)."""
    rows = []
    for k, turn in enumerate(conversation["turns"]):
        answer = threads.ask(graph, turn["question"], context, thread_id=conversation["id"]).answer
        if k == 0:
            continue
        said = squeeze(answer["answer"] + " " + answer.get("short_answer", ""))
        right = not answer["abstained"] and any(squeeze(a) in said for a in turn["answers"])
        print(f"{'RIGHT' if right else 'wrong'}  {turn['question']}  ->  {answer['answer'][:150]}")
        alone = threads.ask(graph, turn["explicit"], context, thread_id=f"{conversation['id']}-{k}").answer
        said_alone = squeeze(alone["answer"] + " " + alone.get("short_answer", ""))
        rows.append(
            {
                "explicit_right": not alone["abstained"]
                and any(squeeze(a) in said_alone for a in turn["answers"]),
                "conversation": conversation["id"],
                "question": turn["question"],
                "searched_for": answer.get("standalone_question", turn["question"]),
                "right": right,
                "abstained": answer["abstained"],
                "answer": answer["answer"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=Path, required=True)
    parser.add_argument("--papers", type=Path, nargs="+", required=True, help="The PDF papers to ingest.")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    conversations = json.loads(args.conversations.read_text(encoding="utf-8"))

    from citegraph import threads
    from citegraph.context import RagContext
    from citegraph.settings import Settings

    rows = []
    with tempfile.TemporaryDirectory(prefix="citegraph-follow-ups-") as scratch:
        stores = {"demo": Path(scratch) / "demo", "papers": Path(scratch) / "papers"}
        ingest(sorted(DEMO.glob("*.txt")), stores["demo"])
        ingest(args.papers, stores["papers"])
        for corpus, store in stores.items():
            with threads.rag_graph(Settings(store_dir=store)) as graph:
                context = RagContext(strategy="extract", store_dir=str(store))
                for conversation in (c for c in conversations if c["corpus"] == corpus):
                    rows += run_conversation(threads, graph, context, conversation)
    save(
        {
            "follow_ups": len(rows),
            "right": round(sum(r["right"] for r in rows) / max(len(rows), 1), 4),
            "abstained": round(sum(r["abstained"] for r in rows) / max(len(rows), 1), 4),
            "explicit_right": round(sum(r["explicit_right"] for r in rows) / max(len(rows), 1), 4),
            "rows": rows,
            "machine": machine(),
        },
        args.json,
        ensure_ascii=False,
        echo_without=("rows",),
    )


if __name__ == "__main__":
    main()
