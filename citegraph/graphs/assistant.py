"""The ``assistant`` graph: a planner routes a request to tools, runs them, and writes one cited answer.

    plan ─► [review_plan] ─► dispatch ─┬─► [approve_call] ─► tools ─► record ─► dispatch ...
                                       ├─► revise (once) ─► dispatch
                                       └─► finalize ─► END

* **plan** (``agents/planner.py``): rules + embedding similarity (no LLM), or a chat model. It reads
  only the user's messages: document text and tool results never reach it, so text inside a document
  cannot choose a tool or change the plan. **review_plan**: a human approves, edits or rejects the plan
  (``approve_plan`` in the context). **revise**: once, from structured outcomes only.
* **dispatch / approve_call / record** (``agents/tool_caller.py``): the next step becomes a tool call;
  a human approves any sensitive call; **tools** is a ``ToolNode`` (errors become messages, transient
  ones are retried); each outcome is kept.
* **finalize** (``agents/composer.py``): one answer that keeps the citations of the steps it used.

Exported in ``langgraph.json`` without a checkpointer; ``citegraph.threads.run_assistant`` runs it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import RetryPolicy

from citegraph.agents import composer, planner, tool_caller
from citegraph.context import AssistantContext
from citegraph.state import AssistantState
from citegraph.tools import REGISTRY, ToolRegistry


def build_assistant(registry: ToolRegistry | None = None, planner_model: Any | None = None) -> StateGraph:
    """The assistant's StateGraph over ``registry`` (default: the built-in tools), planning with
    ``planner_model`` (a chat model object) instead of the context's spec when given; compile it yourself."""
    registry = registry or REGISTRY
    flaky = RetryPolicy(max_attempts=3, initial_interval=0.5, retry_on=(ConnectionError, TimeoutError))
    tools = ToolNode(
        registry.tools(),
        handle_tool_errors=tool_caller.tool_error_message,
        wrap_tool_call=tool_caller.retry_transient,
    )
    builder = StateGraph(AssistantState, context_schema=AssistantContext)
    builder.add_node(
        "plan", partial(planner.plan, registry=registry, planner_model=planner_model), retry_policy=flaky
    )
    builder.add_node("review_plan", planner.review_plan)
    builder.add_node("dispatch", tool_caller.dispatch)
    builder.add_node("approve_call", tool_caller.approve_call)
    builder.add_node("tools", tools)
    builder.add_node("record", tool_caller.record)
    builder.add_node("revise", partial(planner.revise, registry=registry))
    builder.add_node("finalize", composer.finalize)

    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", planner.after_plan, ["review_plan", "dispatch"])
    builder.add_edge("review_plan", "dispatch")
    builder.add_conditional_edges(
        "dispatch",
        partial(tool_caller.after_dispatch, registry=registry),
        ["approve_call", "tools", "dispatch", "revise", "finalize"],
    )
    builder.add_conditional_edges("approve_call", tool_caller.after_approval, ["tools", "record"])
    builder.add_edge("tools", "record")
    builder.add_edge("record", "dispatch")
    builder.add_edge("revise", "dispatch")
    builder.add_edge("finalize", END)
    return builder


graph = build_assistant().compile()
graph.name = "assistant"
