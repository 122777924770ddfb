"""Does a judge head earn its place as a reranker over the fused candidates? Choose on a BEIR *train*
split, then report the chosen setting (and only it) on *test*.

For each query the pipeline's fused ranking is cut to its top ``N`` chunks; a judge head scores each
(query, chunk) pair, and the final order is a weighted reciprocal-rank fusion of the pipeline's order
(weight 1) and the judge's order (weight ``w``). ``w = 0`` is the pipeline unchanged. BM25 and dense
alone are scored beside it, since the pipeline should never be worse than its best component.

    python benchmarks/rerank_choose.py --dataset ../shared/data/scifact --limit 400 \
        --json benchmarks/results/rerank_scifact.json

Scores are computed once per split and cached in the temp folder, so re-running the grid is cheap.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import machine, save
from citegraph.eval.beir import load_beir
from citegraph.eval.metrics import dedupe, summarize
from citegraph.eval.retrieval import chunk_to_doc, open_eval_store
from citegraph.models.judge.judge import answerable_pair, judge_at, support_pair
from citegraph.retrieval.fusion import reciprocal_rank_fusion
from citegraph.retrieval.pipeline import RetrievalPipeline
from citegraph.settings import Settings

HEADS = ("answerable", "support")
DEPTHS = (10, 20, 30)
WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
_DEPTH = 300


def score_split(dataset: Path, split: str, limit: int | None) -> dict:
    """Per query: the pipeline's chunk ranking, BM25's and dense's document rankings, and each head's
    probability for the top max(DEPTHS) chunks, with the judge's time per query."""
    store, settings = open_eval_store(dataset, Settings(), None, print)
    data = load_beir(dataset, split)
    to_doc = chunk_to_doc(store)
    pipeline = RetrievalPipeline(store, settings)
    judge = judge_at(None)
    top = max(DEPTHS)
    rows: dict[str, dict] = {}
    query_ids = list(data.queries)[:limit] if limit else list(data.queries)
    for i, qid in enumerate(query_ids):
        query = data.queries[qid]
        ranked = pipeline.run(query).ranked_ids()
        head = ranked[:top]
        texts = [c.text for c in store.manifest.chunks(head)]
        by_id = dict(zip([c.chunk_id for c in store.manifest.chunks(head)], texts, strict=True))
        texts = [by_id[c] for c in head]
        probabilities, seconds = {}, {}
        close = judge.closeness([query] * len(texts), texts) if texts else np.zeros(0)
        for name in HEADS:
            started = time.perf_counter()
            if name == "answerable":
                pairs = [answerable_pair(query, [t]) for t in texts]
            else:
                pairs = [support_pair(t, query) for t in texts]
            logits = judge.logits(name, pairs)[0] if pairs else np.zeros(0)
            probabilities[name] = judge.probability(name, logits, close).tolist()
            seconds[name] = time.perf_counter() - started
        rows[qid] = {
            "chunks": head,
            "chunk_docs": [to_doc.get(c, "") for c in head],
            "docs": dedupe(to_doc.get(c, "") for c in ranked),
            "bm25": dedupe(to_doc.get(c, "") for c, _ in store.bm25_ranking(query, _DEPTH)),
            "dense": dedupe(to_doc.get(c, "") for c, _ in store.dense_ranking(query, _DEPTH)),
            "p": probabilities,
            "seconds": seconds,
        }
        if (i + 1) % 50 == 0:
            print(f"  {split}: {i + 1}/{len(query_ids)} queries", flush=True)
    store.close()
    return {"rows": rows, "qrels": {q: data.qrels[q] for q in query_ids}}


def reranked(row: dict, head: str, depth: int, weight: float) -> list[str]:
    """Documents in the order of RRF(pipeline order x1, judge order x weight) over the top ``depth``."""
    chunks = row["chunks"][:depth]
    if weight == 0 or not chunks:
        return row["docs"]
    probabilities = row["p"][head][:depth]
    judge_order = [c for _, c in sorted(zip(probabilities, chunks, strict=True), key=lambda t: -t[0])]
    fused = reciprocal_rank_fusion([(1.0, chunks), (weight, judge_order)])
    doc_of = dict(zip(row["chunks"], row["chunk_docs"], strict=True))
    head_docs = [doc_of[cid] for cid, _ in fused]
    return dedupe(head_docs + row["docs"])


def metrics_for(scored: dict, head: str, depth: int, weight: float) -> dict[str, float]:
    rankings = {q: reranked(row, head, depth, weight) for q, row in scored["rows"].items()}
    return summarize(rankings, scored["qrels"], [0.0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    splits = {}
    for split in ("train", "test"):
        cache = Path(tempfile.gettempdir()) / f"rerank-{args.dataset.name}-{split}-{args.limit}.json"
        if cache.exists():
            splits[split] = json.loads(cache.read_text())
        else:
            splits[split] = score_split(args.dataset, split, args.limit)
            cache.write_text(json.dumps(splits[split]))
    grid = []
    for head, depth, weight in itertools.product(HEADS, DEPTHS, WEIGHTS):
        m = metrics_for(splits["train"], head, depth, weight)
        grid.append({"head": head, "depth": depth, "weight": weight, **m})
        print(
            f"train {head:10} N={depth:2} w={weight:<4} nDCG@10 {m['ndcg@10']:.4f} R@10 {m['recall@10']:.4f}"
        )
    best = max(grid, key=lambda g: g["ndcg@10"])
    baseline = next(g for g in grid if g["weight"] == 0)
    result: dict = {"dataset": str(args.dataset), "grid_train": grid, "chosen": best}
    for split, scored in splits.items():
        rows = scored["rows"]
        qrels = scored["qrels"]
        seconds = [row["seconds"][best["head"]] for row in rows.values()]
        result[split] = {
            "pipeline": summarize({q: r["docs"] for q, r in rows.items()}, qrels, [0.0]),
            "bm25": summarize({q: r["bm25"] for q, r in rows.items()}, qrels, [0.0]),
            "dense": summarize({q: r["dense"] for q, r in rows.items()}, qrels, [0.0]),
            "reranked": metrics_for(scored, best["head"], best["depth"], best["weight"]),
            "judge_ms_per_query_p50_at_30": 1000 * statistics.median(seconds),
        }
    print(f"baseline train nDCG@10 {baseline['ndcg@10']:.4f}")
    result["machine"] = machine()
    save(result, args.json, echo_without=("grid_train",))


if __name__ == "__main__":
    main()
