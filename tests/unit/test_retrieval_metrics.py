"""IR metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from citegraph.eval.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k, summarize


def test_ndcg_by_hand() -> None:
    relevant = {"a": 1, "c": 1}
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3).
    assert ndcg_at_k(["a", "b", "c"], relevant, 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["a", "a", "c"], relevant, 10) == 1.0  # a duplicate does not take a rank
    assert ndcg_at_k(["b"], relevant, 10) == 0.0
    assert ndcg_at_k(["b", "a"], relevant, 1) == 0.0


def test_recall_mrr_and_percentiles() -> None:
    relevant = {"a": 1, "c": 1, "z": 0}
    assert recall_at_k(["a", "b", "c"], relevant, 2) == 0.5
    assert recall_at_k(["a", "b", "c"], relevant, 3) == 1.0
    assert mrr_at_k(["b", "c"], relevant, 10) == 0.5 and mrr_at_k(["b"], relevant, 10) == 0.0
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([5], 95) == 5
    summary = summarize({"q1": ["a"], "q2": []}, {"q1": {"a": 1}, "q2": {"b": 1}}, [1.0, 3.0])
    assert summary["ndcg@10"] == 0.5 and summary["mrr@10"] == 0.5 and summary["p50_ms"] == 2.0
