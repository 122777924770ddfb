"""The retriever agent's nodes: the retrieval pipeline step by step, for the ``rag`` and ``retrieval`` graphs.

    normalize -> expand -> retrieve x N (Send: BM25 + dense per variant) -> fuse (+ PRF) -> select

Each node calls one step of ``RetrievalPipeline`` (``citegraph/retrieval/pipeline.py``), the same code the
LangChain retriever runs in one call.
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

from langgraph.runtime import Runtime
from langgraph.types import Send

from citegraph.context import RagContext
from citegraph.resources import pipeline_for
from citegraph.retrieval.multi_query import Variant
from citegraph.retrieval.query import NormalizedQuery
from citegraph.state import RagState, Turn

# Words that make a follow-up lean on the previous question ("When did she marry?").
_REFERRING = re.compile(
    r"\b(he|she|it|they|him|her|his|hers|its|them|their|theirs|this|that|these|those|there|then|"
    r"the same|the other|also|too|else)\b",
    re.IGNORECASE,
)


class VariantTask(TypedDict):
    """What one ``retrieve`` branch gets from the fan-out."""

    query: NormalizedQuery
    variant: Variant


def _context(runtime: Runtime[RagContext]) -> RagContext:
    return runtime.context or RagContext()


def standalone_question(question: str, history: list[Turn]) -> str:
    """The question to search with: a follow-up that refers back ("What did she sing?") or is very short
    is searched together with the previous question, so retrieval sees what "she" is."""
    if not history:
        return question
    if _REFERRING.search(question) or len(question.split()) <= 3:
        return f"{history[-1]['question']} {question}"
    return question


def normalize(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    """Clean the question and detect its language (QueryError for an empty or oversized one); a
    follow-up is made standalone with the conversation so far. Starts this question's work afresh."""
    pipeline = pipeline_for(_context(runtime))
    question = pipeline.normalize(state["question"]).original
    search = standalone_question(question, state.get("history", []))
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
    """Weighted RRF over all rankings, then pseudo-relevance-feedback rankings and a second fusion."""
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
