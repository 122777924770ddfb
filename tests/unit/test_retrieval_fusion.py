"""Fusion of rankings: hand-computed convex scores, dedupe by chunk id, duplicate rankings, and why scores
and not reciprocal ranks."""

from __future__ import annotations

import pytest

from citegraph.retrieval.fusion import (
    Ranking,
    dedupe_rankings,
    fuse_rankings,
    normalised_scores,
    reciprocal_rank_fusion,
)


def test_hand_computed_convex_combination_of_min_max_normalised_scores() -> None:
    # bm25 (10, 6, 2) -> (1, 0.5, 0); dense (0.9, 0.5) -> (1, 0), weight 0.8.
    fused = fuse_rankings(
        [
            Ranking("q/bm25", 1.0, ("a", "b", "c"), (10.0, 6.0, 2.0)),
            Ranking("q/dense", 0.8, ("c", "a"), (0.9, 0.5)),
        ]
    )
    scores = {f.chunk_id: f.score for f in fused}
    assert scores == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.8})
    assert [f.chunk_id for f in fused] == ["a", "c", "b"]
    assert fused[0].ranks == {"q/bm25": 1, "q/dense": 2}


def test_a_chunk_far_ahead_on_one_side_stays_first_where_reciprocal_ranks_lose_it() -> None:
    # BM25 finds the one chunk naming the option far ahead of the rest; the bi-encoder puts it 40th.
    others = [f"c{i}" for i in range(60)]
    bm25 = Ranking("q/bm25", 1.0, ("named", *others[:39]), (30.0, *[5.0 - 0.1 * i for i in range(39)]))
    dense_ids = (*others[:39], "named", *others[39:])
    dense = Ranking("q/dense", 1.0, dense_ids, tuple(0.6 - 0.002 * i for i in range(len(dense_ids))))
    assert fuse_rankings([bm25, dense])[0].chunk_id == "named"
    rrf = reciprocal_rank_fusion([(1.0, bm25.ids), (1.0, dense.ids)])
    assert [cid for cid, _ in rrf[:5]].count("named") == 0


def test_a_ranking_without_scores_counts_by_position_and_equal_scores_count_alike() -> None:
    assert normalised_scores(Ranking("r", 1.0, ("a", "b", "c"))) == pytest.approx([1.0, 0.5, 0.0])
    assert normalised_scores(Ranking("r", 1.0, ("a", "b"), (3.0, 3.0))) == [1.0, 1.0]
    assert normalised_scores(Ranking("r", 1.0, ("a",), (0.2,))) == [1.0]


def test_a_chunk_repeated_in_one_ranking_counts_once_at_its_best_rank() -> None:
    fused = fuse_rankings([Ranking("r", 1.0, ("a", "b", "a", "c"), (4.0, 3.0, 2.0, 0.0))])
    scores = {f.chunk_id: f.score for f in fused}
    assert scores == pytest.approx({"a": 1.0, "b": 0.75, "c": 0.0})
    assert fused[2].ranks == {"r": 3}  # "c" moves up: the repeat does not take a rank


def test_identical_rankings_from_two_variants_vote_once_with_the_larger_weight() -> None:
    same = ("a", "b")
    merged = dedupe_rankings([Ranking("v1/bm25", 0.5, same), Ranking("v2/bm25", 1.0, same)])
    assert len(merged) == 1 and merged[0].weight == 1.0 and merged[0].name == "v1/bm25"
    fused = fuse_rankings([Ranking("v1/bm25", 0.5, same), Ranking("v2/bm25", 1.0, same)])
    assert fused[0].score == pytest.approx(1.0)


def test_zero_weight_and_empty_rankings_add_nothing() -> None:
    fused = fuse_rankings([Ranking("a", 0.0, ("x",)), Ranking("b", 1.0, ()), Ranking("c", 1.0, ("y",))])
    assert [f.chunk_id for f in fused] == ["y"]


def test_hand_computed_weighted_reciprocal_rank_fusion() -> None:
    # k=60, 1-based ranks: a = 1/61 + 0.5/62, b = 1/62, c = 1/63 + 0.5/61.
    fused = dict(reciprocal_rank_fusion([(1.0, ["a", "b", "c"]), (0.5, ["c", "a"])], k=60))
    assert fused == pytest.approx({"a": 1 / 61 + 0.5 / 62, "b": 1 / 62, "c": 1 / 63 + 0.5 / 61})
