"""Reciprocal rank fusion (Cormack et al., 2009): score(d) = sum_i w_i / (k + rank_i(d)), ranks 1-based."""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank_fusion(
    rankings: Sequence[tuple[float, Sequence[str]]], k: int = 60
) -> list[tuple[str, float]]:
    """Fuse ``(weight, ids best-first)`` rankings into ``(id, score)`` best-first.

    An id repeated inside one ranking counts once, at its best rank, so a list that holds the same chunk
    twice cannot vote for it twice. Ties keep the order in which ids were first seen.
    """
    scores: dict[str, float] = {}
    for weight, ranking in rankings:
        seen: set[str] = set()
        rank = 0
        for item in ranking:
            if item in seen:
                continue
            seen.add(item)
            rank += 1
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
