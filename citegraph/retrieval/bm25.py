"""BM25 over chunk ids, on bm25s (sparse-matrix BM25, ~40x faster per query than rank-bm25)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import bm25s
import numpy as np

from citegraph.retrieval.tokenizer import tokenize

_IDS_FILE = "chunk_ids.json"


class Bm25Index:
    """A BM25 index whose rows are chunk ids; rebuilt whole on each ingest (bm25s has no incremental add)."""

    def __init__(self, ids: list[str], model: bm25s.BM25 | None) -> None:
        self.ids = ids
        self._model = model

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> Bm25Index:
        """Index ``texts`` (one per id) with the shared tokenizer."""
        if not ids:
            return cls([], None)
        model = bm25s.BM25()
        model.index([tokenize(t) for t in texts], show_progress=False)
        return cls(list(ids), model)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self._model is not None:
            self._model.save(str(directory), show_progress=False)
        (directory / _IDS_FILE).write_text(json.dumps(self.ids))

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        ids = json.loads((directory / _IDS_FILE).read_text())
        if not ids:
            return cls([], None)
        logging.getLogger("bm25s").setLevel(logging.ERROR)
        model = bm25s.BM25.load(str(directory), show_progress=False)
        return cls(ids, model)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Up to ``k`` (chunk id, score) pairs with a positive score, best first."""
        terms = tokenize(query)
        if self._model is None or not terms:
            return []
        scores = self._model.get_scores(terms)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
