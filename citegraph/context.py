"""The ``rag`` graph's run configuration (LangGraph context schema, shown in Studio) and the heavy objects
it resolves to: the retrieval pipeline, the verifier and the answer model, each built once per process."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from citegraph.retrieval.pipeline import RetrievalPipeline, with_settings
from citegraph.settings import Settings

if TYPE_CHECKING:
    from citegraph.agents.verifier import Verifier


@dataclass
class RagContext:
    """How one run answers: which model and strategy, how many passages, fusion weights, human review."""

    strategy: Literal["extract", "generate"] = "extract"  # extract: no LLM; generate: `model` writes it
    model: str = "hf:smollm2"  # model spec for the generate strategy (see citegraph.models.registry)
    top_k: int = 5  # most passages to draw on (auto top-k may use fewer)
    review: bool = False  # pause for a human to approve, edit or reject the answer
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    multi_query: bool = True  # search the keyword form and sub-questions besides the question
    max_retries: int = 1  # rewrites of a generated answer after the verifier rejects sentences
    store_dir: str = ""  # empty: Settings' default (CITEGRAPH_STORE_DIR or the XDG data dir)
    pipeline: Any = field(default=None, repr=False)  # a ready RetrievalPipeline (apps, tests)


_lock = threading.Lock()
_pipelines: dict[tuple[Any, ...], RetrievalPipeline] = {}
_verifiers: dict[str, Verifier] = {}


def settings_for(context: RagContext) -> Settings:
    """The Settings a context runs under (its store directory, else the environment's)."""
    return Settings(store_dir=context.store_dir) if context.store_dir else Settings()


def base_pipeline(context: RagContext) -> RetrievalPipeline:
    """The retrieval pipeline over the context's store, before per-run weight changes."""
    if context.pipeline is not None:
        return context.pipeline
    # Keyed by what Settings would read, so a run does not pay for building Settings (~8 ms, several times
    # a run) once its pipeline exists, and a changed environment still gets its own pipeline.
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CITEGRAPH_")))
    key = ("base", context.store_dir, environment)
    with _lock:
        if key in _pipelines:
            return _pipelines[key]
    from citegraph.resources import get_resources

    resources = get_resources(settings_for(context))
    with _lock:
        return _pipelines.setdefault(key, RetrievalPipeline(resources.store, resources.settings))


def pipeline_for(context: RagContext) -> RetrievalPipeline:
    """The pipeline with the context's fusion weights and multi-query switch (sharing caches)."""
    base = base_pipeline(context)
    changes = {
        "bm25_weight": context.bm25_weight,
        "dense_weight": context.dense_weight,
        "multi_query": context.multi_query,
    }
    if all(getattr(base.settings, name) == value for name, value in changes.items()):
        return base
    key = (str(base.store.dir), id(base), *sorted(changes.items()))
    with _lock:
        if key not in _pipelines:
            _pipelines[key] = with_settings(base, **changes)
        return _pipelines[key]


def verifier_for(context: RagContext) -> Verifier:
    """The citation verifier (one per embedding model; it caches embedded passages)."""
    from citegraph.agents.verifier import Verifier

    embedder = base_pipeline(context).store.embedder
    key = str(id(embedder))
    with _lock:
        if key not in _verifiers:
            _verifiers[key] = Verifier(embedder)
        return _verifiers[key]
