"""Reciprocal rank fusion (Cormack et al., 2009): score(d) = sum_i w_i / (k + rank_i(d)), ranks 1-based.

Chunks are identified by chunk id, never by text or ``Document`` equality, and a chunk counts once per
ranking (at its best rank). Rankings that are exact copies of an earlier one (two query variants that
tokenize alike) are merged into one ranking whose weight is the larger of the two, so a duplicate variant
cannot vote twice. LangChain's ``EnsembleRetriever`` keys by page content and sums duplicates; its
``MultiQueryRetriever`` unions by ``Document`` equality, so one chunk with different metadata counts twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class Ranking:
    """One retriever's answer to one query variant: chunk ids best first (with the retriever's scores)."""

    name: str  # e.g. "original/bm25", "prf/dense"
    weight: float
    ids: tuple[str, ...]
    scores: tuple[float, ...] = ()


@dataclass
class Fused:
    """A fused chunk: its RRF score and its 1-based rank in each ranking that found it."""

    chunk_id: str
    score: float
    ranks: dict[str, int] = field(default_factory=dict)


def dedupe_rankings(rankings: Sequence[Ranking]) -> list[Ranking]:
    """Drop duplicate ids inside each ranking (best rank kept) and merge rankings with identical ids
    (largest weight kept, the first name kept)."""
    by_ids: dict[tuple[str, ...], Ranking] = {}
    for ranking in rankings:
        seen: set[str] = set()
        ids: list[str] = []
        scores: list[float] = []
        for i, cid in enumerate(ranking.ids):
            if cid not in seen:
                seen.add(cid)
                ids.append(cid)
                if ranking.scores:
                    scores.append(ranking.scores[i])
        key = tuple(ids)
        if not key:
            continue
        clean = Ranking(ranking.name, ranking.weight, key, tuple(scores))
        earlier = by_ids.get(key)
        if earlier is None or clean.weight > earlier.weight:
            by_ids[key] = (
                clean if earlier is None else Ranking(earlier.name, clean.weight, key, earlier.scores)
            )
    return list(by_ids.values())


def fuse_rankings(rankings: Sequence[Ranking], k: int = 60) -> list[Fused]:
    """Weighted RRF over deduplicated rankings, best first; ties broken by first appearance."""
    fused: dict[str, Fused] = {}
    for ranking in dedupe_rankings(rankings):
        if ranking.weight <= 0:
            continue
        for rank, cid in enumerate(ranking.ids, start=1):
            entry = fused.get(cid)
            if entry is None:
                entry = fused[cid] = Fused(cid, 0.0)
            entry.score += ranking.weight / (k + rank)
            entry.ranks[ranking.name] = rank
    return sorted(fused.values(), key=lambda f: f.score, reverse=True)
