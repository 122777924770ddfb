"""The ``retrieval`` graph: the retrieval pipeline as LangGraph nodes.

    normalize -> expand -> retrieve x N (Send: BM25 + dense per variant) -> fuse (+ PRF) -> select

Wiring only: each node calls one step of ``RetrievalPipeline``. The full ``rag`` graph (answering,
citations) is built elsewhere and can reuse these nodes.
"""

from __future__ import annotations

import operator
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from citegraph.agents.multi_query import Variant
from citegraph.agents.normalizer import NormalizedQuery
from citegraph.retrieval.fusion import Fused, Ranking
from citegraph.retrieval.pipeline import RetrievalPipeline
from citegraph.retrieval.store import Hit
from citegraph.settings import Settings


@dataclass
class RetrievalContext:
    """Run configuration: the store to search (or a ready pipeline, for apps and tests), how many hits."""

    store_dir: str = ""  # empty: Settings' default (CITEGRAPH_STORE_DIR or the XDG data dir)
    top_k: int | None = None  # upper bound for auto top-k; None: Settings.max_k
    pipeline: Any = field(default=None, repr=False)  # a RetrievalPipeline to use instead of store_dir


class RetrievalState(TypedDict, total=False):
    """State of the ``retrieval`` graph."""

    question: str
    query: NormalizedQuery
    variants: list[Variant]
    rankings: Annotated[list[Ranking], operator.add]  # every retrieve branch appends its rankings
    fused: list[Fused]
    hits: list[Hit]


class VariantTask(TypedDict):
    """What one ``retrieve`` branch gets from the fan-out."""

    query: NormalizedQuery
    variant: Variant


_lock = threading.Lock()
_pipelines: dict[str, RetrievalPipeline] = {}


def _pipeline(runtime: Runtime[RetrievalContext]) -> RetrievalPipeline:
    context = runtime.context or RetrievalContext()
    if context.pipeline is not None:
        return context.pipeline
    from citegraph.resources import get_resources

    settings = Settings(store_dir=context.store_dir) if context.store_dir else Settings()
    resources = get_resources(settings)
    key = str(resources.store.dir)
    with _lock:  # one pipeline (and its vector cache) per store, built once
        if key not in _pipelines:
            _pipelines[key] = RetrievalPipeline(resources.store, resources.settings)
        return _pipelines[key]


def normalize(state: RetrievalState, runtime: Runtime[RetrievalContext]) -> RetrievalState:
    """Clean the question, detect its language (raises QueryError for an empty or oversized one)."""
    return {"query": _pipeline(runtime).normalize(state["question"])}


def expand(state: RetrievalState, runtime: Runtime[RetrievalContext]) -> RetrievalState:
    """Make the query variants: the original, keyword form, sub-questions, LLM paraphrases."""
    return {"variants": _pipeline(runtime).expand(state["query"])}


def fan_out(state: RetrievalState) -> list[Send]:
    """One ``retrieve`` branch per variant, run in parallel."""
    return [Send("retrieve", {"query": state["query"], "variant": v}) for v in state["variants"]]


def retrieve(task: VariantTask, runtime: Runtime[RetrievalContext]) -> RetrievalState:
    """BM25 and dense rankings of one variant."""
    return {"rankings": _pipeline(runtime).search(task["query"], [task["variant"]])}


def fuse(state: RetrievalState, runtime: Runtime[RetrievalContext]) -> RetrievalState:
    """Weighted RRF over all rankings, then pseudo-relevance feedback rankings and a second fusion."""
    pipeline = _pipeline(runtime)
    rankings = state.get("rankings", [])
    fused = pipeline.fuse(rankings)
    vector = pipeline.embed([state["query"].original])[0]
    extra = pipeline.feedback(state["query"], fused, vector)
    if not extra:
        return {"fused": fused}
    return {"rankings": extra, "fused": pipeline.fuse([*rankings, *extra])}


def select(state: RetrievalState, runtime: Runtime[RetrievalContext]) -> RetrievalState:
    """Similarity floor, MMR and auto top-k over the fused candidates."""
    pipeline = _pipeline(runtime)
    context = runtime.context or RetrievalContext()
    vector = pipeline.embed([state["query"].original])[0]
    return {"hits": pipeline.select(state["query"], state.get("fused", []), vector, context.top_k)}


builder = StateGraph(RetrievalState, context_schema=RetrievalContext)
builder.add_node("normalize", normalize)
builder.add_node("expand", expand)
builder.add_node("retrieve", retrieve)  # type: ignore[arg-type]
builder.add_node("fuse", fuse)
builder.add_node("select", select)
builder.add_edge(START, "normalize")
builder.add_edge("normalize", "expand")
builder.add_conditional_edges("expand", fan_out, ["retrieve"])
builder.add_edge("retrieve", "fuse")
builder.add_edge("fuse", "select")
builder.add_edge("select", END)
graph = builder.compile()
graph.name = "retrieval"
