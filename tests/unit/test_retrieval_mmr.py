"""MMR on a toy set and the auto top-k cut."""

from __future__ import annotations

import numpy as np

from citegraph.retrieval.mmr import auto_k, mmr

# Items 0 and 1 are near-duplicates; item 2 points elsewhere.
VECTORS = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])
RELEVANCE = [1.0, 0.95, 0.6]


def test_lambda_one_keeps_the_relevance_order() -> None:
    assert mmr(RELEVANCE, VECTORS, 1.0, 3) == [0, 1, 2]


def test_mmr_skips_the_near_duplicate_for_the_diverse_item() -> None:
    # Step 2 by hand, λ=0.5: item 1 = 0.5*0.95 - 0.5*cos(0,1)≈0.99 -> -0.02; item 2 = 0.5*0.6 - 0 = 0.30.
    assert mmr(RELEVANCE, VECTORS, 0.5, 3) == [0, 2, 1]
    assert mmr(RELEVANCE, VECTORS, 0.5, 2) == [0, 2]


def test_mmr_edge_cases() -> None:
    assert mmr([], np.zeros((0, 2)), 0.5, 3) == []
    assert mmr([0.2, 0.9], VECTORS[:2], 0.7, 5) == [1, 0]  # k larger than the pool; best first
    assert mmr([0.5, 0.5], np.array([[1.0, 0.0], [1.0, 0.0]]), 0.7, 2) == [0, 1]  # ties: earlier first


def test_auto_k_stops_at_a_relevance_gap_within_bounds() -> None:
    scores = [1.0, 0.95, 0.9, 0.3, 0.28]
    assert auto_k(scores, min_k=1, max_k=10, min_ratio=0.0, max_drop=0.5) == 3
    assert (
        auto_k(scores, min_k=4, max_k=10, min_ratio=0.0, max_drop=0.5) == 5
    )  # a gap before min_k is ignored
    assert auto_k(scores, min_k=1, max_k=2, min_ratio=0.0, max_drop=0.5) == 2
    assert auto_k([1.0, 0.8, 0.6, 0.45], min_k=1, max_k=10, min_ratio=0.5, max_drop=0.9) == 3
    assert auto_k([1.0], 1, 5, 0.3, 0.5) == 1
