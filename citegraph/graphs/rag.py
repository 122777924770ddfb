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
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

from citegraph.agents.answerer import answer, finalize
from citegraph.agents.retriever import expand, fan_out, fuse, normalize, retrieve, select
from citegraph.agents.reviewer import review
from citegraph.agents.verifier import verify
from citegraph.context import RagContext
from citegraph.state import RagState

# Store reads (SQLite busy during a concurrent ingest) and model calls can fail transiently; bad input
# (QueryError, ValueError) is never retried.
transient = RetryPolicy(max_attempts=3, initial_interval=0.2)

builder = StateGraph(RagState, context_schema=RagContext)
builder.add_node("normalize", normalize)
builder.add_node("expand", expand)
builder.add_node("retrieve", retrieve, retry_policy=transient)  # type: ignore[arg-type]
builder.add_node("fuse", fuse, retry_policy=transient)
builder.add_node("select", select, retry_policy=transient)
builder.add_node("answer", answer, retry_policy=transient)
builder.add_node("verify", verify)
builder.add_node("review", review)
builder.add_node("finalize", finalize)
builder.add_edge(START, "normalize")
builder.add_edge("normalize", "expand")
builder.add_conditional_edges("expand", fan_out, ["retrieve"])
builder.add_edge("retrieve", "fuse")
builder.add_edge("fuse", "select")
builder.add_edge("select", "answer")
builder.add_edge("answer", "verify")
builder.set_finish_point("finalize")


def compile_rag(checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """The ``rag`` graph compiled with ``checkpointer`` (threads, memory, review interrupts)."""
    compiled = builder.compile(checkpointer=checkpointer)
    compiled.name = "rag"
    return compiled


graph = compile_rag()
