"""The ``retrieval`` graph: the retrieval pipeline as LangGraph nodes, without answering.

    normalize -> expand -> retrieve x N (Send: BM25 + dense per variant) -> fuse (+ PRF) -> select

The ``rag`` graph runs the same nodes before it answers.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy

from citegraph.agents.retriever import expand, fan_out, fuse, normalize, retrieve, select
from citegraph.context import RagContext
from citegraph.state import RagState


def add_retrieval(builder: StateGraph, retry_policy: RetryPolicy | None = None) -> None:
    """Add the retrieval nodes to ``builder``, wired START -> normalize -> ... -> select (the ``rag`` graph
    continues from ``select``); ``retry_policy`` goes on the nodes that read the store."""
    builder.add_node("normalize", normalize)
    builder.add_node("expand", expand)
    builder.add_node("retrieve", retrieve, retry_policy=retry_policy)  # type: ignore[arg-type]
    builder.add_node("fuse", fuse, retry_policy=retry_policy)
    builder.add_node("select", select, retry_policy=retry_policy)
    builder.add_edge(START, "normalize")
    builder.add_edge("normalize", "expand")
    builder.add_conditional_edges("expand", fan_out, ["retrieve"])
    builder.add_edge("retrieve", "fuse")
    builder.add_edge("fuse", "select")


builder = StateGraph(RagState, context_schema=RagContext)
add_retrieval(builder)
builder.add_edge("select", END)
graph = builder.compile()
graph.name = "retrieval"
