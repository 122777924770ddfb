"""The in-memory exact dense index small stores search instead of Chroma's HNSW."""

from __future__ import annotations

import numpy as np
import pytest

from citegraph.retrieval.store import _FlatIndex
from citegraph.settings import Settings


def test_flat_search_is_exact_cosine_best_first_with_ties_by_row() -> None:
    vectors = np.asarray([[1, 0], [0, 1], [0.6, 0.8], [1, 0]], dtype=np.float32)
    ids = ["a", "b", "c", "d"]
    flat = _FlatIndex(1, ids, {c: i for i, c in enumerate(ids)}, vectors)
    [first, second] = flat.search(np.asarray([[1, 0], [0, 1]], dtype=np.float32), 3)
    assert [c for c, _ in first] == ["a", "d", "c"]  # a and d tie: the earlier row first
    assert [s for _, s in first] == pytest.approx([1.0, 1.0, 0.6])
    assert [c for c, _ in second] == ["b", "c", "a"]
    assert len(flat.search(np.asarray([[1, 0]], dtype=np.float32), 10)[0]) == 4


def test_the_exact_search_limit_is_a_setting() -> None:
    assert Settings().dense_exact_max_chunks == 100_000
    assert Settings(dense_exact_max_chunks=0).dense_exact_max_chunks == 0
    with pytest.raises(ValueError):
        Settings(dense_exact_max_chunks=-1)
