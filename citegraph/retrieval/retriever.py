"""CiteGraph's retrieval pipeline as a LangChain ``BaseRetriever``, to drop into any LangChain chain.

    retriever = CiteGraphRetriever.from_settings(Settings(store_dir="~/docs-store"))
    docs = retriever.invoke("Who designed the Kestrel bridge?")        # auto top-k (1..Settings.max_k)
    docs = retriever.invoke("Who designed the Kestrel bridge?", k=3)   # the 3 best

``k`` follows LangChain's convention: the number of documents to return, set on the retriever
(``CiteGraphRetriever(..., k=3)``) or per call (``invoke(query, k=3)``, which wins). With ``k`` set, the
automatic cut at a relevance gap is off and the ``k`` best chunks are returned; fewer only when the store
holds fewer chunks above the similarity floor (``Settings.similarity_floor``: chunks unrelated to the
query are never returned). Without ``k``, auto top-k picks between ``Settings.min_k`` and ``max_k``.

Each Document has ``id`` = chunk id and metadata with the source, span, page, fused score and cosine.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field, PrivateAttr

from citegraph.retrieval.pipeline import RetrievalPipeline, with_settings
from citegraph.settings import Settings

# What BaseRetriever.invoke passes on besides the query: ``verbose`` is its own, not ours.
_IGNORED_KWARGS = frozenset({"verbose"})


def _check_k(k: Any) -> int | None:
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer (the number of documents to return), got {k!r}")
    return k


class CiteGraphRetriever(BaseRetriever):
    """Normalize, multi-query, hybrid fusion, PRF, MMR and auto top-k behind ``invoke(query, k=...)``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pipeline: RetrievalPipeline
    k: int | None = Field(None, ge=1, description="Documents to return; None: auto top-k up to max_k.")
    _fixed_k: tuple[RetrievalPipeline, RetrievalPipeline] | None = PrivateAttr(None)  # (base, no auto-k)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, chat_model: Any = None, **kwargs: Any
    ) -> CiteGraphRetriever:
        """Open the store of ``settings`` (shared per store directory; default: ``Settings()``, which reads
        ``CITEGRAPH_STORE_DIR``) and wrap a pipeline over it; ``kwargs`` go to the retriever (``k=3``)."""
        from citegraph.resources import get_resources

        resources = get_resources(settings)
        return cls(pipeline=RetrievalPipeline(resources.store, resources.settings, chat_model), **kwargs)

    def _pipeline_for(self, k: int | None) -> RetrievalPipeline:
        """The pipeline as configured, or (for a fixed ``k``) the same one with the auto cut off."""
        if k is None or not self.pipeline.settings.auto_k:
            return self.pipeline
        if self._fixed_k is None or self._fixed_k[0] is not self.pipeline:
            self._fixed_k = (self.pipeline, with_settings(self.pipeline, auto_k=False))  # caches shared
        return self._fixed_k[1]

    def _retrieve(self, query: str, k: int | None, extra: dict[str, Any]) -> list[Document]:
        unknown = sorted(set(extra) - _IGNORED_KWARGS)
        if unknown:
            raise TypeError(f"CiteGraphRetriever got unexpected keyword arguments: {', '.join(unknown)}")
        k = _check_k(k) if k is not None else self.k
        result = self._pipeline_for(k).run(query, k=k)
        docs = []
        for hit in result.selected:
            doc = hit.to_document()
            doc.metadata["similarity"] = hit.similarity
            docs.append(doc)
        return docs

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        return self._retrieve(query, k, kwargs)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        # BaseRetriever's default would drop ``k``: run the (CPU-bound) pipeline in the executor ourselves.
        return await run_in_executor(None, self._retrieve, query, k, kwargs)
