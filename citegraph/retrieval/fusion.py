"""Fusing the rankings of every query variant and retriever into one: a weighted convex combination of
each ranking's min-max normalised scores (Bruch, Gai and Ingber, "An Analysis of Fusion Functions for
Hybrid Retrieval", ACM TOIS 2023): score(d) = sum_i w_i * (s_i(d) - min_i) / (max_i - min_i), the
minimum and maximum taken over the chunks ranking i returned; a chunk a ranking did not return gets 0
from it.

Scores, not reciprocal ranks: reciprocal rank fusion (RRF, k = 60, what the pipeline used before) gives
a ranking's first chunk little more than its tenth, so in a manual where BM25 finds the one chunk naming
``--max-depth`` far ahead of the rest and the bi-encoder puts it 42nd, that chunk fell out of the top five,
and the pipeline scored below BM25 alone: on the command-line manuals of benchmarks/data/real_docs_cli,
the selected passages held the answer for 10 of 16 questions against BM25's 13 (13 fused this way).
Chosen on training splits (``benchmarks/fusion_choose.py``, both as the whole pipeline): SciFact train
nDCG@10 0.7405 against 0.7372, SQuAD v1.1 train questions whose paragraph comes first 0.9535 against
0.9233 (SciFact test: 0.7262 against 0.7272).

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
    """Weighted reciprocal rank fusion (Cormack et al., 2009: sum_i w_i / (k + rank_i), 1-based ranks) of
    ``(weight, ids best-first)`` rankings into ``(id, score)`` best-first: the fusion ``fuse_rankings``
    replaced, kept for the benchmarks that compare the two and for fusing orders that carry no scores.

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

    @classmethod
    def of(cls, name: str, weight: float, ranked: Sequence[tuple[str, float]]) -> Ranking:
        """A ranking from a retriever's ``(chunk id, score)`` pairs, best first."""
        return cls(name, weight, tuple(c for c, _ in ranked), tuple(s for _, s in ranked))


@dataclass
class Fused:
    """A fused chunk: its fused score and its 1-based rank in each ranking that found it."""

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


def normalised_scores(ranking: Ranking) -> list[float]:
    """The ranking's scores min-max scaled to [0, 1] over the chunks it returned (best 1, last 0); a
    ranking without scores counts by position (its scores taken as minus the rank), and one whose scores
    are all equal gives each chunk 1."""
    scores = list(ranking.scores) or [-float(rank) for rank in range(len(ranking.ids))]
    top, bottom = max(scores), min(scores)
    if top == bottom:
        return [1.0] * len(scores)
    return [(score - bottom) / (top - bottom) for score in scores]


def fuse_rankings(rankings: Sequence[Ranking]) -> list[Fused]:
    """The weighted convex combination of normalised scores over deduplicated rankings, best first; ties
    broken by first appearance."""
    fused: dict[str, Fused] = {}
    for ranking in dedupe_rankings(rankings):
        if ranking.weight <= 0:
            continue
        for rank, (cid, share) in enumerate(zip(ranking.ids, normalised_scores(ranking), strict=True), 1):
            entry = fused.get(cid)
            if entry is None:
                entry = fused[cid] = Fused(cid, 0.0)
            entry.score += ranking.weight * share
            entry.ranks[ranking.name] = rank
    return sorted(fused.values(), key=lambda f: f.score, reverse=True)
