"""The sentence-embedding model (bundled all-MiniLM-L6-v2 by default), loaded offline, once.

``Embedder`` serves LangChain code (``embedder.langchain``) and our numpy paths with one of three backends:

- ``onnx`` (the default): the model exported once to ONNX (``citegraph.models.export``, cached under
  ``~/.cache/citegraph/onnx``) and run by ONNX Runtime. Same vectors as ``torch`` (cosine >= 0.9999, see
  ``benchmarks/results/onnx_embedder.json``), so it shares stores with it, and several times faster per query.
- ``torch``: sentence-transformers through LangChain's ``HuggingFaceEmbeddings``.
- ``onnx-int8``: the ONNX graph with int8 weights (dynamic quantization). Its vectors differ measurably, so it
  has its own ``name``: a store records the name of the embedder that filled it and refuses any other.

``CITEGRAPH_EMBEDDING_BACKEND`` picks the default. ``ChromaEmbeddingFunction`` lets Chroma (and anyone who
opens the collection with ``query_texts``) embed with that same model instead of downloading its default.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function
from langchain_core.embeddings import Embeddings as LangChainEmbeddings

from citegraph.models.paths import bundled_embedding_path, resolve_model_path
from citegraph.settings import Settings, force_offline

if TYPE_CHECKING:
    from langchain_huggingface import HuggingFaceEmbeddings

    from citegraph.models.export import OrtSentenceEncoder


SENTENCE_CACHE = 50_000  # sentence vectors kept (~75 MB at 384-d)
Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = get_args(Backend)
BACKEND_ENV = "CITEGRAPH_EMBEDDING_BACKEND"
DEFAULT_BACKEND: Backend = "onnx"
log = logging.getLogger(__name__)


def default_backend() -> Backend:
    """The backend named by ``CITEGRAPH_EMBEDDING_BACKEND``, else ``DEFAULT_BACKEND``."""
    return check_backend(os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND)


def check_backend(backend: str) -> Backend:
    """``backend`` if it is one of ``BACKENDS``; a ``ValueError`` naming them otherwise."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    return backend  # type: ignore[return-value]


