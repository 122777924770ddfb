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


def test_flat_search_runs_blas_on_one_thread_and_restores_the_setting() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    seen: list[list[int]] = []

    class Spy(np.ndarray):  # records the BLAS setting at the moment of the product
        def __rmatmul__(self, other: np.ndarray) -> np.ndarray:
            seen.append(blas_threads())
            return np.asarray(other) @ np.asarray(self)

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((64, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)  # unit rows: each row is its own best match
    flat = _FlatIndex(1, [str(i) for i in range(64)], {}, vectors)
    spied = _FlatIndex(1, flat.ids, {}, vectors.T.copy().view(Spy).T)
    spied.search(vectors[:1], 3)
    assert seen and all(n == 1 for n in seen[0])
    with ThreadPoolExecutor(8) as pool:  # concurrent searches must not leave the limit in place
        results = list(pool.map(lambda i: flat.search(vectors[i : i + 1], 1)[0][0][0], range(64)))
    assert results == flat.ids
    assert blas_threads() == before
