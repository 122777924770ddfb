"""Weighted reciprocal rank fusion: hand-computed scores, dedupe by chunk id, duplicate rankings."""

from __future__ import annotations

import pytest

from citegraph.retrieval.fusion import Ranking, dedupe_rankings, fuse_rankings, reciprocal_rank_fusion


def test_hand_computed_weighted_rrf() -> None:
    # k=60, 1-based ranks: a = 1/61 + 0.5/62, b = 1/62, c = 1/63 + 0.5/61.
    fused = fuse_rankings(
        [Ranking("q/bm25", 1.0, ("a", "b", "c")), Ranking("q/dense", 0.5, ("c", "a"))], k=60
    )
    scores = {f.chunk_id: f.score for f in fused}
    assert scores["a"] == pytest.approx(1 / 61 + 0.5 / 62)
    assert scores["b"] == pytest.approx(1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 0.5 / 61)
    assert [f.chunk_id for f in fused] == ["a", "c", "b"]
    assert fused[0].ranks == {"q/bm25": 1, "q/dense": 2}


def test_plain_function_matches_the_ranking_api() -> None:
    plain = reciprocal_rank_fusion([(1.0, ["a", "b", "c"]), (0.5, ["c", "a"])], k=60)
    fused = fuse_rankings([Ranking("x", 1.0, ("a", "b", "c")), Ranking("y", 0.5, ("c", "a"))], k=60)
    assert [(i, pytest.approx(s)) for i, s in plain] == [(f.chunk_id, f.score) for f in fused]


def test_a_chunk_repeated_in_one_ranking_counts_once_at_its_best_rank() -> None:
    fused = fuse_rankings([Ranking("r", 1.0, ("a", "b", "a", "c"))], k=60)
    scores = {f.chunk_id: f.score for f in fused}
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["c"] == pytest.approx(1 / 63)  # "c" moves up: the repeat does not take a rank


def test_identical_rankings_from_two_variants_vote_once_with_the_larger_weight() -> None:
    same = ("a", "b")
    merged = dedupe_rankings([Ranking("v1/bm25", 0.5, same), Ranking("v2/bm25", 1.0, same)])
    assert len(merged) == 1 and merged[0].weight == 1.0 and merged[0].name == "v1/bm25"
    fused = fuse_rankings([Ranking("v1/bm25", 0.5, same), Ranking("v2/bm25", 1.0, same)], k=60)
    assert fused[0].score == pytest.approx(1 / 61)


def test_zero_weight_and_empty_rankings_add_nothing() -> None:
    fused = fuse_rankings([Ranking("a", 0.0, ("x",)), Ranking("b", 1.0, ()), Ranking("c", 1.0, ("y",))])
    assert [f.chunk_id for f in fused] == ["y"]
