"""CiteGraph's retrieval pipeline as a LangChain ``BaseRetriever``, to drop into any LangChain chain.

    retriever = CiteGraphRetriever.from_settings(Settings(store_dir="~/docs-store"))
    docs = retriever.invoke("Who designed the Kestrel bridge?")

Each Document has ``id`` = chunk id and metadata with the source, span, page, fused score and cosine.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from citegraph.retrieval.pipeline import RetrievalPipeline
from citegraph.settings import Settings


class CiteGraphRetriever(BaseRetriever):
    """Normalize, multi-query, hybrid RRF, PRF, MMR and auto top-k behind ``invoke(query)``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pipeline: RetrievalPipeline
    k: int | None = None  # upper bound on the documents returned; None: Settings.max_k

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, chat_model: Any = None, **kwargs: Any
    ) -> CiteGraphRetriever:
        """Open the store of ``settings`` (shared per store directory) and wrap a pipeline over it."""
        from citegraph.resources import get_resources

        resources = get_resources(settings)
        return cls(pipeline=RetrievalPipeline(resources.store, resources.settings, chat_model), **kwargs)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        result = self.pipeline.run(query, k=self.k)
        docs = []
        for hit in result.selected:
            doc = hit.to_document()
            doc.metadata["similarity"] = hit.similarity
            docs.append(doc)
        return docs
