"""BM25 query latency: CiteGraph's bm25s index vs rank-bm25 on the same corpus, tokenizer and queries.

    python benchmarks/bm25_latency.py --beir ../shared/data/scifact \
        --json benchmarks/results/bm25_latency_scifact.json

Both engines index the same documents (title + text) with CiteGraph's tokenizer; each query is timed end to
end (tokenize, score every document, take the top 10), alternating engines query by query so machine noise
hits both alike. Also reports index build time and how often the two agree on the top document (bm25s
uses Lucene's BM25 variant, rank-bm25 Okapi's, so scores differ slightly).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, read_beir_corpus, save


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--beir", type=Path, required=True, help="BEIR folder (corpus.jsonl, queries.jsonl)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from rank_bm25 import BM25Okapi

    from citegraph.retrieval.bm25 import Bm25Index
    from citegraph.retrieval.tokenizer import tokenize

    docs = read_beir_corpus(args.beir)
    ids, texts = [d[0] for d in docs], [d[1] for d in docs]
    with (args.beir / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = [json.loads(line)["text"] for line in handle]

    started = time.perf_counter()
    ours = Bm25Index.build(ids, texts)
    build_ours = time.perf_counter() - started
    started = time.perf_counter()
    theirs = BM25Okapi([tokenize(t) for t in texts])
    build_theirs = time.perf_counter() - started

    def rank_bm25_search(query: str) -> list[str]:
        scores = theirs.get_scores(tokenize(query))
        top = np.argpartition(-scores, args.k)[: args.k]
        return [ids[i] for i in top[np.argsort(-scores[top])]]

    for query in queries[:20]:  # warm-up
        ours.search(query, args.k)
        rank_bm25_search(query)
    ours_ms, theirs_ms, agree = [], [], 0
    for query in queries:
        started = time.perf_counter()
        top_ours = ours.search(query, args.k)
        ours_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        top_theirs = rank_bm25_search(query)
        theirs_ms.append((time.perf_counter() - started) * 1000)
        agree += bool(top_ours) and top_ours[0][0] == top_theirs[0]

    def summary(ms: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(percentile(ms, 50), 3),
            "p95_ms": round(percentile(ms, 95), 3),
            "mean_ms": round(statistics.mean(ms), 3),
        }

    s_ours, s_theirs = summary(ours_ms), summary(theirs_ms)
    save(
        {
            "benchmark": "bm25_latency",
            "corpus": str(args.beir),
            "documents": len(docs),
            "queries": len(queries),
            "k": args.k,
            "bm25s": s_ours | {"build_s": round(build_ours, 3)},
            "rank_bm25": s_theirs | {"build_s": round(build_theirs, 3)},
            "speedup_p50": round(s_theirs["p50_ms"] / s_ours["p50_ms"], 1),
            "speedup_mean": round(s_theirs["mean_ms"] / s_ours["mean_ms"], 1),
            "top1_agreement": round(agree / len(queries), 3),
            "machine": machine(),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
