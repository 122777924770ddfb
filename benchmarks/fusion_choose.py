"""Which fusion of the retrieval pipeline's rankings: weighted reciprocal rank fusion (RRF, k = 60, what the
pipeline used before) or the weighted convex combination of min-max normalised scores
(``citegraph.retrieval.fusion.fuse_rankings``). Both run as the whole pipeline (pseudo-relevance feedback's
first pass and MMR included, at the shipped settings), beside BM25 and dense alone, since the pipeline
should never be worse than its best component.

Chosen on training splits only: SciFact train (nDCG@10 of the ranked documents) and SQuAD v1.1 train
articles (the question's paragraph first among the selected passages, and among them at all; 48 articles x 5
paragraphs, as ``answerable_gate_choose.py`` samples them). Reported, never chosen on: SciFact test, and
real-document question sets (the selected passages, at most 5, hold one of an answerable question's answer
phrases; the development sets, whose questions are checked by hand).

    D=/tmp/realdocs_dev   # each set's fetch.sh
    python benchmarks/fusion_choose.py --beir ../shared/data/scifact \\
        --squad-train /tmp/judge_train/squad_v1.1_train_explorer_html \\
        --json benchmarks/results/fusion_choose.json \\
        --set benchmarks/data/real_docs_dev/questions.json $D/rdd-nsdi12.pdf $D/column-stores.pdf \\
              $D/pcre2grep.html $D/uvicorn_docs \\
        --set benchmarks/data/real_docs_cli/questions.json /tmp/realdocs_cli \\
        --set benchmarks/data/real_docs_code/questions.json /tmp/realdocs_code
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.*

from benchmarks.answerable_gate_choose import load_explorer_articles
from benchmarks.common import machine, save
from benchmarks.real_docs import add_set_argument, ingest, squeeze
from citegraph.eval.beir import load_beir
from citegraph.eval.metrics import dedupe, ndcg_at_k
from citegraph.eval.qa import doc_of, open_squad_store
from citegraph.eval.retrieval import chunk_to_doc, open_eval_store
from citegraph.retrieval.fusion import Fused, Ranking, dedupe_rankings, reciprocal_rank_fusion
from citegraph.retrieval.pipeline import RetrievalPipeline
from citegraph.settings import Settings

TOP_K = 5  # passages the answer step reads (RagContext.top_k)
DEPTH = 100  # chunks of BM25 and dense alone scored


class RrfPipeline(RetrievalPipeline):
    """The pipeline with the fusion it had before: weighted RRF, k = 60, 1-based ranks."""

    def fuse(self, rankings: Sequence[Ranking]) -> list[Fused]:
        kept = [r for r in dedupe_rankings(rankings) if r.weight > 0]
        fused = reciprocal_rank_fusion([(r.weight, r.ids) for r in kept])
        return [Fused(cid, score) for cid, score in fused]


Run = Callable[[str], tuple[list[str], list[str]]]  # question -> (selected chunks, ranked chunks)


def systems(store: Any) -> dict[str, Run]:
    """Each system as question -> (its selected chunks, its ranked chunks)."""
    convex, rrf = RetrievalPipeline(store, store.settings), RrfPipeline(store, store.settings)

    def pipeline(p: RetrievalPipeline) -> Run:
        def run(question: str) -> tuple[list[str], list[str]]:
            result = p.run(question, TOP_K)
            return [h.chunk_id for h in result.selected], result.ranked_ids()

        return run

    def alone(rank: Callable[[str, int], list[tuple[str, float]]]) -> Run:
        def run(question: str) -> tuple[list[str], list[str]]:
            ids = [cid for cid, _ in rank(question, DEPTH)]
            return ids[:TOP_K], ids

        return run

    return {
        "rrf": pipeline(rrf),
        "convex": pipeline(convex),
        "bm25": alone(store.bm25_ranking),
        "dense": alone(store.dense_ranking),
    }


def beir_split(folder: Path, split: str) -> dict[str, dict[str, float]]:
    """nDCG@10 of each system's ranked documents on one split of a BEIR folder."""
    store, _ = open_eval_store(folder, Settings(), None, print)
    data, to_doc = load_beir(folder, split), chunk_to_doc(store)
    scores: dict[str, list[float]] = {}
    for name, run in systems(store).items():
        for qid, query in data.queries.items():
            docs = dedupe([to_doc.get(c, c) for c in run(query)[1]])
            scores.setdefault(name, []).append(ndcg_at_k(docs, data.qrels[qid], 10))
    store.close()
    return {name: {"ndcg@10": round(sum(s) / len(s), 4), "queries": len(s)} for name, s in scores.items()}