class Embedder:
    """One sentence-embedding model; vectors are L2-normalised so cosine = dot product."""

    def __init__(
        self,
        model_path: Path | str | None = None,
        batch_size: int = 64,
        backend: Backend | None = None,
        threads: int | None = None,
    ) -> None:
        """``backend=None`` is ``default_backend()``; ``threads`` bounds ONNX Runtime's intra-op threads."""
        self.model_path = resolve_model_path(model_path, "embedding")
        self.batch_size = batch_size
        # A defaulted ``onnx`` may fall back to torch (same vectors); an asked-for backend never changes.
        self._fallback = backend is None
        self.backend: Backend = check_backend(backend) if backend is not None else default_backend()
        self.threads = threads
        self.export_seconds = 0.0  # what the first use paid to export the ONNX graph (0 when cached)
        self._load_lock = threading.Lock()
        self._sentence_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def name(self) -> str:
        """What a store records about the encoder that made its vectors.

        torch and fp32 ONNX share the folder name (their vectors agree to cosine >= 0.9999); int8 vectors do
        not, so int8 is named apart and cannot silently mix into a store made by the others.
        """
        if self.backend == "onnx-int8":
            return f"{self.model_path.name}+onnx-int8"
        return self.model_path.name

    @cached_property
    def langchain(self) -> LangChainEmbeddings:
        """The LangChain ``Embeddings`` object (loads the model on first use)."""
        if self.backend == "torch":
            return self._huggingface()
        return _OrtLangChain(self)

    def _huggingface(self) -> HuggingFaceEmbeddings:
        """sentence-transformers through LangChain, offline."""
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
    def ort(self) -> OrtSentenceEncoder:
        """The ONNX Runtime encoder, exported into the user cache on first use (see ``export_seconds``)."""
        encoder = self.__dict__.get("_ort")
        if encoder is None:
            with self._load_lock:  # one export per process even when threads ask at once
                encoder = self.__dict__.get("_ort")
                if encoder is None:
                    encoder = self.__dict__["_ort"] = self._load_ort()
        return encoder

    def _load_ort(self) -> OrtSentenceEncoder:
        """Export (or find) the graph of this backend and open it."""
        from citegraph.models.export import OrtSentenceEncoder, ensure_embedder_onnx

        cached = ensure_embedder_onnx(self.model_path, "int8" if self.backend == "onnx-int8" else "fp32")
        self.export_seconds = cached.seconds
        if cached.exported:
            log.info("exported %s to %s in %.1f s", self.model_path.name, cached.path, cached.seconds)
        return OrtSentenceEncoder(cached.path, self.model_path, self.threads)

    def _use_ort(self) -> bool:
        """True when this backend runs in ONNX Runtime and the runtime works here.

        A defaulted ``onnx`` whose export or runtime fails here (say, onnxruntime missing) falls back to
        torch with a warning instead of failing: both make the same vectors.
        """
        if self.backend == "torch":
            return False
        try:
            self.ort  # noqa: B018 - loads it
        except Exception as error:
            if not (self._fallback and self.backend == "onnx"):
                raise
            log.warning("ONNX Runtime embedder unavailable (%s); using torch", error)
            self.backend = "torch"
            return False
        return True

    @property
    def dimension(self) -> int:
        """Width of the vectors."""
        if self.backend != "torch":
            from citegraph.models.export import embedding_dimension

            return embedding_dimension(self.model_path)
        return int(self.langchain._client.get_sentence_embedding_dimension())

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Embed passages: an ``(n, dim)`` float32 array."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._use_ort():
            return self.ort.encode(texts, self.batch_size)
        return np.asarray(self._huggingface_client().embed_documents(texts), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query: a ``(dim,)`` float32 array."""
        if self._use_ort():
            return self.ort.encode([text], 1)[0]
        return np.asarray(self._huggingface_client().embed_query(text), dtype=np.float32)

    def _huggingface_client(self) -> HuggingFaceEmbeddings:
        """The torch LangChain object, also after a fallback made ``langchain`` an ORT adapter first."""
        client = self.langchain
        if isinstance(client, _OrtLangChain):
            client = self.__dict__["langchain"] = self._huggingface()
        return client  # type: ignore[return-value]

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


class _OrtLangChain(LangChainEmbeddings):
    """LangChain's ``Embeddings`` interface over an ONNX Runtime ``Embedder``."""

    def __init__(self, embedder: Embedder) -> None:
        """Serve ``embedder``'s vectors."""
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passages as lists of floats."""
        return self.embedder.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """One query as a list of floats."""
        return self.embedder.embed_query(text).tolist()


def shared_embedder(
    model_path: Path | str | None = None, batch_size: int | None = None, backend: Backend | None = None
) -> Embedder:
    """The process-wide ``Embedder`` of a model folder (the bundled one by default), batch size (the
    settings' default unless given) and backend (``default_backend()`` unless given): the store, the judge's
    ``closeness`` and Chroma's hook then share one loaded model instead of each loading its own."""
    batch_size = batch_size or Settings.model_fields["embed_batch_size"].default
    return _shared_embedder(resolve_model_path(model_path, "embedding"), batch_size, backend)


@functools.lru_cache(maxsize=8)
def _shared_embedder(model_path: Path, batch_size: int, backend: Backend | None) -> Embedder:
    """One ``Embedder`` per (folder, batch size, backend)."""
    return Embedder(model_path, batch_size, backend)


@register_embedding_function
class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's hook to our embedder. Registered so a new process can reopen the collection."""

    def __init__(
        self, embedder: Embedder | None = None, model_path: str | None = None, backend: str | None = None
    ) -> None:
        """Wrap ``embedder``, or name the model (and backend) to load when first asked."""
        self._embedder = embedder
        self._model_path = model_path if embedder is None else str(embedder.model_path)
        self._backend = backend if embedder is None else embedder.backend

    @property
    def embedder(self) -> Embedder:
        """The wrapped embedder (the shared one of the configured model when none was given)."""
        if self._embedder is None:
            backend = check_backend(self._backend) if self._backend else None
            self._embedder = shared_embedder(self._model_path, backend=backend)
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
        return ChromaEmbeddingFunction(model_path=config.get("model_path"), backend=config.get("backend"))

    def get_config(self) -> dict[str, Any]:
        # Only the folder name is portable across machines; the path is a hint for this one.
        config = {"model_path": self._model_path or os.fspath(bundled_embedding_path())}
        # Only int8 is recorded: torch and fp32 ONNX make the same vectors, so either may reopen the other's.
        if self._backend == "onnx-int8":
            config["backend"] = self._backend
        return config
