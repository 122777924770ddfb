"""Selection over fused candidates: maximal marginal relevance, auto top-k and a similarity floor.

Our own ~40 lines rather than ``langchain_core.vectorstores.utils.maximal_marginal_relevance``: that one
scores relevance by cosine to the query embedding only, while here relevance is the fused (BM25 + dense,
all variants) score, so MMR re-ranks the hybrid result instead of undoing it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mmr(relevance: Sequence[float], vectors: np.ndarray, lambda_mult: float, k: int) -> list[int]:
    """Indices of up to ``k`` items in MMR order (Carbonell & Goldstein, 1998).

    Each step takes argmax ``λ·rel(i) − (1−λ)·max_j∈selected cos(i, j)``; ``relevance`` is scaled to [0, 1]
    by its maximum, ``vectors`` are L2-normalised rows. λ=1 keeps the relevance order; ties go to the
    earlier item, so the result is deterministic.
    """
    n = len(relevance)
    k = min(k, n)
    if k <= 0:
        return []
    rel = np.asarray(relevance, dtype=np.float64)
    top = rel.max()
    rel = rel / top if top > 0 else rel
    if lambda_mult >= 1.0 or vectors.size == 0:
        return [int(i) for i in np.argsort(-rel, kind="stable")[:k]]
    vecs = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs = vecs / np.where(norms == 0, 1.0, norms)
    selected: list[int] = []
    max_sim = np.full(n, -np.inf)
    available = np.ones(n, dtype=bool)
    for _ in range(k):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        score = lambda_mult * rel - (1.0 - lambda_mult) * penalty
        score[~available] = -np.inf
        best = int(np.argmax(score))  # argmax returns the first maximum: earlier items win ties
        selected.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, vecs @ vecs[best])
    return selected


def auto_k(scores: Sequence[float], min_k: int, max_k: int, min_ratio: float, max_drop: float) -> int:
    """How many of ``scores`` (best first) to keep: stop before the first item, past ``min_k``, whose score
    is below ``min_ratio`` x the top score or falls by more than ``max_drop`` (a fraction) from the item
    before it (a relevance gap); never more than ``max_k``."""
    n = min(len(scores), max_k)
    if n <= min_k:
        return n
    top = scores[0]
    for i in range(max(min_k, 1), n):
        if top > 0 and scores[i] < min_ratio * top:
            return i
        if scores[i - 1] > 0 and scores[i] < (1.0 - max_drop) * scores[i - 1]:
            return i
    return n
