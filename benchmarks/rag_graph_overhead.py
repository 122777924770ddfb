"""End-to-end latency of the ``rag`` graph (extract strategy) on a SciFact-sized store, and its overhead
against calling the same agent functions in a plain loop. Runs alternate graph/plain per query, so
machine noise hits both alike.

    python benchmarks/rag_graph_overhead.py --queries 100 --json benchmarks/results/rag_graph_overhead.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import save
from citegraph.agents.answerer import extractive_answer
from citegraph.agents.verifier import Verifier, checked
from citegraph.answers import renumbered
from citegraph.context import RagContext
from citegraph.eval.beir import dataset_key, default_cache_root, ingest_beir, load_beir
from citegraph.graphs.rag import graph
from citegraph.models.judge.judge import judge_at
from citegraph.resources import register_pipeline
from citegraph.retrieval.pipeline import RetrievalPipeline
from citegraph.retrieval.store import HybridStore
from citegraph.settings import Settings

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def plain(question: str, pipeline: RetrievalPipeline, context: RagContext) -> dict:
    """The graph's work without the graph: retrieve, extract, verify, renumber."""
    result = pipeline.run(question, k=context.top_k)
    draft = extractive_answer(result.query.original, result.selected, pipeline.store, judge_at())
    if not draft["abstained"]:
        sources = {c["n"]: c["quote"] for c in draft["citations"]}
        draft = checked(draft, Verifier(judge_at()).verify(draft["answer"], sources))
    return renumbered(draft)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    settings = Settings()
    data = load_beir(args.dataset, "test")
    store_dir = default_cache_root() / f"{data.name}-{dataset_key(args.dataset, settings)}" / "store"
    store = HybridStore(settings.model_copy(update={"store_dir": store_dir}))
    ingest_beir(store, data, store.settings)  # no-op when the eval cache is complete
    pipeline = RetrievalPipeline(store, store.settings)
    register_pipeline("overhead", pipeline)
    context = RagContext(pipeline="overhead")
    questions = list(data.queries.values())[: args.queries]
    for q in questions[:5]:  # warm-up: models, caches, BM25 index
        graph.invoke({"question": q}, context=context)
        plain(q, pipeline, context)

    def cold() -> None:
        """Forget this query's cached vectors, so the second run of a pair gains nothing from the first."""
        store.embedder._sentence_cache.clear()
        pipeline._queries.clear()

    graph_ms, plain_ms, same = [], [], 0
    for i, q in enumerate(questions):
        runs = [("graph", graph_ms), ("plain", plain_ms)]
        answers = {}
        for name, times in runs if i % 2 == 0 else runs[::-1]:  # alternate who goes first
            cold()
            start = time.perf_counter()
            if name == "graph":
                answers[name] = graph.invoke({"question": q}, context=context)["answer"]
            else:
                answers[name] = plain(q, pipeline, context)
            times.append((time.perf_counter() - start) * 1000)
        same += answers["graph"] == answers["plain"]
    result = {
        "dataset": data.name,
        "docs": len(data.corpus),
        "chunks": len(store),
        "queries": len(questions),
        "graph_p50_ms": round(float(np.percentile(graph_ms, 50)), 1),
        "graph_p95_ms": round(float(np.percentile(graph_ms, 95)), 1),
        "plain_p50_ms": round(float(np.percentile(plain_ms, 50)), 1),
        "plain_p95_ms": round(float(np.percentile(plain_ms, 95)), 1),
        "overhead_mean": round(float(np.mean(graph_ms) / np.mean(plain_ms) - 1), 4),
        "overhead_p50": round(float(np.percentile(graph_ms, 50) / np.percentile(plain_ms, 50) - 1), 4),
        "identical_answers": same,
    }
    save(result, args.json)


if __name__ == "__main__":
    main()
