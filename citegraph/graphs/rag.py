"""The ``rag`` graph: normalize -> retrieve -> answer, returning a cited answer.

Exported in ``langgraph.json`` without a checkpointer (the LangGraph server supplies one).
"""

from __future__ import annotations

from dataclasses import dataclass

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from citegraph.agents.answerer import extractive_answer
from citegraph.agents.normalizer import normalize_question
from citegraph.resources import get_resources
from citegraph.retrieval.store import HybridStore
from citegraph.settings import Settings
from citegraph.state import RagState


@dataclass
class RagContext:
    """Run configuration shown in LangGraph Studio."""

    top_k: int = 3
    store_dir: str = ""  # empty: Settings' default (CITEGRAPH_STORE_DIR or the XDG data dir)


def _context(runtime: Runtime[RagContext]) -> RagContext:
    return runtime.context or RagContext()


def _store(context: RagContext) -> HybridStore:
    settings = Settings(store_dir=context.store_dir) if context.store_dir else Settings()
    return get_resources(settings).store


def normalize(state: RagState) -> RagState:
    """Clean the question (Unicode, control characters, whitespace) and reject empty or oversized ones."""
    return {"question": normalize_question(state["question"], Settings().max_query_chars)}


def retrieve(state: RagState, runtime: Runtime[RagContext]) -> RagState:
    """Find the chunks that best match the question (hybrid BM25 + dense search)."""
    context = _context(runtime)
    return {"hits": _store(context).search(state["question"], k=context.top_k)}


def answer(state: RagState, runtime: Runtime[RagContext]) -> RagState:
    """Write the cited answer from the retrieved chunks."""
    store = _store(_context(runtime))
    return {"answer": extractive_answer(state["question"], state.get("hits", []), store)}


builder = StateGraph(RagState, context_schema=RagContext)
builder.add_node("normalize", normalize)
builder.add_node("retrieve", retrieve)
builder.add_node("answer", answer)
builder.add_edge(START, "normalize")
builder.add_edge("normalize", "retrieve")
builder.add_edge("retrieve", "answer")
builder.add_edge("answer", END)
graph = builder.compile()
graph.name = "rag"
