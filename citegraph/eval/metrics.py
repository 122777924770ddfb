"""IR metrics as BEIR reports them (pytrec_eval conventions): nDCG@k with linear gains, Recall@k, MRR@k.

Rankings are lists of document ids best first; a document listed twice counts at its first position.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dedupe(ranking: Sequence[str]) -> list[str]:
    """First occurrence of each id, order kept (chunks -> documents)."""
    return list(dict.fromkeys(ranking))


def ndcg_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain at ``k`` (gain = relevance grade, log2(rank+1) discount)."""
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    if idcg == 0:
        return 0.0
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(dedupe(ranking)[:k]))
    return dcg / idcg


def recall_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top ``k``."""
    wanted = {d for d, g in relevant.items() if g > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(dedupe(ranking)[:k])) / len(wanted)


def mrr_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant document within the top ``k`` (0 if none)."""
    for i, d in enumerate(dedupe(ranking)[:k], start=1):
        if relevant.get(d, 0) > 0:
            return 1.0 / i
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation (numpy's default)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(
    rankings: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    latencies_ms: Sequence[float],
) -> dict[str, float]:
    """Mean metrics over the queries in ``qrels`` (a query with no ranking scores 0) plus latency."""
    n = len(qrels) or 1

    def mean(metric, k: int) -> float:  # type: ignore[no-untyped-def]
        return round(sum(metric(rankings.get(q, []), rel, k) for q, rel in qrels.items()) / n, 4)

    return {
        "ndcg@10": mean(ndcg_at_k, 10),
        "recall@10": mean(recall_at_k, 10),
        "recall@100": mean(recall_at_k, 100),
        "mrr@10": mean(mrr_at_k, 10),
        "p50_ms": round(percentile(latencies_ms, 50), 2),
        "p95_ms": round(percentile(latencies_ms, 95), 2),
    }
