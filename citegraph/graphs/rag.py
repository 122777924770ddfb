"""The ``rag`` graph: a question in, an answer out whose every sentence cites a source that supports it.

    normalize -> expand -> retrieve x N (Send) -> fuse -> select -> answer -> verify -+-> review -> finalize
                                                              ^                       |      |
                                                              +---- retry / reject ---+------+

Input ``{"question": str}``; the final state's ``answer`` is the answer JSON (text with [n] markers,
citations, ``abstained``, ``verified``). ``RagContext`` (Studio's configuration panel) picks the strategy,
model, k, weights and whether a human reviews. Exported in ``langgraph.json`` without a checkpointer (the
LangGraph server supplies one); ``compile_rag(checkpointer)`` is what the CLI and the server use.
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

from citegraph.agents.answerer import answer, finalize
from citegraph.agents.reviewer import after_review, review
from citegraph.agents.verifier import after_verify, verify
from citegraph.context import RagContext
from citegraph.graphs.retrieval import add_retrieval
from citegraph.state import RagState

# Store reads (SQLite busy during a concurrent ingest) and model calls can fail transiently; bad input
# (QueryError, ValueError) is never retried.
transient = RetryPolicy(max_attempts=3, initial_interval=0.2)

builder = StateGraph(RagState, context_schema=RagContext)
# START -> normalize -> expand -> retrieve x N -> fuse -> select
add_retrieval(builder, retry_policy=transient)
builder.add_node("answer", answer, retry_policy=transient)
builder.add_node("verify", verify)
builder.add_node("review", review)
builder.add_node("finalize", finalize)
builder.add_edge("select", "answer")
builder.add_edge("answer", "verify")
builder.add_conditional_edges("verify", after_verify, ["answer", "review", "finalize"])
builder.add_conditional_edges("review", after_review, ["answer", "verify", "finalize"])
builder.add_edge("finalize", END)


def compile_rag(checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """The ``rag`` graph compiled with ``checkpointer`` (threads, memory, review interrupts)."""
    compiled = builder.compile(checkpointer=checkpointer)
    compiled.name = "rag"
    return compiled


graph = compile_rag()
