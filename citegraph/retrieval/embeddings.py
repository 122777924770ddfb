"""The sentence-embedding model (bundled all-MiniLM-L6-v2 by default), loaded offline, once.

``Embedder`` wraps LangChain's ``HuggingFaceEmbeddings`` so the same object serves LangChain code
(``embedder.langchain``) and our numpy paths; ``ChromaEmbeddingFunction`` lets Chroma (and anyone who
opens the collection with ``query_texts``) embed with that same model instead of downloading its default.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from citegraph.models.paths import bundled_embedding_path, resolve_model_path
from citegraph.settings import Settings, force_offline

if TYPE_CHECKING:
    from langchain_huggingface import HuggingFaceEmbeddings


SENTENCE_CACHE = 50_000  # sentence vectors kept (~75 MB at 384-d)


class Embedder:
    """One sentence-embedding model; vectors are L2-normalised so cosine = dot product."""

    def __init__(self, model_path: Path | str | None = None, batch_size: int = 64) -> None:
        self.model_path = resolve_model_path(model_path, "embedding")
        self.batch_size = batch_size
        self._sentence_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model_path.name

    @cached_property
    def langchain(self) -> HuggingFaceEmbeddings:
        """The LangChain ``Embeddings`` object (loads the model on first use)."""
        force_offline()
        from langchain_huggingface import HuggingFaceEmbeddings
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars on every start are noise

        return HuggingFaceEmbeddings(
            model_name=str(self.model_path),
            model_kwargs={"device": "cpu", "local_files_only": True},
            encode_kwargs={"normalize_embeddings": True, "batch_size": self.batch_size},
        )

    @property
    def dimension(self) -> int:
        return int(self.langchain._client.get_sentence_embedding_dimension())

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Embed passages: an ``(n, dim)`` float32 array."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self.langchain.embed_documents(texts), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query: a ``(dim,)`` float32 array."""
        return np.asarray(self.langchain.embed_query(text), dtype=np.float32)

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        """``embed_documents`` with a per-text LRU cache: the answerer and the verifier embed the same
        sentences of popular chunks again and again; ingestion does not go through here."""
        with self._cache_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._sentence_cache))
        if missing:
            vectors = self.embed_documents(missing)
            with self._cache_lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._sentence_cache[text] = vector
                while len(self._sentence_cache) > SENTENCE_CACHE:
                    self._sentence_cache.popitem(last=False)
        with self._cache_lock:
            found = []
            for text in texts:
                vector = self._sentence_cache.get(text)
                if vector is None:  # evicted by a concurrent caller between the two steps
                    vector = self.embed_documents([text])[0]
                else:
                    self._sentence_cache.move_to_end(text)
                found.append(vector)
        if not found:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack(found)


def shared_embedder(model_path: Path | str | None = None, batch_size: int | None = None) -> Embedder:
    """The process-wide ``Embedder`` of a model folder (the bundled one by default) and batch size (the
    settings' default unless given): the store, the judge's ``closeness`` and Chroma's hook then share one
    loaded model instead of each loading its own."""
    batch_size = batch_size or Settings.model_fields["embed_batch_size"].default
    return _shared_embedder(resolve_model_path(model_path, "embedding"), batch_size)


@functools.lru_cache(maxsize=8)
def _shared_embedder(model_path: Path, batch_size: int) -> Embedder:
    return Embedder(model_path, batch_size)


@register_embedding_function
class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's hook to our embedder. Registered so a new process can reopen the collection."""

    def __init__(self, embedder: Embedder | None = None, model_path: str | None = None) -> None:
        self._embedder = embedder
        self._model_path = model_path if embedder is None else str(embedder.model_path)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_embedder(self._model_path)
        return self._embedder

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embedder.embed_documents(list(input)))

    @staticmethod
    def name() -> str:
        return "citegraph-sentence-transformer"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        return ChromaEmbeddingFunction(model_path=config.get("model_path"))

    def get_config(self) -> dict[str, Any]:
        # Only the folder name is portable across machines; the path is a hint for this one.
        return {"model_path": self._model_path or os.fspath(bundled_embedding_path())}
