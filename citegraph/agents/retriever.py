"""The retriever agent's nodes: the retrieval pipeline step by step, for the ``rag`` and ``retrieval`` graphs.

    normalize -> expand -> retrieve x N (Send: BM25 + dense per variant) -> fuse (+ PRF) -> select

Each node calls one step of ``RetrievalPipeline`` (``citegraph/retrieval/pipeline.py``), the same code the
LangChain retriever runs in one call.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.runtime import Runtime
from langgraph.types import Send

from citegraph.agents.condense import is_follow_up, standalone_question
from citegraph.context import RagContext
from citegraph.models.registry import load_chat_model
from citegraph.resources import pipeline_for
from citegraph.retrieval.multi_query import Variant
from citegraph.retrieval.query import NormalizedQuery
from citegraph.state import RagState


class VariantTask(TypedDict):
    """What one ``retrieve`` branch gets from the fan-out."""

    query: NormalizedQuery
    variant: Variant


def _context(runtime: Runtime[RagContext]) -> RagContext:
    return runtime.context or RagContext()


def normalize(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    """Clean the question and detect its language (QueryError for an empty or oversized one); a
    follow-up ("How does it handle leader failure?") is made standalone with the conversation so far, by
    the chat model of the generate strategy or else by rules. Starts this question's work afresh."""
    context = _context(runtime)
    pipeline = pipeline_for(context)
    question = pipeline.normalize(state["question"]).original
    history = state.get("history", [])
    model = None
    # Only the generate strategy has a chat model to use: extract never loads one (its default spec is
    # not a request for an LLM), and a standalone question needs no rewrite at all.
    if context.strategy == "generate" and history and is_follow_up(question):
        model = load_chat_model(context.model)
    search = standalone_question(question, history, model, pipeline.settings.max_query_chars)
    return {
        "question": question,
        "search_question": search,
        "query": pipeline.normalize(search),
        "rankings": None,  # reset: this thread's previous question must not leak into fusion
        "attempts": 0,
        "feedback": "",
        "rejected": [],
        "edited": False,
    }


def expand(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    """Make the query variants: the original, keyword form, sub-questions (and LLM paraphrases)."""
    return {"variants": pipeline_for(_context(runtime)).expand(state["query"])}


def fan_out(state: RagState) -> list[Send]:
    """One ``retrieve`` branch per variant, run in parallel."""
    return [Send("retrieve", {"query": state["query"], "variant": v}) for v in state["variants"]]


def retrieve(task: VariantTask, runtime: Runtime[RagContext]) -> dict[str, Any]:
    """BM25 and dense rankings of one variant."""
    return {"rankings": pipeline_for(_context(runtime)).search(task["query"], [task["variant"]])}


def fuse(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    """All rankings fused (``fuse_rankings``), then pseudo-relevance-feedback rankings and a second fusion."""
    pipeline = pipeline_for(_context(runtime))
    rankings = state.get("rankings", [])
    fused = pipeline.fuse(rankings)
    vector = pipeline.embed([state["query"].original])[0]
    extra = pipeline.feedback(state["query"], fused, vector)
    if not extra:
        return {"fused": fused}
    return {"rankings": extra, "fused": pipeline.fuse([*rankings, *extra])}


def select(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    """Similarity floor, MMR and auto top-k over the fused candidates."""
    context = _context(runtime)
    pipeline = pipeline_for(context)
    vector = pipeline.embed([state["query"].original])[0]
    return {"hits": pipeline.select(state["query"], state.get("fused", []), vector, context.top_k)}