def squad_train(folder: Path) -> dict[str, dict[str, float]]:
    """Share of SQuAD train questions whose paragraph is the first selected passage, and among them."""
    data = load_explorer_articles(folder, 48, 5, 0)
    store = open_squad_store(data, Settings())
    paragraph = {s.source_id: doc_of(s.path) for s in store.sources()}
    to_doc = {c.chunk_id: paragraph.get(c.source_id) for c in store.manifest.chunks()}
    found: dict[str, dict[str, float]] = {}
    for name, run in systems(store).items():
        docs = [[to_doc[c] for c in run(q.question)[0]] for q in data.questions]
        first = sum(d[:1] == [q.doc_id] for d, q in zip(docs, data.questions, strict=True))
        anywhere = sum(q.doc_id in d for d, q in zip(docs, data.questions, strict=True))
        found[name] = {
            "paragraph_first": round(first / len(docs), 4),
            f"paragraph_in_{TOP_K}": round(anywhere / len(docs), 4),
            "mean_passages": round(sum(map(len, docs)) / len(docs), 2),
            "questions": len(docs),
        }
    store.close()
    return found


def question_set(questions_file: Path, docs: list[Path], scratch: Path) -> dict[str, dict[str, float]]:
    """Share of the answerable questions whose selected passages hold one of their answer phrases."""
    from citegraph.context import RagContext
    from citegraph.resources import pipeline_for

    store_dir = scratch / questions_file.parent.name
    ingest(docs, store_dir)
    store = pipeline_for(RagContext(store_dir=str(store_dir))).store
    items = [i for i in json.loads(questions_file.read_text(encoding="utf-8")) if not i["unanswerable"]]
    found: dict[str, dict[str, float]] = {}
    for name, run in systems(store).items():
        held = 0
        for item in items:
            texts = [squeeze(c.text) for c in store.manifest.chunks(run(item["question"])[0])]
            held += any(squeeze(a) in t for a in item["answers"] for t in texts)
        found[name] = {f"answer_in_{TOP_K}": round(held / len(items), 4), "questions": len(items)}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--beir", type=Path, required=True, help="A BEIR folder with train and test qrels.")
    parser.add_argument("--squad-train", type=Path, required=True, help="SQuAD-explorer train pages.")
    add_set_argument(parser, required=False)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    train = {"beir_train": beir_split(args.beir, "train"), "squad_train": squad_train(args.squad_train)}
    # Chosen on the training splits alone: convex where it is at least as good on both.
    wins = [
        train["beir_train"]["convex"]["ndcg@10"] >= train["beir_train"]["rrf"]["ndcg@10"],
        train["squad_train"]["convex"]["paragraph_first"] >= train["squad_train"]["rrf"]["paragraph_first"],
    ]
    reported: dict[str, Any] = {"beir_test": beir_split(args.beir, "test")}
    with tempfile.TemporaryDirectory(prefix="citegraph-fusion-choose-") as scratch:
        for questions_file, *docs in args.set:
            path = Path(questions_file)
            reported[path.parent.name] = question_set(path, [Path(d) for d in docs], Path(scratch))
    save(
        {"chosen": "convex" if all(wins) else "rrf", "train": train, "reported": reported}
        | {"machine": machine()},
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
